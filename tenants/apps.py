from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Customers"

    def ready(self):
        from . import (
            checks,  # noqa: F401  (registers the undecryptable-secrets check)
            signals,  # noqa: F401  (clears the host cache when tenants change)
        )
