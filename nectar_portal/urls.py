"""Root URLs: probes, admin, and the Zoom-facing tenant URLs."""

from django.contrib import admin
from django.urls import include, path

from observability import views as observability_views

from . import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", observability_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("zoom_integration.urls")),
]

# 403 and 404 in the admin's look under /admin/, plainly branded elsewhere (errors.py).
handler403 = "nectar_portal.errors.permission_denied"
handler404 = "nectar_portal.errors.page_not_found"
