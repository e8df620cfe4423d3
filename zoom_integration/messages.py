"""What staff read when something went wrong: one sentence saying what happened and what to do.

The one place that turns the integration's exceptions into text for staff pages. Services store
`staff_message(exc)` wherever they record an error a person reads (a meeting's `last_error`, a
sync run's `error`), so no page shows an exception class name. `staff_text(stored)` rewords
rows written before this existed (they start with the class name, e.g.
"ReauthorizationRequiredError: ...").

Zoom's own wording and codes follow in brackets when they help support; tokens and secrets never
appear in exception messages (oauth.py), so nothing here can leak one.
"""

from __future__ import annotations

from .exceptions import (
    ReauthorizationRequiredError,
    ZoomAPIError,
    ZoomAuthError,
    ZoomDashboardUnavailableError,
    ZoomError,
    ZoomNotFoundError,
    ZoomRateLimitedError,
    ZoomScopeMissingError,
    ZoomTransientError,
)

NOT_AUTHORIZED = (
    "Zoom could not be asked because the customer's authorization is missing or has ended. "
    "Send the customer the authorization link; once they authorize, the portal tries again on "
    "its own.")
ACCESS_REFUSED = (
    "Zoom refused the portal's access token. Use Test connection on the tenant's page; if it "
    "fails, send the customer the authorization link.")
NO_DASHBOARD = (
    "Zoom says this account has no Dashboard (a Business plan or higher with the Dashboard "
    "enabled is needed). Ask the customer to enable it, then fetch again.")
NOT_READY = (
    "Zoom had no quality data for this meeting yet. It usually appears a few minutes after the "
    "end; use \"Fetch quality data again\" later.")
DAILY_LIMIT = (
    "Zoom's daily API limit for this account was reached. The fetch waits and resumes on its own "
    "after the limit resets at 00:00 UTC.")
RATE_LIMITED = "Zoom asked the portal to slow down. The fetch is tried again on its own shortly."
UNREACHABLE = (
    "Zoom did not answer (network error, timeout or a Zoom server error). The portal tries "
    "again on its own; if it keeps failing, check Zoom's status page and try again later.")
REFUSED = (
    "Zoom refused the request. Check the tenant's connection and setup checklist, then try "
    "again; contact support if it keeps failing.")
SCOPE_MISSING = (
    "The customer's Zoom app lacks a scope this call needs. Ask them to add it to the app in "
    "Zoom's App Marketplace, then authorize again; the work waiting for it resumes on its own.")
UNEXPECTED = "Something unexpected went wrong. Try again; contact support if it keeps failing."

# The most specific class first: subclasses before their parents.
_BY_CLASS: tuple[tuple[type[BaseException], str], ...] = (
    (ReauthorizationRequiredError, NOT_AUTHORIZED),
    (ZoomAuthError, ACCESS_REFUSED),
    (ZoomDashboardUnavailableError, NO_DASHBOARD),
    (ZoomNotFoundError, NOT_READY),
    (ZoomScopeMissingError, SCOPE_MISSING),
    (ZoomTransientError, UNREACHABLE),
    (ZoomAPIError, REFUSED),
    (ZoomError, UNEXPECTED),
)


def _detail(exc: BaseException) -> str:
    """Zoom's status and code, for support: "HTTP 400, code 300", or "" when neither is known."""
    status, code = getattr(exc, "status", None), getattr(exc, "code", None)
    return ", ".join(part for part in (f"HTTP {status}" if status else "",
                                       f"code {code}" if code else "") if part)


def staff_message(exc: BaseException) -> str:
    """One or two sentences for staff about `exc`: what happened, then what to do."""
    if isinstance(exc, ZoomRateLimitedError):
        return DAILY_LIMIT if exc.daily else RATE_LIMITED
    if isinstance(exc, ZoomScopeMissingError) and exc.scopes:
        return (f"The customer's Zoom app lacks the scope {', '.join(exc.scopes)}: ask them to add "
                "it in Zoom, then authorize again; the work waiting for it resumes on its own.")
    for cls, message in _BY_CLASS:
        if isinstance(exc, cls):
            detail = _detail(exc) if isinstance(exc, ZoomAPIError) else ""
            return f"{message} Zoom's answer: {detail}." if detail else message
    return UNEXPECTED


def staff_text(stored: str) -> str:
    """A stored error as staff should read it: rows written as "ClassName: text" get the
    sentence for that class; anything else is returned as it is."""
    name, sep, _rest = (stored or "").partition(":")
    if sep:
        for cls, message in _BY_CLASS:
            if name.strip() == cls.__name__:
                return message
    return stored
