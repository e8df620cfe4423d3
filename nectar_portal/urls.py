"""Root URLs: probes, admin, and the Zoom-facing tenant URLs."""

from django.contrib import admin
from django.urls import include, path

from . import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("zoom_integration.urls")),
]
