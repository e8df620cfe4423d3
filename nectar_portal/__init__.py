"""Nectar portal's project package; re-exports the Celery app for `celery -A nectar_portal`."""

from .celery import app as celery_app

__all__ = ("celery_app",)
