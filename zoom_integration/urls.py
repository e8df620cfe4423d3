"""Tenant URLs that Zoom and the customer's browser call (CONTRACT.md); hosts pick the tenant."""

from django.urls import path

from .views import oauth, webhook

urlpatterns = [
    path("adminapi/zoom/oauth/start", oauth.oauth_start, name="zoom-oauth-start"),
    path("adminapi/zoom/oauth/authorize", oauth.oauth_authorize, name="zoom-oauth-authorize"),
    path("zoom/event", webhook.zoom_event, name="zoom-event"),
]
