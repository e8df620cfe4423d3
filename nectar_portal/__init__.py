"""Nectar portal: Django project package; re-exports the Celery app so `celery -A nectar_portal` finds it."""

from .celery import app as celery_app

__all__ = ("celery_app",)
