"""An open-model HTTP load generator, run as its own process: `python -m bench.loadgen < spec`.

Open model: request i is sent at `start + i / rate` whatever happened to the earlier ones, so a
slow server meets a growing queue instead of a politely waiting client (a closed loop hides
queueing: its senders slow down exactly when the server does). Latency is measured from the
*scheduled* send time, which charges any wait for a free connection to the server, not the
generator ("coordinated omission").

Raw HTTP/1.1 over asyncio streams: connections are kept alive when the server allows it and a
new one is opened whenever no idle one is free, so sends never wait for a response. Requests are
built (and webhook bodies signed) before the clock starts, so the generator's own CPU per request
is a socket write and a header parse.

With `"mode": "closed"` it runs a closed loop instead (`run_closed`): a fixed number of clients,
each sending as soon as its previous request was answered; the throughput it reaches is the
server's capacity as a fixed pool of callers sees it.

The spec (JSON on stdin) and the result (JSON on stdout) are plain dicts; see `run_spec`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter, deque

from bench.stats import latency_summary
from bench.zoomsig import compact_json, signed_webhook_headers

# A send that leaves this much later than scheduled means the generator itself is saturated.
GENERATOR_LAG_LIMIT_MS = 20.0


def meeting_ended_event(*, account_id: str, meeting_uuid: str, n: int, event_ts: int) -> dict:
    """A meeting.ended body of Zoom's shape, one meeting per n.

    docs/zoom.md, "Events the portal uses".
    """
    return {
        "event": "meeting.ended",
        "event_ts": event_ts,
        "payload": {
            "account_id": account_id,
            "object": {
                "id": str(81000000000 + n), "uuid": meeting_uuid, "host_id": "benchHost0001",
                "topic": "Bench sync · réunion", "type": 2,
                "start_time": "2026-11-29T09:00:02Z", "end_time": "2026-11-29T09:47:40Z",
                "duration": 60, "timezone": "Europe/Paris",
            },
        },
    }


def build_requests(spec: dict, count: int) -> list[bytes]:
    """`count` complete HTTP/1.1 requests, ready to write."""
    host = spec["host_header"]
    path = spec["path"]
    out = []
    if spec["kind"] == "healthz":
        raw = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench-loadgen\r\n"
               "Accept: */*\r\n\r\n").encode()
        return [raw] * count
    secret = spec["secret_token"]
    account_id = spec.get("account_id", "")
    prefix = spec.get("uuid_prefix") or uuid.uuid4().hex[:8]
    now = int(time.time())
    for n in range(count):
        # Distinct meeting uuids: every delivery is a new event, none is a duplicate.
        meeting_uuid = f"{prefix}{n:08d}bench=="
        body = compact_json(meeting_ended_event(account_id=account_id, meeting_uuid=meeting_uuid,
                                                n=n, event_ts=now * 1000 + n))
        headers = signed_webhook_headers(secret, body, timestamp=now)
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "User-Agent: Zoom Marketplace/1.0a",
                 "Content-Type: application/json; charset=utf-8",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return out


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) after reading one response in full."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = 0, lines[0].startswith("HTTP/1.1")
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection":
            keep = value.strip().lower() != "close"
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def run(spec: dict) -> dict:
    """Sends `rate` requests a second for `duration` seconds; waits for the stragglers."""
    rate, duration = float(spec["rate"]), float(spec["duration"])
    timeout = float(spec.get("timeout", 10.0))
    count = max(1, int(round(rate * duration)))
    requests = build_requests(spec, count)
    loop = asyncio.get_running_loop()
    idle: deque = deque()
    latencies: list[float] = []
    start = loop.time() + 0.05
    lags: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    opened = 0
    by_second: dict[int, list[float]] = {}

    async def one(raw: bytes, scheduled: float) -> None:
        nonlocal opened
        lags.append((loop.time() - scheduled) * 1000)
        conn = idle.pop() if idle else None
        for attempt in (1, 2):
            reused = conn is not None
            try:
                if conn is None:
                    opened += 1
                    conn = await asyncio.open_connection(spec["host"], int(spec["port"]))
                reader, writer = conn
                writer.write(raw)
                status, keep = await asyncio.wait_for(_read_response(reader), timeout)
                break
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ValueError) as exc:
                if conn is not None:
                    conn[1].close()
                conn = None
                # An idle keep-alive connection the server has just closed: send once more on
                # a fresh one, as any HTTP client does. Anything else is the server's failure.
                if attempt == 1 and reused and isinstance(
                        exc, (asyncio.IncompleteReadError, ConnectionResetError)):
                    continue
                errors[type(exc).__name__] += 1
                return
        latencies.append((loop.time() - scheduled) * 1000)
        by_second.setdefault(int(scheduled - start), []).append(latencies[-1])
        statuses[status] += 1
        if keep:
            idle.append(conn)
        else:
            writer.close()

    tasks = []
    i = 0
    while i < count:
        now = loop.time()
        # Everything due by now leaves now; then sleep until the next one is due.
        while i < count and start + i / rate <= now:
            tasks.append(loop.create_task(one(requests[i], start + i / rate)))
            i += 1
        if i < count:
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
    send_end = loop.time()
    await asyncio.wait(tasks, timeout=timeout + 5) if tasks else None
    end = loop.time()
    for conn in idle:
        conn[1].close()
    lag = latency_summary(lags)
    return {
        "rate": rate, "duration": duration, "sent": count,
        "answered": sum(statuses.values()),
        "ok": sum(n for s, n in statuses.items() if 200 <= s < 300),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "achieved_send_rate": round(count / max(send_end - start, 1e-9), 1),
        "wall_seconds": round(end - start, 3),
        "connections_opened": opened,
        "latency_ms": latency_summary(latencies),
        "send_lag_ms": lag,
        # p99 of the requests scheduled in each second: shows a slow start or a growing queue.
        "p99_by_second_ms": [latency_summary(by_second[k])["p99"] for k in sorted(by_second)],
        "generator_saturated": lag["p99"] > GENERATOR_LAG_LIMIT_MS,
        "generator_cpu_seconds": round(time.process_time(), 3),
    }


async def run_closed(spec: dict) -> dict:
    """Closed loop: `clients` senders, each sending its next request as soon as the last was
    answered, for `duration` seconds. What a fixed pool of callers sees (and what an outside
    run measured against 3 sync workers); latency counts from the actual send."""
    clients, duration = int(spec["clients"]), float(spec["duration"])
    timeout = float(spec.get("timeout", 10.0))
    requests = build_requests(spec, int(spec.get("max_requests", 30000)))
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    next_index = 0
    start = loop.time()
    stop_at = start + duration

    async def client() -> None:
        nonlocal next_index
        conn = None
        while loop.time() < stop_at and next_index < len(requests):
            raw = requests[next_index]
            next_index += 1
            sent = loop.time()
            try:
                if conn is None:
                    conn = await asyncio.open_connection(spec["host"], int(spec["port"]))
                reader, writer = conn
                writer.write(raw)
                status, keep = await asyncio.wait_for(_read_response(reader), timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ValueError) as exc:
                if conn is not None:
                    conn[1].close()
                conn = None
                errors[type(exc).__name__] += 1
                continue
            latencies.append((loop.time() - sent) * 1000)
            statuses[status] += 1
            if not keep:
                writer.close()
                conn = None
        if conn is not None:
            conn[1].close()

    await asyncio.gather(*(client() for _ in range(clients)))
    wall = loop.time() - start
    answered = sum(statuses.values())
    return {
        "mode": "closed", "clients": clients, "duration": duration,
        "sent": answered + sum(errors.values()), "answered": answered,
        "ok": sum(n for s, n in statuses.items() if 200 <= s < 300),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "throughput_per_second": round(answered / max(wall, 1e-9), 1),
        "wall_seconds": round(wall, 3),
        "latency_ms": latency_summary(latencies),
        "generator_cpu_seconds": round(time.process_time(), 3),
    }


def run_spec(spec: dict) -> dict:
    if spec.get("mode") == "closed":
        return asyncio.run(run_closed(spec))
    return asyncio.run(run(spec))


def main() -> int:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(run_spec(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
