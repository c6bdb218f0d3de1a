"""The province pages: the programme's provinces, one province's page, its working group and plans.

Every page goes through the access door (accounts/access.py): lists start from `visible_to`, one
province comes from `get_object_for_user` (404 for outsiders), and writing needs the province in
the user's writable scope (403 for those who only read it).
"""

import datetime
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, OuterRef, Prefetch, Q, Subquery, Value, When
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import can, get_object_for_user, require
from audit.access_log import record_access
from audit.models import AccessLog
from core import stale_edits
from core.buddhist_dates import (
    FISCAL_YEAR_MAX,
    FISCAL_YEAR_MIN,
    current_fiscal_year,
    excel_date_format,
    file_date,
    fiscal_year_bounds,
    parse_fiscal_year,
)
from core.previews import PreviewInvalid, SignedPreview
from core.spreadsheet_safety import neutralise_formula
from core.subqueries import subquery_count
from core.versioning import StaleEdit
from meetings.models import Meeting
from provinces.forms import WorkingGroupConfirmForm, WorkingGroupImportForm, WorkingGroupMemberForm
from provinces.models import PlanGoal, Province, ProvincialPlan, WorkingGroupMember
from provinces.resources import COLUMNS, SheetError, read_sheet
from provinces.services import import_working_group, save_member
from reports.models import ProgressReport
from summaries.figures import headlines
from summaries.models import Level, Snapshot
from targets.models import Category, Outcome
from universities.models import (
    CapacityRequest,
    SupportActivity,
    SupportAssignment,
)

from .forms import PlanForm, goal_field_name
from .plans import save_plan

# Chair first, then secretary, coordinator and members (the order of a committee's list).
GROUP_ROLE_ORDER = Case(
    When(group_role=WorkingGroupMember.GroupRole.CHAIR, then=Value(0)),
    When(group_role=WorkingGroupMember.GroupRole.SECRETARY, then=Value(1)),
    When(group_role=WorkingGroupMember.GroupRole.COORDINATOR, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)
# Reports of a year in the order of their periods' ends (a half-year ends with its second quarter).
PERIOD_END_ORDER = Case(
    When(period="Q1", then=Value(1)),
    When(period__in=("Q2", "H1"), then=Value(2)),
    When(period="Q3", then=Value(3)),
    default=Value(4),
    output_field=IntegerField(),
)
RECENT_ACTIVITIES = 10
UPCOMING_MEETINGS = 3


def _province_for_writing(request, code: int) -> Province:
    """The province, if the user may manage its working group and plans: 404 for outsiders (as for a
    province that does not exist), 403 for those who only read it."""
    province = get_object_for_user(Province.objects.select_related("region"), request.user, code)
    require(request.user, "provinces.manage", province)
    return province


# --- the programme's provinces -------------------------------------------------------------------


@require_safe
@login_required
def province_list(request):
    user = request.user
    current = current_fiscal_year()
    years = sorted(
        {
            current,
            *SupportAssignment.objects.visible_to(user).order_by().values_list("fiscal_year", flat=True).distinct(),
        },
        reverse=True,
    )
    fiscal_year = parse_fiscal_year(request.GET.get("fiscal_year"), default=current)
    if fiscal_year not in years:
        fiscal_year = current
    start, end = fiscal_year_bounds(fiscal_year)
    today = timezone.localdate()

    here = {"province": OuterRef("pk")}
    latest_report = (
        ProgressReport.objects.visible_to(user)
        .filter(**here, fiscal_year=fiscal_year)
        .annotate(period_end=PERIOD_END_ORDER)
        .order_by("-period_end", "-updated_at", "-pk")
    )
    plan = ProvincialPlan.objects.filter(**here, fiscal_year=fiscal_year).order_by()
    open_requests = CapacityRequest.objects.visible_to(user).filter(**here).open()
    provinces = (
        Province.objects.visible_to(user)
        .filter(pk__in=SupportAssignment.objects.for_fiscal_year(fiscal_year).values("province"))
        .select_related("region")
        .annotate(
            plan_id=Subquery(plan.values("pk")[:1]),
            goal_count=subquery_count(
                PlanGoal.objects.filter(plan__province=OuterRef("pk"), plan__fiscal_year=fiscal_year)
            ),
            report_pk=Subquery(latest_report.values("pk")[:1]),
            report_status=Subquery(latest_report.values("status")[:1]),
            report_period=Subquery(latest_report.values("period")[:1]),
            open_requests=subquery_count(open_requests),
            overdue_requests=subquery_count(open_requests.filter(desired_date__lt=today)),
            activity_count=subquery_count(
                SupportActivity.objects.visible_to(user).filter(**here, date__gte=start, date__lte=end)
            ),
        )
        .prefetch_related(
            Prefetch(
                "support_assignments",
                queryset=SupportAssignment.objects.for_fiscal_year(fiscal_year)
                .select_related("university")
                .order_by("-is_lead", "university__code"),
                to_attr="year_assignments",
            )
        )
        .order_by("name_th")
    )
    statuses = dict(ProgressReport._meta.get_field("status").choices)
    periods = dict(ProgressReport._meta.get_field("period").choices)
    rows = []
    for province in provinces:
        rows.append(
            {
                "province": province,
                "lead": next((a.university for a in province.year_assignments if a.is_lead), None),
                "supporting": [a.university for a in province.year_assignments if not a.is_lead],
                "report_status_label": statuses.get(province.report_status, ""),
                "report_period_label": periods.get(province.report_period, ""),
            }
        )
    return render(
        request,
        "provinces/province_list.html",
        {
            "rows": rows,
            "fiscal_year": fiscal_year,
            "current_fiscal_year": current,
            "years": years,
            "fiscal_year_bounds": (start, end),
        },
    )


# --- one province --------------------------------------------------------------------------------


def _goal_grid(goals: list[PlanGoal]) -> tuple[list, list]:
    """Only the categories and outcomes that have a goal: (outcomes, [(category, [target or None])])."""
    categories = sorted({g.category for g in goals}, key=lambda c: (c.sort_order, c.code))
    outcomes = sorted({g.outcome for g in goals}, key=lambda o: (o.sort_order, o.code))
    targets = {(g.category_id, g.outcome_id): g.target for g in goals}
    return outcomes, [(c, [targets.get((c.pk, o.pk)) for o in outcomes]) for c in categories]


@require_safe
@login_required
def province_detail(request, code: int):
    user = request.user
    province = get_object_for_user(Province.objects.select_related("region"), user, code)
    current = current_fiscal_year()
    fiscal_year = parse_fiscal_year(request.GET.get("fiscal_year"), default=current)
    today = timezone.localdate()

    members = list(
        WorkingGroupMember.objects.visible_to(user)
        .filter(province=province)
        .annotate(role_order=GROUP_ROLE_ORDER)
        .order_by("role_order", "name", "pk")
    )
    active = [
        m
        for m in members
        if (m.active_from is None or m.active_from <= today) and (m.active_until is None or m.active_until >= today)
    ]
    active_set = set(active)
    assignments = list(
        SupportAssignment.objects.visible_to(user)
        .filter(province=province, fiscal_year=fiscal_year)
        .select_related("university")
        .order_by("-is_lead", "university__code")
    )
    plans = list(
        ProvincialPlan.objects.visible_to(user)
        .filter(province=province)
        .prefetch_related(
            Prefetch(
                "goals",
                queryset=PlanGoal.objects.filter(plan__province=province, plan__fiscal_year=fiscal_year)
                .select_related("category", "outcome")
                .order_by(),
            )
        )
    )
    plan = next((p for p in plans if p.fiscal_year == fiscal_year), None)
    goal_outcomes, goal_rows = _goal_grid(list(plan.goals.all()) if plan else [])
    reports = (
        ProgressReport.objects.visible_to(user)
        .filter(province=province)
        .annotate(period_end=PERIOD_END_ORDER)
        .order_by("-fiscal_year", "-period_end", "-pk")
    )
    activities = (
        SupportActivity.objects.visible_to(user)
        .filter(province=province)
        .select_related("university")
        .order_by("-date", "-pk")[:RECENT_ACTIVITIES]
    )
    open_requests = (
        CapacityRequest.objects.visible_to(user)
        .filter(province=province)
        .open()
        .select_related("university")
        .order_by("desired_date", "pk")
    )
    # The province's meetings and its latest figures, each through its own door.
    province_meetings = Meeting.objects.visible_to(user).filter(provinces=province)
    upcoming_meetings = list(province_meetings.upcoming(today).order_by("starts_on", "pk")[:UPCOMING_MEETINGS])
    year_start, year_end = fiscal_year_bounds(fiscal_year)
    meetings_held = province_meetings.filter(
        status=Meeting.Status.HELD, starts_on__range=(year_start, year_end)
    ).count()
    snapshot = (
        Snapshot.objects.visible_to(user)
        .current()
        .filter(level=Level.PROVINCE, province=province, fiscal_year=fiscal_year)
        .order_by("-as_of", "-pk")
        .first()
    )
    can_manage = can(user, "provinces.manage", province)
    if members:
        # The working group's names, and the current members' phones and emails: personal data.
        record_access(
            request=request,
            action=AccessLog.Action.VIEW,
            model=WorkingGroupMember,
            description=f"working group on the page of province {province.pk}",
            count=len(members),
        )
    return render(
        request,
        "provinces/province_detail.html",
        {
            "province": province,
            "fiscal_year": fiscal_year,
            "current_fiscal_year": current,
            "is_current_year": fiscal_year == current,
            "members": active,
            "former_members": [m for m in members if m not in active_set],
            "lead_assignments": [a for a in assignments if a.is_lead],
            "supporting_assignments": [a for a in assignments if not a.is_lead],
            "plan": plan,
            "other_plan_years": [p.fiscal_year for p in plans if p.fiscal_year != fiscal_year],
            "goal_outcomes": goal_outcomes,
            "goal_rows": goal_rows,
            "reports": reports,
            "activities": activities,
            "open_requests": open_requests,
            "upcoming_meetings": upcoming_meetings,
            "meetings_held": meetings_held,
            "snapshot": snapshot,
            "progress": snapshot.figures.progress.overall if snapshot else None,
            "headlines": headlines(),
            "today": today,
            "can_manage": can_manage,
            # Filing reports is the coordinator's; filing capacity requests, the coordinator's or EEF's.
            "can_write_report": can(user, "reports.file", province),
            "can_request": can_manage,
        },
    )


# --- the working group ---------------------------------------------------------------------------


def _detail_url(province: Province, anchor: str = "") -> str:
    return reverse("provinces:detail", kwargs={"code": province.pk}) + (f"#{anchor}" if anchor else "")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def member_create(request, code: int):
    province = _province_for_writing(request, code)
    form = WorkingGroupMemberForm(request.POST or None, province=province)
    if request.method == "POST" and form.is_valid():
        member = save_member(user=request.user, province=province, member=form.save(commit=False))
        messages.success(request, gettext("%(name)s joined the working group.") % {"name": member.name})
        return redirect(_detail_url(province, "working-group"))
    return render(request, "provinces/member_form.html", {"province": province, "form": form, "member": None})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def member_edit(request, code: int, pk: int):
    province = _province_for_writing(request, code)
    member = get_object_for_user(WorkingGroupMember.objects.filter(province=province), request.user, pk, write=True)
    form = WorkingGroupMemberForm(request.POST or None, instance=member, province=province)
    if request.method == "POST" and form.is_valid():
        save_member(user=request.user, province=province, member=form.save(commit=False))
        messages.success(request, gettext("The details of %(name)s were saved.") % {"name": member.name})
        return redirect(_detail_url(province, "working-group"))
    return render(request, "provinces/member_form.html", {"province": province, "form": form, "member": member})


def _import_preview(request, province: Province) -> SignedPreview:
    # The preview's sheet is signed for this user and province: it cannot be replayed elsewhere.
    return SignedPreview("provinces.working_group_import", object_pk=province.pk, user_pk=request.user.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def working_group_import(request, code: int):
    """Upload a sheet, see what it would do (a dry run), then confirm to apply it."""
    province = _province_for_writing(request, code)
    context = {"province": province, "form": WorkingGroupImportForm(), "outcome": None}
    if request.method == "POST" and "payload" in request.POST:
        confirm = WorkingGroupConfirmForm(request.POST)
        try:
            sheet = _import_preview(request, province).load(confirm.data.get("payload", ""))
        except PreviewInvalid as error:
            messages.error(request, error.message)
            return redirect("provinces:working_group_import", code=province.pk)
        outcome = import_working_group(user=request.user, province=province, sheet=sheet, dry_run=False)
        if outcome.applied:
            counts = outcome.counts
            messages.success(
                request,
                gettext(
                    "Working group updated: %(create)s added, %(update)s changed, %(unchanged)s unchanged, "
                    "%(error)s rows with errors left out."
                )
                % counts,
            )
            return redirect(_detail_url(province, "working-group"))
        messages.error(request, gettext("Nothing was saved: the sheet could not be applied."))
        context["outcome"] = outcome
    elif request.method == "POST":
        form = WorkingGroupImportForm(request.POST, request.FILES)
        context["form"] = form
        if form.is_valid():
            try:
                sheet = read_sheet(form.cleaned_data["sheet"])
            except SheetError as error:
                form.add_error("sheet", str(error))
            else:
                outcome = import_working_group(user=request.user, province=province, sheet=sheet, dry_run=True)
                context["outcome"] = outcome
                if outcome.can_apply:
                    payload = _import_preview(request, province).sign(sheet)
                    context["confirm_form"] = WorkingGroupConfirmForm(initial={"payload": payload})
    context["columns"] = [(thai, english) for _field, thai, english, _others in COLUMNS if _field != "province"]
    return render(request, "provinces/working_group_import.html", context)


@require_safe
@login_required
def working_group_export(request, code: int):
    """The whole working group (former members too) as .xlsx, in the reader's language; the
    import reads it back unchanged."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    province = get_object_for_user(Province, request.user, code)
    members = list(
        WorkingGroupMember.objects.visible_to(request.user)
        .filter(province=province)
        .annotate(role_order=GROUP_ROLE_ORDER)
        .order_by("role_order", "name", "pk")
    )
    thai = (get_language() or "th").startswith("th")
    fields = [column[0] for column in COLUMNS if column[0] != "province"]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = gettext("Working group")[:31]
    sheet.append([thai_header if thai else english for _f, thai_header, english, _o in COLUMNS if _f in fields])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for member in members:
        values = []
        for name in fields:
            value = member.get_group_role_display() if name == "group_role" else getattr(member, name)
            values.append(neutralise_formula(value) if isinstance(value, str) else value)
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, datetime.date):
                cell.number_format = excel_date_format(cell.value)
            elif isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula
    for letter, width in zip("ABCDEFGH", (28, 30, 32, 14, 14, 28, 12, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    record_access(
        request=request,
        action=AccessLog.Action.EXPORT,
        model=WorkingGroupMember,
        description=f"working-group export of province {province.pk}",
        count=len(members),
    )
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    filename = f"working-group-{province.pk}-{file_date(timezone.localdate())}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- plans ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def plan_edit(request, code: int, fiscal_year: int):
    """Create or edit the province's plan of a fiscal year: strategy and the goals grid."""
    province = _province_for_writing(request, code)
    if not FISCAL_YEAR_MIN <= fiscal_year <= FISCAL_YEAR_MAX:
        raise Http404

    def plan_and_form(data):
        # The plan as it is now, and its form (the version it shows: 0 while there is no plan).
        plan = (
            ProvincialPlan.objects.writable_by(request.user)
            .filter(province=province, fiscal_year=fiscal_year)
            .prefetch_related("goals")
            .first()
        )
        goals = list(plan.goals.all()) if plan else []
        # Retired categories and outcomes stay in the grid while this plan still has goals for them.
        categories = Category.objects.visible_to(request.user).filter(
            Q(is_active=True) | Q(pk__in=[g.category_id for g in goals])
        )
        # Goals are only ever achieved outcomes: "being followed up" or "not found" is no column.
        outcomes = Outcome.objects.visible_to(request.user).filter(
            Q(is_active=True) | Q(pk__in=[g.outcome_id for g in goals]), kind=Outcome.Kind.ACHIEVED
        )
        initial = {"strategy": plan.strategy if plan else ""}
        initial.update({goal_field_name(g.category_id, g.outcome_id): g.target for g in goals})
        version = plan.version if plan else 0
        return plan, PlanForm(data, initial=initial, categories=categories, outcomes=outcomes, version=version)

    plan, form = plan_and_form(request.POST or None)
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            save_plan(
                user=request.user,
                province=province,
                fiscal_year=fiscal_year,
                strategy=form.cleaned_data["strategy"],
                goals=form.goals(),
                version=form.seen_version,
            )
        except ValidationError as error:
            form.add_error(None, error)
        except StaleEdit:
            # Written by someone else since the form was opened: nothing saved; the form comes back with
            # the user's changes on top of the current plan, and what changed.
            posted = form
            plan, fresh = plan_and_form(None)
            data, stale = stale_edits.reconcile(posted=posted, fresh=fresh)
            plan, form = plan_and_form(data)
        else:
            messages.success(request, gettext("The plan for fiscal year %(year)s was saved.") % {"year": fiscal_year})
            url = reverse("provinces:detail", kwargs={"code": province.pk})
            if fiscal_year != current_fiscal_year():
                url += f"?fiscal_year={fiscal_year}"
            return redirect(url + "#plan")
    return render(
        request,
        "provinces/plan_form.html",
        {"province": province, "fiscal_year": fiscal_year, "plan": plan, "form": form, "stale": stale},
        status=409 if stale else 200,
    )
