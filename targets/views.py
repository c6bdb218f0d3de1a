"""Pages of the target-group records: the list with its filters, search and export, one record with
its status history and help given, and the forms that create and change records (through the door;
writes are targets.record_services').

Personal data (PDPA): national IDs are masked unless the user's role may see them (the door's
"targets.read_identifiers") AND they ask with a button (a POST), which the access log records as a
full view; every page that shows records writes an access-log entry; no name or identifier ever goes
into a URL (see the search below).
"""

import datetime
import secrets
from typing import cast
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.db.models.expressions import OrderBy
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import can, get_object_for_user, only_province, require, restrict
from audit.access_log import record_access
from audit.models import AccessLog
from core import stale_edits
from core.forms import add_service_errors
from core.paginator import CappedPaginator
from core.replica import reads_from_replica
from core.subqueries import subquery_count
from core.thai_id import format_identifier, mask_identifier, normalise
from core.versioning import StaleEdit
from exports import views as export_jobs
from provinces.models import District, Province, SubDistrict

from . import exports, id_probes, record_services
from .forms import (
    AGE_BANDS,
    DETAIL_FACTS,
    AssistanceForm,
    ProvinceForm,
    RecordFilterForm,
    RecordForm,
    SearchForm,
    StatusForm,
    record_facts,
)
from .models import Assistance, Category, Outcome, RecordAlias, TargetRecord, identifier_holders
from .name_search import name_contains, text_contains

RECORDS_PER_PAGE = 50
# ?sort= on the list: a column's key orders by these fields, "-key" exactly the other way round. Only these keys
# are read (anything else is the default order), and never the identifier: the order of full IDs would tell
# something of the digits a mask hides. Only indexed orders (README.md, "The records list at scale"): each
# starts with the province (one province's list, or a national list grouped by province) and ends in pk, so
# that pages do not overlap, and one index serves both directions by reading it backwards:
#   name     target_record_name_idx   (province_id, last_name, first_name)
#   age      target_record_age_idx    (province_id, birth_date DESC NULLS LAST, id): youngest first, a record
#            without a birth date last; the other way round (oldest first) it comes first
#   updated  target_record_recent_idx (province_id, updated_at)
# Columns that cannot be read in order from an index of the records (the province's, district's, category's
# or status's name, the help count) are not sortable: the filters narrow by them instead.
RECORD_SORTS = {
    "name": (F("last_name").asc(), F("first_name").asc()),
    "age": (F("birth_date").desc(nulls_last=True),),
    "updated": (F("updated_at").asc(),),
}
DEFAULT_RECORD_ORDER = ("province_id", "last_name", "first_name", "pk")
# Searches kept in the session, newest last: a search is reached by an opaque key, never by its text.
SEARCHES_KEY = "targets.searches"
SEARCHES_KEPT = 10


# --- helpers -----------------------------------------------------------------------------------------


def record_order(sort: str | None) -> tuple[str, list]:
    """(the sort key in use, "" for the default; the order_by arguments) for a ?sort= value."""
    key = (sort or "").removeprefix("-")
    if key not in RECORD_SORTS:
        return "", list(DEFAULT_RECORD_ORDER)
    if not (sort or "").startswith("-"):
        return sort or "", [F("province_id").asc(), *RECORD_SORTS[key], F("pk").asc()]
    # The mirror image, term by term (nulls included), so that the same index is read backwards.
    return sort or "", [F("province_id").desc(), *(_reversed(term) for term in RECORD_SORTS[key]), F("pk").desc()]


def _reversed(term: OrderBy) -> OrderBy:
    """ASC NULLS LAST <-> DESC NULLS FIRST (PostgreSQL's defaults), DESC NULLS LAST <-> ASC NULLS FIRST."""
    nulls_last = term.nulls_last or (not term.descending and not term.nulls_first)
    if term.descending:
        return term.expression.asc(nulls_first=nulls_last) if nulls_last else term.expression.asc()
    return term.expression.desc() if nulls_last else term.expression.desc(nulls_last=True)


def _years_before(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` earlier; 29 February becomes the 28th in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_band_filter(band: str, today: datetime.date) -> Q:
    """Records whose age in completed years at `today` is in the band, as birth-date bounds (the
    index-friendly form of an age computed in SQL)."""
    youngest, oldest = AGE_BANDS[band]
    condition = Q(birth_date__lte=_years_before(today, youngest))
    if oldest is not None:
        condition &= Q(birth_date__gt=_years_before(today, oldest + 1))
    return condition


def age_on(born: datetime.date | None, today: datetime.date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def shown_identifier(record: TargetRecord | RecordAlias, *, full: bool) -> str:
    return format_identifier(record.identifier) if full else mask_identifier(record.identifier)


def _record_queryset():
    return TargetRecord.objects.select_related("province", "district", "sub_district", "category", "status")


def _readable_record(request, pk: int) -> TargetRecord:
    return get_object_for_user(_record_queryset().select_related("updated_by"), request.user, pk)


def _workable_record(request, pk: int) -> TargetRecord:
    """The record, if the user may log work on it (status, help given): its province's coordinators
    and its case worker. 404 for outsiders, 403 for those who only read it."""
    record = _readable_record(request, pk)
    require(request.user, "targets.work_on", record)
    return record


def _writable_record(request, pk: int) -> TargetRecord:
    """The record, if the user may change it: 404 for outsiders (as for a missing record), 403 for
    those who only read its province."""
    record = _readable_record(request, pk)
    require(request.user, "targets.write", record.province_id)
    return record


# --- search: by POST, kept in the session, reached by an opaque key ----------------------------------
#
# A search may be a national ID or a child's name, and URLs end up in logs (the web server's, the
# proxy's, the browser's history, Referer headers), so a search is never part of a URL. The search
# box POSTs its text; the view keeps it in the user's session under a random key and redirects to
# the list with only that key (?search=k3Jx9...). The list then pages and filters by GET as usual
# (POST-redirect-GET: reloading or going back does not resubmit anything). Only the last few
# searches are kept, and the session ends with the sign-in (30 minutes idle, 12 hours at most).


def _store_search(request, text: str) -> str:
    searches = dict(request.session.get(SEARCHES_KEY, {}))
    token = secrets.token_urlsafe(9)
    searches[token] = text
    request.session[SEARCHES_KEY] = dict(list(searches.items())[-SEARCHES_KEPT:])
    return token


def _search_of(request) -> str | None:
    token = request.GET.get("search")
    if not token:
        return None
    return request.session.get(SEARCHES_KEY, {}).get(token)


def _is_identifier_search(text: str) -> bool:
    """Digits (or G and digits) are an identifier, matched exactly; anything else is a name."""
    value = normalise(text)
    return value.isdigit() or (len(value) > 1 and value[0] == "G" and value[1:].isdigit())


def _search_condition(text: str) -> tuple[Q, str]:
    if _is_identifier_search(text):
        # Exact, by a record's own identifier or one a merge kept as its alias (targets.RecordAlias).
        return Q(pk__in=identifier_holders(normalise(text))), "identifier"
    condition = Q()
    for word in text.split():
        condition &= name_contains(word)  # LIKE or ILIKE, served by the trigram indexes (targets/name_search.py)
    return condition, "name"


def _search_label(text: str, kind: str) -> str:
    """What the page says it searched for: an identifier masked, as everywhere."""
    return mask_identifier(normalise(text)) if kind == "identifier" else text


# --- the list and its export ----------------------------------------------------------------------------


FILTER_PARAMS = ("province", "category", "status", "district", "sub_district", "school", "age", "help")


def _filtered_records(request, *, search: str | None):
    return filter_records(request.user, request.GET, search=search)


def filter_records(user, params, *, search: str | None = None):
    """(records, filter form, description for the access log, single province or None) for the
    user's scope, filtered by `params` (the list's GET parameters, or an export job's copy of them;
    FILTER_PARAMS) and a search kept in the session."""
    provinces = list(restrict(Province.objects.all(), user, "targets.record_provinces").order_by("name_th"))
    visible_codes = {p.pk for p in provinces}
    try:
        chosen = int(params.get("province") or 0)
    except ValueError:
        chosen = 0
    province = next((p for p in provinces if p.pk == chosen), None)
    if province is None and len(provinces) == 1:
        province = provinces[0]
    # The district filter offers one province's districts: the chosen one, or the user's only one.
    districts = list(District.objects.filter(province=province).order_by("name_th")) if province else []
    data = params.copy()
    if data.get("district") and data["district"] not in {str(d.pk) for d in districts}:
        del data["district"]  # a district of the province chosen before: the new province's list starts over
    # The sub-district filter offers the chosen district's sub-districts (one query, only once a district is chosen;
    # the drill-down's sub-district links, summaries.drilldown, land here).
    district = data.get("district")
    sub_districts = (
        list(SubDistrict.objects.filter(district_id=int(district)).order_by("name_th"))
        if district and district.isdigit()
        else []
    )
    if data.get("sub_district") and data["sub_district"] not in {str(s.pk) for s in sub_districts}:
        del data["sub_district"]  # a sub-district of another district: dropped, as a district of another province
    form = RecordFilterForm(
        data,
        provinces=provinces,
        districts=districts,
        sub_districts=sub_districts,
        categories=list(Category.objects.all()),
        statuses=list(Outcome.objects.all()),
    )
    records = TargetRecord.objects.visible_to(user)
    if not form.is_valid() or not visible_codes:
        return records.none(), form, "records", province
    filters = form.cleaned_data
    used = []
    if filters.get("province"):
        records = records.filter(province_id=filters["province"])
        used.append("province")
    if filters["category"]:
        records = records.filter(category_id=filters["category"])
        used.append("category")
    if filters["status"]:
        records = records.filter(status_id=filters["status"])
        used.append("status")
    if filters.get("district"):
        records = records.filter(district_id=filters["district"])
        used.append("district")
    if filters.get("sub_district"):
        records = records.filter(sub_district_id=filters["sub_district"])
        used.append("sub_district")
    if filters["school"]:
        records = records.filter(text_contains("school", filters["school"]))  # the trigram index (0012)
        used.append("school")
    if filters["age"]:
        records = records.filter(age_band_filter(filters["age"], timezone.localdate()))
        used.append("age")
    if filters["help"]:
        has_help = Exists(Assistance.objects.filter(record=OuterRef("pk")))
        records = records.filter(has_help if filters["help"] == "yes" else ~has_help)
        used.append("help")
    description = "records"
    if used:
        description += "; filters: " + ", ".join(used)
    if search:
        condition, kind = _search_condition(search)
        records = records.filter(condition)
        # The kind of search, never its text: the log holds no names or identifiers.
        description += f"; search by {kind}"
    return records, form, description, province


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@reads_from_replica  # DATABASE_REPLICA_URL (core/replica.py)
def record_list(request):
    user = request.user
    if request.method == "POST" and "q" in request.POST:
        # The search box: keep the text in the session, send the browser back with its key.
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("search", None)
        form = SearchForm(request.POST)
        if form.is_valid() and form.cleaned_data["q"].strip():
            query["search"] = _store_search(request, form.cleaned_data["q"].strip())
        return redirect(f"{reverse('targets:list')}?{query.urlencode()}" if query else reverse("targets:list"))

    search = _search_of(request)
    if request.GET.get("search") and search is None:
        messages.warning(request, _("That search has expired: search again."))
    records, form, description, province = _filtered_records(request, search=search)
    sort, order = record_order(request.GET.get("sort"))
    matching = records
    records = (
        records.select_related("province", "district", "category", "status")
        .annotate(help_count=subquery_count(Assistance.objects.filter(record=OuterRef("pk"))))
        .order_by(*order)
    )
    # Counted up to LIST_COUNT_CAP (no full COUNT at millions of rows): core/paginator.py.
    page = CappedPaginator(records, RECORDS_PER_PAGE, count_queryset=matching).get_page(request.GET.get("page"))
    # "Show full IDs" (a POST to this page) shows them for the rows whose province the user's role
    # may see in full, for this response only: each showing is one entry in the access log.
    reveal = request.method == "POST" and "reveal" in request.POST
    today = timezone.localdate()
    rows, revealed = [], 0
    for record in page.object_list:
        full = reveal and can(user, "targets.read_identifiers", record.province_id)
        revealed += full
        rows.append({"record": record, "identifier": shown_identifier(record, full=full), "full": full,
                     "age": age_on(record.birth_date, today)})  # fmt: skip
    if rows:
        action = AccessLog.Action.FULL_IDENTIFIER_VIEW if revealed else AccessLog.Action.VIEW
        record_access(request=request, action=action, model=TargetRecord, description=description,
                      count=revealed or len(rows))  # fmt: skip
    may_reveal = any(can(user, "targets.read_identifiers", row["record"].province_id) for row in rows)
    export_query = request.GET.copy()
    for key in ("page", "search", "sort"):  # the export takes the filters, never a search
        export_query.pop(key, None)
    search_kind = _search_condition(search)[1] if search else ""
    return render(
        request,
        "targets/record_list.html",
        {
            "page": page,
            "rows": rows,
            "form": form,
            "search_form": SearchForm(),
            "search_label": _search_label(search, search_kind) if search else "",
            "search_kind": search_kind,
            "province": province,
            "several_provinces": "province" in form.fields,
            "may_reveal": may_reveal and not reveal,
            "revealed": reveal and revealed,
            "export_query": export_query.urlencode(),
            "can_create": can(user, "targets.create"),
            "sort": sort,
            "sort_links": _sort_links(sort),
            # One note above the table when every row shown is demo data, instead of a badge in each row.
            "all_demo": bool(rows) and all(row["record"].is_demo for row in rows),
        },
    )


def _sort_links(sort: str) -> dict[str, dict]:
    """Per sortable column: the ?sort= value its header links to (a second click reverses it), and its
    aria-sort state ("ascending", "descending" or "none")."""
    links = {}
    for key in RECORD_SORTS:
        state = "ascending" if sort == key else "descending" if sort == f"-{key}" else "none"
        links[key] = {"value": f"-{key}" if state == "ascending" else key, "state": state}
    return links


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@reads_from_replica
def record_export(request):
    """The records of the list (same filters; never a search) as xlsx or csv. A list of at most
    EXPORTS_RECORDS_INLINE_ROWS records streams at once; a larger one is an export job (POST: started, and
    its page shows its progress; GET: a page that offers it)."""
    file_format = request.GET.get("format", "xlsx")
    if file_format not in exports.FORMATS:
        return HttpResponseBadRequest(_("Unknown file format."))
    records, _form, description, _province = _filtered_records(request, search=None)
    small = exports.count_up_to(records, settings.EXPORTS_RECORDS_INLINE_ROWS)
    if small is not None:
        return exports.export_response(request=request, records=records, file_format=file_format,
                                       description=description, count=small)  # fmt: skip
    return export_jobs.ask(request, kind=exports.KIND, file_format=file_format, params=exports.job_params(request.GET))


# --- one record ------------------------------------------------------------------------------------------


def status_timeline(record: TargetRecord, changes: list) -> list[dict]:
    """The record's statuses in order. Its first status is not a StatusChange row: it is the
    from_status of its first change, or its current status while it has none."""
    first = changes[0].from_status if changes else record.status
    entries = []
    if first is not None:
        entries.append({"status": first, "at": record.created_at, "by": None, "first": True})
    for change in changes:
        entries.append({"status": change.to_status, "at": change.changed_at, "by": change.changed_by,
                        "upload": change.upload_id is not None, "first": False})  # fmt: skip
    return entries


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def record_detail(request, pk: int):
    # With its other identifiers (kept by merges): one query however many (the page's query-count test).
    aliases = Prefetch("aliases", queryset=RecordAlias.objects.order_by("created_at", "pk"))
    record = get_object_for_user(
        _record_queryset().select_related("updated_by").prefetch_related(aliases), request.user, pk
    )
    may_see_full = can(request.user, "targets.read_identifiers", record.province_id)
    # The full ID is shown after an explicit click ("Show the full ID", a POST to this page), for this
    # response only, and the access log says so. A role that may not see it gets 403 for the POST.
    reveal = request.method == "POST"
    if reveal and not may_see_full:
        raise PermissionDenied
    return _render_detail(request, record, reveal=reveal)


def _render_detail(request, record: TargetRecord, *, reveal: bool = False, stale=None, status_data=None):
    """The record's page; after a refused status change (`stale`), with what changed and the
    choice the user made (`status_data`), answered 409."""
    user = request.user
    may_see_full = can(user, "targets.read_identifiers", record.province_id)
    changes = list(
        record.status_history.select_related("from_status", "to_status", "changed_by").order_by("changed_at", "pk")
    )
    help_given = list(record.assistance.select_related("type", "recorded_by").order_by("-date", "-pk"))
    can_write = can(user, "targets.write", record.province_id)
    can_work = can(user, "targets.work_on", record)
    status_form = None
    if can_work:
        # The version the page shows, and what it shows: a second click, or a click on a page opened
        # before someone else's change, is refused (targets.record_services.change_status).
        status_form = StatusForm(status_data, version=record.version, facts=record_facts(record, fields=DETAIL_FACTS))
    if status_form is not None:
        # The outcomes evaluated here, once, rather than by the template's select.
        status_field = cast("forms.ModelChoiceField[Outcome]", status_form.fields["status"])
        status_field.choices = [
            ("", status_field.empty_label),
            *((o.pk, o.name) for o in Outcome.objects.filter(is_active=True) if o.pk != record.status_id),
        ]
    record_access(
        request=request,
        action=AccessLog.Action.FULL_IDENTIFIER_VIEW if reveal else AccessLog.Action.VIEW,
        obj=record,
        description="record page",
    )
    history_url = None
    if can(user, "targets.read_history"):  # the audit trail is read in Django admin
        try:
            history_url = (
                reverse("admin:pghistory_middlewareevents_changelist")
                + "?"
                + urlencode({"obj": f"targets.targetrecord:{record.pk}"})
            )
        except NoReverseMatch:  # pragma: no cover - the events page is registered by audit.admin
            history_url = None
    return render(
        request,
        "targets/record_detail.html",
        {
            "record": record,
            "identifier": shown_identifier(record, full=reveal),
            # The identifiers a merge folded into this record, shown as the record's own: in full after the click.
            "aliases": [
                {
                    "identifier": shown_identifier(alias, full=reveal),
                    "kind": alias.get_identifier_kind_display(),
                    "merged_at": alias.created_at,
                }
                for alias in record.aliases.all()
            ],
            "revealed": reveal,
            "may_reveal": may_see_full and not reveal,
            "age": age_on(record.birth_date, timezone.localdate()),
            "timeline": status_timeline(record, changes),
            "help_given": help_given,
            "can_write": can_write,
            "can_work": can_work,
            "status_form": status_form,
            "history_url": history_url,
            "stale": stale,
        },
        status=409 if stale else 200,
    )


def _province_for_new_record(request) -> Province | None:
    """The province of a new record: a coordinator's own; for EEF/IPSR (or someone who coordinates
    several), the one chosen (?province=) among those they may write."""
    if (only := only_province(request.user, write=True)) is not None:
        return Province.objects.get(pk=only)
    try:
        code = int(request.GET.get("province") or 0)
    except ValueError:
        return None
    return Province.objects.writable_by(request.user).filter(pk=code).first() if code else None


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def record_create(request):
    user = request.user
    require(user, "targets.create")
    province = _province_for_new_record(request)
    if province is None:
        # First choose the province (its districts and sub-districts fill the form's selects).
        provinces = Province.objects.writable_by(user).order_by("name_th")
        return render(request, "targets/record_province.html", {"form": ProvinceForm(provinces=provinces)})
    form = RecordForm(request.POST or None, province=province)
    transfer_identifier = None
    if request.method == "POST" and form.is_valid():
        row = form.clean_row
        try:
            record = record_services.create_record(
                user=user, province=province, identifier=row.identifier, identifier_kind=row.identifier_kind,
                values=row.values, asker=id_probes.Asker.of_request(request),
            )  # fmt: skip
        except ValidationError as error:
            add_service_errors(form, error)
            if _held_elsewhere(error):
                # The form offers "request a transfer" of that record (transfers/, by its URL name).
                transfer_identifier = row.identifier
        else:
            messages.success(request, _("The record has been created."))
            return redirect("targets:detail", pk=record.pk)
    return render(
        request,
        "targets/record_form.html",
        {"form": form, "province": province, "record": None, "transfer_identifier": transfer_identifier},
    )


def _held_elsewhere(error: ValidationError) -> bool:
    errors = getattr(error, "error_dict", {}).get("identifier", [])
    return any(e.code == record_services.HELD_ELSEWHERE for e in errors)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def record_edit(request, pk: int):
    user = request.user
    record = _writable_record(request, pk)
    may_move = can(user, "targets.move")
    province = record.province
    move_form = None
    if may_move:
        # EEF/IPSR may move a record to another province: ?province= reloads the form with its areas.
        provinces = Province.objects.order_by("name_th")
        move_form = ProvinceForm(provinces=provinces, initial={"province": record.province_id})
        try:
            code = int(request.GET.get("province") or record.province_id)
        except ValueError:
            code = record.province_id
        if code != record.province_id:
            province = Province.objects.filter(pk=code).first() or record.province

    def record_form(data, record: TargetRecord) -> RecordForm:
        # The form of `record` as it is (the version and values the user sees), in `province`'s areas.
        initial = RecordForm.initial_from(record)
        if province.pk != record.province_id:
            initial.update(district="", sub_district="")  # the areas of the province it moves to: chosen anew
        return RecordForm(
            data, province=province, record=record, can_edit_identifier=may_move, initial=initial,
            version=record.version, facts=record_facts(record),
        )  # fmt: skip

    form = record_form(request.POST or None, record)
    stale = None
    if request.method == "POST" and form.is_valid():
        row = form.clean_row
        try:
            record_services.update_record(
                record=record,
                user=user,
                values=row.values,
                version=form.seen_version,
                identifier=row.identifier if may_move and form.identifier_changed else None,
                identifier_kind=row.identifier_kind,
                province=province if province.pk != record.province_id else None,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except StaleEdit:
            # Someone saved the record since this form was opened: nothing was written. The form comes
            # back with the user's changes on top of the current values, and what changed.
            record = _writable_record(request, pk)
            data, stale = stale_edits.reconcile(posted=form, fresh=record_form(None, record))
            form = record_form(data, record)
        else:
            messages.success(request, _("The record has been saved."))
            return redirect("targets:detail", pk=record.pk)
    if request.method != "POST" or stale:
        description = "record edit form (changed meanwhile)" if stale else "record edit form"
        record_access(request=request, action=AccessLog.Action.VIEW, obj=record, description=description)
    return render(
        request,
        "targets/record_form.html",
        {
            "form": form,
            "province": province,
            "record": record,
            "identifier": mask_identifier(record.identifier),
            "move_form": move_form,
            "moving": province.pk != record.province_id,
            "stale": stale,
        },
        status=409 if stale else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def help_add(request, pk: int):
    record = _workable_record(request, pk)
    form = AssistanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            record_services.record_help(record=record, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The help given has been recorded."))
            return redirect(reverse("targets:detail", kwargs={"pk": record.pk}) + "#help")
    if request.method != "POST":
        record_access(request=request, action=AccessLog.Action.VIEW, obj=record, description="help form")
    return render(
        request,
        "targets/help_form.html",
        {"form": form, "record": record, "identifier": mask_identifier(record.identifier)},
    )


@require_POST
@login_required
def status_change(request, pk: int):
    """The status select of the record's page (POST only; a GET is refused before any lookup)."""
    record = _workable_record(request, pk)
    form = StatusForm(request.POST, version=record.version, facts=record_facts(record, fields=DETAIL_FACTS))
    if form.is_valid():
        try:
            change = record_services.change_status(
                record=record, user=request.user, status=form.cleaned_data["status"], version=form.seen_version
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except StaleEdit:
            # A second click, or a page opened before someone else's change: nothing was done.
            record = _workable_record(request, pk)
            fresh = StatusForm(version=record.version, facts=record_facts(record, fields=DETAIL_FACTS))
            data, stale = stale_edits.reconcile(posted=form, fresh=fresh, kind="action")
            return _render_detail(request, record, stale=stale, status_data=data)
        else:
            if change is not None:
                messages.success(request, _("The status has been changed."))
    else:
        messages.error(request, _("Choose one of the statuses in use."))
    return redirect(reverse("targets:detail", kwargs={"pk": record.pk}) + "#history")
