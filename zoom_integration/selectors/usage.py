"""Zoom API calls today per tenant: the one source of the number every staff page shows.

Tenant health and the tenant directory list both show "API calls today"; they used to count
from two places (the stored `ApiUsage` rows and the rate limiter's live counters) and could
disagree. Both now annotate their rows here, from `ApiUsage`: the rows the rate limiter's
counts are flushed into when each sync or fetch ends (`ratelimit.api_usage_flush`).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    Case,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from tenants.models import ZoomPlan

from ..models import ApiUsage
from ..zoom import combined_daily_cap

# API usage categories that count toward Zoom's combined daily cap (as stored in ApiUsage).
CAPPED_CATEGORIES_REGEX = r"^(heavy|resource[-_ ]?intensive)$"


def api_calls_today_annotate(queryset: QuerySet, *, now: dt.datetime | None = None) -> QuerySet:
    """`queryset` (tenants, or a proxy of Tenant) annotated with today's (UTC) usage:

    - `h_api_calls_today`: Heavy + Resource-intensive calls, the ones Zoom's daily cap counts;
    - `h_api_calls_today_all`: calls in every category;
    - `h_rate_limited_today`: calls Zoom answered 429;
    - `h_daily_cap`: the plan's cap, and `h_api_cap_share`: the capped calls' share of it.
    """
    today = (now or timezone.now()).astimezone(dt.UTC).date()  # Zoom's day starts at 00:00 UTC
    usage_today = ApiUsage.objects.filter(tenant=OuterRef("pk"), day=today)
    capped = (usage_today.filter(category__iregex=CAPPED_CATEGORIES_REGEX).order_by()
              .values("tenant").annotate(_s=Sum("calls")).values("_s"))
    every = usage_today.order_by().values("tenant").annotate(_s=Sum("calls")).values("_s")
    limited = (usage_today.order_by().values("tenant").annotate(_s=Sum("rate_limited"))
               .values("_s"))
    return queryset.annotate(
        h_api_calls_today=Coalesce(Subquery(capped, output_field=IntegerField()), 0),
        h_api_calls_today_all=Coalesce(Subquery(every, output_field=IntegerField()), 0),
        h_rate_limited_today=Coalesce(Subquery(limited, output_field=IntegerField()), 0),
        h_daily_cap=Case(
            *[When(zoom_plan=plan, then=Value(combined_daily_cap(plan)))
              for plan in ZoomPlan.values],
            default=Value(combined_daily_cap(ZoomPlan.BUSINESS)),
            output_field=IntegerField()),
    ).annotate(h_api_cap_share=Cast(F("h_api_calls_today"), FloatField())
               / Cast(F("h_daily_cap"), FloatField()))
