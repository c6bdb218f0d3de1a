"""Pages of big lists without a full COUNT(*).

At millions of rows a COUNT(*) reads every matching row on each page load. `CappedPaginator` counts
up to a cap instead: `SELECT COUNT(*) FROM (SELECT 1 ... LIMIT cap + 1)`, which stops at the cap + 1st
row. Up to the cap the count is exact and the pages are Django's. Past it the list says "more than
10,000", pages go up to the cap (page numbers past it are the last page within it, as Django's
get_page answers any number past the end), and the page says to narrow the list with a filter or a
search: an offset deeper than the cap would read and skip that many rows on every page load.

For a list without any condition (the whole table) the count past the cap is PostgreSQL's own estimate,
pg_class.reltuples, read in one cheap query: "about 3,000,000".
"""

import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

LIST_COUNT_CAP = 10_000

if TYPE_CHECKING:
    _Paginator = Paginator[Any]
else:
    _Paginator = Paginator  # not subscriptable at run time


def capped_count(queryset: QuerySet[Any], cap: int) -> int:
    """The number of rows of `queryset`, counted up to cap + 1 (one LIMIT subquery, no ORDER BY, no
    annotations: only the rows' keys are selected)."""
    return queryset.order_by().values("pk")[: cap + 1].count()


def estimated_rows(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows of a queryset without conditions (its table's reltuples, kept
    by VACUUM and ANALYZE); None for a filtered queryset or another database."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or queryset.query.where or queryset.query.distinct:
        return None
    with connection.cursor() as cursor:
        table = queryset.model._meta.db_table
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] and row[0] > 0 else None


class CappedPaginator(_Paginator):
    """Django's Paginator with a count capped at `cap` (LIST_COUNT_CAP). `count_queryset`, if given, is
    counted instead of the listed queryset (the same rows without the page's joins and annotations).

    count: exact up to the cap, else the cap. capped: whether there are more rows than that.
    total_estimate: for a capped list without conditions, the planner's estimate of all rows."""

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        cap: int | None = None,
        count_queryset: QuerySet[Any] | None = None,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.cap = cap if cap is not None else LIST_COUNT_CAP
        self.count_queryset = count_queryset

    @cached_property
    def _found(self) -> int:
        source = self.count_queryset if self.count_queryset is not None else self.object_list
        if not isinstance(source, QuerySet):
            return len(source)
        return capped_count(source, self.cap)

    @property
    def capped(self) -> bool:
        return self._found > self.cap

    @cached_property
    def count(self) -> int:
        return min(self._found, self.cap)

    @cached_property
    def num_pages(self) -> int:
        if not self.capped:
            return super().num_pages
        # Whole pages within the cap (the orphans rule does not apply: there are more rows after them).
        return max(1, math.floor(self.cap / self.per_page))

    def page(self, number: Any) -> Any:
        """Django's page; past the first, its rows are found first by their keys alone, and only those
        rows are joined and annotated: `WHERE pk IN (SELECT pk ... ORDER BY ... LIMIT 50 OFFSET 9950)`.
        Otherwise every skipped row would be joined and get its annotations (a subquery each) computed
        before the OFFSET drops it."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if bottom > 0 and isinstance(rows, QuerySet) and rows.ordered and not rows.query.distinct:
            keys = rows.values("pk")[bottom:top]
            return self._get_page(rows.filter(pk__in=keys), number, self)  # type: ignore[attr-defined]
        return self._get_page(rows[bottom:top], number, self)  # type: ignore[attr-defined]

    @cached_property
    def total_estimate(self) -> int | None:
        if not self.capped:
            return None
        source = self.count_queryset if self.count_queryset is not None else self.object_list
        estimate = estimated_rows(source) if isinstance(source, QuerySet) else None
        return estimate if estimate is not None and estimate > self.cap else None
