"""Error reports (500 e-mails, DEBUG pages) without OAuth codes, state or query secrets.

Django's SafeExceptionReporterFilter hides sensitive settings, POST parameters marked with
`sensitive_post_parameters`, cookies and META keys named like secrets. It does NOT hide GET
parameters, the query string, or the full URL in the report header, and the OAuth redirect
carries `code` and `state` there (RFC 6749, section 4.1.2). These classes close that gap.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

#: GET parameters always hidden, whatever their name says.
SENSITIVE_QUERY_PARAMETERS = frozenset({"code", "state", "code_verifier", "access_token",
                                         "refresh_token", "id_token", "client_secret",
                                         "token", "plainToken", "encryptedToken"})
_SENSITIVE_NAME = re.compile(r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|CODE|STATE", re.I)
# Local variables hidden in traceback frames by their name alone (no decorator needed).
_SENSITIVE_VARIABLE = re.compile(
    r"^(code|state|verifier|code_verifier|auth|authorization|credentials|pkce)$"
    r"|token|secret|password|passwd|signature|api_key|bearer", re.I)
# Strings that look like a token response or a form carrying one are hidden whole.
_SENSITIVE_TEXT = re.compile(r"access_token|refresh_token|client_secret|code_verifier", re.I)
# META entries holding the raw query string or the full URL (gunicorn sets RAW_URI).
_URL_META_KEYS = frozenset({"QUERY_STRING", "RAW_URI", "REQUEST_URI"})


def _is_sensitive_param(name: str) -> bool:
    return name in SENSITIVE_QUERY_PARAMETERS or bool(_SENSITIVE_NAME.search(name))


def cleanse_query_string(query: str, substitute: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, substitute if _is_sensitive_param(k) else v) for k, v in pairs],
                     safe="*")


class PortalExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request):
        # Cleanse in every environment: a DEBUG page on a laptop gets pasted into tickets too.
        return True

    def cleanse_variable(self, name: str, value, depth: int = 0):
        """A frame variable as the report may show it: secrets by name or shape hidden."""
        if name and _SENSITIVE_VARIABLE.search(name):
            return self.cleansed_substitute
        if isinstance(value, HttpRequest):
            # Its repr is the full path, query string (OAuth code) included.
            return f"<{type(value).__name__}: {value.method} {value.path!r}>"
        if isinstance(value, str | bytes):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            return self.cleansed_substitute if _SENSITIVE_TEXT.search(text) else value
        if depth < 3 and isinstance(value, dict):
            return {k: self.cleanse_variable(str(k), v, depth + 1) for k, v in value.items()}
        if depth < 3 and isinstance(value, list | tuple):
            return type(value)(self.cleanse_variable("", v, depth + 1) for v in value)
        if not isinstance(value, int | float | bool | type(None)):
            # Any other object (a dataclass holding a token answer, a session...): judged by
            # what the report would print of it.
            try:
                shown = repr(value)
            except Exception:
                return self.cleansed_substitute
            if _SENSITIVE_TEXT.search(shown):
                return self.cleansed_substitute
        return value

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        cleansed = []
        for name, value in variables:
            try:
                cleansed.append((name, self.cleanse_variable(name, value)))
            except Exception:  # an odd object must not break the report
                cleansed.append((name, self.cleansed_substitute))
        return cleansed

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        for key in _URL_META_KEYS & meta.keys():
            value = str(meta[key])
            path, sep, query = value.partition("?")
            if key == "QUERY_STRING":
                meta[key] = cleanse_query_string(value, self.cleansed_substitute)
            elif sep:
                meta[key] = f"{path}?{cleanse_query_string(query, self.cleansed_substitute)}"
        return meta

    def get_safe_query_items(self, request):
        if request is None:
            return []
        return [(k, self.cleansed_substitute if _is_sensitive_param(k) else v)
                for k, v in request.GET.items()]


class PortalExceptionReporter(ExceptionReporter):
    def get_traceback_data(self):
        data = super().get_traceback_data()
        if self.request is not None:
            data["request_GET_items"] = self.filter.get_safe_query_items(self.request)
            query = self.request.META.get("QUERY_STRING", "")
            uri = data.get("request_insecure_uri", "")
            if query and uri:
                base = uri.split("?", 1)[0]
                data["request_insecure_uri"] = (
                    f"{base}?{cleanse_query_string(query, self.filter.cleansed_substitute)}")
        return data
