"""The secrets ledger and the artifacts the final secrets scan reads (test_secrets.py).

Every secret or token a test uses is added to `LEDGER` (tenant secrets and Zoom tokens are added
automatically by post_save receivers, OAuth codes and sandbox values by the tests). What the
suite writes that an attacker or an operator could read is kept: log records of the whole
session, text columns of the database at the end of each test, admin pages, error reports,
and the output of the server and worker processes the fault tests start.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from urllib.parse import quote, quote_plus

from django.conf import settings

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
AUDIT_ROOT = ARTIFACTS / "audit"
# One folder per pytest process: the scan reads only what its own session wrote, even when
# several sessions share the work tree.
AUDIT_DIR = AUDIT_ROOT / f"session-{os.getpid()}"
MIN_SECRET_LENGTH = 8


class Ledger:
    def __init__(self):
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                # Only text: a stored value no key decrypts loads as a marker, not a secret.
                if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                    self._values.add(value)

    def values(self) -> set[str]:
        with self._lock:
            return set(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


LEDGER = Ledger()


class CollectingHandler(logging.Handler):
    """Keeps every formatted record (with its traceback) of the session in memory."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is itself a finding
            self.lines.append(f"UNFORMATTABLE {record.name} {record.msg!r} {record.args!r}")


HANDLER = CollectingHandler()


def record_artifact(kind: str, name: str, text: str | bytes) -> Path:
    """Keeps `text` (an admin page, an error report, a process log) for the final scan."""
    folder = AUDIT_DIR / kind
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]
    path = folder / f"{safe}.txt"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{safe}-{n}.txt"
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    path.write_bytes(data)
    return path


def dump_text_columns(connection) -> str:
    """Every text, JSON and bytea value of every table in the connection's database."""
    out: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('text', 'character varying', 'json', 'jsonb', 'bytea', 'character') "
            "ORDER BY table_name, ordinal_position")
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            expr = (f'encode("{column}", \'escape\')' if data_type == "bytea"
                    else f'"{column}"::text')
            cursor.execute(f'SELECT {expr} FROM "{table}" WHERE "{column}" IS NOT NULL')  # noqa: S608
            for (value,) in cursor.fetchall():
                if value:
                    out.append(f"{table}.{column}: {value}")
    return "\n".join(out)


def clear_variants(secret: str) -> set[str]:
    """The forms a secret in clear takes in text: as is, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def scan(texts: dict[str, str], secrets: set[str]) -> list[str]:
    findings = []
    for where, text in texts.items():
        for secret in secrets:
            if any(v in text for v in clear_variants(secret)):
                findings.append(f"{where}: …{secret[-4:]} (length {len(secret)})")
    return findings
