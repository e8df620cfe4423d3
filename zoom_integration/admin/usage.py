"""The "API calls today" column, the same on every admin list of tenants that shows it.

Rows come annotated by `selectors.usage.api_calls_today_annotate` (Tenant health through its
health selector, the directory list directly): one count, one way to show it.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html


class ApiCallsTodayColumnMixin:
    """`api_calls_today` for `list_display`; needs rows from `api_calls_today_annotate`."""

    # Zoom's daily cap counts Heavy + Resource-intensive calls together.
    @admin.display(description="Capped API calls today", ordering="h_api_cap_share")
    def api_calls_today(self, row):
        share = row.h_api_calls_today / row.h_daily_cap if row.h_daily_cap else 0
        css = "op-bad" if share >= 0.9 else "op-warn" if share >= 0.7 else ""
        cap = f"{row.h_daily_cap:,}" if row.h_daily_cap else "no cap"
        limited = (format_html('<div class="op-reason op-bad">{} rate-limited</div>',
                               row.h_rate_limited_today) if row.h_rate_limited_today else "")
        return format_html(
            '<span class="{}">{} / {}</span><div class="op-reason">{}% of the cap; {} calls '
            'in all categories</div>{}',
            css, f"{row.h_api_calls_today:,}", cap, f"{share * 100:.1f}",
            f"{row.h_api_calls_today_all:,}", limited)
