"""Webhook view (placeholder until issue 5 lands)."""

from django.http import HttpResponse


def zoom_event(request):
    return HttpResponse(status=501)
