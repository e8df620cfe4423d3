"""The Zoom rate limiter shared by every worker and machine, and the per-day API usage counts.

Zoom's limits are per *account* and per rate category, shared by every app on the account
(https://developers.zoom.us/docs/api/rest/rate-limits/). Each call first reserves a slot here: a
GCRA-style schedule kept in Redis by one Lua script spaces calls of one account and category evenly,
below the plan's rate (times a safety factor), so Zoom's 429s are rare however many workers run. The
same script counts calls per tenant, UTC day and category, and refuses early once the local count
reaches the daily cap; a daily 429 from Zoom parks the account/category until the reset.

A multi-call job that is worth nothing half done (one meeting's metrics: its participant and
QoS pages) first books its calls as a block (`RateLimiter.calls_book`): the day's remaining
budget must cover the whole block, or nothing is spent and the job waits for the reset. The
block's own calls then draw on it without being refused, and other calls see the booked calls
as spent. So a day that runs out never cuts a fetch in the middle, which would cost its calls
twice (the whole fetch again the next day).

Counts reach the database (`models.ApiUsage`) through `api_usage_flush`: the hot path only
touches Redis; the services flush at most every few seconds during a sync and when it ends
(the client itself writes no model).

Without `settings.REDIS_URL` (the embedded mode of `make run`) an in-process limiter does the
same for the one process there is.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from .zoom import (
    CATEGORIES,
    COMBINED_DAILY,
    HEAVY,
    INTENSIVE,
    LIGHT,
    MEDIUM,
    PLAN_LIMITS,
    Limit,
    plan_limits,
)

logger = logging.getLogger(__name__)

# Zoom's categories and limits live in zoom.py; re-exported for the client and the tests.
__all__ = ["CATEGORIES", "COMBINED_DAILY", "HEAVY", "INTENSIVE", "LIGHT", "MEDIUM", "Limit",
           "PLAN_LIMITS", "plan_limits"]


def _safety() -> float:
    # Below the nominal rate: other apps share the account, and arrival jitter bunches calls.
    return float(getattr(settings, "ZOOM_RATE_LIMIT_SAFETY", 0.8))


def _max_wait() -> float:
    return float(getattr(settings, "ZOOM_RATE_LIMIT_MAX_WAIT_SECONDS", 30.0))


def seconds_until_utc_midnight(now: datetime | None = None) -> float:
    # Zoom's daily counters appear to reset at 00:00 UTC (observed; Zoom does not say).
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - now).total_seconds())


@dataclass
class Reservation:
    """The outcome of asking for a slot: wait `wait` seconds then call, or refused."""

    wait: float = 0.0
    refused: str = ""  # "" | "parked" | "daily" | "busy"
    retry_after: float = 0.0


# KEYS: 1 schedule (TAT, ms), 2 park flag, 3 usage hash of the tenant's day, 4 pending counts,
#       5 calls booked and not yet made that day
# ARGV: 1 interval ms, 2 max wait ms, 3 category, 4 own daily cap (0 none),
#       5 combined cap (0 none), 6 combined? (1/0), 7 usage ttl s, 8 schedule ttl ms,
#       9 drawn from a booked block? (1/0)
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local parked = redis.call('PTTL', KEYS[2])
if parked > 0 then return {-1, parked} end
local cat = ARGV[3]
local booked = tonumber(redis.call('GET', KEYS[5]) or '0')
local drawn = ARGV[9] == '1' and booked > 0
if not drawn then
  local cap = tonumber(ARGV[4])
  if cap > 0 and tonumber(redis.call('HGET', KEYS[3], cat) or '0') >= cap then
    return {-2, 0}
  end
  local ccap = tonumber(ARGV[5])
  if ARGV[6] == '1' and ccap > 0 then
    local used = tonumber(redis.call('HGET', KEYS[3], 'Heavy') or '0')
               + tonumber(redis.call('HGET', KEYS[3], 'Resource-intensive') or '0')
    if used + booked >= ccap then return {-2, 0} end
  end
end
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > tonumber(ARGV[2]) then return {-3, wait} end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.floor(wait + interval + tonumber(ARGV[8])))
redis.call('HINCRBY', KEYS[3], cat, 1)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[7]))
redis.call('HINCRBY', KEYS[4], cat, 1)
if drawn then redis.call('DECR', KEYS[5]) end
return {0, wait}
"""

# Books a block of calls against the combined daily cap, all or nothing.
# KEYS: 1 park flag, 2 usage hash of the tenant's day, 3 booked calls of that day
# ARGV: 1 combined cap, 2 calls, 3 ttl s.  Returns the calls booked, -1 parked, -2 no room.
_BOOK_LUA = """
if redis.call('PTTL', KEYS[1]) > 0 then return -1 end
local ccap = tonumber(ARGV[1])
local calls = math.min(tonumber(ARGV[2]), ccap)
local booked = tonumber(redis.call('GET', KEYS[3]) or '0')
local used = tonumber(redis.call('HGET', KEYS[2], 'Heavy') or '0')
           + tonumber(redis.call('HGET', KEYS[2], 'Resource-intensive') or '0')
if used + booked + calls > ccap then return -2 end
redis.call('INCRBY', KEYS[3], calls)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
return calls
"""

# Gives back what a block did not use. KEYS: 1 booked calls; ARGV: 1 calls.
_RELEASE_LUA = """
local left = redis.call('DECRBY', KEYS[1], tonumber(ARGV[1]))
if left < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return left
"""


class Booking:
    """Calls booked for a block (`RateLimiter.calls_book`): of `category`, on `day`; `left`
    counts down as the block's calls are made."""

    __slots__ = ("calls", "category", "day", "left")

    def __init__(self, category: str, day: str, calls: int):
        self.category, self.day, self.calls, self.left = category, day, calls, calls

_redis_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


def _redis():
    url = settings.REDIS_URL
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url)
            _redis_clients[url] = client
        return client


class RateLimiter:
    """Reserves call slots for one tenant's Zoom account; see the module docstring."""

    def __init__(self, tenant):
        self.tenant_id = tenant.pk
        self.account = tenant.zoom_account_id or f"tenant-{tenant.pk}"
        self.limits, self.combined_cap = plan_limits(tenant.zoom_plan or "business")
        self.backend = _RedisBackend() if settings.REDIS_URL else _LOCAL

    def interval_ms(self, category: str) -> float:
        limit = self.limits.get(category) or self.limits[HEAVY]
        return 1000.0 * limit.period / max(1e-9, limit.calls * _safety())

    def reserve(self, category: str, *, booked: bool = False) -> Reservation:
        """A slot for one call; `booked`: the call draws on a block booked before."""
        limit = self.limits.get(category) or self.limits[HEAVY]
        day = datetime.now(UTC).date().isoformat()
        return self.backend.reserve(
            account=self.account, tenant_id=self.tenant_id, day=day, category=category,
            interval_ms=self.interval_ms(category), max_wait_ms=_max_wait() * 1000,
            cap=limit.per_day or 0,
            combined_cap=(self.combined_cap or 0) if category in COMBINED_DAILY else 0,
            booked=booked)

    def calls_book(self, category: str, calls: int) -> Booking:
        """Books `calls` of today's budget for one job, all or nothing; raises the daily
        ZoomRateLimitedError (nothing booked) when the rest of the day cannot cover them.

        Only calls under the combined daily cap need it; for others the booking is empty.
        Hand the booking to `acquire` for each of the job's calls, and to `calls_release`
        when the job ends, however it ends.
        """
        from .exceptions import ZoomRateLimitedError

        day = datetime.now(UTC).date().isoformat()
        if category not in COMBINED_DAILY or not self.combined_cap or calls <= 0:
            return Booking(category, day, 0)
        got = self.backend.book(account=self.account, tenant_id=self.tenant_id, day=day,
                                category=category, cap=self.combined_cap, calls=calls)
        if got < 0:
            raise ZoomRateLimitedError(
                f"{category} daily limit: the {calls} calls this job needs do not fit in "
                "what is left of today's budget for this account",
                retry_after_seconds=seconds_until_utc_midnight(), daily=True,
                category=category)
        return Booking(category, day, got)

    def calls_release(self, booking: Booking) -> None:
        """Gives back the calls of a block that were not made."""
        if booking.left > 0:
            self.backend.release(tenant_id=self.tenant_id, day=booking.day,
                                 calls=booking.left)
            booking.left = 0

    def acquire(self, category: str, *, sleep=time.sleep, booking: Booking | None = None
                ) -> None:
        """Blocks until this call may go out (bounded), or raises ZoomRateLimitedError.

        With a `booking` of this category and day that has calls left, the call draws on it
        (never refused for the daily cap)."""
        from .exceptions import ZoomRateLimitedError

        today = datetime.now(UTC).date().isoformat()
        drawn = (booking is not None and booking.left > 0 and booking.category == category
                 and booking.day == today)
        reservation = self.reserve(category, booked=drawn)
        if drawn and not reservation.refused:
            booking.left -= 1
        if reservation.refused == "busy":
            raise ZoomRateLimitedError(
                f"{category} calls for this account are booked for the next "
                f"{reservation.retry_after:.0f} s", retry_after_seconds=reservation.retry_after,
                daily=False, category=category)
        if reservation.refused:
            raise ZoomRateLimitedError(
                f"{category} daily limit reached for this account",
                retry_after_seconds=reservation.retry_after, daily=True, category=category)
        if reservation.wait > 0:
            sleep(reservation.wait)

    def park(self, category: str, seconds: float) -> None:
        """After Zoom's daily 429: no worker calls this account/category until the reset."""
        categories = COMBINED_DAILY if category in COMBINED_DAILY else (category,)
        for cat in categories:
            self.backend.park(self.account, cat, seconds)

    def record_rate_limited(self, category: str) -> None:
        self.backend.count(self.tenant_id, "rate_limited:" + category)


def _booked_key(tenant_id, day) -> str:
    return f"zoomrl:booked:{tenant_id}:{day}"


class _RedisBackend:
    _script = None

    def _run(self):
        if _RedisBackend._script is None:
            _RedisBackend._script = _redis().register_script(_LUA)
        return _RedisBackend._script

    def reserve(self, *, account, tenant_id, day, category, interval_ms, max_wait_ms, cap,
                combined_cap, booked=False) -> Reservation:
        keys = [f"zoomrl:tat:{account}:{category}", f"zoomrl:park:{account}:{category}",
                f"zoomrl:usage:{tenant_id}:{day}", f"zoomrl:pending:{tenant_id}:{day}",
                _booked_key(tenant_id, day)]
        code, value = self._run()(keys=keys, args=[
            int(interval_ms), int(max_wait_ms), category, int(cap), int(combined_cap),
            "1" if category in COMBINED_DAILY else "0", 3 * 86400, 1000,
            "1" if booked else "0"])
        code, value = int(code), float(value)
        if code == 0:
            return Reservation(wait=value / 1000.0)
        if code == -1:
            return Reservation(refused="parked", retry_after=value / 1000.0)
        if code == -2:
            return Reservation(refused="daily", retry_after=seconds_until_utc_midnight())
        return Reservation(refused="busy", retry_after=value / 1000.0)

    def book(self, *, account, tenant_id, day, category, cap, calls) -> int:
        keys = [f"zoomrl:park:{account}:{category}", f"zoomrl:usage:{tenant_id}:{day}",
                _booked_key(tenant_id, day)]
        return int(_redis().eval(_BOOK_LUA, len(keys), *keys, int(cap), int(calls), 2 * 86400))

    def release(self, *, tenant_id, day, calls) -> None:
        key = _booked_key(tenant_id, day)
        _redis().eval(_RELEASE_LUA, 1, key, int(calls))

    def park(self, account, category, seconds):
        _redis().set(f"zoomrl:park:{account}:{category}", "1", px=max(1, int(seconds * 1000)))

    def count(self, tenant_id, field):
        day = datetime.now(UTC).date().isoformat()
        _redis().hincrby(f"zoomrl:pending:{tenant_id}:{day}", field, 1)

    def take_pending(self, tenant_id) -> dict[tuple[str, str], int]:
        """Atomically takes the not-yet-persisted counts of this tenant (today and yesterday:
        a count is at most one flush interval old), by (day, field)."""
        client = _redis()
        out: dict[tuple[str, str], int] = {}
        today = datetime.now(UTC).date()
        for day in ((today - timedelta(days=1)).isoformat(), today.isoformat()):
            name = f"zoomrl:pending:{tenant_id}:{day}"
            tmp = f"zoomrl:flushing:{tenant_id}:{day}:{time.time_ns()}"
            try:
                client.rename(name, tmp)  # atomic: concurrent increments go to a new hash
            except Exception:  # noqa: BLE001, S112 - no such key: nothing pending that day
                continue
            for field, value in client.hgetall(tmp).items():
                field = field.decode() if isinstance(field, bytes) else field
                out[(day, field)] = out.get((day, field), 0) + int(value)
            client.delete(tmp)
        return out

    def usage_today(self, tenant_id) -> dict[str, int]:
        day = datetime.now(UTC).date().isoformat()
        raw = _redis().hgetall(f"zoomrl:usage:{tenant_id}:{day}")
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}


class _LocalBackend:
    """The same schedule in one process (embedded mode): a lock and dictionaries."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tat: dict[tuple[str, str], float] = {}
        self.parked: dict[tuple[str, str], float] = {}
        self.usage: dict[tuple[int, str], dict[str, int]] = {}
        self.pending: dict[tuple[int, str], dict[str, int]] = {}
        self.booked: dict[tuple[int, str], int] = {}

    def reserve(self, *, account, tenant_id, day, category, interval_ms, max_wait_ms, cap,
                combined_cap, booked=False) -> Reservation:
        now = time.monotonic() * 1000
        with self.lock:
            until = self.parked.get((account, category), 0)
            if until > now:
                return Reservation(refused="parked", retry_after=(until - now) / 1000)
            usage = self.usage.setdefault((tenant_id, day), {})
            held = self.booked.get((tenant_id, day), 0)
            drawn = booked and held > 0
            if not drawn:
                if cap and usage.get(category, 0) >= cap:
                    return Reservation(refused="daily", retry_after=seconds_until_utc_midnight())
                if combined_cap and sum(usage.get(c, 0) for c in COMBINED_DAILY) + held \
                        >= combined_cap:
                    return Reservation(refused="daily", retry_after=seconds_until_utc_midnight())
            tat = max(self.tat.get((account, category), 0), now)
            wait = tat - now
            if wait > max_wait_ms:
                return Reservation(refused="busy", retry_after=wait / 1000)
            self.tat[(account, category)] = tat + interval_ms
            if drawn:
                self.booked[(tenant_id, day)] = held - 1
            usage[category] = usage.get(category, 0) + 1
            pending = self.pending.setdefault((tenant_id, day), {})
            pending[category] = pending.get(category, 0) + 1
            return Reservation(wait=wait / 1000)

    def book(self, *, account, tenant_id, day, category, cap, calls) -> int:
        now = time.monotonic() * 1000
        with self.lock:
            if self.parked.get((account, category), 0) > now:
                return -1
            calls = min(calls, cap)
            usage = self.usage.get((tenant_id, day), {})
            held = self.booked.get((tenant_id, day), 0)
            if sum(usage.get(c, 0) for c in COMBINED_DAILY) + held + calls > cap:
                return -2
            self.booked[(tenant_id, day)] = held + calls
            return calls

    def release(self, *, tenant_id, day, calls) -> None:
        with self.lock:
            held = self.booked.get((tenant_id, day), 0)
            self.booked[(tenant_id, day)] = max(0, held - calls)

    def park(self, account, category, seconds):
        with self.lock:
            self.parked[(account, category)] = time.monotonic() * 1000 + seconds * 1000

    def count(self, tenant_id, field):
        day = datetime.now(UTC).date().isoformat()
        with self.lock:
            pending = self.pending.setdefault((tenant_id, day), {})
            pending[field] = pending.get(field, 0) + 1

    def take_pending(self, tenant_id) -> dict[tuple[str, str], int]:
        out = {}
        with self.lock:
            for (tid, day) in [k for k in self.pending if k[0] == tenant_id]:
                for field, value in self.pending.pop((tid, day)).items():
                    out[(day, field)] = value
        return out

    def usage_today(self, tenant_id) -> dict[str, int]:
        day = datetime.now(UTC).date().isoformat()
        with self.lock:
            return dict(self.usage.get((tenant_id, day), {}))


_LOCAL = _LocalBackend()


def _backend():
    return _RedisBackend() if settings.REDIS_URL else _LOCAL


def api_usage_today(*, tenant) -> dict[str, int]:
    """Calls made today (UTC) per category, live from the limiter (admin shows it vs the cap)."""
    return _backend().usage_today(tenant.pk)


def api_usage_flush(*, tenant) -> int:
    """Adds the counts gathered since the last flush to `ApiUsage`; returns calls persisted.

    One UPDATE with F() per (day, category) touched, an INSERT only for a new row.
    """
    from .models import ApiUsage

    pending = _backend().take_pending(tenant.pk)
    by_row: dict[tuple[str, str], dict[str, int]] = {}
    for (day, field), value in pending.items():
        if field.startswith("rate_limited:"):
            by_row.setdefault((day, field.split(":", 1)[1]), {})["rate_limited"] = value
        else:
            by_row.setdefault((day, field), {})["calls"] = value
    total = 0
    for (day, category), counts in by_row.items():
        calls, limited = counts.get("calls", 0), counts.get("rate_limited", 0)
        total += calls
        updates = {"calls": F("calls") + calls, "rate_limited": F("rate_limited") + limited}
        rows = ApiUsage.objects.filter(tenant=tenant, day=day, category=category)
        if rows.update(**updates):
            continue
        try:
            with transaction.atomic():
                ApiUsage.objects.create(tenant=tenant, day=day, category=category, calls=calls,
                                        rate_limited=limited)
        except IntegrityError:  # another flusher created it in between
            rows.update(**updates)
    return total


# A long sync flushes its counts this often, so the health page follows it while it runs.
FLUSH_EVERY_SECONDS = 10.0


def api_usage_flush_quietly(*, tenant) -> None:
    """`api_usage_flush` for services: counting must never fail a sync (the counts stay
    pending and the next flush takes them)."""
    try:
        api_usage_flush(tenant=tenant)
    except Exception:
        logger.exception("could not persist Zoom API usage for tenant %s", tenant.pk)
