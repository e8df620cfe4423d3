"""Every error the Zoom integration raises, in one place (one exception module per app)."""

from __future__ import annotations


class ZoomError(Exception):
    """Base class for anything that went wrong talking to Zoom."""


class ZoomAPIError(ZoomError):
    """Zoom answered with an error; `status` is HTTP, `code` Zoom's numeric code if any."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class ZoomTransientError(ZoomAPIError):
    """5xx, timeout or connection error: worth retrying later with backoff."""


class ZoomRateLimitedError(ZoomAPIError):
    """429. `daily` is True for the daily cap (park until `retry_at`), False for per-second."""

    def __init__(self, message: str, *, retry_after_seconds: float, daily: bool,
                 category: str = "", status: int | None = 429, code: int | None = 429):
        super().__init__(message, status=status, code=code)
        self.retry_after_seconds = retry_after_seconds
        self.daily = daily
        self.category = category


class ZoomAuthError(ZoomAPIError):
    """401 from the REST API (code 124: expired or invalid access token)."""


class ZoomNotFoundError(ZoomAPIError):
    """404, or 3001 "does not exist / not ended": for dashboards, maybe not ready yet."""


class ZoomScopeMissingError(ZoomAPIError):
    """HTTP 400, code 4711: the token lacks a scope the call needs.

    `scopes` are the names from Zoom's message ("does not contain scopes:[a, b]"), in the app's
    kind, maybe empty; `capability` is the key (zoom.CAPABILITIES) of the call that failed.
    Not transient: the work waits until the customer adds the scope and authorizes again.
    """

    def __init__(self, message: str, *, scopes: list[str] | tuple[str, ...] = (),
                 capability: str = "", status: int | None = 400, code: int | None = 4711):
        super().__init__(message, status=status, code=code)
        self.scopes = tuple(scopes)
        self.capability = capability


class ZoomDashboardUnavailableError(ZoomAPIError):
    """Zoom's code 200: the account's plan has no Dashboard, or it is disabled."""


class ReauthorizationRequiredError(ZoomError):
    """The tenant has no usable tokens: the customer must authorize again."""


class OAuthFlowError(ZoomError):
    """The browser OAuth flow cannot continue; `user_message` is safe to show the customer."""

    def __init__(self, user_message: str, *, status: int = 400):
        super().__init__(user_message)
        self.user_message = user_message
        self.status = status


class RetryLater(Exception):  # noqa: N818  (a signal to the task, not an error)
    """A service could not finish now but will later: the task retries after `countdown` s.

    The one retry protocol between services and their Celery tasks. The service has already
    recorded the attempt (status, error, next attempt time); the task only calls
    `self.retry(countdown=...)`. `status` says why, for logs and for callers that run the
    service directly (management commands, tests).
    """

    def __init__(self, countdown: float, message: str = "", *, status: str = "waiting"):
        super().__init__(message or f"retry in {countdown:.0f} s")
        self.countdown = countdown
        self.status = status
