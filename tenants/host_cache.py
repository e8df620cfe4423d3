"""A per-process, seconds-long memory of host → tenant for the request path.

Every webhook and OAuth request needs its tenant, and looking it up (a query, plus Fernet
decryption of the tenant's secrets) was the largest single cost of a webhook delivery
(docs/benchmarks.md). Entries live HOST_CACHE_SECONDS; saving or deleting a Tenant or
TenantDomain clears this process's entries at once (tenants/signals.py), and other processes
see the change within HOST_CACHE_SECONDS. Callers get their own copy of the tenant, so no
request can change another's.
"""

from __future__ import annotations

import copy
import threading
import time

from .models import Tenant
from .selectors import normalize_host, tenant_get_by_host

HOST_CACHE_SECONDS = 5.0
_MAX_ENTRIES = 10_000  # bounds memory when clients send made-up Host headers

_lock = threading.Lock()
_entries: dict[str, tuple[float, Tenant | None]] = {}


def tenant_for_host(host: str) -> Tenant | None:
    key = normalize_host(host)
    now = time.monotonic()
    with _lock:
        cached = _entries.get(key)
    if cached is not None and cached[0] > now:
        tenant = cached[1]
    else:
        tenant = tenant_get_by_host(host=key)
        with _lock:
            if len(_entries) >= _MAX_ENTRIES:
                _entries.clear()
            _entries[key] = (now + HOST_CACHE_SECONDS, tenant)
    return copy.copy(tenant) if tenant is not None else None


def host_cache_clear() -> None:
    with _lock:
        _entries.clear()
