"""Helpers for tests anywhere in the project: a running sandbox and a tiny webhook receiver.

    from zoom_sandbox.testing import running_sandbox

    with running_sandbox(users=500) as zoom:
        app = zoom.register_app(redirect_uri="https://t1.example/adminapi/zoom/oauth/authorize",
                                event_url=live_server.url + "/zoom/event")
        settings.ZOOM_OAUTH_BASE_URL, settings.ZOOM_API_BASE_URL = zoom.base_url, zoom.api_base_url
        zoom.end_meeting(client_id=app["client_id"], participants=100, minutes=60)
        assert zoom.wait_deliveries()
        zoom.stats()["apps"][app["client_id"]]["token_calls"]

The server runs in a thread on a free port. Test defaults differ from the command line's:
no data delay and retries compressed 1000 times (5 min -> 0.3 s).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .config import AppSpec, SandboxConfig
from .server import SandboxServer
from .webhooks import encrypted_token

TEST_DEFAULTS = {"port": 0, "quiet": True, "data_delay": 0.0, "retry_factor": 0.001}


class SandboxHandle:
    """A running sandbox. Control methods call the same code as the ``/_sandbox/`` endpoints."""

    def __init__(self, server: SandboxServer):
        self.server = server
        self.sandbox = server.sandbox

    # URLs: ZOOM_OAUTH_BASE_URL and ZOOM_API_BASE_URL
    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def api_base_url(self) -> str:
        return self.server.base_url + "/v2"

    @property
    def apps(self) -> list[dict]:
        return self.sandbox.apps()

    @property
    def app(self) -> dict:
        """The first registered app (client_id, client_secret, secret_token, account_id, ...)."""
        return self.sandbox.apps()[0]

    def register_app(self, **fields: Any) -> dict:
        """Fields as in --apps-json: client_id, client_secret, secret_token, verification_token,
        redirect_uri / redirect_uris, event_url, account_id, scopes (all optional)."""
        return self.sandbox.register_app(AppSpec.from_json(fields))

    # OAuth over HTTP, as a browser would click through it
    def authorize(self, client_id: str, redirect_uri: str = "", *, state: str | None = None,
                  code_challenge: str = "", code_challenge_method: str = "S256",
                  deny: bool = False) -> str:
        """Submits the consent form; returns the redirect Location (with code or error)."""
        import http.client

        app = self.sandbox.oauth.apps[client_id]
        form = {"response_type": "code", "client_id": client_id,
                "redirect_uri": redirect_uri or app.spec.redirect_uris[0],
                "decision": "deny" if deny else "allow"}
        if state is not None:
            form["state"] = state
        if code_challenge:
            form.update(code_challenge=code_challenge,
                        code_challenge_method=code_challenge_method)
        parts = urlsplit(self.base_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            conn.request("POST", "/oauth/authorize", body=urlencode(form),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
            if response.status != 302:
                raise AssertionError(f"consent form answered {response.status}")
            return response.getheader("Location")
        finally:
            conn.close()

    def authorization_code(self, client_id: str, redirect_uri: str = "", **kw: Any) -> str:
        location = self.authorize(client_id, redirect_uri, **kw)
        return parse_qs(urlsplit(location).query)["code"][0]

    # World and events (each returns the event sent and the delivery ids)
    def end_meeting(self, **kw: Any) -> dict:
        """kw: account_id or client_id, participants=5, minutes=30, topic, meeting_id, uuid."""
        return self.sandbox.end_meeting(kind="meeting", **kw)

    def end_webinar(self, **kw: Any) -> dict:
        return self.sandbox.end_meeting(kind="webinar", **kw)

    def create_user(self, **fields: Any) -> dict:
        return self.sandbox.create_user(**fields)

    def update_user(self, user_id: str, old_object: bool = True, **fields: Any) -> dict:
        return self.sandbox.update_user(user_id, fields, old_object=old_object)

    def delete_user(self, user_id: str) -> dict:
        return self.sandbox.delete_user(user_id)

    def validate_url(self, client_id: str, plain_token: str = "") -> dict:
        return self.sandbox.validate_url(client_id, plain_token)

    def deauthorize(self, client_id: str) -> dict:
        return self.sandbox.deauthorize(client_id)

    def send_event(self, **kw: Any) -> dict:
        return self.sandbox.send_event(**kw)

    # Switches
    def set_faults(self, **kw: Any) -> dict:
        """error_rate, error_next, error_status, delay, delay_next, burst_429_next,
        path_prefix ("/v2/" by default; "/oauth/" for the token endpoint), seed."""
        return self.sandbox.set_faults(**kw)

    def clear_faults(self) -> dict:
        return self.sandbox.clear_faults()

    def configure(self, **kw: Any) -> dict:
        """data_delay, token_ttl, code_ttl, refresh_ttl, page_token_ttl, retry_factor,
        delivery_timeout, rate_limits, qps_retry_after."""
        return self.sandbox.configure(**kw)

    def set_account(self, account_id: str, **kw: Any) -> dict:
        """plan ("free" | "pro" | "business"), dashboard (bool)."""
        return self.sandbox.set_account(account_id, **kw)

    def advance_clock(self, seconds: float) -> dict:
        return self.sandbox.advance_clock(seconds)

    # Observations
    def stats(self) -> dict:
        return self.sandbox.stats()

    def token_calls(self, client_id: str) -> dict:
        """{"authorization_code": n, "refresh_token": n, "revoke": n, "errors": n} (absent = 0)."""
        return self.stats()["apps"][client_id]["token_calls"]

    def deliveries(self, event: str | None = None) -> list[dict]:
        return [d for d in self.stats()["deliveries"] if event is None or d["event"] == event]

    def wait_deliveries(self, timeout: float = 10.0) -> bool:
        """True once no delivery is pending (all delivered, or failed after retries)."""
        return self.sandbox.wait_deliveries(timeout)

    def reset(self) -> dict:
        return self.sandbox.reset()


@contextmanager
def running_sandbox(*, apps: list[dict | AppSpec] | None = None,
                    **config: Any) -> Iterator[SandboxHandle]:
    """Starts a sandbox in a thread; ``config`` takes any ``SandboxConfig`` field."""
    specs = [a if isinstance(a, AppSpec) else AppSpec.from_json(a) for a in apps or []]
    server = SandboxServer(SandboxConfig(**{**TEST_DEFAULTS, **config, "apps": specs}))
    server.start()
    try:
        yield SandboxHandle(server)
    finally:
        server.stop()


class WebhookReceiver:
    """Records what arrives; answers with the next of ``statuses`` (then the last one)."""

    def __init__(self, statuses: list[int], delay: float, secret_token: str):
        self.statuses = list(statuses)
        self.delay = delay
        self.secret_token = secret_token
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.url = ""

    def answer(self, headers: dict, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.requests.append({"headers": headers, "body": body, "at": time.monotonic()})
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if self.delay:
            time.sleep(self.delay)
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        if event.get("event") == "endpoint.url_validation" and self.secret_token:
            plain = event["payload"]["plainToken"]
            answer = {"plainToken": plain,
                      "encryptedToken": encrypted_token(self.secret_token, plain)}
            return status, json.dumps(answer).encode()
        return status, b""


@contextmanager
def webhook_receiver(*, statuses: list[int] | None = None, delay: float = 0.0,
                     secret_token: str = "") -> Iterator[WebhookReceiver]:
    """A local endpoint for delivery tests; with ``secret_token`` it answers URL validation."""
    receiver = WebhookReceiver(statuses or [200], delay, secret_token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = receiver.answer({k.lower(): v for k, v in self.headers.items()},
                                             body)
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}/zoom/event"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
