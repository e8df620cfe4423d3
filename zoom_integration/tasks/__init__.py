"""Celery tasks: thin wrappers taking ids, one module per concern; names are routed by prefix."""

from . import (
    capabilities,  # noqa: F401
    metrics,  # noqa: F401
    oauth,  # noqa: F401
    qos,  # noqa: F401
    reconcile,  # noqa: F401
    sync,  # noqa: F401
    webhooks,  # noqa: F401
)
