"""The customer's OAuth pages on the tenant's host; logic lives in oauth.py.

Status codes of the error page (always 4xx, never 500):
400 bad, unknown, expired, reused or foreign `state`, missing `code`, or Zoom refused the code;
403 the customer declined (`error=access_denied`) or signed in to a Zoom account other than the
one staff expect for this tenant; 409 the portal is not set up for this tenant
(no Client ID/Secret or hostname) or the Zoom account differs from the connected one;
424 (Failed Dependency) Zoom unreachable, too slow or answering 5xx.

A successful callback redirects (POST/redirect/GET style) to `oauth_done`, a stable page that
shows the tenant's authorization as it stands: reloading it, or coming back to it later, never
replays the spent callback (which would say "not connected, error 400"). Only the browser that
completed the authorization sees the account and the authorizing user there; anyone else on the
customer's hostname sees just "connected" or "not connected".
"""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tenants.decorators import tenant_required
from tenants.fields import UndecryptableValueError

from .. import oauth
from ..exceptions import OAuthFlowError
from ..models import ConnectionState, ZoomConnection

# Tenants whose authorization this browser completed: their done page shows the details.
DONE_SESSION_KEY = "zoom_oauth_done"
DONE_SESSION_SECONDS = 3600


def _error_page(request, exc: OAuthFlowError):
    return render(request, "zoom_integration/oauth/error.html",
                  {"tenant": request.tenant, "message": exc.user_message,
                   "status": exc.status}, status=exc.status)


def _unreadable_secret() -> OAuthFlowError:
    # The Client Secret is stored but no configured key decrypts it: a set-up problem on our
    # side, which staff see on the tenant's page and health.
    return OAuthFlowError("This portal is not fully set up for your Zoom app yet. Please "
                          "contact your account manager.", status=409)


def _no_referrer(response):
    # The callback URL carries the authorization code: never leak it in a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_not_required
@require_GET
@never_cache
@tenant_required
def oauth_start(request):
    if not request.user.is_authenticated:
        # The session exists only to carry this state: let it expire with it, so the hourly
        # clean-up (portal_security/tasks.py) removes each anonymous visitor's row.
        request.session.set_expiry(oauth.STATE_TTL_SECONDS)
    try:
        url = oauth.authorization_start(tenant=request.tenant, session=request.session)
    except OAuthFlowError as exc:
        return _error_page(request, exc)
    except UndecryptableValueError:
        return _error_page(request, _unreadable_secret())
    return redirect(url)


@login_not_required
@require_GET
@never_cache
@tenant_required
def oauth_authorize(request):
    try:
        result = oauth.authorization_complete(tenant=request.tenant, session=request.session,
                                              query=request.GET)
    except OAuthFlowError as exc:
        return _no_referrer(_error_page(request, exc))
    except UndecryptableValueError:
        return _no_referrer(_error_page(request, _unreadable_secret()))
    done = [pk for pk in request.session.get(DONE_SESSION_KEY, []) if pk != result.tenant.pk]
    request.session[DONE_SESSION_KEY] = [*done[-4:], result.tenant.pk]
    if not request.user.is_authenticated:
        request.session.set_expiry(DONE_SESSION_SECONDS)  # removed by the hourly clean-up
    return _no_referrer(redirect("zoom-oauth-done"))


@login_not_required
@require_GET
@never_cache
@tenant_required
def oauth_done(request):
    """The tenant's authorization as it stands now (the callback's landing page)."""
    tenant = request.tenant
    result = oauth.authorization_current(tenant=tenant)
    if result is not None:
        mine = tenant.pk in request.session.get(DONE_SESSION_KEY, [])
        return render(request, "zoom_integration/oauth/success.html",
                      {"tenant": tenant, "result": result, "show_details": mine})
    conn = ZoomConnection.objects.filter(tenant_id=tenant.pk).only("state").first()
    return render(request, "zoom_integration/oauth/not_connected.html", {
        "tenant": tenant,
        "ended": conn is not None and conn.state in (ConnectionState.NEEDS_REAUTH,
                                                     ConnectionState.DEAUTHORIZED),
    })
