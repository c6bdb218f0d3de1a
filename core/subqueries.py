"""Annotations that read related rows as one correlated subquery, not a JOIN with GROUP BY."""

from typing import Any

from django.db.models import F, Func, IntegerField, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce


def subquery_count(queryset: QuerySet[Any]) -> Coalesce:
    """The number of rows of a correlated queryset (filtered on OuterRef), as one subquery.

    Several counts on one list stay exact this way (JOINs would multiply each other's rows), and
    a row with none gets 0, not NULL.
    """
    # COUNT over the subquery's rows with no GROUP BY: Func, not Count, keeps Django from adding one.
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
