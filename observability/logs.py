"""The production log format: one JSON object per line, scrubbed, with the ids of the context.

Fields: `time` (UTC, ISO 8601), `level`, `logger`, `message`, then whatever is known of `tenant`
(slug), `request_id`, `task_id` (Celery) and `zoom_tracking_id` (Zoom's x-zm-trackingid), and
`exception` with the traceback when there is one. Values passed with `extra=` are kept too.
Every string field goes through the same scrubbing as the access logs
(nectar_portal/log_filters.py), so an OAuth code, state or token in a URL never reaches a line.

Loaded by LOGGING before the app registry is ready: imports no models.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from nectar_portal.log_filters import redact

from . import context

# LogRecord's own attributes: anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_MAX_EXTRA_LENGTH = 2000


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(str(value))[:_MAX_EXTRA_LENGTH]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(context.current(getattr(record, "request", None)))
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps({key: _scrub(value) for key, value in entry.items()},
                          ensure_ascii=False)
