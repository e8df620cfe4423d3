"""Tenant URLs that Zoom and the customer's browser call (CONTRACT.md); hosts pick the tenant."""

from django.urls import path

urlpatterns: list = []
