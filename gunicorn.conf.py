"""gunicorn settings, read by `gunicorn nectar_portal.wsgi` when started from the repository root.

The access log is on (stdout), one line per request, with the values of OAuth and token query
parameters (`code`, `state`, `access_token`, ...) replaced by `[redacted]`: Zoom sends the
customer's browser back with the authorization code and state in the query string, and a
request line is written before any Django code runs. Redaction happens on gunicorn's log atoms
(the request line, query string, referer and headers), so it holds whatever
`access_log_format` is chosen; nectar_portal/log_filters.py does the same for Django's loggers.
Other options come from the command line or GUNICORN_CMD_ARGS as usual (e.g. --bind, --workers).
"""

import os
import sys

from gunicorn.glogging import Logger

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nectar_portal.log_filters import redact  # noqa: E402

accesslog = "-"


class RedactingLogger(Logger):
    """gunicorn's logger with sensitive query values removed from every access-log atom."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in atoms.items()}


logger_class = RedactingLogger
