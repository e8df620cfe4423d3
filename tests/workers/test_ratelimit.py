"""The shared limiter: spacing per account and category, daily caps, parking, usage counts."""

import pytest

from zoom_integration.exceptions import ZoomRateLimitedError
from zoom_integration.models import ApiUsage
from zoom_integration.ratelimit import RateLimiter, api_usage_flush, api_usage_today, plan_limits

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["redis", "in-process"])
def backend(request, settings):
    if request.param == "in-process":
        settings.REDIS_URL = ""  # make run's embedded mode
        from zoom_integration import ratelimit

        ratelimit._LOCAL.__init__()
    settings.ZOOM_RATE_LIMIT_SAFETY = 1.0
    return request.param


def test_plan_presets_and_overrides(settings):
    limits, combined = plan_limits("pro")
    assert (limits["Heavy"].calls, limits["Medium"].calls, combined) == (10, 20, 30000)
    limits, combined = plan_limits("business")
    assert (limits["Heavy"].calls, limits["Resource-intensive"].period, combined) == (40, 60, 60000)
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 2, "per_day": 5}}
    limits, _ = plan_limits("business")
    assert (limits["Heavy"].calls, limits["Heavy"].per_day) == (2, 5)


def test_calls_of_one_account_are_spaced_across_limiters(tenant, backend, settings):
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Medium": {"per_second": 10}}
    first, second = RateLimiter(tenant), RateLimiter(tenant)  # two workers, one account
    waits = [(first if i % 2 else second).reserve("Medium").wait for i in range(5)]
    assert waits[0] == 0
    gaps = [b - a for a, b in zip(waits, waits[1:], strict=False)]
    assert all(0.08 <= g <= 0.12 for g in gaps), waits
    # Another category of the same account, and another account, are not held up.
    assert first.reserve("Light").wait == 0


def test_other_accounts_are_independent(tenant, backend, settings):
    from tests.factories import TenantFactory

    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 1}}
    other = TenantFactory()
    assert RateLimiter(tenant).reserve("Heavy").wait == 0
    assert RateLimiter(tenant).reserve("Heavy").wait > 0.9
    assert RateLimiter(other).reserve("Heavy").wait == 0


def test_waits_are_bounded(tenant, backend, settings):
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 1}}
    settings.ZOOM_RATE_LIMIT_MAX_WAIT_SECONDS = 1.5
    limiter = RateLimiter(tenant)
    limiter.reserve("Heavy")
    limiter.reserve("Heavy")
    with pytest.raises(ZoomRateLimitedError) as err:
        limiter.acquire("Heavy", sleep=lambda s: None)
    assert err.value.daily is False and 1.5 < err.value.retry_after_seconds <= 2.1


def test_local_daily_caps_refuse_before_zoom_does(tenant, backend, settings):
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 1000},
                                          "Resource-intensive": {"per_second": 1000},
                                          "combined_per_day": 3}
    limiter = RateLimiter(tenant)
    for category in ("Heavy", "Resource-intensive", "Heavy"):
        limiter.acquire(category, sleep=lambda s: None)
    with pytest.raises(ZoomRateLimitedError) as err:
        limiter.acquire("Resource-intensive", sleep=lambda s: None)
    assert err.value.daily is True and err.value.retry_after_seconds > 0
    limiter.acquire("Medium", sleep=lambda s: None)  # not under the combined cap


def test_park_refuses_until_it_expires(tenant, backend):
    limiter = RateLimiter(tenant)
    limiter.park("Heavy", 30)
    with pytest.raises(ZoomRateLimitedError) as err:
        limiter.acquire("Resource-intensive", sleep=lambda s: None)  # shares the daily cap
    assert err.value.daily is True and 25 < err.value.retry_after_seconds <= 30
    limiter.acquire("Light", sleep=lambda s: None)


def test_usage_is_counted_live_and_flushed_with_f_updates(tenant, backend):
    limiter = RateLimiter(tenant)
    for _ in range(3):
        limiter.acquire("Medium", sleep=lambda s: None)
    limiter.acquire("Heavy", sleep=lambda s: None)
    limiter.record_rate_limited("Heavy")
    assert api_usage_today(tenant=tenant) == {"Medium": 3, "Heavy": 1}
    assert api_usage_flush(tenant=tenant) == 4
    assert api_usage_flush(tenant=tenant) == 0  # nothing counted twice
    limiter.acquire("Medium", sleep=lambda s: None)
    api_usage_flush(tenant=tenant)
    rows = {u.category: (u.calls, u.rate_limited) for u in ApiUsage.objects.filter(tenant=tenant)}
    assert rows == {"Medium": (4, 0), "Heavy": (1, 1)}


def _unlimited_rate(settings, *, per_day: int) -> None:
    settings.ZOOM_RATE_LIMIT_OVERRIDES = {"Heavy": {"per_second": 1000},
                                          "Resource-intensive": {"per_second": 1000},
                                          "combined_per_day": per_day}


def test_a_block_is_booked_whole_or_not_at_all(tenant, backend, settings):
    _unlimited_rate(settings, per_day=10)
    limiter = RateLimiter(tenant)
    for _ in range(4):
        limiter.acquire("Heavy", sleep=lambda s: None)
    with pytest.raises(ZoomRateLimitedError) as err:
        limiter.calls_book("Heavy", 7)  # 4 used + 7 > 10
    assert err.value.daily is True and err.value.retry_after_seconds > 0
    # Nothing was booked by the refusal: the six calls left are all still there.
    booking = limiter.calls_book("Heavy", 6)
    assert booking.calls == 6


def test_booked_calls_are_spent_by_their_block_only(tenant, backend, settings):
    _unlimited_rate(settings, per_day=10)
    limiter = RateLimiter(tenant)
    booking = limiter.calls_book("Heavy", 8)
    limiter.acquire("Heavy", sleep=lambda s: None)
    limiter.acquire("Resource-intensive", sleep=lambda s: None)  # 2 used + 8 booked = 10
    with pytest.raises(ZoomRateLimitedError):
        limiter.acquire("Heavy", sleep=lambda s: None)  # not the block's: the day is full
    for _ in range(8):
        limiter.acquire("Heavy", sleep=lambda s: None, booking=booking)  # never refused
    assert booking.left == 0
    assert api_usage_today(tenant=tenant) == {"Heavy": 9, "Resource-intensive": 1}
    with pytest.raises(ZoomRateLimitedError):
        limiter.acquire("Heavy", sleep=lambda s: None, booking=booking)  # spent: as any call


def test_what_a_block_did_not_use_goes_back(tenant, backend, settings):
    _unlimited_rate(settings, per_day=10)
    limiter = RateLimiter(tenant)
    booking = limiter.calls_book("Heavy", 6)
    for _ in range(2):
        limiter.acquire("Heavy", sleep=lambda s: None, booking=booking)
    with pytest.raises(ZoomRateLimitedError):
        limiter.calls_book("Heavy", 5)  # 2 used + 4 still booked + 5 > 10
    limiter.calls_release(booking)
    assert booking.left == 0
    assert limiter.calls_book("Heavy", 8).calls == 8  # 2 used + 8 = 10
    limiter.calls_release(booking)  # releasing twice gives nothing back twice
    with pytest.raises(ZoomRateLimitedError):
        limiter.calls_book("Heavy", 1)


def test_a_block_larger_than_the_whole_day_fits_an_empty_day(tenant, backend, settings):
    _unlimited_rate(settings, per_day=5)
    limiter = RateLimiter(tenant)
    assert limiter.calls_book("Heavy", 50).calls == 5  # else it would wait for ever
    assert limiter.calls_book("Medium", 50).calls == 0  # not under the daily cap: no booking


def test_a_parked_account_books_nothing(tenant, backend, settings):
    _unlimited_rate(settings, per_day=100)
    limiter = RateLimiter(tenant)
    limiter.park("Heavy", 30)
    with pytest.raises(ZoomRateLimitedError):
        limiter.calls_book("Heavy", 1)
