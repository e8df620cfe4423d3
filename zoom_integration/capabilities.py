"""What a tenant's Zoom app may do: capabilities from the granted scopes, and Zoom's refusals.

Owns
- `capability_state`: the app's kind and its missing capabilities, computed from the token's
  `scope` string (plus the capabilities Zoom refused), robust to empty or unknown input;
- `connection_capabilities_apply`: writes that onto a `ZoomConnection` (oauth.py calls it when it
  stores tokens: at authorization every refusal is forgotten, at a refresh it is kept, because
  only a new authorization can grant a scope);
- `scope_missing_record`: Zoom answered HTTP 400 code 4711 ("does not contain scopes:[...]"):
  the capability is recorded as missing on the tenant's connection;
- `scope_parked_resume`: after the customer authorizes again, the work parked on a missing scope
  (metrics fetches, the directory sync) is queued again.

The scope names and what they cover live in `zoom.py`; health and the checklist read the stored
fields. Sources: https://developers.zoom.us/docs/integrations/oauth-scopes-granular/ and
https://developers.zoom.us/docs/integrations/migrate/ (granular and classic apps), the 4711
answer as reported at https://devforum.zoom.us/t/108207.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from django.db import transaction

from . import zoom
from .exceptions import ZoomScopeMissingError
from .models import SyncRun, ZoomConnection, ZoomMeeting
from .models.metrics import FetchStatus
from .queueing import directory_sync_enqueue, metrics_fetch_enqueue

logger = logging.getLogger(__name__)

# Parked fetches resumed per authorization, spread over this many seconds.
RESUME_BATCH = 5000
RESUME_SPREAD_SECONDS = 60.0


@dataclass(frozen=True)
class CapabilityState:
    """The app's kind and what it lacks: `missing` are required capabilities (a tenant is not
    healthy without them), `optional_missing` the account overview's."""

    kind: str
    missing: tuple[zoom.Capability, ...]
    optional_missing: tuple[zoom.Capability, ...]

    @property
    def missing_names(self) -> list[str]:
        """The scope names to add, in the names of the app's kind."""
        return zoom.scope_names_for(self.missing, self.kind)

    @property
    def optional_names(self) -> list[str]:
        return zoom.scope_names_for(self.optional_missing, self.kind)


def capability_state(*, scope: object, refused: object = "", kind: str = "") -> CapabilityState:
    """Capabilities from Zoom's `scope` string, plus `refused` capability keys (space-separated:
    Zoom answered 4711 for them). Unknown names and keys are ignored; nothing here raises.
    `kind` overrides the kind read from the names (an empty `scope` reveals none)."""
    granted = zoom.scope_names(scope)
    kind = kind if kind in (zoom.GRANULAR, zoom.CLASSIC) else zoom.scope_kind(granted)
    refused_keys = zoom.scope_names(refused)
    lacking = {c.key for c in zoom.capabilities_missing(granted)} | refused_keys
    ordered = [c for c in zoom.CAPABILITIES if c.key in lacking]
    return CapabilityState(
        kind=kind, missing=tuple(c for c in ordered if not c.optional),
        optional_missing=tuple(c for c in ordered if c.optional))


def connection_capability_state(conn: ZoomConnection | None) -> CapabilityState:
    """What a stored connection lacks, as health decides it (no query): the stored required
    capabilities, and the optional ones its granted scopes leave out."""
    if conn is None:
        return CapabilityState(kind=zoom.GRANULAR, missing=(), optional_missing=())
    granted = zoom.scope_names(conn.scopes)
    kind = conn.scope_kind if conn.scope_kind in (zoom.GRANULAR, zoom.CLASSIC) \
        else zoom.scope_kind(granted)
    stored = zoom.scope_names(conn.missing_capabilities)
    optional = ({c.key for c in zoom.capabilities_missing(granted) if c.optional}
                if granted else set())
    return CapabilityState(
        kind=kind,
        missing=tuple(c for c in zoom.CAPABILITIES if c.key in stored and not c.optional),
        optional_missing=tuple(c for c in zoom.CAPABILITIES if c.key in optional))


def connection_capabilities_apply(conn: ZoomConnection, *, scope: str,
                                  keep_refused: bool) -> CapabilityState:
    """Sets the connection's scopes, kind and missing capabilities from a token's `scope` (in
    memory: the caller saves). `keep_refused`: a refresh keeps what Zoom refused, since only a
    new authorization grants new scopes."""
    refused = conn.missing_capabilities if keep_refused else ""
    if keep_refused and not zoom.scope_names(scope):
        scope = conn.scopes  # Zoom may leave `scope` out of a refresh answer
    state = capability_state(scope=scope, refused=refused,
                             kind=conn.scope_kind if keep_refused else "")
    conn.scopes = scope
    conn.scope_kind = state.kind
    # Only the refusals and the required capabilities are stored; optional ones follow from
    # `scopes` whenever they are shown.
    conn.missing_capabilities = " ".join(c.key for c in state.missing)
    conn.missing_scopes = " ".join(state.missing_names)
    return state


def scope_missing_message(names: list[str]) -> str:
    """What staff and the customer read when Zoom refused a call for a missing scope."""
    shown = ", ".join(names) or "(Zoom did not name it)"
    noun, pronoun = ("scope", "it") if len(names) <= 1 else ("scopes", "them")
    return f"The app lacks {noun} {shown}: add {pronoun} in Zoom, then authorize again."


def scope_missing_record(*, tenant, error: ZoomScopeMissingError) -> str:
    """Records the capabilities a 4711 answer stands for as missing on the tenant's connection;
    returns the message for the parked work. The names Zoom gave win; without them, the
    capability of the call that failed."""
    capabilities = zoom.capabilities_for_scopes(error.scopes)
    if not capabilities and error.capability in zoom.CAPABILITY:
        capabilities = [zoom.CAPABILITY[error.capability]]
    with transaction.atomic():
        conn = ZoomConnection.objects.select_for_update().filter(tenant_id=tenant.pk).first()
        if conn is None:
            return scope_missing_message(list(error.scopes))
        # Added to what is stored (not recomputed from `scopes`: Zoom's refusal is the fact).
        # A refused optional capability (the overview) is never stored: it is not a problem.
        keys = zoom.scope_names(conn.missing_capabilities) | {c.key for c in capabilities}
        kind = conn.scope_kind if conn.scope_kind in (zoom.GRANULAR, zoom.CLASSIC) \
            else zoom.scope_kind(zoom.scope_names(" ".join(error.scopes)))
        lacking = [c for c in zoom.CAPABILITIES if c.key in keys and not c.optional]
        conn.missing_capabilities = " ".join(c.key for c in lacking)
        conn.missing_scopes = " ".join(zoom.scope_names_for(lacking, kind))
        conn.save(update_fields=["missing_capabilities", "missing_scopes"])
    # Zoom's own names when it gave them (they are in the app's kind); else ours.
    names = list(error.scopes) or zoom.scope_names_for(capabilities, kind)
    logger.warning("tenant %s: Zoom refused a call for missing scope(s) %s", tenant.slug,
                   ", ".join(names) or "?")
    return scope_missing_message(names)


def scope_parked_resume(*, tenant_id: int) -> dict[str, int]:
    """Queues again what waited for a scope: the tenant's parked fetches and, if its last
    directory sync was parked, a new sync. Work that still lacks the scope parks again."""
    ids = list(ZoomMeeting.objects.filter(tenant_id=tenant_id, fetch_status=FetchStatus.NO_SCOPE,
                                          tenant__is_active=True)
               .values_list("pk", flat=True)[:RESUME_BATCH])
    with transaction.atomic():
        if ids:
            ZoomMeeting.objects.filter(pk__in=ids).update(
                fetch_status=FetchStatus.SCHEDULED, fetch_attempts=0, next_attempt_at=None)
            for pk in ids:
                metrics_fetch_enqueue(meeting_id=pk,
                                      countdown=random.uniform(0, RESUME_SPREAD_SECONDS))
        last_sync = (SyncRun.objects.filter(tenant_id=tenant_id).order_by("-started_at", "-pk")
                     .values_list("status", flat=True).first())
        sync = last_sync == SyncRun.Status.NO_SCOPE
        if sync:
            directory_sync_enqueue(tenant_id=tenant_id)
    if ids or sync:
        logger.info("tenant %s: resumed %d fetch(es)%s parked on a missing scope", tenant_id,
                    len(ids), " and the directory sync" if sync else "")
    return {"fetches": len(ids), "syncs": int(sync)}
