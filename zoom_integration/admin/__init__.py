"""Admin for the Zoom side of each tenant, one module per concern.

`tenant` composes and registers the one Tenant admin, so it imports after the others it links to.
"""

from . import (
    directory,  # noqa: F401  (users, groups, sync runs, "Sync now")
    meetings,  # noqa: F401  (meeting quality, charts, CSV)
    operator,  # noqa: F401  (tenant health, setup checklist)
    reconcile,  # noqa: F401  (account overview, Zoom labels vs portal, reconcile states)
    tenant,  # noqa: F401  (Tenant admin with the Zoom connection)
    webhooks,  # noqa: F401  (deliveries, rejections, "Process again")
)
