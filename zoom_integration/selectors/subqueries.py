"""Small query helpers shared by the selectors."""

from __future__ import annotations

from django.db.models import Count, IntegerField, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce


def count_subquery(qs: QuerySet) -> Coalesce:
    """COUNT(*) of a correlated queryset as an annotation (no join fan-out on the outer rows)."""
    counted = qs.order_by().annotate(_one=Value(1)).values("_one").annotate(
        _n=Count("*")).values("_n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
