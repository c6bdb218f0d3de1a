"""Pages of one child's case: its section on the record page (cases.templatetags.cases_case), the forms
that log contacts, plan, refer and close, and assigning records to case workers, one or many.

Every read goes through the door; every write is a cases.services function. A form that changes the case
or the record carries the version the page showed: a click on an older page is answered 409 with what
changed (core.stale_edits), as targets/views.py does.
"""

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import Principal, can, get_object_for_user, require, restrict
from accounts.models import User
from audit.access_log import record_access
from audit.models import AccessLog
from core import stale_edits
from core.forms import add_service_errors
from core.paginator import CappedPaginator
from core.thai_id import mask_identifier
from core.versioning import StaleEdit
from targets.forms import record_facts
from targets.models import TargetRecord
from targets.views import _filtered_records

from . import services
from .forms_case import (
    CloseForm,
    ConfirmForm,
    ContactForm,
    GoalForm,
    ReferralForm,
    ReopenForm,
    StepForm,
    WorkerForm,
    case_facts,
)
from .models import Agency, Case, Contact, PlanStep, Referral, ReferralEvent, ReferralState

RECORDS_PER_PAGE = 50
DUE_SOON_DAYS = 7


# --- the record page's section ---------------------------------------------------------------------------


def section_context(user: Principal, record: TargetRecord) -> dict[str, Any]:
    """What the record page's case section shows, in a fixed number of queries whatever the case holds:
    the case, the worker, the province's workers (for coordinators), contacts, steps, referrals and
    their state changes."""
    case = Case.objects.visible_to(user).select_related("goal").filter(pk=record.pk).first()
    may_assign = can(user, "targets.assign", record.province_id)
    workers = services.case_workers_for(record.province_id) if may_assign else []
    worker = next((w for w in workers if w.pk == record.case_worker_id), None)
    if worker is None and record.case_worker_id is not None:
        worker = User.objects.filter(pk=record.case_worker_id).first()
    contacts: list[Contact] = []
    steps: list[PlanStep] = []
    referrals: list[Referral] = []
    if case is not None:
        contacts = list(Contact.objects.visible_to(user).filter(case=case).select_related("recorded_by"))
        steps = list(PlanStep.objects.visible_to(user).filter(case=case).select_related("responsible"))
        referrals = list(
            Referral.objects.visible_to(user)
            .filter(case=case)
            .select_related("agency__type", "outcome")
            .prefetch_related(Prefetch("events", queryset=ReferralEvent.objects.select_related("by")))
        )
    today = timezone.localdate()
    due_soon = (
        case is not None
        and case.is_open
        and case.due_on is not None
        and today <= case.due_on <= today + datetime.timedelta(days=DUE_SOON_DAYS)
    )
    return {
        "record": record,
        "case": case,
        "worker": worker,
        "can_work": can(user, "targets.work_on", record),
        "assign_form": WorkerForm(workers=workers, initial={"worker": record.case_worker_id}) if may_assign else None,
        "contacts": contacts,
        "failed_attempts": sum(1 for c in contacts if not c.reached),
        "steps": steps,
        "referrals": [(r, r.is_overdue(today)) for r in referrals],
        "overdue": case is not None and case.is_overdue(today),
        "due_soon": due_soon,
    }


# --- helpers ------------------------------------------------------------------------------------------


def _workable_record(request: HttpRequest, pk: int) -> TargetRecord:
    """The record, if the user may log work on it: 404 for outsiders, 403 for those who only read it."""
    record = get_object_for_user(TargetRecord.objects.select_related("province", "status"), request.user, pk)
    require(request.user, "targets.work_on", record)
    return record


def _posted(request: HttpRequest) -> Any:
    """The form's data on a POST, even an empty one (a confirmation button has no field of its own)."""
    return request.POST if request.method == "POST" else None


def _case_of(record: TargetRecord) -> Case | None:
    return Case.objects.select_related("goal").filter(pk=record.pk).first()


def _back(record: TargetRecord, anchor: str = "case") -> HttpResponse:
    return redirect(reverse("targets:detail", kwargs={"pk": record.pk}) + f"#{anchor}")


def _service_version(seen: int, case: Case | None) -> int | None:
    """The version to hand the service: a page opened before the record had a case showed version 0, and
    the case is opened now (no precondition); if someone opened it meanwhile, 0 is refused as stale."""
    return None if seen == 0 and case is None else seen


def _page(request: HttpRequest, template: str, record: TargetRecord, form: Any, *, title: str,
          status: int = 200, **extra: Any) -> HttpResponse:  # fmt: skip
    if request.method != "POST":
        record_access(request=request, action=AccessLog.Action.VIEW, obj=record, description=f"case form: {template}")
    context = {"record": record, "identifier": mask_identifier(record.identifier), "form": form, "title": title}
    return render(request, f"cases/{template}.html", {**context, **extra}, status=status)


# --- contacts and the plan ------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    record = _workable_record(request, pk)
    form = ContactForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.log_contact(user=request.user, record=record, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The contact has been logged."))
            return _back(record, "case-contacts")
    return _page(request, "case_form", record, form, title=_("Log a contact"))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def step_add(request: HttpRequest, pk: int) -> HttpResponse:
    record = _workable_record(request, pk)
    people = services.case_workers_for(record.province_id)
    if isinstance(request.user, User) and all(p.pk != request.user.pk for p in people):
        people = [request.user, *people]
    form = StepForm(_posted(request), people=people)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_step(user=request.user, record=record, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The step has been added to the plan."))
            return _back(record, "case-plan")
    return _page(request, "case_form", record, form, title=_("Add a step to the plan"))


@require_POST
@login_required
def step_done(request: HttpRequest, pk: int) -> HttpResponse:
    step = get_object_for_user(PlanStep.objects.select_related("case__record"), request.user, pk)
    services.finish_step(user=request.user, step=step, done=request.POST.get("done", "1") == "1")
    return _back(step.case.record, "case-plan")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def goal_set(request: HttpRequest, pk: int) -> HttpResponse:
    record = _workable_record(request, pk)
    case = _case_of(record)

    def fresh_form(data: Any, case: Case | None) -> GoalForm:
        return GoalForm(data, version=case.version if case else 0, facts=case_facts(case) if case else {},
                        initial={"goal": case.goal_id if case else None})  # fmt: skip

    form = fresh_form(_posted(request), case)
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            services.set_goal(user=request.user, record=record, goal=form.cleaned_data["goal"],
                              version=_service_version(form.seen_version, case))  # fmt: skip
        except ValidationError as error:
            add_service_errors(form, error)
        except StaleEdit:
            case = _case_of(record)
            data, stale = stale_edits.reconcile(posted=form, fresh=fresh_form(None, case))
            form = fresh_form(data, case)
        else:
            messages.success(request, _("The goal has been set."))
            return _back(record, "case-plan")
    return _page(request, "case_form", record, form, title=_("Set the goal"), stale=stale,
                 status=409 if stale else 200)  # fmt: skip


# --- referrals ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def refer(request: HttpRequest, pk: int) -> HttpResponse:
    record = _workable_record(request, pk)
    agencies = (
        Agency.objects.visible_to(request.user)
        .filter(province_id=record.province_id, is_active=True)
        .select_related("type")
    )
    form = ReferralForm(_posted(request), agencies=agencies)
    if request.method == "POST" and form.is_valid():
        try:
            services.refer(user=request.user, record=record, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The referral has been sent."))
            return _back(record, "case-referrals")
    return _page(request, "case_form", record, form, title=_("Refer to an agency"))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def apply_outcome(request: HttpRequest, pk: int, referral: int) -> HttpResponse:
    """Set the record's status to a completed referral's outcome, after the user confirms it."""
    record = _workable_record(request, pk)
    found = get_object_or_404(
        Referral.objects.visible_to(request.user).select_related("agency", "outcome"),
        pk=referral,
        case_id=record.pk,
        state=ReferralState.COMPLETED,
    )

    def fresh_form(data: Any, record: TargetRecord) -> ConfirmForm:
        return ConfirmForm(data, version=record.version, facts=record_facts(record, fields=("status",)))

    form = fresh_form(_posted(request), record)
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            services.apply_referral_outcome(user=request.user, referral=found, record_version=form.seen_version)
        except ValidationError as error:
            add_service_errors(form, error)
        except StaleEdit:
            record = _workable_record(request, pk)
            data, stale = stale_edits.reconcile(posted=form, fresh=fresh_form(None, record), kind="action")
            form = fresh_form(data, record)
        else:
            messages.success(request, _("The status has been changed."))
            return _back(record, "history")
    return _page(request, "apply_outcome", record, form, title=_("Set the status to the referral's outcome"),
                 referral=found, stale=stale, status=409 if stale else 200)  # fmt: skip


# --- closing and reopening ------------------------------------------------------------------------------


def _close_or_reopen(request: HttpRequest, pk: int, *, reopen: bool) -> HttpResponse:
    record = _workable_record(request, pk)
    case = _case_of(record)
    form_class = ReopenForm if reopen else CloseForm

    def fresh_form(data: Any, case: Case | None) -> CloseForm | ReopenForm:
        return form_class(data, version=case.version if case else 0, facts=case_facts(case) if case else {})

    form = fresh_form(_posted(request), case)
    stale = None
    if request.method == "POST" and form.is_valid():
        values = form.own_cleaned_data
        version = _service_version(form.seen_version, case)
        try:
            if reopen:
                services.reopen_case(user=request.user, record=record, note=values["note"], version=version)
            else:
                services.close_case(user=request.user, record=record, reason=values["reason"], note=values["note"],
                                    version=version)  # fmt: skip
        except ValidationError as error:
            add_service_errors(form, error)
        except StaleEdit:
            case = _case_of(record)
            data, stale = stale_edits.reconcile(posted=form, fresh=fresh_form(None, case), kind="action")
            form = fresh_form(data, case)
        else:
            messages.success(request, _("The case has been reopened.") if reopen else _("The case has been closed."))
            return _back(record)
    title = _("Reopen the case") if reopen else _("Close the case")
    return _page(request, "case_form", record, form, title=title, stale=stale, status=409 if stale else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def close(request: HttpRequest, pk: int) -> HttpResponse:
    return _close_or_reopen(request, pk, reopen=False)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _close_or_reopen(request, pk, reopen=True)


# --- assignment -----------------------------------------------------------------------------------------


@require_POST
@login_required
def assign_one(request: HttpRequest, pk: int) -> HttpResponse:
    """The case-worker select of the record page (coordinators)."""
    record = get_object_for_user(TargetRecord.objects.all(), request.user, pk)
    require(request.user, "targets.assign", record.province_id)
    form = WorkerForm(request.POST, workers=services.case_workers_for(record.province_id))
    if not form.is_valid():
        messages.error(request, _("Choose one of the province's case workers."))
        return _back(record)
    try:
        services.assign(user=request.user, records=[record], worker=form.cleaned_data["worker"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The case worker has been assigned."))
    return _back(record)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def assign_many(request: HttpRequest, *, unassigned_only: bool = False) -> HttpResponse:
    """The records list's filters, checkboxes and a case-worker select (coordinators and EEF/IPSR)."""
    user = request.user
    require(user, "cases.coordinates_cases")
    records, filter_form, description, province = _filtered_records(request, search=None)
    records = restrict(records, user, "cases.coordinated_cases")
    unassigned_only = unassigned_only or request.GET.get("unassigned") == "1"
    if unassigned_only:
        records = records.filter(case_worker__isnull=True)
    workers = services.case_workers_for(province.pk) if province is not None else []
    worker_form = WorkerForm(request.POST if request.method == "POST" else None, workers=workers)
    if request.method == "POST":
        chosen = [int(v) for v in request.POST.getlist("records") if v.isascii() and v.isdigit()]
        if not chosen:
            messages.error(request, _("Tick the records to assign."))
        elif worker_form.is_valid():
            try:
                count = services.assign(user=user, records=list(records.filter(pk__in=chosen)),
                                        worker=worker_form.cleaned_data["worker"])  # fmt: skip
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, _("%(count)s records have been assigned.") % {"count": count})
                return redirect(request.get_full_path())
    matching = records
    records = records.select_related("district", "status", "case_worker").order_by(
        "province_id", "last_name", "first_name", "pk"
    )
    # Counted up to LIST_COUNT_CAP, not a full COUNT (core/paginator.py).
    page = CappedPaginator(records, RECORDS_PER_PAGE, count_queryset=matching).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    if rows:
        record_access(request=request, action=AccessLog.Action.VIEW, model=TargetRecord,
                      description=f"case assignment; {description}", count=len(rows))  # fmt: skip
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/assign.html",
        {
            "page": page,
            "rows": [{"record": r, "identifier": mask_identifier(r.identifier)} for r in rows],
            "form": filter_form,
            "worker_form": worker_form,
            "province": province,
            "unassigned_only": unassigned_only,
            "fixed_unassigned": request.resolver_match is not None and request.resolver_match.url_name == "unassigned",
            "query": query.urlencode(),
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def unassigned(request: HttpRequest) -> HttpResponse:
    return assign_many(request, unassigned_only=True)
