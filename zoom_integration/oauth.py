"""Customer authorization and token custody: the only module that writes Zoom tokens.

Owns
- the browser flow: `authorization_start` (authorize URL + an opaque single-use `state` stashed in
  the Django session with the tenant id and PKCE verifier) and `authorization_complete` (state
  check, code exchange, `/users/me`, the capabilities the scopes grant (capabilities.py), storing
  the encrypted tokens, then queueing the work parked on a missing scope);
- `access_token_get`, the one way any caller gets a valid access token: it refreshes shortly
  before expiry or after Zoom rejected the stored token (401, code 124), under a per-tenant row
  lock, and commits the rotated pair before anything else happens;
- `connection_deauthorize` (app_deauthorized), `connection_test`, `connection_revoke`,
  `tokens_refresh_due` (the scheduled refresh);
- `authorization_current`: the tenant's authorization as it stands, for the customer's stable
  "done" page the callback redirects to.

Zoom's OAuth for account-level apps: https://developers.zoom.us/docs/integrations/oauth/. Codes,
tokens and secrets are never logged, put in exceptions, or shown: messages name the tenant and
Zoom's error *kind*.

Transactions: the refresh runs in `transaction.atomic(durable=True)`. Zoom refresh tokens are
single-use (each refresh returns a new one and retires the old): once Zoom has answered,
the new pair must be committed even if the caller's
own work later fails, so calling `access_token_get` inside an open `atomic()` block is a
programming error and raises `RuntimeError` (Django's durable check) instead of silently risking
a rolled-back rotation that would lock the customer out.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from observability import hooks as observe
from tenants.models import Tenant
from tenants.selectors import tenant_credentials, tenant_zoom_urls

from .backfill import reconcile_backfill_on_connect
from .capabilities import (
    connection_capabilities_apply,
    connection_capability_state,
    scope_missing_message,
)
from .exceptions import (
    OAuthFlowError,
    ReauthorizationRequiredError,
    ZoomAPIError,
    ZoomAuthError,
    ZoomScopeMissingError,
    ZoomTransientError,
)
from .models import ConnectionState, SyncRun, ZoomConnection
from .queueing import (
    directory_sync_enqueue,
    metrics_failed_requeue_enqueue,
    scope_parked_resume_enqueue,
)
from .zoom import CODE_SCOPE_MISSING, missing_scopes_parse

logger = logging.getLogger(__name__)

# --- Policy ----------------------------------------------------------------------------------
# Refresh this long before `expires_in` runs out (Zoom's access tokens last one hour), so a token
# handed out is good for a while; the scheduled job uses a wider window so callers rarely refresh
# inline.
REFRESH_MARGIN_SECONDS = 300
# The OAuth `state` is ours to define: 256 random bits, valid 10 minutes, single use.
STATE_TTL_SECONDS = 600
STATE_BYTES = 32
SESSION_KEY = "zoom_oauth_states"
MAX_PENDING_STATES = 5  # several tabs may be mid-flow; older ones are dropped

# Zoom's OAuth errors that mean "this refresh token is dead": re-authorization is the only cure
# (a spent rotated token, "Invalid Token!", a revoked or re-installed app: Zoom answers them all
# with invalid_grant).
_REAUTH_ERRORS = frozenset({"invalid_grant"})


# --- HTTP helpers ----------------------------------------------------------------------------

def _timeout() -> tuple[float, float] | float:
    return settings.ZOOM_HTTP_TIMEOUT


def _basic_header(tenant: Tenant) -> str:
    # Zoom wants *standard* base64 of client_id:client_secret (social-core's urlsafe variant breaks
    # whenever the encoding contains + or /).
    raw = f"{tenant.client_id}:{tenant.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass
class _TokenAnswer:
    status: int
    data: dict[str, Any]

    @property
    def error(self) -> str:
        return str(self.data.get("error") or "")
    # `reason` is deliberately not exposed: Zoom may echo the code in it ("Invalid authorization
    # code <code>"). The error kind is enough for staff and customers.


@sensitive_variables()  # error reports must not show tokens or codes
def _token_post(*, tenant: Tenant, form: dict[str, str], path: str = "/oauth/token"
                ) -> _TokenAnswer:
    """POST to Zoom's token (or revoke) endpoint; transport failures become ZoomTransientError."""
    url = f"{settings.ZOOM_OAUTH_BASE_URL}{path}"  # Zoom's token and revoke endpoints
    try:
        response = requests.post(
            url, data=form, timeout=_timeout(),
            headers={"Authorization": _basic_header(tenant), "Accept": "application/json"},
        )
    except requests.RequestException as exc:
        # The exception text holds only the URL (no secrets: they travel in header and body).
        raise ZoomTransientError(f"Zoom OAuth endpoint unreachable: {type(exc).__name__}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise ZoomTransientError(f"Zoom OAuth endpoint answered HTTP {response.status_code}",
                                 status=response.status_code)
    data = _json_object(response)
    return _TokenAnswer(response.status_code, data)


def _json_object(response: requests.Response) -> dict[str, Any]:
    """The JSON object Zoom answered, or {} for anything else (an HTML error page, a list)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@sensitive_variables()  # error reports must not show tokens or codes
def _users_me(access_token: str) -> dict[str, Any]:
    """GET /users/me: the authorizing user, with `account_id` (which account installed the app)."""
    url = f"{settings.ZOOM_API_BASE_URL}/users/me"
    try:
        response = requests.get(url, timeout=_timeout(), headers={
            # The token travels only in the Authorization header (Zoom answers code 124 to one
            # in the query string).
            "Authorization": f"Bearer {access_token}", "Accept": "application/json"})
    except requests.RequestException as exc:
        raise ZoomTransientError(f"Zoom API unreachable: {type(exc).__name__}") from None
    data = _json_object(response)
    if response.status_code >= 500 or response.status_code == 429:
        raise ZoomTransientError(f"/users/me answered HTTP {response.status_code}",
                                 status=response.status_code, code=_int(data.get("code")))
    if data.get("code") is not None and _int(data.get("code")) == CODE_SCOPE_MISSING:
        raise ZoomScopeMissingError("/users/me: the app lacks a scope",
                                    scopes=missing_scopes_parse(data.get("message")),
                                    capability="users_me", status=response.status_code)
    if response.status_code != 200:
        error_class = ZoomAuthError if response.status_code == 401 else ZoomAPIError
        raise error_class(f"/users/me answered HTTP {response.status_code}",
                          status=response.status_code, code=_int(data.get("code")))
    if not data.get("account_id"):
        raise ZoomAPIError("/users/me answered without account_id", status=200)
    return data


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@sensitive_variables()  # error reports must not show tokens or codes
def _parse_token_response(answer: _TokenAnswer) -> dict[str, Any]:
    """Zoom's token response, checked: access_token, refresh_token, numeric expires_in."""
    data = answer.data
    access, refresh = data.get("access_token"), data.get("refresh_token")
    try:
        expires_in = float(data.get("expires_in"))
    except (TypeError, ValueError):
        expires_in = -1
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh
            and expires_in > 0):
        raise ZoomAPIError("Zoom's token answer lacks access_token, refresh_token or "
                           "expires_in", status=answer.status)
    return {"access_token": access, "refresh_token": refresh, "expires_in": expires_in,
            "scope": str(data.get("scope") or ""), "api_url": str(data.get("api_url") or "")}


# --- The browser flow ------------------------------------------------------------------------

def _pkce_pair() -> tuple[str, str]:
    # RFC 7636: a 43-128 character verifier; S256 challenge = base64url(sha256(verifier)).
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _pending_states(session) -> dict[str, dict[str, Any]]:
    stash = session.get(SESSION_KEY)
    return dict(stash) if isinstance(stash, dict) else {}


def _tenant_ready(tenant: Tenant) -> str:
    """The redirect URL, or OAuthFlowError(409) when the tenant is not set up for OAuth."""
    redirect_uri = tenant_zoom_urls(tenant=tenant).redirect_url
    if tenant_credentials(tenant=tenant).app_missing or not redirect_uri:
        raise OAuthFlowError(
            "This portal is not fully set up for your Zoom app yet (Client ID, Client Secret "
            "or hostname missing). Please contact your account manager.", status=409)
    return redirect_uri


def authorization_start(*, tenant: Tenant, session) -> str:
    """Stash a fresh state in the browser session; return Zoom's authorize URL."""
    redirect_uri = _tenant_ready(tenant)
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(STATE_BYTES)
    now = time.time()
    pending = {key: value for key, value in _pending_states(session).items()
               if now - float(value.get("issued_at", 0)) < STATE_TTL_SECONDS}
    pending[state] = {"tenant_id": tenant.pk, "verifier": verifier, "issued_at": now}
    # Keep only the newest few: a session must not grow without bound.
    newest = sorted(pending.items(), key=lambda item: item[1]["issued_at"])[-MAX_PENDING_STATES:]
    session[SESSION_KEY] = dict(newest)
    query = urlencode({
        "response_type": "code", "client_id": tenant.client_id, "redirect_uri": redirect_uri,
        "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
    })
    logger.info("OAuth start for tenant %s", tenant.slug)
    return f"{settings.ZOOM_OAUTH_BASE_URL}/oauth/authorize?{query}"


def _state_pop(*, tenant: Tenant, session, state: str) -> dict[str, Any]:
    """Pop the stashed entry for `state` (single use) or raise OAuthFlowError(400)."""
    if not state:
        raise OAuthFlowError("The answer from Zoom is missing its security token. Please "
                             "start the authorization again.")
    pending = _pending_states(session)
    found_key = None
    # Compare every pending key in constant time rather than a dict lookup on attacker input.
    for key in pending:
        if constant_time_compare(key, state):
            found_key = key
    if found_key is None:
        raise OAuthFlowError("This authorization link is unknown, was already used, or was "
                             "started in another browser. Please start the authorization again.")
    entry = pending.pop(found_key)
    session[SESSION_KEY] = pending  # popped before anything else: single use even on failure
    if time.time() - float(entry.get("issued_at", 0)) >= STATE_TTL_SECONDS:
        raise OAuthFlowError("This authorization link has expired (it lasts 10 minutes). "
                             "Please start the authorization again.")
    if entry.get("tenant_id") != tenant.pk:
        raise OAuthFlowError("This authorization was started for a different customer "
                             "portal. Please start again from your own portal link.")
    return entry


@dataclass
class AuthorizationResult:
    """What the success page shows: no tokens in here."""

    tenant: Tenant
    account_id: str
    email: str
    scopes: list[str] = field(default_factory=list)
    # Scope names to add, in the names of the app's kind: required, then optional (overview).
    missing_scopes: list[str] = field(default_factory=list)
    optional_missing_scopes: list[str] = field(default_factory=list)
    # What the missing scopes stand for, in words ("list users", ...).
    missing_capabilities: list[str] = field(default_factory=list)
    scope_kind: str = ""
    via_installation_url: bool = False


@sensitive_variables()  # error reports must not show tokens or codes
def authorization_complete(*, tenant: Tenant, session, query: Mapping[str, str]
                           ) -> AuthorizationResult:
    """Handle Zoom's redirect back: with our `state` (PKCE), or none (Installation URL flow).

    Raises OAuthFlowError with a customer-safe message and a 4xx status:
    400 bad/unknown/expired/reused/foreign state, missing code, or Zoom refused the code;
    403 the customer declined, or the Zoom account is not the one staff expect; 409 portal not
    set up, or a different Zoom account than the connected one;
    424 Zoom unreachable, slow or answering 5xx.
    """
    has_state = "state" in query
    entry = (_state_pop(tenant=tenant, session=session, state=query.get("state", ""))
             if has_state else None)
    error = query.get("error")
    if error:
        logger.info("OAuth callback for tenant %s: Zoom returned error=%s", tenant.slug,
                    error[:40])
        if error == "access_denied":
            raise OAuthFlowError("The authorization was declined in Zoom, so nothing was "
                                 "connected. You can start again at any time.", status=403)
        raise OAuthFlowError("Zoom did not authorize the app. Please start again.")
    code = query.get("code", "")
    if not code:
        raise OAuthFlowError("The answer from Zoom has no authorization code. Please start "
                             "the authorization again.")
    redirect_uri = _tenant_ready(tenant)

    # The authorization_code grant: form body, the exact redirect_uri, code_verifier with PKCE.
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if entry is not None:
        form["code_verifier"] = entry["verifier"]
    try:
        answer = _token_post(tenant=tenant, form=form)
    except ZoomTransientError as exc:
        logger.warning("OAuth code exchange for tenant %s failed: %s", tenant.slug, exc)
        raise _unreachable() from None
    if answer.status != 200:
        logger.warning("OAuth code exchange for tenant %s refused: HTTP %s error=%s",
                       tenant.slug, answer.status, answer.error[:40] or "-")
        if answer.error == "invalid_client":
            raise OAuthFlowError("Zoom did not accept this portal's app credentials. Please "
                                 "contact your account manager.", status=409)
        raise OAuthFlowError("Zoom did not accept this authorization (it may have expired or "
                             "been used already). Please start the authorization again.")
    try:
        tokens = _parse_token_response(answer)
        me = _users_me(tokens["access_token"])
    except ZoomScopeMissingError as exc:
        # Without it the portal cannot learn which account installed the app.
        logger.warning("OAuth completion for tenant %s: /users/me refused for a missing "
                       "scope", tenant.slug)
        _revoke_quietly(tenant=tenant, access_token=tokens["access_token"])
        names = list(exc.scopes) or ["user:read:user:admin"]
        raise OAuthFlowError(scope_missing_message(names), status=409) from None
    except ZoomTransientError as exc:
        logger.warning("OAuth completion for tenant %s: Zoom unreachable: %s", tenant.slug, exc)
        raise _unreachable() from None
    except ZoomAPIError as exc:
        logger.warning("OAuth completion for tenant %s: unexpected Zoom answer: %s",
                       tenant.slug, exc)
        raise _unreachable() from None

    account_id = str(me["account_id"])
    now = timezone.now()
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        # One Zoom account belongs to one customer: another tenant on the same account would
        # share its rate limits and receive the same events under a second identity.
        taken_by = (Tenant.objects.filter(zoom_account_id=account_id).exclude(pk=tenant.pk)
                    .values_list("slug", flat=True).first())
        # Staff may name the account they expect: then no other one binds, even through the
        # Installation URL flow, which has no `state` to tie it to a portal visit.
        unexpected = bool(locked.expected_zoom_account_id
                          and locked.expected_zoom_account_id != account_id)
        if (locked.zoom_account_id and locked.zoom_account_id != account_id) or taken_by \
                or unexpected:
            mismatch = True
        else:
            mismatch = False
            if not locked.zoom_account_id:
                locked.zoom_account_id = account_id
                locked.save(update_fields=["zoom_account_id", "updated_at"])
            conn, _ = ZoomConnection.objects.select_for_update().get_or_create(tenant=locked)
            conn.state = ConnectionState.CONNECTED
            conn.access_token = tokens["access_token"]
            conn.refresh_token = tokens["refresh_token"]
            conn.access_token_expires_at = now + timedelta(seconds=tokens["expires_in"])
            # A new authorization forgets what Zoom refused before: the customer may have added
            # the scope; a call that still lacks it is refused (and recorded) again.
            capabilities = connection_capabilities_apply(conn, scope=tokens["scope"],
                                                         keep_refused=False)
            conn.api_url = tokens["api_url"][:200]
            conn.authorized_by_email = str(me.get("email") or "")[:254]
            conn.authorized_by_zoom_user_id = str(me.get("id") or "")[:64]
            conn.authorized_at = now
            conn.last_refreshed_at = now
            conn.last_error = ""
            conn.last_error_at = None
            conn.save()
            reconcile_backfill_on_connect(tenant=locked)  # first time or after a gap
            # Work parked on a missing scope tries again (and parks again if still refused).
            scope_parked_resume_enqueue(tenant_id=locked.pk)
            _recovery_enqueue(tenant=locked)
    if mismatch:
        # We will not use these tokens: end that authorization (best effort, Zoom's revoke
        # endpoint).
        _revoke_quietly(tenant=tenant, access_token=tokens["access_token"])
        if unexpected:
            logger.warning("OAuth for tenant %s refused: Zoom account %s is not the expected "
                           "one", tenant.slug, account_id)
            raise OAuthFlowError(
                "This Zoom account is not the one this portal expects. Please sign in to Zoom "
                "with your organisation's account, or contact your account manager.",
                status=403)
        if taken_by:
            logger.warning("OAuth for tenant %s refused: Zoom account already connected to "
                           "tenant %s", tenant.slug, taken_by)
            raise OAuthFlowError(
                "This Zoom account is already connected to another customer record in this "
                "portal. Please contact your account manager.", status=409)
        logger.warning("OAuth for tenant %s refused: Zoom account differs from the stored one",
                       tenant.slug)
        raise OAuthFlowError(
            "This portal is already linked to a different Zoom account. Please sign in to "
            "Zoom with the account that was connected before, or contact your account "
            "manager to change it.", status=409)
    tenant.zoom_account_id = account_id
    logger.info("Tenant %s connected to Zoom account %s (%s flow, %s app, %d capability(ies) "
                "missing)", tenant.slug, account_id, "state" if has_state else "installation URL",
                capabilities.kind, len(capabilities.missing))
    return AuthorizationResult(
        tenant=tenant, account_id=account_id, email=str(me.get("email") or ""),
        scopes=sorted(tokens["scope"].split()), missing_scopes=capabilities.missing_names,
        optional_missing_scopes=capabilities.optional_names,
        missing_capabilities=[c.label for c in capabilities.missing],
        scope_kind=capabilities.kind, via_installation_url=not has_state)


def authorization_current(*, tenant: Tenant) -> AuthorizationResult | None:
    """The tenant's authorization as it stands now (None unless connected), for the page the
    callback redirects to: reloading it shows the current state, never a spent callback."""
    conn = ZoomConnection.objects.filter(tenant_id=tenant.pk).first()
    if conn is None or conn.state != ConnectionState.CONNECTED:
        return None
    capabilities = connection_capability_state(conn)
    return AuthorizationResult(
        tenant=tenant, account_id=tenant.zoom_account_id, email=conn.authorized_by_email,
        scopes=sorted(conn.scopes.split()), missing_scopes=capabilities.missing_names,
        optional_missing_scopes=capabilities.optional_names,
        missing_capabilities=[c.label for c in capabilities.missing],
        scope_kind=capabilities.kind)


def _recovery_enqueue(*, tenant: Tenant) -> None:
    """What a new authorization unblocks, queued when it commits: the tenant's first directory
    sync (or its first to succeed) now rather than at the next beat, and the fetches that failed
    (most often because the tenant was not authorized) once more."""
    if not SyncRun.objects.filter(tenant=tenant, status=SyncRun.Status.SUCCEEDED).exists():
        directory_sync_enqueue(tenant_id=tenant.pk)
    metrics_failed_requeue_enqueue(tenant_id=tenant.pk)


def _unreachable() -> OAuthFlowError:
    return OAuthFlowError("Zoom could not be reached or did not answer in time, so nothing "
                          "was connected. Please try again in a few minutes.", status=424)


@sensitive_variables()  # error reports must not show tokens or codes
def _revoke_quietly(*, tenant: Tenant, access_token: str) -> None:
    try:
        _token_post(tenant=tenant, form={"token": access_token}, path="/oauth/revoke")
    except ZoomTransientError:
        logger.warning("Could not revoke unused tokens for tenant %s", tenant.slug)


# --- Access tokens and refresh ---------------------------------------------------------------

def _usable(conn: ZoomConnection | None, tenant: Tenant) -> ZoomConnection:
    if conn is None or conn.state != ConnectionState.CONNECTED or not conn.refresh_token:
        state = conn.get_state_display() if conn else "Not connected"
        raise ReauthorizationRequiredError(
            f"Tenant {tenant.slug} has no usable Zoom authorization ({state}).")
    return conn


def _due(conn: ZoomConnection, *, rejected_token: str | None, within_seconds: float) -> bool:
    if rejected_token and constant_time_compare(rejected_token, conn.access_token):
        return True  # the caller got 401 code 124 with exactly this token
    expires = conn.access_token_expires_at
    return (not conn.access_token or expires is None
            or expires - timezone.now() <= timedelta(seconds=within_seconds))


def access_token_get(*, tenant: Tenant, rejected_token: str | None = None) -> str:
    """A valid access token for `tenant`, refreshing it when due (see module docstring).

    Raises ReauthorizationRequiredError (not connected, deauthorized, or Zoom answered
    invalid_grant: the tenant is then marked "needs re-authorization"), ZoomTransientError
    (network, timeout, 5xx: retry later; the tenant keeps its tokens) or ZoomAPIError (another
    refusal from Zoom, e.g. invalid_client after the client secret changed; recorded on the
    connection for staff).
    """
    return _access_token(tenant=tenant, rejected_token=rejected_token,
                         within_seconds=REFRESH_MARGIN_SECONDS)


def _access_token(*, tenant: Tenant, rejected_token: str | None, within_seconds: float) -> str:
    conn = _usable(ZoomConnection.objects.filter(tenant_id=tenant.pk).first(), tenant)
    if not _due(conn, rejected_token=rejected_token, within_seconds=within_seconds):
        return conn.access_token
    return _refresh(tenant=tenant, rejected_token=rejected_token, within_seconds=within_seconds)


def _lock_wait_seconds() -> float:
    timeout = settings.ZOOM_HTTP_TIMEOUT
    total = sum(timeout) if isinstance(timeout, tuple | list) else float(timeout)
    # A waiter gives up after the holder's worst case (connect + read) twice over, plus slack.
    return 2 * total + 5


def _lock_connection(tenant: Tenant) -> ZoomConnection | None:
    """Lock the tenant's connection row for this transaction: one refresher at a time."""
    if connection.vendor == "postgresql":
        ms = int(_lock_wait_seconds() * 1000)
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {ms}")  # noqa: S608 - an int
    elif connection.vendor == "sqlite":
        # SQLite ignores FOR UPDATE; a write takes the database write lock until commit, which
        # serializes refreshers across `make run`'s processes just the same.
        ZoomConnection.objects.filter(tenant_id=tenant.pk).update(state=F("state"))
    return ZoomConnection.objects.select_for_update().filter(tenant_id=tenant.pk).first()


@sensitive_variables()  # error reports must not show tokens or codes
def _refresh_exchange(*, tenant: Tenant, conn: ZoomConnection) -> Exception | None:
    """One refresh call. Updates `conn` in memory (new pair, or the failure); returns the error
    to raise once the transaction has committed, or None."""
    now = timezone.now()
    try:
        # The refresh_token grant: the same Basic header, form body.
        answer = _token_post(tenant=tenant, form={"grant_type": "refresh_token",
                                                  "refresh_token": conn.refresh_token})
        if answer.status == 200:
            tokens = _parse_token_response(answer)
            conn.access_token = tokens["access_token"]
            conn.refresh_token = tokens["refresh_token"]  # only the newest one works
            conn.access_token_expires_at = now + timedelta(seconds=tokens["expires_in"])
            # Only a new authorization grants scopes: a refresh keeps what Zoom refused.
            connection_capabilities_apply(conn, scope=tokens["scope"], keep_refused=True)
            if tokens["api_url"]:
                conn.api_url = tokens["api_url"][:200]
            conn.last_refreshed_at = now
            conn.last_error, conn.last_error_at = "", None
            return None
    except ZoomAPIError as exc:  # transient (network, timeout, 5xx), or a 200 we cannot read
        conn.last_error, conn.last_error_at = f"Token refresh failed: {exc}"[:500], now
        return exc
    conn.last_error_at = now
    if answer.error in _REAUTH_ERRORS:
        # The refresh token is spent (rotated by a concurrent refresh) or revoked. Mark the
        # tenant and stop: no retry loop with a dead token; the customer must authorize again.
        conn.state = ConnectionState.NEEDS_REAUTH
        conn.access_token, conn.refresh_token, conn.access_token_expires_at = "", "", None
        conn.last_error = ("Zoom rejected the refresh token (invalid_grant): the customer must "
                           "authorize the app again.")
        return ReauthorizationRequiredError(
            f"Tenant {tenant.slug} needs re-authorization (invalid_grant).")
    # E.g. invalid_client after the client secret changed: staff must fix the credentials;
    # re-authorizing would not help, so the state stays and the error is recorded.
    conn.last_error = (f"Token refresh refused by Zoom: HTTP {answer.status} "
                       f"{answer.error or 'unknown error'}")[:500]
    return ZoomAPIError(conn.last_error, status=answer.status)


@sensitive_variables()  # error reports must not show tokens or codes
def _refresh(*, tenant: Tenant, rejected_token: str | None, within_seconds: float) -> str:
    try:
        # durable=True: the rotated pair is committed when this block ends (module docstring).
        with transaction.atomic(durable=True):
            conn = _usable(_lock_connection(tenant), tenant)
            # Re-read under the lock: a concurrent caller may have refreshed already.
            if not _due(conn, rejected_token=rejected_token, within_seconds=within_seconds):
                return conn.access_token
            failure = _refresh_exchange(tenant=tenant, conn=conn)
            conn.save()
    except DatabaseError as exc:
        # Most likely lock_timeout: another refresher held the row far longer than Zoom's
        # timeouts allow. This caller sent nothing to Zoom; retry later.
        raise ZoomTransientError(f"Could not lock the Zoom connection of {tenant.slug}: "
                                 f"{type(exc).__name__}") from None
    observe.token_refresh_observed(tenant=tenant, failure=failure)
    if failure is not None:
        logger.warning("Token refresh for tenant %s failed: %s", tenant.slug, failure)
        raise failure
    logger.info("Refreshed the Zoom access token of tenant %s", tenant.slug)
    return conn.access_token


def tokens_refresh_due(*, within_seconds: float) -> dict[str, int]:
    """Refresh every connected active tenant whose token expires within `within_seconds`.

    Goes through the same locked path as `access_token_get`, so it never races a caller.
    Returns counts: refreshed, reauth (needs re-authorization), failed (retry next run).
    """
    cutoff = timezone.now() + timedelta(seconds=within_seconds)
    due = (ZoomConnection.objects
           .filter(state=ConnectionState.CONNECTED, tenant__is_active=True)
           .filter(access_token_expires_at__lte=cutoff)
           .select_related("tenant"))
    counts = {"refreshed": 0, "reauth": 0, "failed": 0}
    for conn in due:
        try:
            _access_token(tenant=conn.tenant, rejected_token=None, within_seconds=within_seconds)
            counts["refreshed"] += 1
        except ReauthorizationRequiredError:
            counts["reauth"] += 1
        except ZoomAPIError as exc:
            counts["failed"] += 1
            logger.warning("Scheduled refresh for tenant %s failed: %s", conn.tenant.slug, exc)
    return counts


# --- Lifecycle: deauthorize, test, revoke ----------------------------------------------------

def _clear_tokens(conn: ZoomConnection, *, state: str, note: str) -> None:
    conn.state = state
    conn.access_token = ""
    conn.refresh_token = ""
    conn.access_token_expires_at = None
    conn.last_error = note
    conn.last_error_at = timezone.now() if note else None
    conn.save()


def connection_deauthorize(*, tenant: Tenant, payload: dict | None = None) -> None:
    """app_deauthorized: the customer removed the app; forget the tokens."""
    payload = payload or {}
    account_id = str(payload.get("account_id") or "")
    if account_id and tenant.zoom_account_id and account_id != tenant.zoom_account_id:
        logger.warning("app_deauthorized for tenant %s names another Zoom account; ignored",
                       tenant.slug)
        return
    with transaction.atomic():
        conn, _ = ZoomConnection.objects.select_for_update().get_or_create(tenant=tenant)
        when = str(payload.get("deauthorization_time") or "")[:40]
        _clear_tokens(conn, state=ConnectionState.DEAUTHORIZED,
                      note=f"The app was removed in Zoom{' at ' + when if when else ''}.")
    logger.info("Tenant %s deauthorized the Zoom app", tenant.slug)


def connection_test(*, tenant: Tenant) -> dict[str, Any]:
    """Call /users/me with the tenant's token (one retry after a 401 code 124)."""
    token = access_token_get(tenant=tenant)
    try:
        me = _users_me(token)
    except ZoomAuthError:
        me = _users_me(access_token_get(tenant=tenant, rejected_token=token))
    account_id = str(me.get("account_id"))
    return {"account_id": account_id, "email": str(me.get("email") or ""),
            "user_id": str(me.get("id") or ""), "role_name": str(me.get("role_name") or ""),
            "account_matches": account_id == tenant.zoom_account_id}


REVOKED_BY_STAFF = ("Revoked by staff: the customer must authorize again before the portal "
                    "can read their Zoom data.")


def connection_revoke(*, tenant: Tenant) -> None:
    """Revoke at Zoom (/oauth/revoke), then clear the tokens here.

    The local tokens are cleared even when Zoom cannot confirm; then ZoomAPIError (or
    ZoomTransientError) is raised afterwards so the caller can say so.
    """
    failure: Exception | None = None
    try:
        token = access_token_get(tenant=tenant)
    except ReauthorizationRequiredError:
        token = ""
    except ZoomAPIError as exc:
        # No fresh token (Zoom's token endpoint down, or the app's credentials refused): the
        # stored one is revoked below if there is one, and the tokens are cleared here anyway;
        # staff are told Zoom did not confirm.
        token, failure = "", exc
    with transaction.atomic():
        conn, _ = ZoomConnection.objects.select_for_update().get_or_create(tenant=tenant)
        current = conn.access_token or token
        if current:
            try:
                answer = _token_post(tenant=tenant, form={"token": current},
                                     path="/oauth/revoke")
                if answer.status != 200:
                    failure = ZoomAPIError(f"Zoom refused the revocation: HTTP {answer.status} "
                                           f"{answer.error or ''}".strip(), status=answer.status)
            except ZoomTransientError as exc:
                failure = failure or exc
        # Recorded (with its time in last_error_at) so health can say who ended it and when.
        _clear_tokens(conn, state=ConnectionState.NOT_CONNECTED, note=REVOKED_BY_STAFF)
    logger.info("Tenant %s: Zoom tokens revoked and cleared", tenant.slug)
    if failure is not None:
        raise failure


def connection_forget(*, tenant: Tenant) -> None:
    """Revoke and clear the tokens, and forget the bound Zoom account, so another can bind.

    Like `connection_revoke`, raises afterwards when Zoom could not confirm the revocation;
    the account is forgotten either way.
    """
    try:
        connection_revoke(tenant=tenant)
    finally:
        tenant.zoom_account_id = ""
        tenant.save(update_fields=["zoom_account_id", "updated_at"])  # signals: host cache
        logger.info("Tenant %s: Zoom account forgotten", tenant.slug)

