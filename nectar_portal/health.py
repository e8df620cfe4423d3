"""Load-balancer probes: /healthz (process alive) and /readyz (database and broker answer)."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

BROKER_PROBE_TIMEOUT_SECONDS = 2


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.warning("readyz: database did not answer", exc_info=True)
        return False


def _broker_ready() -> bool:
    from nectar_portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_PROBE_TIMEOUT_SECONDS)
        return True
    except Exception:
        logger.warning("readyz: broker %s did not answer", _broker_label(), exc_info=False)
        return False


def _broker_label() -> str:
    # The URL may carry a password: name only the transport.
    return settings.CELERY_BROKER_URL.split("://", 1)[0]


@require_GET
def readyz(request):
    checks = {"database": _database_ready(), "broker": _broker_ready()}
    status = 200 if all(checks.values()) else 503
    return JsonResponse({name: "ok" if ok else "unavailable" for name, ok in checks.items()},
                        status=status)
