from django.apps import AppConfig


class ZoomIntegrationConfig(AppConfig):
    name = "zoom_integration"
    verbose_name = "Zoom data"
