"""The benchmark harness's pure parts: percentiles, rate stepping, the signature, the tables.

No services and no timing: the benchmarks themselves run with `python -m bench` (make bench).
"""

import asyncio
import hashlib
import hmac
import json
import math

import pytest

from bench import __main__ as runner
from bench.common import ROOT
from bench.fetchonly import encode_uuid
from bench.loadgen import _read_response, build_requests
from bench.profiling import collapsed_summary
from bench.stats import (
    highest_sustained,
    latency_summary,
    marginal_cost,
    max_in_window,
    min_list_calls,
    percentile,
    rate_steps,
    ratio,
    step_ok,
)
from bench.zoomsig import compact_json, signed_webhook_headers, zoom_signature


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0  # unsorted input


def test_percentile_of_few_samples_is_the_maximum_tail():
    assert percentile([1, 2, 3, 400], 99) == 400
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_latency_summary():
    summary = latency_summary([10.0] * 98 + [200.0, 300.0])
    assert summary["count"] == 100
    assert summary["p50"] == 10.0
    assert summary["p99"] == 200.0
    assert summary["max"] == 300.0
    assert latency_summary([])["p99"] is None


def test_rate_steps_linear_then_geometric():
    assert rate_steps(100, 1000) == [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    steps = rate_steps(100, 2000)
    assert steps[9:] == [1000, 1250, 1560, 1950]
    assert steps == sorted(steps)
    assert rate_steps(50, 50) == [50]
    with pytest.raises(ValueError):
        rate_steps(0, 100)


def _step(rate, p99, ok=None, sent=100, achieved=None):
    return {"rate": rate, "sent": sent, "ok": sent if ok is None else ok,
            "latency_ms": {"p99": p99}, "achieved_send_rate": rate if achieved is None
            else achieved}


def test_step_ok_needs_all_answered_low_p99_and_the_asked_rate():
    assert step_ok(_step(100, 50), p99_limit_ms=100)
    assert not step_ok(_step(100, 101), p99_limit_ms=100)
    assert not step_ok(_step(100, 50, ok=99), p99_limit_ms=100)
    assert not step_ok(_step(100, 50, achieved=80), p99_limit_ms=100)
    assert not step_ok(_step(100, None), p99_limit_ms=100)


def test_highest_sustained_stops_at_the_first_failure():
    steps = [_step(100, 20), _step(200, 40), _step(300, 150), _step(400, 30)]
    assert highest_sustained(steps, p99_limit_ms=100)["rate"] == 200
    assert highest_sustained([_step(100, 500)], p99_limit_ms=100) is None
    assert highest_sustained([], p99_limit_ms=100) is None


def test_ratio_and_minimum_list_calls():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0) is None
    assert ratio(None, 1.0) is None
    assert min_list_calls({"active": 300, "inactive": 301, "pending": 0}) == 1 + 2 + 1
    assert min_list_calls({"active": 100_000}) == 334


def test_max_in_window_is_a_sliding_window():
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert max_in_window([0.0, 1.0, 2.0]) == 1
    assert max_in_window([]) == 0


def test_signature_matches_zooms_recipe():
    body = compact_json({"event": "meeting.ended", "payload": {"object": {"topic": "Réunion"}}})
    assert b" " not in body and "Réunion".encode() in body  # compact, non-ASCII unescaped
    expected = "v0=" + hmac.new(b"secretTok", b"v0:1700000000:" + body,
                                hashlib.sha256).hexdigest()
    assert zoom_signature("secretTok", 1700000000, body) == expected
    headers = signed_webhook_headers("secretTok", body, timestamp=1700000000)
    assert headers == {"x-zm-request-timestamp": "1700000000", "x-zm-signature": expected}
    assert zoom_signature("otherTok", 1700000000, body) != expected


def test_generated_webhook_requests_are_signed_and_distinct():
    spec = {"kind": "webhook", "host_header": "t.portal.test", "path": "/zoom/event",
            "secret_token": "secretTok", "account_id": "acct1", "uuid_prefix": "p"}
    raws = build_requests(spec, 3)
    bodies = set()
    for raw in raws:
        head, body = raw.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0] == "POST /zoom/event HTTP/1.1"
        headers = dict(line.split(": ", 1) for line in lines[1:])
        assert headers["Host"] == "t.portal.test"
        assert int(headers["Content-Length"]) == len(body)
        ts = headers["x-zm-request-timestamp"]
        assert headers["x-zm-signature"] == zoom_signature("secretTok", ts, body)
        event = json.loads(body)
        assert event["payload"]["account_id"] == "acct1"
        bodies.add(event["payload"]["object"]["uuid"])
    assert len(bodies) == 3


def test_response_parser_reads_length_and_chunked_bodies():
    async def parse(data: bytes):
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await _read_response(reader), await reader.read()

    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokNEXT"
    assert asyncio.run(parse(plain)) == ((200, True), b"NEXT")
    closing = b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert asyncio.run(parse(closing)) == ((401, False), b"")
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n0\r\n\r\nNEXT")
    assert asyncio.run(parse(chunked)) == ((200, True), b"NEXT")


def test_uuid_encoding_for_the_baseline():
    assert encode_uuid("abc+def==") == "abc%2Bdef%3D%3D"
    assert encode_uuid("/abc==") == "%252Fabc%253D%253D"
    assert encode_uuid("ab//c==") == "ab%252F%252Fc%253D%253D"


def test_collapsed_profile_summary():
    # Project frames are recognised under the checkout's own root, wherever it is cloned.
    text = (f"main (/x/site-packages/gunicorn/a.py:1);view ({ROOT}/zoom_integration/"
            "webhooks.py:10);wait (/x/site-packages/psycopg/c.py:5) 30\n"
            "main (/x/site-packages/gunicorn/a.py:1);idle (/x/site-packages/gunicorn/b.py:2) 10\n")
    summary = collapsed_summary(text)
    assert summary["samples"] == 40
    assert summary["top_self"][0] == {"frame": "wait (psycopg/c.py:5)", "share": 0.75}
    project = summary["top_project_inclusive"]
    assert project[0]["share"] == 0.75 and "webhooks.py" in project[0]["frame"]


def test_results_table_marks_targets_and_errors():
    results = {
        "webhook_ingest": {
            "rows": [{"figure": "rate", "value": "600/s", "baseline": "900/s",
                      "ratio": 0.667, "target": ">= 500/s", "met": True},
                     {"figure": "p99", "value": "120 ms", "target": "< 100 ms", "met": False},
                     {"figure": "info", "value": "1"}],
            "targets": [{"target": "t", "value": "v", "met": True}],
        },
        "user_sync": {"error": "RuntimeError: boom"},
    }
    text = runner.table(results)
    assert "| webhook_ingest | rate | 600/s | 900/s | 0.667 | >= 500/s | yes |" in text
    assert "| p99 | 120 ms | – | – | < 100 ms | **no** |" in text
    assert "| info | 1 | – | – | – | – |" in text
    assert "| user_sync | **did not run** | RuntimeError: boom" in text


def test_docs_block_is_replaced_between_markers(tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"intro\n{runner.START}\nold\n{runner.END}\noutro\n")
    monkeypatch.setattr(runner, "DOCS", doc)
    assert runner.update_docs("new figures")
    assert doc.read_text() == f"intro\n{runner.START}\nnew figures\n{runner.END}\noutro\n"


def test_bench_database_is_never_the_given_one(monkeypatch):
    from bench.common import bench_database_url

    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    assert bench_database_url("postgres://u@h:5432/nectar") == "postgres://u@h:5432/nectar_bench"
    assert bench_database_url("postgres://u@h/nectar_bench") == "postgres://u@h/nectar_bench"
    monkeypatch.setenv("BENCH_DATABASE_URL", "postgres://u@h/other_bench")
    assert bench_database_url() == "postgres://u@h/other_bench"


def test_marginal_cost_leaves_out_the_fixed_cost():
    # 0.5 s fixed per interval plus 2 ms per request.
    points = [(n, 0.5 + 0.002 * n) for n in (600, 1200, 1800)]
    assert marginal_cost(points) == pytest.approx(0.002)
    assert marginal_cost([(100, 0.3)]) == pytest.approx(0.003)
    assert marginal_cost([]) is None


def test_call_budget_order_measure_is_one_only_for_oldest_first():
    from bench.call_budget import _rank_correlation

    assert _rank_correlation([(1, 10), (2, 20), (3, 30), (4, 40)]) == 1.0
    assert _rank_correlation([(1, 40), (2, 30), (3, 20), (4, 10)]) == -1.0
    assert _rank_correlation([(1, 20), (2, 10), (3, 30), (4, 40)]) < 1.0
    assert _rank_correlation([(1, 1)]) is None


def test_fairness_p95_is_nearest_rank():
    from bench.fairness import _p95

    assert _p95([float(v) for v in range(1, 21)]) == 19.0
    assert _p95([3.0]) == 3.0


def test_closed_loop_spec_builds_signed_requests():
    spec = {"kind": "webhook", "path": "/zoom/event", "host_header": "h.test",
            "secret_token": "s", "account_id": "A", "mode": "closed", "clients": 2}
    requests = build_requests(spec, 3)
    assert len(set(requests)) == 3
    assert all(r.startswith(b"POST /zoom/event HTTP/1.1\r\nHost: h.test") for r in requests)
