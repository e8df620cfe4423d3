"""WSGI entry point (gunicorn nectar_portal.wsgi); production settings unless told otherwise."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nectar_portal.settings.production")

application = get_wsgi_application()
