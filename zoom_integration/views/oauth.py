"""OAuth views (placeholder until issue 4 lands)."""

from django.http import HttpResponse


def oauth_start(request):
    return HttpResponse(status=501)


def oauth_authorize(request):
    return HttpResponse(status=501)
