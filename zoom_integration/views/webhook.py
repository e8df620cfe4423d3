"""`POST /zoom/event`: Zoom's event notifications for the tenant owning the host.

Thin: read the body within the size limit, call `webhook_receive`, answer. No session, login or
CSRF (Zoom has none; `webhooks.middleware.WebhookPathMiddleware` calls this view ahead of those
middlewares) and no request-wide transaction: the delivery is committed before the answer goes
out (Zoom waits 3 seconds, then retries); a dispatcher queues its processing.
"""

import logging

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants.decorators import tenant_required
from tenants.selectors import tenant_webhook_secret_unreadable
from zoom_integration.webhooks.receive import MAX_BODY_BYTES, webhook_receive

logger = logging.getLogger(__name__)


def _body_within_limit(request) -> bytes | None:
    """The raw body, or None when it is over MAX_BODY_BYTES (then it is not read at all)."""
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            return None
    except ValueError:
        pass  # Django reads a malformed length as 0; the size check below still applies
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= MAX_BODY_BYTES else None


@login_not_required
@csrf_exempt
@require_POST
@tenant_required
@transaction.non_atomic_requests
def zoom_event(request):
    if tenant_webhook_secret_unreadable(tenant=request.tenant):
        # Nothing can be verified until staff re-enter the secret or restore the key: Zoom
        # retries a 503, so the events arrive once the portal can check them.
        logger.error("tenant %s: webhook secret cannot be decrypted with the configured keys",
                     request.tenant.slug)
        return HttpResponse(status=503, headers={"Retry-After": "300"})
    answer = webhook_receive(tenant=request.tenant, body=_body_within_limit(request),
                             headers=request.headers, remote_addr=request.META.get("REMOTE_ADDR"))
    if answer.json is not None:
        return JsonResponse(answer.json, status=answer.status)
    return HttpResponse(status=answer.status)
