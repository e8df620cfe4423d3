"""Fixtures for reconcile and overview tests: Zoom's lists, faked with `responses` in Zoom's
shapes (type=past, from/to dates, pages of up to page_size rows with a next_page_token). The
connected tenant is tests/conftest.py's `connected`."""

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

API = "https://api.zoom.us/v2"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.ZOOM_HTTP_BACKOFF_SECONDS = 0
    settings.ZOOM_HTTP_MAX_RETRIES = 1
    settings.ZOOM_METRICS_FETCH_DELAY_SECONDS = 0
    settings.ZOOM_API_BASE_URL = API
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Resource-intensive": {"per_second": 1000}}


def today() -> date:
    return datetime.now(UTC).date()


def row(uuid, *, days_ago=0, kind="meeting", **extra):
    start = datetime.combine(today() - timedelta(days=days_ago), datetime.min.time(),
                             tzinfo=UTC) + timedelta(hours=9)
    base = {"uuid": uuid, "id": 86000000000 + len(uuid), "topic": f"{kind} {uuid}",
            "host": "Ana Ruiz", "email": "ana@cust.example",
            "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_time": (start + timedelta(minutes=47)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": "47:38", "participants": 3, "has_video": True}
    if kind == "meeting":
        base |= {"audio_quality": "good", "video_quality": "fair",
                 "screen_share_quality": "good"}
    base.update(extra)
    return base


class FakeLists:
    """Zoom's /metrics/meetings and /metrics/webinars over a set of rows, by start date."""

    def __init__(self):
        self.rows = {"meetings": [], "webinars": []}
        self.sent = []  # each request's query, as a dict of single values

    def add(self, plural, *rows):
        self.rows[plural].extend(rows)

    def install(self, mock):
        for plural in ("meetings", "webinars"):
            mock.add_callback(responses.GET, f"{API}/metrics/{plural}",
                              callback=lambda request, p=plural: self._answer(p, request))

    def _answer(self, plural, request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.sent.append({"list": plural, **query})
        start, end = date.fromisoformat(query["from"]), date.fromisoformat(query["to"])
        if (end - start).days > 30:
            return 400, {}, json.dumps({"code": 300, "message": "from/to over one month"})
        size = int(query.get("page_size", 30))
        matching = [r for r in self.rows[plural]
                    if "start_time" not in r or start <= date.fromisoformat(
                        r["start_time"][:10]) <= end]
        offset = int(query.get("next_page_token") or 0)
        page = matching[offset:offset + size]
        token = str(offset + size) if offset + size < len(matching) else ""
        body = {"from": query["from"], "to": query["to"], "page_size": size,
                "total_records": len(matching), "next_page_token": token, plural: page}
        return 200, {}, json.dumps(body)


@pytest.fixture
def lists():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeLists()
        fake.install(mock)
        fake.mock = mock
        yield fake
