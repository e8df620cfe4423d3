"""The Celery app `nectar_portal`: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nectar_portal.settings.production")

app = Celery("nectar_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
