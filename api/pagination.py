"""Pagination of the API's lists (docs/api.md, "Resources": pages).

Records and their changes feed use a keyset (`keyset_page`): an opaque cursor holds the last row's
(updated_at, id), and the next page is read along an index on (updated_at, id) (api/migrations/0002):
the same cost at any depth, no COUNT, and no skipped or repeated row when an upload gives 100,000
records the same updated_at (DRF's CursorPagination breaks such ties with an OFFSET, which grows with
the tie). The other lists, hundreds of rows a year, use DRF's CursorPagination on their key.
"""

import base64
import datetime
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.utils.urls import replace_query_param

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Position:
    updated_at: datetime.datetime
    id: int
    descending: bool = False


def encode_cursor(position: Position) -> str:
    raw = json.dumps(
        {
            "t": position.updated_at.astimezone(datetime.UTC).isoformat(),
            "i": position.id,
            "d": int(position.descending),
        },
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Position:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        when = datetime.datetime.fromisoformat(raw["t"])
        record_id = raw["i"]
        if when.tzinfo is None or not isinstance(record_id, int) or not 0 <= record_id < 2**63:
            raise ValueError
        return Position(when, record_id, bool(raw.get("d", 0)))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:  # nested arrays: RecursionError
        raise ValidationError(
            {"cursor": [_("This cursor is not valid: use the `next` link of a previous page.")]}
        ) from exc


def page_size_of(request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ValidationError({"page_size": [_("Give a page size from 1 to %(max)d.") % {"max": MAX_PAGE_SIZE}]})
    return int(raw)


def after(queryset: QuerySet, position: Position) -> QuerySet:
    """Rows after `position` in (updated_at, id) order (before it, going down)."""
    table = queryset.model._meta.db_table
    key = queryset.model._meta.pk.column  # "id", or a case's "record_id"
    operator = "<" if position.descending else ">"
    when = connection.ops.adapt_datetimefield_value(position.updated_at)
    condition = RawSQL(  # noqa: S611 - fixed names; the values are parameters
        f'("{table}"."updated_at", "{table}"."{key}") {operator} (%s, %s)',
        (when, position.id),
        output_field=BooleanField(),
    )
    return queryset.filter(condition)


def keyset_page(
    queryset: QuerySet, *, start: Position | None, descending: bool, size: int, fields: tuple[str, ...]
) -> tuple[list, bool]:
    """Up to `size` rows (value tuples of `fields`) after `start` (from the first row without one),
    and whether there are more. One query."""
    if start is not None:
        queryset = after(queryset, start)
    order = ("-updated_at", "-pk") if descending else ("updated_at", "pk")
    rows = list(queryset.order_by(*order).values_list(*fields)[: size + 1])
    return rows[:size], len(rows) > size


def page_link(request, cursor: str) -> str:
    return replace_query_param(request.build_absolute_uri(), "cursor", cursor)


class IdCursorPagination(CursorPagination):
    """Lists of provincial work: newest first by id (or as ?ordering= asks), a stable cursor, no COUNT.
    A cursor that cannot be read answers 400, as the records' do (DRF's answers 404)."""

    ordering = "-pk"
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (NotFound, ValueError, TypeError, DjangoValidationError) as exc:
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise ValidationError(
                {"cursor": [_("This cursor is not valid: use the `next` link of a previous page.")]}
            ) from exc


class CodeCursorPagination(IdCursorPagination):
    ordering = "pk"
