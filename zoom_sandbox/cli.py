"""The command line of ``manage.py zoom_sandbox`` and ``python -m zoom_sandbox``.

    zoom_sandbox [--port P] [--seed N] ...            run the server until Ctrl-C
    zoom_sandbox send EVENT --to URL --secret-token T  deliver one event as Zoom would
    zoom_sandbox scenario --to URL --secret-token T    play a day of activity

``run(options)`` returns the exit status. Bad input raises ``CliError`` (status 2, one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO
from urllib.parse import urlsplit

from .config import AppSpec, ConfigError, SandboxConfig, apps_from_json
from .control import Sandbox
from .webhooks import EVENTS


class CliError(Exception):
    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SandboxConfig()
    parser.add_argument("--host", default=d.host)
    parser.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--accounts", type=int, default=d.accounts)
    parser.add_argument("--users", type=int, default=d.users, help="users per account")
    parser.add_argument("--groups", type=int, default=d.groups)
    parser.add_argument("--meetings", type=int, default=d.meetings,
                        help="ended meetings per account")
    parser.add_argument("--webinars", type=int, default=d.webinars)
    parser.add_argument("--max-participants", type=int, default=d.max_participants)
    parser.add_argument("--plan", choices=("free", "pro", "business"), default=d.plan)
    parser.add_argument("--apps-json", default="",
                        help='[{"client_id":..,"client_secret":..,"secret_token":..,'
                             '"redirect_uri":..,"event_url":..,"account_id":..,'
                             '"scope_kind":"granular"|"classic","scopes":".."}]')
    parser.add_argument("--data-delay", type=float, default=d.data_delay,
                        help="seconds after a meeting ends before dashboard data appears")
    parser.add_argument("--token-ttl", type=float, default=d.token_ttl)
    parser.add_argument("--code-ttl", type=float, default=d.code_ttl)
    parser.add_argument("--retry-factor", type=float, default=d.retry_factor,
                        help="scales the 5/20/60-minute webhook retry schedule")
    parser.add_argument("--retry-timestamp", choices=("fresh", "original"),
                        default=d.retry_timestamp,
                        help="sign each webhook retry with a fresh timestamp, or keep the first")
    parser.add_argument("--zoom-rooms", type=int, default=d.zoom_rooms,
                        help="Zoom Rooms per account (Dashboard overview)")
    parser.add_argument("--rate-limits-json", default="",
                        help='e.g. {"Heavy": {"per_second": 2, "per_day": 100}}')
    parser.add_argument("--qps-retry-after", action="store_true",
                        help="send Retry-After: 1 on per-second 429s too")
    parser.add_argument("--fault", action="append", default=[], metavar="KEY=VALUE",
                        help="error_rate, error_next, error_status, delay, delay_next, "
                             "burst_429_next, path_prefix")
    parser.add_argument("--quiet", action="store_true", help="no request log")

    sub = parser.add_subparsers(dest="action")
    send = sub.add_parser("send", help="deliver one event as Zoom would")
    send.add_argument("event", help=", ".join(EVENTS))
    _target_arguments(send)
    send.add_argument("--object-json", default="",
                      help="merged into payload.object (payload for app_deauthorized, "
                           "endpoint.url_validation)")
    scenario = sub.add_parser("scenario", help="play a day of activity against a portal")
    _target_arguments(scenario)
    scenario.add_argument("--hours", default="24")
    scenario.add_argument("--speed", default="3600",
                          help="simulated seconds per real second (3600: a day in 24 s)")
    scenario.add_argument("--sandbox", default="",
                          help="drive a running sandbox's control API instead of sending")


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    # Checked by hand, not by argparse, so bad input is one clear line.
    parser.add_argument("--to", default="", help="the portal's event endpoint URL")
    parser.add_argument("--secret-token", default="")
    parser.add_argument("--account-id", default="")
    parser.add_argument("--client-id", default="")
    parser.add_argument("--verification-token", default="")
    parser.add_argument("--timeout", default="3", help="seconds; Zoom waits 3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoom_sandbox", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    options = vars(build_parser().parse_args(argv))
    try:
        return run(options, out or sys.stdout)
    except CliError as exc:
        print(f"zoom_sandbox: {exc}", file=sys.stderr)
        return exc.code


def run(options: dict[str, Any], out: TextIO) -> int:
    action = options.get("action")
    if action == "send":
        return send(options, out)
    if action == "scenario":
        return scenario(options, out)
    return serve(options, out)


def _config(options: dict[str, Any]) -> SandboxConfig:
    try:
        apps = apps_from_json(options["apps_json"]) if options.get("apps_json") else []
        limits = json.loads(options["rate_limits_json"]) if options.get(
            "rate_limits_json") else {}
    except (ConfigError, ValueError) as exc:
        raise CliError(str(exc)) from None
    faults = {}
    for item in options.get("fault") or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--fault takes KEY=VALUE, not {item!r}")
        faults[key] = value
    names = ("host", "port", "seed", "accounts", "users", "groups", "meetings", "webinars",
             "max_participants", "plan", "data_delay", "token_ttl", "code_ttl", "retry_factor",
             "qps_retry_after", "quiet", "retry_timestamp", "zoom_rooms")
    return SandboxConfig(**{k: options[k] for k in names if options.get(k) is not None},
                         apps=apps, rate_limits=limits, faults=faults)


def serve(options: dict[str, Any], out: TextIO) -> int:
    from .server import SandboxServer

    try:
        server = SandboxServer(_config(options))
    except (ConfigError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot listen on {options['host']}:{options['port']}: {exc}",
                       1) from None
    print(server.banner(), file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopping", file=out)
    finally:
        server.httpd.server_close()
    return 0


def _target(options: dict[str, Any]) -> tuple[Sandbox, str, float]:
    """An in-process sandbox whose one app points at --to, and the timeout."""
    to, token = options.get("to") or "", options.get("secret_token") or ""
    parts = urlsplit(to)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError("--to must be an http(s) URL, e.g. http://localhost:8000/zoom/event")
    if not token:
        raise CliError("--secret-token is required (the app's Secret Token)")
    try:
        timeout = float(options.get("timeout") or 3)
    except ValueError:
        raise CliError("--timeout must be a number of seconds") from None
    spec = AppSpec(client_id=options.get("client_id") or "", secret_token=token,
                   verification_token=options.get("verification_token") or "",
                   event_url=to, account_id=options.get("account_id") or "")
    config = SandboxConfig(port=0, users=20, meetings=0, webinars=0, apps=[spec],
                           seed=int(options.get("seed") or 1), delivery_timeout=timeout,
                           quiet=True)
    sandbox = Sandbox(config)
    sandbox.sync_delivery = True
    return sandbox, sandbox.apps()[0]["client_id"], timeout


def send(options: dict[str, Any], out: TextIO) -> int:
    event = options["event"]
    if event not in EVENTS:
        raise CliError(f"unknown event {event!r}; one of: {', '.join(EVENTS)}")
    overrides: dict = {}
    if options.get("object_json"):
        try:
            overrides = json.loads(options["object_json"])
        except ValueError as exc:
            raise CliError(f"--object-json is not valid JSON: {exc}") from None
        if not isinstance(overrides, dict):
            raise CliError("--object-json must be a JSON object")
    sandbox, client_id, _timeout = _target(options)
    try:
        message = sandbox.sample_event(event, overrides, client_id)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    _app, target = sandbox._targets(sandbox.oauth.apps[client_id].account, client_id)[0]
    delivery = sandbox.deliverer.send_once(target, message, message["payload"].get(
        "account_id", ""))
    attempt = delivery.attempts[-1]
    status = attempt["status"]
    shown = f"HTTP {status}" if status is not None else "no answer"
    detail = f" ({attempt['error']})" if attempt["error"] else ""
    if event == "endpoint.url_validation":
        ok = bool(delivery.validation_ok)
        detail += ", encryptedToken ok" if ok else ", encryptedToken missing or wrong"
    else:
        ok = delivery.state == "delivered"  # Zoom: 200 or 204 within 3 s
    print(f"{event} -> {target.url}: {shown} in {attempt['latency_ms']:.0f} ms{detail}",
          file=out)
    return 0 if ok else 1


def scenario(options: dict[str, Any], out: TextIO) -> int:
    from .scenario import ControlSink, DirectSink, play, timeline

    try:
        hours, speed = float(options.get("hours") or 24), float(options.get("speed") or 3600)
    except ValueError:
        raise CliError("--hours and --speed must be numbers") from None
    if hours <= 0 or speed <= 0:
        raise CliError("--hours and --speed must be positive")
    if options.get("sandbox"):
        if urlsplit(options["sandbox"]).scheme not in ("http", "https"):
            raise CliError("--sandbox must be the sandbox's base URL, e.g. http://127.0.0.1:8100")
        sink: Any = ControlSink(options["sandbox"], options.get("account_id") or "")
    else:
        sandbox, client_id, _ = _target(options)
        sink = DirectSink(sandbox, client_id)
    events = timeline(int(options.get("seed") or 1), hours)
    print(f"playing {len(events)} events over {hours:g} simulated hours at {speed:g}x",
          file=out, flush=True)
    try:
        outcome = play(events, sink, speed=speed, out=out)
    except OSError as exc:
        raise CliError(f"the sandbox did not answer: {exc}", 1) from None
    print(f"done: {outcome['ok']} ok, {outcome['failed']} failed", file=out)
    return 0 if not outcome["failed"] else 1
