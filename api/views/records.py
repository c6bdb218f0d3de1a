"""Target-group records: list, changes feed, one record with its history and help, and writes
(one, a change to one, or up to 1,000 at once) with the spreadsheet upload's rules.

Reads are serialised from values() rows (`record_row`), not model instances: a page of 1,000 costs
a few milliseconds instead of tens (bench/api.py compares it with a plain values() view). Every
read of records writes one access-log entry; identifiers are masked unless the caller may see them.
"""

import datetime
import zoneinfo
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from accounts.access import Principal, can
from audit.tracking import event_model, history_is_recorded
from core.thai_id import IdentifierError, mask_identifier, parse_identifier
from core.versioning import UNKNOWN_VERSION
from targets.id_probes import Asker, ProbeRefused
from targets.models import Assistance, Category, Outcome, StatusChange, TargetRecord

from .. import serializers as s
from ..access_log import log_read
from ..authentication import is_partner
from ..errors import invalid_response, probe_refused_response
from ..filters import TargetRecordFilter
from ..idempotency import idempotent
from ..pagination import (
    EPOCH,
    MAX_PAGE_SIZE,
    Position,
    decode_cursor,
    encode_cursor,
    keyset_page,
    page_link,
    page_size_of,
)
from ..preconditions import PreconditionFailed, etag, expected_version, version_of_body
from ..record_writes import MAX_ITEMS, REJECTED, write_records
from .base import ApiView

LOCAL = zoneinfo.ZoneInfo(settings.TIME_ZONE)

# The columns of a record as the API shows it, in `record_row`'s order; the last two are the cursor's.
COLUMNS = (
    "id", "identifier", "identifier_kind", "name_prefix", "first_name", "last_name", "sex", "birth_date",
    "province_id", "district_id", "sub_district_id", "category__code", "status__code", "education_status",
    "last_grade", "school", "guardian_name", "phone", "consent", "notes", "version", "created_at", "updated_at",
)  # fmt: skip
NAMES = tuple(c.removesuffix("_id").removesuffix("__code") for c in COLUMNS)


def identifier_policy(user: Principal) -> Callable[[int], bool]:
    """province code -> may `user` see full identifiers of it? A key: its can_see_identifiers flag
    (within its scope, the only records it reads). A user: their role (the door's "targets.read_identifiers")."""
    if is_partner(user):
        full = user.can_see_identifiers
        return lambda code: full
    return partial(can, user, "targets.read_identifiers")


def record_row(row: tuple, full: bool) -> dict:
    """One record (a values_list row of COLUMNS) as the API shows it. Written out field by field:
    it runs for every record of every page (bench/api.py)."""
    (
        pk, identifier, kind, prefix, first, last, sex, born, province, district, sub_district, category, status,
        education, grade, school, guardian, phone, consent, notes, version, created, updated,
    ) = row  # fmt: skip
    return {
        "id": pk,
        "identifier": identifier if full else mask_identifier(identifier),
        "identifier_kind": kind,
        "name_prefix": prefix,
        "first_name": first,
        "last_name": last,
        "sex": sex,
        "birth_date": born.isoformat() if born is not None else None,
        "province": province,
        "district": district,
        "sub_district": sub_district,
        "category": category,
        "status": status,
        "education_status": education,
        "last_grade": grade,
        "school": school,
        "guardian_name": guardian,
        "phone": phone,
        "consent": consent,
        "notes": notes,
        "version": version,
        "created_at": created.astimezone(LOCAL).isoformat(),
        "updated_at": updated.astimezone(LOCAL).isoformat(),
    }


def rows_to_records(rows: list[tuple], user: Principal) -> tuple[list[dict], bool]:
    """The records of `rows` for `user`, and whether any identifier was shown in full."""
    may_see = identifier_policy(user)
    province_index = COLUMNS.index("province_id")
    shown_full = False
    out = []
    for row in rows:
        full = may_see(row[province_index])
        shown_full |= full
        out.append(record_row(row, full))
    return out, shown_full


def _since(request) -> datetime.datetime | None:
    raw = request.query_params.get("updated_since")
    if raw is None:
        return None
    try:
        when = parse_datetime(raw.strip().replace(" ", "+"))  # a "+07:00" sent unencoded arrives as " 07:00"
    except ValueError:
        when = None
    if when is None:
        raise ValidationError(
            {"updated_since": [_("Give a date and time in ISO 8601, e.g. 2026-06-01T00:00:00+07:00.")]}
        )
    return timezone.make_aware(when, LOCAL) if timezone.is_naive(when) else when


FILTER_NAMES = frozenset(TargetRecordFilter.base_filters)


def _filtered(request, queryset):
    if FILTER_NAMES.isdisjoint(request.query_params):
        return queryset  # building a FilterSet costs about a millisecond: only when a filter is asked for
    filterset = TargetRecordFilter(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def _describe(name: str, shown_full: bool) -> str:
    return f"API {name}" + (" (full IDs)" if shown_full else "")


# The ETag of a record's answer: its version (api.preconditions), to send back in If-Match.
ETAG_HEADER = OpenApiParameter(
    "ETag", str, OpenApiParameter.HEADER, response=[200, 201], description='The record\'s version, e.g. "3"'
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The ETag of your last read of the record, e.g. "3": the change is applied only if the record is '
    'still at that version (else 412). Required, unless the body has "version".',
)

FILTER_PARAMETERS = [
    OpenApiParameter("page_size", int, description=f"Records per page, 1 to {MAX_PAGE_SIZE} (default 100)"),
    OpenApiParameter("cursor", str, description="The `next` link's cursor (opaque)"),
    OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="Only records changed at or after this time"),
]


class RefusedWriteLog:
    """A refused write's details show the record's values (stale_record): that read goes to the access
    log here, after the view, once the write's transaction has been undone (it would undo the entry)."""

    def handle_exception(self, exc):
        record_id = getattr(exc, "record_id", None)
        if isinstance(exc, PreconditionFailed) and record_id is not None:
            log_read(self.request, model=TargetRecord, object_id=record_id, description="API record (refused write)",
                     count=1)  # fmt: skip
        return super().handle_exception(exc)


class RecordListView(RefusedWriteLog, ApiView):
    """Records in the caller's scope, oldest change first (or newest with ordering=-updated_at)."""

    resource = "records"
    conditional_writes = True  # a POSTed record's "version" is a precondition: 412 (api.schema)
    filter_backends = [DjangoFilterBackend]
    filterset_class = TargetRecordFilter
    documents_filters = True

    def get_queryset(self):
        return TargetRecord.objects.visible_to(self.request.user)

    @extend_schema(
        operation_id="records_list",
        summary="List target-group records",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("ordering", str, enum=["updated_at", "-updated_at"], description="Default updated_at"),
        ],
        responses=s.RecordPageSerializer,
    )
    def get(self, request):
        ordering = request.query_params.get("ordering", "updated_at")
        if ordering not in ("updated_at", "-updated_at"):
            raise ValidationError({"ordering": [_("Order by updated_at or -updated_at.")]})
        descending = ordering == "-updated_at"
        size = page_size_of(request)
        queryset = _filtered(request, self.get_queryset())
        since = _since(request)
        if since is not None:
            queryset = queryset.filter(updated_at__gte=since)
        cursor = request.query_params.get("cursor")
        start = decode_cursor(cursor) if cursor else None
        if start is not None and start.descending != descending:
            raise ValidationError({"cursor": [_("This cursor is for the other ordering.")]})
        rows, more = keyset_page(queryset, start=start, descending=descending, size=size, fields=COLUMNS)
        records, shown_full = rows_to_records(rows, request.user)
        log_read(request, model=TargetRecord, description=_describe("records list", shown_full), count=len(records))
        next_link = None
        if more:
            last = rows[-1]
            next_link = page_link(request, encode_cursor(Position(last[-1], last[0], descending)))
        return Response({"results": records, "next": next_link})

    @extend_schema(
        operation_id="records_create",
        summary="Create or update one record (by its identifier)",
        request=s.RecordWriteSerializer,
        responses={201: s.RecordWriteResultSerializer, 200: s.RecordWriteResultSerializer},
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="Makes a retry safe"),
            ETAG_HEADER,
        ],
        examples=[OpenApiExample("เด็กหญิงนอกระบบการศึกษา จังหวัดขอนแก่น", value=s.RECORD_WRITE_EXAMPLE, request_only=True)],
    )
    @idempotent
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": [_("Send one record as a JSON object.")]})
        return write_one(request, dict(request.data), status_on_create=status.HTTP_201_CREATED)


def _acting_user(user: Principal) -> Principal:
    return user.service_user if is_partner(user) else user


def write_one(request, item: dict, *, status_on_create: int) -> Response:
    try:
        [result] = write_records(
            user=request.user, items=[item], acting_user=_acting_user(request.user), asker=Asker.of_request(request)
        )
    except ProbeRefused as refusal:
        return probe_refused_response(refusal)
    if result.stale and result.record_id is not None:
        raise stale_record(request, result.record_id, seen=result.expected_version, current=result.current_version)
    if result.status == REJECTED:
        errors: dict[str, list[str]] = {}
        for error in result.errors:
            errors.setdefault(error["field"] or "non_field_errors", []).append(error["message"])
        # Answered, not raised: nothing was written, and the access log's entry of an identifier
        # recorded in another province (targets.id_probes) must stay with the transaction.
        return invalid_response(errors)
    if result.record_id is None:  # every item written (created, updated or unchanged) has its record
        raise RuntimeError("A written item has no record id")
    row = TargetRecord.objects.filter(pk=result.record_id).values_list(*COLUMNS).get()
    [record], _full = rows_to_records([row], request.user)
    code = status_on_create if result.status == "created" else status.HTTP_200_OK
    return Response({"status": result.status, "record": record}, status=code, headers={"ETag": etag(record["version"])})


# A record's fields as its audit events and its row hold them, for a refused write's details.
CHANGE_FIELDS = (
    "identifier", "name_prefix", "first_name", "last_name", "sex", "birth_date", "province_id", "district_id",
    "sub_district_id", "category_id", "status_id", "education_status", "last_grade", "school", "guardian_name",
    "phone", "consent", "notes",
)  # fmt: skip


def changes_since(record_id: int, version: int, *, full: bool) -> list[dict] | None:
    """What changed in a record since `version`, field by field as the API names and shows them
    ({field, seen, now}; the identifier masked unless `full`), read from the audit trail, whose event
    of a version is the row as it was then. None where that is not known (SQLite keeps no trail)."""
    if not history_is_recorded():
        return None
    events = event_model(TargetRecord).objects.filter(pgh_obj_id=record_id, version=version)
    seen = events.order_by("-pgh_id").values(*CHANGE_FIELDS).first()
    if seen is None:
        return None
    now = TargetRecord.objects.filter(pk=record_id).values(*CHANGE_FIELDS).get()
    changed = [name for name in CHANGE_FIELDS if seen[name] != now[name]]
    codes = {}  # category and status by their codes, as the API shows them
    for name, model in (("category_id", Category), ("status_id", Outcome)):
        if name in changed:
            codes[name] = dict(model.objects.filter(pk__in=[seen[name], now[name]]).values_list("pk", "code"))

    def shown(name: str, value):
        if value is None:
            return None
        if name == "identifier":
            return value if full else mask_identifier(value)
        if name in codes:
            return codes[name].get(value)
        return value.isoformat() if isinstance(value, datetime.date) else value

    return [{"field": name.removesuffix("_id"), "seen": shown(name, seen[name]), "now": shown(name, now[name])}
            for name in changed]  # fmt: skip


def stale_record(request, record_id: int, *, seen: int | None, current: int | None) -> PreconditionFailed:
    """412 for a write made from version `seen` of a record now at `current`: its details say what
    changed (personal data: the read is logged)."""
    province = TargetRecord.objects.filter(pk=record_id).values_list("province_id", flat=True).get()
    full = identifier_policy(request.user)(province)
    changed = changes_since(record_id, seen, full=full) if seen is not None and seen >= 0 else None
    message = _(
        "This record changed after you read it (you read version %(seen)s; it is now at version %(current)s). "
        "Nothing was written: read it again, then send your change with its new ETag."
    ) % {"seen": seen if seen is not None and seen >= 0 else "?", "current": current}
    refused = PreconditionFailed(message, details={"version": current, "changed": changed})
    refused.record_id = record_id if changed else None  # its values are shown: RefusedWriteLog logs the read
    return refused


class RecordDetailView(RefusedWriteLog, ApiView):
    resource = "records"

    def _record_row(self, pk: int) -> tuple:
        queryset = TargetRecord.objects.visible_to(self.request.user).filter(pk=pk).values_list(*COLUMNS)
        return get_object_or_404(queryset)

    @extend_schema(
        operation_id="records_retrieve",
        summary="One record with its status history and help given",
        responses=s.TargetRecordDetailSerializer,
        parameters=[ETAG_HEADER],
    )
    def get(self, request, pk: int):
        row = self._record_row(pk)
        [record], shown_full = rows_to_records([row], request.user)
        record["status_history"] = history_of(pk)
        record["help"] = help_of(pk)
        log_read(request, model=TargetRecord, object_id=pk, description=_describe("record", shown_full), count=1)
        # The version of the record's own fields: send it back in If-Match to change them (PATCH).
        return Response(record, headers={"ETag": etag(record["version"])})

    @extend_schema(
        operation_id="records_partial_update",
        summary="Change fields of one record (from the version you read: If-Match)",
        request=s.RecordPatchSerializer,
        responses=s.RecordWriteResultSerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        examples=[
            OpenApiExample("ย้ายสถานะเป็นกลับเข้าสู่ระบบการศึกษา", value={"status": "returned-to-school"}, request_only=True)
        ],
    )
    def patch(self, request, pk: int):
        row = self._record_row(pk)  # 404 outside the caller's scope
        record = dict(zip(NAMES, row, strict=True))
        if not TargetRecord.objects.writable_by(request.user).filter(pk=pk).exists():
            raise PermissionDenied(_("You may read this record but not change it."))
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": [_("Send the fields to change as a JSON object.")]})
        changes = dict(request.data)
        body_version = version_of_body(changes.pop("version", None))
        errors = {}
        if "identifier" in changes:
            try:
                same = parse_identifier(changes["identifier"]).value == record["identifier"]
            except IdentifierError:
                same = False
            if not same:
                errors["identifier"] = [_("A record's identifier is changed by EEF/IPSR in the portal, not here.")]
        if "province" in changes and str(changes["province"]).strip() != str(record["province"]):
            errors["province"] = [_("A record is moved to another province by EEF/IPSR in the portal, not here.")]
        if errors:
            raise ValidationError(errors)
        # What an item always carries (the upload's required fields, and the name prefix that goes
        # with the name), from the record; then the changes.
        item = {
            "identifier": record["identifier"],
            "province": record["province"],
            "name_prefix": record["name_prefix"],
            "first_name": record["first_name"],
            "last_name": record["last_name"],
            "category": record["category"],
        }
        item.update({k: v for k, v in changes.items() if k not in ("identifier", "province")})
        with transaction.atomic():
            # The record's row locked until the write: the version checked is the version overwritten.
            current = TargetRecord.objects.select_for_update().filter(pk=pk).values_list("version", flat=True).get()
            expected = expected_version(request, body_version=body_version, current=current)
            if expected is not None and expected != current:
                seen = None if expected == UNKNOWN_VERSION else expected
                raise stale_record(request, pk, seen=seen, current=current)
            if expected is not None:
                item["version"] = expected  # checked again by the writer, on the same locked row
            return write_one(request, item, status_on_create=status.HTTP_200_OK)


def history_of(record_id: int) -> list[dict]:
    changes = (
        StatusChange.objects.filter(record_id=record_id)
        .order_by("changed_at", "pk")
        .values_list("from_status__code", "to_status__code", "changed_at", "upload_id")
    )
    return [
        {"from_status": old, "to_status": new, "changed_at": when.astimezone(LOCAL).isoformat(), "upload": upload}
        for old, new, when, upload in changes
    ]


def help_of(record_id: int) -> list[dict]:
    rows = (
        Assistance.objects.filter(record_id=record_id)
        .order_by("-date", "pk")
        .values_list("pk", "type__code", "date", "given_by", "outcome", "created_at")
    )
    return [
        {
            "id": pk,
            "type": kind,
            "date": day.isoformat(),
            "given_by": given_by,
            "outcome": outcome,
            "created_at": created.astimezone(LOCAL).isoformat(),
        }
        for pk, kind, day, given_by, outcome, created in rows
    ]


IDENTIFIER_HEADER = OpenApiParameter(
    "X-Identifier",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="The national ID or G-code, its own or one a merge kept (an alias), e.g. G644200000001. A header, "
    "not the query string: an address is written to access logs, an identifier must not be.",
)


class RecordLookupView(RecordDetailView):
    """One record by an identifier, its own or an alias a merge kept (targets.RecordAlias): a GET by either
    answers the same record. Within the caller's scope; 404 for anything else, as for a missing one."""

    http_method_names = ["get", "head", "options"]

    @extend_schema(
        operation_id="records_lookup",
        summary="One record by its identifier or an alias (the identifier in the X-Identifier header)",
        responses=s.TargetRecordDetailSerializer,
        parameters=[IDENTIFIER_HEADER, ETAG_HEADER],
    )
    def get(self, request):
        try:
            identifier = parse_identifier(request.headers.get("X-Identifier", "")).value
        except IdentifierError as error:
            raise ValidationError({"X-Identifier": [str(error)]}) from error
        found = TargetRecord.objects.visible_to(request.user).by_identifier(identifier).values_list("pk", flat=True)
        pk = get_object_or_404(found.order_by())
        return super().get(request, pk)


class RecordHistoryView(ApiView):
    resource = "records"

    @extend_schema(
        operation_id="records_history",
        summary="A record's status history",
        responses=s.StatusChangeSerializer(many=True),
    )
    def get(self, request, pk: int):
        get_object_or_404(TargetRecord.objects.visible_to(request.user).filter(pk=pk).only("pk"))
        history = history_of(pk)
        log_read(request, model=TargetRecord, object_id=pk, description="API record history", count=1)
        return Response(history)


class RecordHelpView(ApiView):
    resource = "records"

    @extend_schema(
        operation_id="records_help",
        summary="Help given to a record's child or young person",
        responses=s.AssistanceSerializer(many=True),
    )
    def get(self, request, pk: int):
        get_object_or_404(TargetRecord.objects.visible_to(request.user).filter(pk=pk).only("pk"))
        given = help_of(pk)
        log_read(request, model=TargetRecord, object_id=pk, description="API record help", count=1)
        return Response(given)


class RecordBulkView(ApiView):
    resource = "records"

    @extend_schema(
        operation_id="records_bulk",
        summary="Create or update up to 1,000 records",
        description=(
            "Each record is validated like a row of the spreadsheet upload and gets its own result; valid "
            "records are written even when others are rejected. Send an Idempotency-Key to make a retry safe."
        ),
        request=s.BulkWriteSerializer,
        responses=s.BulkResultSerializer,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, description="Makes a retry safe")
        ],
        examples=[
            OpenApiExample(
                "สองรายการ จังหวัดขอนแก่น",
                value={"records": [s.RECORD_WRITE_EXAMPLE, {**s.RECORD_WRITE_EXAMPLE, "identifier": "G123456789012"}]},
                request_only=True,
            )
        ],
    )
    @idempotent
    def post(self, request):
        items = request.data.get("records") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
            raise ValidationError({"records": [_("Send 1 to %(max)d records in a list.") % {"max": MAX_ITEMS}]})
        try:
            results = write_records(
                user=request.user, items=items, acting_user=_acting_user(request.user), asker=Asker.of_request(request)
            )
        except ProbeRefused as refusal:  # refused before anything was written
            return probe_refused_response(refusal)
        may_see = identifier_policy(request.user)
        summary = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
        out = []
        for result in results:
            summary[result.status] += 1
            identifier = result.identifier
            if identifier is not None and not (result.province is not None and may_see(result.province)):
                identifier = mask_identifier(identifier)
            out.append(
                {
                    "index": result.index,
                    "identifier": identifier,
                    "id": result.record_id if result.status != REJECTED else None,
                    "status": result.status,
                    "errors": result.errors,
                }
            )
        return Response({"summary": summary, "results": out})


def feed_horizon(now: datetime.datetime) -> datetime.datetime:
    """The feed shows changes up to here, so that a later page never has to go back in time.

    A write's updated_at is set when its transaction starts writing, and the rows appear only when
    it commits: an upload of 100,000 rows commits seconds (minutes) after its timestamp. Changes
    newer than the oldest transaction still running (PostgreSQL's pg_stat_activity) could still be
    joined by rows with earlier timestamps, so the feed stops short of it (and short of the last
    API_FEED_SETTLE_SECONDS); a transaction older than API_FEED_MAX_LAG_SECONDS no longer holds it back.
    """
    horizon = now - datetime.timedelta(seconds=settings.API_FEED_SETTLE_SECONDS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start IS NOT NULL"
            )
            oldest = cursor.fetchone()[0]
        if oldest is not None:
            floor = now - datetime.timedelta(seconds=settings.API_FEED_MAX_LAG_SECONDS)
            horizon = min(horizon, max(oldest - datetime.timedelta(seconds=1), floor))
    return horizon


class RecordChangesView(ApiView):
    """The changes feed: every record changed since a time, in (updated_at, id) order, page by page."""

    resource = "records"
    filter_backends = [DjangoFilterBackend]
    filterset_class = TargetRecordFilter
    documents_filters = True

    def get_queryset(self):
        return TargetRecord.objects.visible_to(self.request.user)

    @extend_schema(
        operation_id="records_changes",
        summary="Changes feed of target-group records",
        description=(
            "Start with ?updated_since=<time> (or nothing, for everything), then follow `next`. When "
            "has_more is false, keep the `next` link and call it later: it returns what changed since, "
            "without missing or repeating a change. A record changed again appears again, with its new values."
        ),
        parameters=FILTER_PARAMETERS,
        responses=s.FeedPageSerializer,
    )
    def get(self, request):
        size = page_size_of(request)
        cursor = request.query_params.get("cursor")
        if cursor:
            start = decode_cursor(cursor)
            if start.descending:
                raise ValidationError({"cursor": [_("This cursor is for the other ordering.")]})
        else:
            since = _since(request)
            start = Position(since or EPOCH, 0)
        queryset = _filtered(request, self.get_queryset()).filter(updated_at__lt=feed_horizon(timezone.now()))
        rows, more = keyset_page(queryset, start=start, descending=False, size=size, fields=COLUMNS)
        records, shown_full = rows_to_records(rows, request.user)
        log_read(request, model=TargetRecord, description=_describe("records changes", shown_full), count=len(records))
        position = Position(rows[-1][-1], rows[-1][0]) if rows else start
        link = page_link(request, encode_cursor(position))
        return Response({"results": records, "next": link, "has_more": more})
