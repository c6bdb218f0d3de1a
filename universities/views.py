"""Pages of the universities, their support activities and the capacity requests they handle.

Every page starts from the access door (accounts/access.py): lists from `visible_to(user)`, one
object from `get_object_for_user`, so outsiders get 404 exactly as for a missing object. Writes
are the services' (universities/services.py); a PermissionDenied there answers 403.
"""

from collections import defaultdict
from pathlib import PurePath

import tablib
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.access import Principal, can, get_object_for_user, only_province, own_universities, require
from accounts.models import UNIVERSITY_ROLES, Membership
from core import stale_edits
from core.buddhist_dates import (
    current_fiscal_year,
    file_date,
    fiscal_year_bounds,
    fiscal_year_of,
    parse_fiscal_year,
    with_excel_date_formats,
)
from core.forms import add_service_errors
from core.periods import period_bounds
from core.spreadsheet_safety import neutralise_formula
from core.versioning import StaleEdit
from provinces.models import Province

from . import services
from .attachments import content_type_for
from .forms import ActivityFilterForm, ActivityForm, CapacityRequestForm, RequestFilterForm, action_form, request_facts
from .models import CapacityRequest, SupportActivity, SupportAssignment, SupportRole, University

ACTIVITIES_PER_PAGE = 25
REQUESTS_PER_PAGE = 25
# A university's page shows the latest activities of each role and the first open requests;
# the lists behind "see all" hold the rest.
LATEST_PER_ROLE = 8
QUEUE_SIZE = 15


def _programme_choices(user: Principal) -> tuple[list[int], list[Province]]:
    """Fiscal years and provinces for the filters, from the support assignments the user may see (one query)."""
    assignments = SupportAssignment.objects.visible_to(user).select_related("province").order_by()
    years, provinces = {current_fiscal_year()}, {}
    for assignment in assignments:
        years.add(assignment.fiscal_year)
        provinces[assignment.province_id] = assignment.province
    return sorted(years, reverse=True), sorted(provinces.values(), key=lambda p: p.name)


# --- Universities -----------------------------------------------------------------------------------


@login_required
def university_list(request):
    """The eight universities, the provinces each supports this fiscal year, and their work in the user's scope.

    Someone without a role sees an empty page (every queryset is empty for them), as on the home page.
    """
    user = request.user
    fiscal_year = current_fiscal_year()
    start, end = fiscal_year_bounds(fiscal_year)
    universities = list(University.objects.visible_to(user))
    supported = defaultdict(list)
    assignments = (
        SupportAssignment.objects.visible_to(user)
        .for_fiscal_year(fiscal_year)
        .select_related("province")
        .order_by("-is_lead", "province__name_th")
    )
    for assignment in assignments:
        supported[assignment.university_id].append(assignment)
    activities = dict(
        SupportActivity.objects.visible_to(user)
        .filter(date__range=(start, end))
        .values_list("university")
        .annotate(n=Count("pk"))
        .order_by()
    )
    requests = {
        row["university"]: row
        for row in CapacityRequest.objects.visible_to(user)
        .open()
        .values("university")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(desired_date__lt=timezone.localdate())))
        .order_by()
    }
    rows = [
        {
            "university": university,
            "assignments": supported[university.pk],
            "activities": activities.get(university.pk, 0),
            "open_requests": requests.get(university.pk, {}).get("open", 0),
            "overdue_requests": requests.get(university.pk, {}).get("overdue", 0),
        }
        for university in universities
    ]
    return render(
        request,
        "universities/university_list.html",
        {"rows": rows, "fiscal_year": fiscal_year},
    )


@login_required
def university_detail(request, code: str):
    user = request.user
    university = get_object_or_404(University.objects.visible_to(user), code=code)

    # The team's names are for EEF/IPSR and the team itself; anyone else learns only its size.
    team_visible = can(user, "universities.team", university.pk)
    team = Membership.objects.filter(university=university, role__in=UNIVERSITY_ROLES, user__is_active=True)
    if team_visible:
        members = list(team.select_related("user").order_by("role", "user__first_name", "user__email"))
        team_size = len({m.user_id for m in members})
    else:
        members = []
        team_size = team.values("user").distinct().count()

    # Provinces supported, per fiscal year (the assignments the user may see).
    assignments = (
        SupportAssignment.objects.visible_to(user)
        .filter(university=university)
        .select_related("province")
        .order_by("-fiscal_year", "-is_lead", "province__name_th")
    )
    by_year = defaultdict(list)
    for assignment in assignments:
        by_year[assignment.fiscal_year].append(assignment)
    current = current_fiscal_year()
    years = sorted({current, *by_year}, reverse=True)
    year = parse_fiscal_year(request.GET.get("year"), default=current)
    if year not in years:
        year = current

    # The activity log of that year, grouped by the four roles: the latest of each role in one query.
    start, end = fiscal_year_bounds(year)
    activities = SupportActivity.objects.visible_to(user).filter(university=university, date__range=(start, end))
    role_counts = dict(activities.values_list("role").annotate(n=Count("pk")).order_by())
    latest = (
        activities.annotate(
            rank=Window(RowNumber(), partition_by=[F("role")], order_by=[F("date").desc(), F("pk").desc()])
        )
        .filter(rank__lte=LATEST_PER_ROLE)
        .select_related("province")
    )
    per_role = defaultdict(list)
    for activity in latest:
        per_role[activity.role].append(activity)
    roles = [
        {"value": value, "label": label, "activities": per_role[value], "count": role_counts.get(value, 0)}
        for value, label in SupportRole.choices
    ]

    # The queue of open capacity requests, oldest desired date first.
    open_requests = CapacityRequest.objects.visible_to(user).filter(university=university).open()
    queue = list(open_requests.select_related("province").order_by("desired_date", "pk")[:QUEUE_SIZE])
    queue_totals = open_requests.aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(desired_date__lt=timezone.localdate()))
    )
    return render(
        request,
        "universities/university_detail.html",
        {
            "university": university,
            "team_visible": team_visible,
            "members": members,
            "team_size": team_size,
            "assignments_by_year": sorted(by_year.items(), reverse=True),
            "years": years,
            "year": year,
            "current_fiscal_year": current,
            "roles": roles,
            "queue": queue,
            "queue_totals": queue_totals,
            "can_record": services.may_record_for(user, university),
        },
    )


# --- Support activities ---------------------------------------------------------------------------


def _filtered_activities(request):
    """The activities the user may see, filtered by ?role=&province=&university=&year=&period=."""
    user = request.user
    universities = list(University.objects.visible_to(user))
    years, provinces = _programme_choices(user)
    form = ActivityFilterForm(request.GET, provinces=provinces, universities=universities, years=years)
    activities = SupportActivity.objects.visible_to(user).select_related("university", "province")
    if not form.is_valid():
        return activities.none(), form
    filters = form.cleaned_data
    if filters["role"]:
        activities = activities.filter(role=filters["role"])
    if filters["province"]:
        activities = activities.filter(province_id=filters["province"])
    if filters["university"]:
        activities = activities.filter(university__code=filters["university"])
    if filters["year"]:
        if filters["period"]:
            bounds = period_bounds(filters["year"], filters["period"])
        else:
            bounds = fiscal_year_bounds(filters["year"])
        activities = activities.filter(date__range=bounds)
    return activities, form


@login_required
def activity_list(request):
    activities, form = _filtered_activities(request)
    page = Paginator(activities, ACTIVITIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "universities/activity_list.html",
        {"page": page, "form": form, "can_record": can(request.user, "universities.record_any")},
    )


EXPORT_FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@login_required
def activity_export(request):
    """The activities of the list (same filters) as a spreadsheet; text cells cannot run as formulas."""
    file_format = request.GET.get("format", "xlsx")
    if file_format not in EXPORT_FORMATS:
        return HttpResponseBadRequest(_("Unknown file format."))
    activities, _form = _filtered_activities(request)
    dataset = tablib.Dataset(
        headers=[
            _("date"),
            _("fiscal year"),
            _("university"),
            _("province code"),
            _("province"),
            _("support role"),
            _("title"),
            _("description"),
            _("participants"),
            _("attachment"),
        ]
    )
    for activity in activities:
        row = [
            activity.date,
            fiscal_year_of(activity.date),
            activity.university.code,
            activity.province_id,
            activity.province.name,
            activity.get_role_display(),
            activity.title,
            activity.description,
            activity.participants,
            _("yes") if activity.attachment else "",
        ]
        dataset.append([neutralise_formula(value) for value in row])
    # CSV starts with a byte-order mark, so that Excel reads the Thai text as UTF-8.
    if file_format == "csv":
        content = "\ufeff" + dataset.export("csv")
    else:  # the date column a real date, shown in พ.ศ. by Thai Excel
        content = with_excel_date_formats(dataset.export("xlsx"))
    response = HttpResponse(content, content_type=EXPORT_FORMATS[file_format])
    stamp = file_date(timezone.localdate())
    response["Content-Disposition"] = f'attachment; filename="support-activities-{stamp}.{file_format}"'
    return response


@login_required
def activity_create(request):
    user = request.user
    require(user, "universities.record_any")
    universities = University.objects.visible_to(user)
    provinces = Province.objects.filter(support_assignments__isnull=False)
    own = own_universities(user)
    if not can(user, "portal.national"):
        universities = universities.filter(pk__in=own)
        provinces = Province.objects.filter(support_assignments__university__in=own)
    provinces = provinces.distinct().order_by("name_th")
    form = ActivityForm(
        request.POST or None,
        request.FILES or None,
        universities=universities,
        provinces=provinces,
        initial={"date": timezone.localdate(), "university": next(iter(own), None)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.record_activity(user=user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The activity has been recorded."))
            return redirect("universities:activity_detail", pk=activity.pk)
    return render(request, "universities/activity_form.html", {"form": form})


def _activity_for(request, pk: int) -> SupportActivity:
    queryset = SupportActivity.objects.select_related("university", "province", "created_by", "capacity_request")
    return get_object_for_user(queryset, request.user, pk)


@login_required
def activity_detail(request, pk: int):
    activity = _activity_for(request, pk)
    return render(
        request,
        "universities/activity_detail.html",
        {
            "activity": activity,
            "fiscal_year": fiscal_year_of(activity.date),
            "attachment_name": PurePath(activity.attachment.name or "").name if activity.attachment else "",
        },
    )


@login_required
def activity_attachment(request, pk: int):
    """The attachment, as a download, to those who may see the activity; never through MEDIA_URL."""
    activity = get_object_for_user(SupportActivity, request.user, pk)
    if not activity.attachment:
        raise Http404
    try:
        handle = activity.attachment.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    name = PurePath(activity.attachment.name or "").name
    return FileResponse(handle, as_attachment=True, filename=name, content_type=content_type_for(name))


# --- Capacity requests ------------------------------------------------------------------------------


@login_required
def request_list(request):
    user = request.user
    universities = list(University.objects.visible_to(user))
    _years, provinces = _programme_choices(user)
    form = RequestFilterForm(request.GET, provinces=provinces, universities=universities)
    requests = CapacityRequest.objects.visible_to(user).select_related("province", "university")
    if form.is_valid():
        filters = form.cleaned_data
        if filters["status"] == "active":
            requests = requests.open()
        elif filters["status"]:
            requests = requests.filter(status=filters["status"])
        if filters["province"]:
            requests = requests.filter(province_id=filters["province"])
        if filters["university"]:
            requests = requests.filter(university__code=filters["university"])
        if filters["overdue"]:
            requests = requests.overdue()
    else:
        requests = requests.none()
    page = Paginator(requests, REQUESTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "universities/request_list.html",
        {"page": page, "form": form, "can_file": can(user, "universities.request.file_any")},
    )


@login_required
def request_create(request):
    user = request.user
    require(user, "universities.request.file_any")
    provinces = Province.objects.writable_by(user)
    if can(user, "portal.national"):
        # Only provinces in the programme this year have a university to ask.
        provinces = provinces.filter(support_assignments__fiscal_year=current_fiscal_year()).distinct()
    provinces = provinces.order_by("name_th")
    initial = {}
    if (only := only_province(user, write=True)) is not None:
        initial["province"] = only
    form = CapacityRequestForm(request.POST or None, provinces=provinces, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            request_obj = services.file_request(user=user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Your request has been sent to %(university)s.") % {"university": request_obj.university.name},
            )
            return redirect("universities:request_detail", pk=request_obj.pk)
    return render(request, "universities/request_form.html", {"form": form})


def _request_for(request, pk: int) -> CapacityRequest:
    queryset = CapacityRequest.objects.select_related("province", "university", "requested_by", "delivered_activity")
    return get_object_for_user(queryset, request.user, pk)


def _initial(request_obj: CapacityRequest, action: str) -> dict:
    today = timezone.localdate()
    steps: dict[str, dict[str, object]] = {
        "schedule": {"scheduled_for": request_obj.scheduled_for or max(request_obj.desired_date, today)},
        "deliver": {"date": min(request_obj.scheduled_for or today, today), "participants": request_obj.participants},
        "rate": {"rating": request_obj.rating, "feedback": request_obj.feedback},
    }
    return steps.get(action, {})


def _step_form(request_obj: CapacityRequest, action: str, data=None):
    """The form of one step, with the version and the values of the request the page shows."""
    initial = None if data is not None else _initial(request_obj, action)
    return action_form(action, data, initial=initial, version=request_obj.version, facts=request_facts(request_obj))


def _render_request(request, request_obj: CapacityRequest, bound: dict | None = None, stale=None):
    bound = bound or {}
    actions = services.allowed_actions(request_obj=request_obj, user=request.user)
    for action, form in bound.items():
        if action not in actions:  # the request moved on meanwhile: say why the action failed
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
    forms = [(action, bound.get(action) or _step_form(request_obj, action)) for action in actions]
    return render(
        request,
        "universities/request_detail.html",
        {"request_obj": request_obj, "forms": forms, "today": timezone.localdate(), "stale": stale},
        status=409 if stale else 200,
    )


@login_required
def request_detail(request, pk: int):
    return _render_request(request, _request_for(request, pk))


ACTION_DONE = {
    "accept": gettext_lazy("The request has been accepted."),
    "schedule": gettext_lazy("The session has been scheduled."),
    "deliver": gettext_lazy("The delivery has been recorded as a support activity under role 2."),
    "close": gettext_lazy("The request has been closed."),
    "decline": gettext_lazy("The request has been declined."),
    "rate": gettext_lazy("Thank you: your rating has been saved."),
}


@login_required
@require_POST
def request_action(request, pk: int):
    """One button of the request's page: accept, schedule, deliver, close, decline or rate."""
    request_obj = _request_for(request, pk)
    action = request.POST.get("action", "")
    if action not in services.ACTIONS:
        return HttpResponseBadRequest(_("Unknown action."))
    # Who may act is checked before the input, so that an outsider learns nothing from errors.
    if action in services.TEAM_ACTIONS and not services.may_handle(request_obj=request_obj, user=request.user):
        raise PermissionDenied
    if action in services.PROVINCE_ACTIONS and not services.may_rate(request_obj=request_obj, user=request.user):
        raise PermissionDenied
    form = _step_form(request_obj, action, request.POST)
    if form.is_valid():
        try:
            services.move_request(
                request_obj=request_obj,
                user=request.user,
                action=action,
                version=form.seen_version,
                **form.own_cleaned_data,
            )
        except ValidationError as error:
            add_service_errors(form, error)
            request_obj = _request_for(request, pk)  # as it is now, should someone have moved it meanwhile
        except StaleEdit:
            # A second click, or a step on a page opened before someone else's: nothing was done.
            request_obj = _request_for(request, pk)
            data, stale = stale_edits.reconcile(posted=form, fresh=_step_form(request_obj, action), kind="action")
            bound = {action: _step_form(request_obj, action, data)}
            return _render_request(request, request_obj, bound=bound, stale=stale)
        else:
            messages.success(request, str(ACTION_DONE[action]))
            return redirect("universities:request_detail", pk=request_obj.pk)
    return _render_request(request, request_obj, bound={action: form})
