"""OAuth as Zoom runs it for an account-level app.

Owns the registered apps, the consent page, authorization codes, access and refresh tokens
(rotation, revocation, a new install revoking the old pair) and the per-app token-call counters.

Scopes are fixed when the customer consents: the code, and every token issued from it or
refreshed from those, carries the scopes the app had at that moment. Changing an app's scopes
(the control API) therefore takes effect only after the customer authorizes again, as in Zoom.
Public sources: developers.zoom.us/docs/integrations/oauth/ (the flow, token answer, refresh
rotation) and devforum.zoom.us threads on refresh races (79405) and lost rotations (10375).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .clock import Clock
from .config import AppSpec, ConfigError
from .protocol import Request, Response, oauth_error, zoom_error
from .world import Account, World, long_id


@dataclass
class App:
    spec: AppSpec
    account: Account
    calls: Counter = field(default_factory=Counter)  # token endpoint calls, for stats

    @property
    def client_id(self) -> str:
        return self.spec.client_id

    def public(self, *, secrets_too: bool = True) -> dict:
        data = {
            "client_id": self.spec.client_id,
            "redirect_uris": self.spec.redirect_uris,
            "event_url": self.spec.event_url,
            "account_id": self.account.id,
            "scopes": self.spec.scopes,
            "scope_kind": self.spec.scope_kind,
        }
        if secrets_too:
            data.update(client_secret=self.spec.client_secret,
                        secret_token=self.spec.secret_token,
                        verification_token=self.spec.verification_token)
        return data


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    account_id: str
    user_index: int
    expires: float
    scopes: str = ""  # what the app held when the customer consented
    used: bool = False


@dataclass
class Token:
    kind: str  # "access" | "refresh"
    client_id: str
    account_id: str
    user_index: int
    expires: float
    install: int  # which authorization issued it; a newer one revokes it (Zoom's 4741)
    scopes: str = ""
    scope_kind: str = ""
    used: bool = False  # refresh tokens are single-use: each refresh rotates the pair
    revoked: bool = False


class OAuth:
    def __init__(self, world: World, clock: Clock, *, token_ttl: float, code_ttl: float,
                 refresh_ttl: float):
        self.world = world
        self.clock = clock
        self.token_ttl = token_ttl
        self.code_ttl = code_ttl
        self.refresh_ttl = refresh_ttl
        self.apps: dict[str, App] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        self.installs: Counter = Counter()  # (client_id, account_id) -> latest install number
        self.lock = threading.RLock()
        self.base_url = ""  # set by the server once it knows its port

    # -- apps -------------------------------------------------------------------------------

    def register(self, spec: AppSpec) -> App:
        with self.lock:
            if spec.account_id:
                account = self.world.account(spec.account_id) or self.world.add_account(
                    spec.account_id)
            else:  # the first account without an app, else a new one
                taken = {a.account.id for a in self.apps.values()}
                free = [a for a in self.world.accounts.values() if a.id not in taken]
                account = free[0] if free else self.world.add_account()
            # Credentials the caller left out come from the seed, so a restart prints the same.
            number, seed = len(self.apps), self.world.seed
            spec.client_id = spec.client_id or seeded_secret(seed, number, "client_id", 22)
            spec.client_secret = spec.client_secret or seeded_secret(seed, number, "secret", 32)
            spec.secret_token = spec.secret_token or seeded_secret(seed, number, "token", 22)
            spec.account_id = account.id
            existing = self.apps.get(spec.client_id)
            if existing and existing.account is not account:
                raise ConfigError(f"client_id {spec.client_id} is registered on another account")
            app = App(spec, account, existing.calls if existing else Counter())
            self.apps[spec.client_id] = app
            return app

    def apps_of(self, account_id: str) -> list[App]:
        return [a for a in self.apps.values() if a.account.id == account_id]

    # -- consent page ----------------------------------------------------------------------------

    def _check_authorize(self, params: dict[str, str]) -> tuple[App | None, str]:
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            return None, "Invalid client_id."
        if params.get("response_type", "code") != "code":
            return None, "Unsupported response_type."
        # The redirect URL must be on the app's allow list, else Zoom's 4709.
        if params.get("redirect_uri", "") not in app.spec.redirect_uris:
            return None, "Invalid redirect: the redirect_uri is not registered for this app (4709)."
        if params.get("code_challenge_method", "plain") not in ("plain", "S256"):
            return None, "Unsupported code_challenge_method."
        return app, ""

    def authorize_page(self, req: Request) -> Response:
        app, problem = self._check_authorize(req.query)
        if app is None:
            return _page("Zoom sandbox: authorization error", f"<p>{html.escape(problem)}</p>",
                         400)
        fields = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(req.query[k])}">'
            for k in ("response_type", "client_id", "redirect_uri", "state", "code_challenge",
                      "code_challenge_method") if k in req.query
        )
        owner = self.world.user(app.account, 0) or {}
        body = (
            f"<p>The app <code>{html.escape(app.client_id)}</code> asks to access account "
            f"<code>{html.escape(app.account.id)}</code> as {html.escape(owner.get('email', ''))}."
            f"</p><p>Scopes: <code>{html.escape(app.spec.scopes)}</code></p>"
            f'<form method="post" action="/oauth/authorize">{fields}'
            '<button type="submit" name="decision" value="allow">Authorize</button> '
            '<button type="submit" name="decision" value="deny">Deny</button></form>'
        )
        return _page("Zoom sandbox: authorize app", body)

    def authorize_decision(self, req: Request) -> Response:
        params = req.form()
        app, problem = self._check_authorize(params)
        if app is None:
            return _page("Zoom sandbox: authorization error", f"<p>{html.escape(problem)}</p>",
                         400)
        redirect = params["redirect_uri"]
        answer: dict[str, str] = {}
        if params.get("decision") == "allow":
            code = _ident(32)
            with self.lock:
                self.codes[code] = Code(
                    client_id=app.client_id, redirect_uri=redirect,
                    challenge=params.get("code_challenge", ""),
                    method=params.get("code_challenge_method", "plain"),
                    account_id=app.account.id, user_index=0,
                    expires=self.clock.now() + self.code_ttl, scopes=app.spec.scopes,
                )
            answer["code"] = code
        else:
            answer["error"] = "access_denied"
        if "state" in params:
            answer["state"] = params["state"]  # returned unchanged
        separator = "&" if "?" in redirect else "?"
        return Response.redirect(redirect + separator + urlencode(answer))

    # -- token endpoint ----------------------------------------------------------------------------

    def token(self, req: Request) -> Response:
        app = self._basic_client(req)
        form = req.form()
        grant = form.get("grant_type", "")
        if app is None:
            return oauth_error("invalid_client", "Invalid client_id or client_secret")
        app.calls[grant or "missing_grant_type"] += 1
        if grant == "authorization_code":
            answer = self._exchange_code(app, form)
        elif grant == "refresh_token":
            answer = self._refresh(app, form)
        elif not grant:
            answer = oauth_error("invalid_request", "grant_type is required")  # 4706
        else:
            answer = oauth_error("unsupported_grant_type", "Unsupported grant type")  # 4705
        if answer.status != 200:
            app.calls["errors"] += 1
        return answer

    def _basic_client(self, req: Request) -> App | None:
        # Authorization: Basic base64(client_id:client_secret), *standard* base64.
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = decoded.partition(":")
        app = self.apps.get(client_id)
        if app and hmac.compare_digest(app.spec.client_secret.encode(), secret.encode()):
            return app
        return None

    def _exchange_code(self, app: App, form: dict[str, str]) -> Response:
        value = form.get("code", "")
        with self.lock:
            code = self.codes.get(value)
            if code is None or code.client_id != app.client_id or code.used:
                # Reuse answers invalid_request "Invalid authorization code ..." (Zoom's 4734).
                return oauth_error("invalid_request", f"Invalid authorization code {value}")
            code.used = True  # single use, even when this attempt fails
            if self.clock.now() > code.expires:
                return oauth_error("invalid_request", "Code is expired")  # Zoom's 4733
            if form.get("redirect_uri", "") != code.redirect_uri:
                return oauth_error("invalid_request", "Redirect URI mismatch.")  # Zoom's 4709
            if code.challenge and not _pkce_ok(code, form.get("code_verifier", "")):
                return oauth_error("invalid_grant", "Invalid code_verifier.")  # PKCE
            key = (app.client_id, code.account_id)
            self.installs[key] += 1  # a new authorization revokes the earlier tokens
            return self._issue(app, code.account_id, code.user_index, self.installs[key],
                               code.scopes or app.spec.scopes, app.spec.scope_kind)

    def _refresh(self, app: App, form: dict[str, str]) -> Response:
        with self.lock:
            token = self.tokens.get(form.get("refresh_token", ""))
            if (token is None or token.kind != "refresh" or token.client_id != app.client_id
                    or not self._live(token)):
                # A spent (rotated), revoked or unknown refresh token.
                return oauth_error("invalid_grant", "Invalid Token!")
            token.used = True  # rotation: the old refresh token is now invalid
            return self._issue(app, token.account_id, token.user_index, token.install,
                               token.scopes, token.scope_kind)

    def _issue(self, app: App, account_id: str, user_index: int, install: int, scopes: str,
               scope_kind: str) -> Response:
        now = self.clock.now()
        access, refresh = _ident(48), _ident(48)
        self.tokens[access] = Token("access", app.client_id, account_id, user_index,
                                    now + self.token_ttl, install, scopes, scope_kind)
        self.tokens[refresh] = Token("refresh", app.client_id, account_id, user_index,
                                     now + self.refresh_ttl, install, scopes, scope_kind)
        return Response.json({
            "access_token": access, "token_type": "bearer", "refresh_token": refresh,
            "expires_in": int(self.token_ttl), "scope": scopes, "api_url": self.base_url,
        })

    def _live(self, token: Token) -> bool:
        latest = self.installs[(token.client_id, token.account_id)]
        return (not token.used and not token.revoked and token.install == latest
                and self.clock.now() < token.expires)

    def revoke(self, req: Request) -> Response:
        """POST /oauth/revoke, Basic auth, form token=<access token>."""
        app = self._basic_client(req)
        if app is None:
            return oauth_error("invalid_client", "Invalid client_id or client_secret")
        app.calls["revoke"] += 1
        token = self.tokens.get(req.form().get("token", ""))
        if token is None or token.client_id != app.client_id:
            return oauth_error("invalid_request", "Invalid Token!")
        self.revoke_install(app.client_id, token.account_id)
        return Response.json({"status": "success"})

    def revoke_install(self, client_id: str, account_id: str) -> None:
        """Ends the current authorization (revoke, or the app being deauthorized)."""
        with self.lock:
            for token in self.tokens.values():
                if token.client_id == client_id and token.account_id == account_id:
                    token.revoked = True

    # -- bearer tokens on /v2 (header only; Zoom refuses tokens in the query since 2023) ---------

    def bearer(self, req: Request) -> tuple[Token | None, Response | None]:
        if "access_token" in req.query:
            return None, zoom_error(
                401, 124, "Invalid access token, this access token is not supported as query "
                "parameter string.")
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or token.kind != "access" or token.revoked or (
                token.install != self.installs[(token.client_id, token.account_id)]):
            return None, zoom_error(401, 124, "Invalid access token.")
        if self.clock.now() >= token.expires:
            return None, zoom_error(401, 124, "Access token is expired.")
        return token, None


def _pkce_ok(code: Code, verifier: str) -> bool:
    if code.method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return bool(verifier) and hmac.compare_digest(expected, code.challenge)


def seeded_secret(seed: int, number: int, what: str, length: int) -> str:
    return long_id(seed, "app", number, what, width=length)


def _ident(length: int) -> str:
    return secrets.token_urlsafe(length)[:length]


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response.html(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{body}</body></html>", status)
