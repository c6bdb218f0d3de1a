"""A province's data-quality page: each rule switched on, how many of the province's records it finds (one query for
all rules: quality.rules.counts), each count a link to the records to fix (paged), and an xlsx of them.

Who: those who read the province's records (quality.read, the same as targets.read); everyone else gets 404, as for
a province that does not exist. The records come through TargetRecord.objects.visible_to(user); identifiers are
masked unless the viewer's role may read them in full (targets.read_identifiers), as on the records list."""

import datetime
import io

from django.contrib.auth.decorators import login_required
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from accounts.access import can
from audit.access_log import record_access
from audit.models import AccessLog
from core.buddhist_dates import excel_date_format, file_date
from core.paginator import CappedPaginator
from core.spreadsheet_safety import neutralise_formula
from core.thai_id import format_identifier, mask_identifier
from core.xlsx_stream import XlsxStream
from provinces.models import District, Province
from targets.models import TargetRecord

from .rules import ActiveRule, active_rules, counts, records_with

RECORDS_PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _province(user, code: int) -> Province:
    """The province, if the user reads its records; 404 otherwise (as for a province that does not exist)."""
    if not can(user, "quality.read", code):
        raise Http404
    try:
        return Province.objects.get(pk=code)
    except Province.DoesNotExist:
        raise Http404 from None


def _district(request, province: Province) -> District | None:
    """?district=: the pages narrowed to one district of the province (the drill-down's district page links so);
    404 for a district of another province or none."""
    code = request.GET.get("district", "").strip()
    if not code:
        return None
    if not code.isdigit():
        raise Http404
    try:
        return District.objects.get(pk=int(code), province_id=province.pk)
    except District.DoesNotExist:
        raise Http404 from None


def _records(user, province: Province, district: District | None = None):
    records = TargetRecord.objects.visible_to(user).filter(province_id=province.pk)
    return records.filter(district_id=district.pk) if district is not None else records


def _narrowed(district: District | None) -> str:
    """The query string that keeps a page's links in its district ("" for the whole province)."""
    return f"district={district.pk}" if district is not None else ""


def _rule(rules: list[ActiveRule], code: str) -> ActiveRule:
    for rule in rules:
        if rule.code == code:
            return rule
    raise Http404  # an unknown rule, or one switched off


@login_required
@require_safe
def province(request, code: int):
    # Queries: the province; the rule settings; the counts of every rule (one aggregation).
    # With ?district=, one more (the district).
    place = _province(request.user, code)
    district = _district(request, place)
    rules = active_rules()
    found = counts(_records(request.user, place, district), rules)
    rows = [{"rule": rule, "count": found[rule.code]} for rule in rules]
    return render(
        request,
        "quality/province.html",
        {"province": place, "district": district, "narrowed": _narrowed(district), "rows": rows,
         "total": sum(found.values())},
    )  # fmt: skip


@login_required
@require_safe
def rule_records(request, code: int, rule: str):
    place = _province(request.user, code)
    district = _district(request, place)
    active = _rule(active_rules(), rule)
    matching = records_with(_records(request.user, place, district), active)
    records = matching.select_related("district", "category", "status").order_by("last_name", "first_name", "pk")
    page = CappedPaginator(records, RECORDS_PER_PAGE, count_queryset=matching).get_page(request.GET.get("page"))
    full = can(request.user, "targets.read_identifiers", place.pk)
    rows = [
        {"record": r, "identifier": format_identifier(r.identifier) if full else mask_identifier(r.identifier)}
        for r in page.object_list
    ]
    if rows:
        record_access(
            request=request,
            action=AccessLog.Action.VIEW,
            model=TargetRecord,
            description=f"quality {rule} province {place.pk}" + (f" district {district.pk}" if district else ""),
            count=len(rows),
        )
    context = {"province": place, "district": district, "narrowed": _narrowed(district), "rule": active, "page": page}
    return render(request, "quality/rule_records.html", {**context, "rows": rows})


def _headers() -> list[str]:
    return [
        _("Identifier"), _("Name"), _("District"), _("Category"), _("Status"), _("Updated"), _("Issues"),
        _("How to fix"),
    ]  # fmt: skip


@login_required
@require_safe
def export(request, code: int):
    """An xlsx of the province's records with at least one issue (or with the issue ?rule= names): one row per
    record, its issues and how to fix them. One query for the rows."""
    place = _province(request.user, code)
    district = _district(request, place)
    rules = active_rules()
    if request.GET.get("rule"):
        rules = [_rule(rules, request.GET["rule"])]
    now = timezone.now()
    flags = {f"q{i}": ExpressionWrapper(r.condition(now), output_field=BooleanField()) for i, r in enumerate(rules)}
    any_issue = Q()
    for r in rules:
        any_issue |= r.condition(now)
    records = (
        _records(request.user, place, district)
        .filter(any_issue)
        .select_related("district", "category", "status")
        .annotate(**flags)
        .order_by("last_name", "first_name", "pk")
        if rules
        else TargetRecord.objects.none()
    )
    full = can(request.user, "targets.read_identifiers", place.pk)
    zone = timezone.get_current_timezone()
    out = io.BytesIO()
    written = 0
    with XlsxStream(
        out,
        sheet=_("Records to fix"),
        date_format=excel_date_format(datetime.date(2000, 1, 1)) or "yyyy-mm-dd",
        datetime_format=excel_date_format(now) or "yyyy-mm-dd hh:mm",
    ) as sheet:
        sheet.append(_headers())  # type: ignore[arg-type]
        for record in records.iterator(chunk_size=2000):
            issues = [r for i, r in enumerate(rules) if getattr(record, f"q{i}")]
            values: list[object] = [
                format_identifier(record.identifier) if full else mask_identifier(record.identifier),
                str(record),
                record.district.name if record.district else "",
                record.category.name,
                record.status.name,
                record.updated_at.astimezone(zone).replace(tzinfo=None, microsecond=0),
                "; ".join(str(r.rule.name) for r in issues),
                " ".join(str(r.rule.how_to_fix) for r in issues),
            ]
            sheet.append([neutralise_formula(v) for v in values])
            written += 1
    record_access(
        request=request,
        action=AccessLog.Action.EXPORT,
        model=TargetRecord,
        description=f"quality xlsx province {place.pk}",
        count=written,
    )
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    area = f"{place.pk}-{district.pk}" if district is not None else f"{place.pk}"
    filename = f"quality-{area}-{file_date(timezone.localdate())}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
