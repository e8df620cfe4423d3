"""Headless Chromium (the machine's own, never a downloaded one) driven by Playwright.

The browser tests need `/usr/bin/chromium` and the `playwright` package. When either is
missing they are skipped with the reason on a developer machine, and FAIL under `CI=true`
(with CI a missing service is a failure, never a silent skip: docs/configuration.md, `make test`).

Tenant URLs are host-based (the Host header picks the tenant), and the URLs a tenant hands out are
`https://<tenant host>/...` with no port. The `tenant_host` fixture makes the browser reach the
live server for such a host: Playwright intercepts `https://<host>/**` and forwards each request
to the live server with that `Host` header, so the OAuth redirect URL stays exactly the one the
customer registers in Zoom.

Each test gets its own Playwright instance: the sync API keeps an asyncio loop on the main
thread, which Django's ORM refuses to run beside, so the loop must not outlive the test (and
the `DJANGO_ALLOW_ASYNC_UNSAFE` escape hatch is set only while a browser test runs).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password-1"


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"browser tests need {reason}")


@pytest.fixture
def browser(monkeypatch):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package (.venv/bin/pip install playwright)")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} (apt-get install -y chromium)")
    from django.db import connections

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        # Connections opened while Playwright's loop ran belong to that context: close them
        # here, or the test database cannot be dropped at the end of the run.
        connections.close_all()
        playwright.stop()
        connections.close_all()


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 1600, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    # Chromium reports each Content-Security-Policy violation on the console; every journey
    # must end with none (our pages need no inline script, style is allowed inline).
    page.csp_violations = []
    page.on("console", lambda msg: page.csp_violations.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    yield page
    # Keep the last page of every journey (passed or not) for people to look at.
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert page.csp_violations == [], page.csp_violations


@pytest.fixture
def tenant_host(page, live_server):
    """Route `https://<host>/**` in this page to the live server, with `Host: <host>`."""

    def route_host(host: str) -> None:
        def forward(route):
            req = route.request
            path = req.url.split(host, 1)[1] or "/"
            headers = {k: v for k, v in req.all_headers().items()
                       if not k.startswith(":") and k.lower() not in ("host", "content-length")}
            headers["Host"] = host
            headers["X-Forwarded-Proto"] = "https"
            answer = requests.request(req.method, live_server.url + path, headers=headers,
                                      data=req.post_data_buffer, allow_redirects=False,
                                      timeout=30)
            out = {k: v for k, v in answer.headers.items()
                   if k.lower() not in ("content-encoding", "content-length",
                                        "transfer-encoding", "connection", "set-cookie")}
            cookies = answer.raw.headers.getlist("Set-Cookie")
            if cookies:
                out["set-cookie"] = "\n".join(cookies)
            route.fulfill(status=answer.status_code, headers=out, body=answer.content)

        page.context.route(f"https://{host}/**", forward)

    return route_host


@pytest.fixture
def sandbox(settings):
    """The Zoom sandbox on a free port, with the portal's OAuth and API URLs pointed at it."""
    from zoom_sandbox.testing import running_sandbox

    with running_sandbox() as zoom:
        settings.ZOOM_OAUTH_BASE_URL = zoom.base_url
        settings.ZOOM_API_BASE_URL = zoom.api_base_url
        yield zoom


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@vendor.test", PASSWORD)


def admin_login(page, username: str, next_path: str = "/admin/") -> None:
    page.goto(f"/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    assert "/admin/login/" not in page.url, page.content()[:2000]


def land_on_done(page, done_url: str) -> None:
    """After consent: the callback answers 302 to the done page. Playwright does not route the
    hop a routed response redirects to (the tenant host exists only through `tenant_host`), so
    the browser's failed hop is replayed with goto; the 302 itself is checked in
    tests/oauth/test_done_page.py."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.wait_for_url(done_url, timeout=15_000)
        return
    except PlaywrightError:
        pass
    for attempt in range(3):  # the browser may still be committing its error page
        try:
            page.goto(done_url)
            return
        except PlaywrightError:
            if attempt == 2:
                raise
            page.wait_for_timeout(500)


def customer_consents(page, host: str) -> None:
    """The customer opens the tenant's authorization link on `host` (routed by `tenant_host`),
    is sent to Zoom's consent page (the sandbox's), allows, and reads the success page."""
    from django.conf import settings

    page.goto(f"https://{host}/adminapi/zoom/oauth/start")
    page.wait_for_load_state()
    assert page.url.startswith(settings.ZOOM_OAUTH_BASE_URL), page.url
    page.click("button[value=allow]")
    land_on_done(page, f"https://{host}/adminapi/zoom/oauth/done")
    assert "Zoom is connected" in page.locator("body").inner_text()
