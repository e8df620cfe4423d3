"""The 403 and 404 pages (handler403 / handler404 in urls.py): a staff page under the admin,
a plain branded page everywhere else (the customers' hosts).

Under the admin the page keeps the header, the breadcrumbs back home and the user's links, so
staff who follow a stale link or lack a permission see where they are and how to go on. A
customer never sees the admin's look. Neither page says more than "not found" or "not
allowed": the exception's text is for the logs.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponseForbidden, HttpResponseNotFound
from django.template import loader
from django.urls import NoReverseMatch, reverse

PAGES = {
    403: ("You may not open this page",
          "Your account does not have the permission this page needs, or the customer it "
          "belongs to is not granted to you. Ask a superuser if you need it."),
    404: ("Page not found",
          "Nothing is at this address: the link may be old, or the item was deleted."),
}


def _is_staff_path(request) -> bool:
    try:
        return request.path.startswith(reverse("admin:index"))
    except NoReverseMatch:
        return False


def _render(request, status: int) -> str:
    title, message = PAGES[status]
    context = {"title": title, "message": message, "status": status}
    if _is_staff_path(request):
        context.update(admin.site.each_context(request))
        template = "admin/portal_error.html"
    else:
        template = "portal/error.html"
    return loader.get_template(template).render(context, request)


def permission_denied(request, exception=None):
    return HttpResponseForbidden(_render(request, 403))


def page_not_found(request, exception=None):
    return HttpResponseNotFound(_render(request, 404))
