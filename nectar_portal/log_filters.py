"""Logging filters that keep OAuth secrets out of access logs.

runserver's `django.server` logger and gunicorn's access log write whole request lines, and
Zoom's redirect back to the portal carries the authorization code and `state` in the query.
Arguments come as a tuple (runserver) or as one mapping (gunicorn's access log passes a dict
of atoms): both are redacted. This module imports no models, so LOGGING and gunicorn.conf.py
can load it before the app registry is ready.
"""

import logging
import re
from collections.abc import Mapping

_SENSITIVE_QUERY_VALUE = re.compile(
    r"(?i)\b(code|state|access_token|refresh_token|token|plainToken)=[^&\s\"']+")


def redact(text: str) -> str:
    return _SENSITIVE_QUERY_VALUE.sub(r"\1=[redacted]", text)


class RedactSensitiveQueryFilter(logging.Filter):
    """Replaces sensitive query values in the record's message and string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: redact(value) if isinstance(value, str) else value
                           for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
