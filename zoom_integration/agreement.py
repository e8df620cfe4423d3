"""How often Zoom's own quality labels and the portal's classification agree (a selector).

Zoom's Dashboard list labels each meeting's audio, video and screen share good, fair, poor or
bad; the portal classifies each meeting Good or Poor from the per-minute QoS
(docs/quality-rules.md).
Staff calibrate the portal's rules with this: a confusion table per tenant, Zoom's label in rows,
the portal's classification in columns. Zoom's good and fair count as agreeing with Good, poor
and bad with Poor; unknown labels and unclassified meetings are shown but not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from .models import ZoomMeeting
from .models.metrics import Quality

ZOOM_LEVELS = ("good", "fair", "poor", "bad")
ROWS = (*ZOOM_LEVELS, "other")
COLUMNS = (Quality.GOOD, Quality.POOR, Quality.UNCLASSIFIED)
STREAMS = {"worst": "Worst of the three", "audio": "Audio", "video": "Video",
           "screen_share": "Screen share"}
_FIELDS = {"audio": "zoom_audio_quality", "video": "zoom_video_quality",
           "screen_share": "zoom_screen_share_quality"}
AGREES = {"good": Quality.GOOD, "fair": Quality.GOOD, "poor": Quality.POOR, "bad": Quality.POOR}


def zoom_label_of(labels: dict[str, str], stream: str) -> str:
    """The label compared: one stream's, or the worst of those Zoom gave ("" when none)."""
    if stream != "worst":
        value = labels.get(stream) or ""
        return value if value in ZOOM_LEVELS or not value else "other"
    given = [v for v in labels.values() if v]
    known = [v for v in given if v in ZOOM_LEVELS]
    if known:
        return max(known, key=ZOOM_LEVELS.index)
    return "other" if given else ""


@dataclass
class AgreementTable:
    tenant_id: int
    tenant_name: str
    cells: dict[str, dict[str, int]] = field(
        default_factory=lambda: {r: dict.fromkeys(COLUMNS, 0) for r in ROWS})

    @property
    def compared(self) -> int:
        return sum(self.cells[z][p] for z in ZOOM_LEVELS for p in (Quality.GOOD, Quality.POOR))

    @property
    def agreeing(self) -> int:
        return sum(self.cells[z][AGREES[z]] for z in ZOOM_LEVELS)

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.compared if self.compared else None

    def rows(self) -> list[tuple[str, list[tuple[int, bool]]]]:
        """(Zoom label, [(count, agrees?) per column]) for the template."""
        return [(r, [(self.cells[r][c], AGREES.get(r) == c) for c in COLUMNS]) for r in ROWS]


def label_agreement(*, meetings: QuerySet[ZoomMeeting], stream: str = "worst"
                    ) -> list[AgreementTable]:
    """One table per tenant among `meetings` that carry a Zoom label (one grouped query)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}")
    labelled = Q()
    for name in _FIELDS.values():
        labelled |= ~Q(**{name: ""})
    grouped = (meetings.filter(labelled).order_by()
               .values("tenant_id", "tenant__name", "quality", *_FIELDS.values())
               .annotate(n=Count("pk")))
    tables: dict[int, AgreementTable] = {}
    for item in grouped:
        table = tables.get(item["tenant_id"])
        if table is None:
            table = tables[item["tenant_id"]] = AgreementTable(item["tenant_id"],
                                                               item["tenant__name"])
        label = zoom_label_of({s: item[f] for s, f in _FIELDS.items()}, stream)
        if not label:
            continue
        column = item["quality"] if item["quality"] in COLUMNS else Quality.UNCLASSIFIED
        table.cells[label][column] += item["n"]
    return sorted(tables.values(), key=lambda t: t.tenant_name.lower())
