"""Tenant URLs that Zoom and the customer's browser call; hosts pick the tenant. The
paths are fixed: customers type them into their Zoom app."""

from django.urls import path

from .views import oauth, webhook

urlpatterns = [
    path("adminapi/zoom/oauth/start", oauth.oauth_start, name="zoom-oauth-start"),
    path("adminapi/zoom/oauth/authorize", oauth.oauth_authorize, name="zoom-oauth-authorize"),
    path("adminapi/zoom/oauth/done", oauth.oauth_done, name="zoom-oauth-done"),
    path("zoom/event", webhook.zoom_event, name="zoom-event"),
]
