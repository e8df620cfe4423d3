"""The HTTP server: ``ThreadingHTTPServer``, request parsing and top-level routing.

``/oauth/*`` (zoom.us), ``/v2/*`` (api.zoom.us) and the control API ``/_sandbox/*`` share one
port, so the portal points both ``ZOOM_OAUTH_BASE_URL`` and ``ZOOM_API_BASE_URL`` (+ ``/v2``) here.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .config import SandboxConfig
from .control import Sandbox
from .panel import panel_action, panel_page
from .protocol import Request, Response

MAX_BODY = 5 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API host
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server_version = "ZoomSandbox/1.0"
    sandbox: Sandbox  # set on the subclass made per server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(Response.json({"error": "body too large"}, 413))
            return
        body = self.rfile.read(length) if length else b""
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        req = Request(
            method=self.command, raw_path=self.path,
            query={k: v[0] for k, v in query.items()},
            headers={k.lower(): v for k, v in self.headers.items()}, body=body,
        )
        try:
            answer = dispatch(self.sandbox, req)
        except Exception as exc:  # a sandbox bug must not kill the connection silently
            self.log_error("sandbox error: %r", exc)
            answer = Response.json({"code": 500, "message": f"sandbox error: {exc!r}"}, 500)
        self._send(answer)

    def _send(self, answer: Response) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:
        if not self.sandbox.config.quiet:
            super().log_message(format, *args)


def dispatch(sandbox: Sandbox, req: Request) -> Response:
    path = urlsplit(req.raw_path).path
    if path.startswith("/v2/"):
        sandbox.requests[f"{req.method} {path.split('/')[2]}"] += 1
        return sandbox.api.handle(req)
    if path.startswith("/_sandbox/"):
        return sandbox.handle_control(req)
    sandbox.requests[f"{req.method} {path}"] += 1
    if path.startswith("/oauth/"):
        delay, injected = sandbox.faults.apply(path, None)
        if delay:
            time.sleep(delay)
        if injected:
            return injected
    match req.method, path:
        case "GET", "/oauth/authorize":
            return sandbox.oauth.authorize_page(req)
        case "POST", "/oauth/authorize":
            return sandbox.oauth.authorize_decision(req)
        case "POST", "/oauth/token":
            return sandbox.oauth.token(req)
        case "POST", "/oauth/revoke":
            return sandbox.oauth.revoke(req)
        case "GET", "/":
            if "text/html" in req.headers.get("accept", ""):
                return panel_page(sandbox, req)
            return Response.json({"sandbox": "zoom", "base_url": sandbox.base_url,
                                  "control": sandbox.base_url + "/_sandbox/stats"})
        case "POST", _ if path.startswith("/panel/"):
            return panel_action(sandbox, req, path.removeprefix("/panel/"))
    return Response.json({"code": 404, "message": "Not Found"}, 404)


class SandboxServer:
    """Runs a ``Sandbox`` on ``config.host:config.port`` (port 0: a free one).

    >>> with SandboxServer(SandboxConfig(port=0)) as server:
    ...     server.base_url  # doctest: +SKIP
    """

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self.sandbox = Sandbox(self.config)
        handler = type("Handler", (_Handler,), {"sandbox": self.sandbox})
        self.httpd = ThreadingHTTPServer((self.config.host, self.config.port), handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        self.sandbox.oauth.base_url = f"http://{shown}:{port}"
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True, name="zoom-sandbox")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.sandbox.deliverer.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def banner(self) -> str:
        """What start-up prints: the URLs and every app's credentials."""
        lines = [
            f"Zoom sandbox listening on {self.base_url}",
            f"  ZOOM_OAUTH_BASE_URL={self.base_url}",
            f"  ZOOM_API_BASE_URL={self.base_url}/v2",
            f"  control API: {self.base_url}/_sandbox/  (stats: GET /_sandbox/stats)",
        ]
        for app in self.sandbox.apps():
            lines += [
                f"app on account {app['account_id']}:",
                f"  client id:      {app['client_id']}",
                f"  client secret:  {app['client_secret']}",
                f"  secret token:   {app['secret_token']}",
            ]
            if app["verification_token"]:
                lines.append(f"  verification:   {app['verification_token']}")
            lines.append(f"  redirect uris:  {' '.join(app['redirect_uris']) or '(none)'}")
            lines.append(f"  event url:      {app['event_url'] or '(none)'}")
        return "\n".join(lines)
