"""Progress-report pages: list, new, detail with its workflow, edit, workflow steps, export.

Every page reads through the access door (accounts/access.py); every write goes through
reports.services, which decides who may do what.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from import_export.formats.base_formats import XLSX

from accounts.access import Principal, can, get_object_for_user
from core import stale_edits
from core.buddhist_dates import file_date, with_excel_date_formats
from core.versioning import StaleEdit
from provinces.models import Province

from . import services
from .forms import ReportCreateForm, ReportFilterForm, ReportSectionsForm, TransitionForm, report_facts
from .models import ProgressReport, ReportEvent, Status, period_bounds, submission_opens
from .resources import ProgressReportResource

PAGE_SIZE = 25


def _filtered_reports(request) -> tuple[ReportFilterForm, QuerySet]:
    """The reports the user can see, narrowed by the list's filters (also used by the export)."""
    reports = ProgressReport.objects.visible_to(request.user)
    # The filters offer only what the user can see: provinces that have a visible report, and years.
    provinces = [
        (p.code, p.name)
        for p in Province.objects.filter(pk__in=reports.values("province_id")).only("code", "name_th", "name_en")
    ]
    years = list(reports.order_by("-fiscal_year").values_list("fiscal_year", flat=True).distinct())
    form = ReportFilterForm(request.GET or None, provinces=provinces, fiscal_years=years)
    return form, form.filter(reports)


@login_required
def report_list(request):
    form, reports = _filtered_reports(request)
    page = Paginator(reports.select_related("province"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "reports/list.html",
        {
            "filter_form": form,
            "page": page,
            "query": query.urlencode(),
            "may_create": _may_create(request.user),
        },
    )


def _may_create(user: Principal) -> bool:
    return can(user, "reports.create")


@login_required
def report_create(request):
    if not _may_create(request.user):
        raise PermissionDenied
    form = ReportCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            report = services.create_report(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The report has been created as a draft. Write its five sections."))
            return redirect("reports:edit", pk=report.pk)
    return render(request, "reports/create.html", {"form": form})


def _report_for(request, pk) -> ProgressReport:
    return get_object_for_user(ProgressReport.objects.select_related("province", "created_by"), request.user, pk)


def _transition_form(report: ProgressReport, data=None) -> TransitionForm:
    return TransitionForm(data, version=report.version, facts=report_facts(report))


def _detail(request, report: ProgressReport, transition_form: TransitionForm | None = None, stale=None):
    labels: dict[str, str] = {
        ReportEvent.Action.SUBMIT: _("Submit for review"),
        ReportEvent.Action.REVIEW: _("Mark as reviewed"),
        ReportEvent.Action.ACCEPT: _("Accept the report"),
        ReportEvent.Action.RETURN: _("Send back to draft"),
    }
    statuses = list(Status.choices)
    position = [value for value, _label in statuses].index(report.status)
    period_start, period_end = period_bounds(report.fiscal_year, report.period)
    allowed = services.allowed_actions(report=report, user=request.user)
    # Before the period's last month only an admin's override submits (reports.services).
    submit_early = report.status == Status.DRAFT and not services.may_submit_now(report)
    if submit_early:
        labels[ReportEvent.Action.SUBMIT] = _("Submit early (admin override)")
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "events": report.events.select_related("actor"),
            "actions": [(action, labels[action]) for action in allowed],
            "may_return": ReportEvent.Action.RETURN in allowed,
            "may_edit": services.may_edit(report=report, user=request.user),
            "transition_form": transition_form or _transition_form(report),
            "stale": stale,
            "statuses": statuses,
            "done_statuses": [value for value, _label in statuses[:position]],
            "period_start": period_start,
            "period_end": period_end,
            "submit_early": submit_early,
            "may_submit_early": submit_early and ReportEvent.Action.SUBMIT in allowed,
            "submission_opens": submission_opens(report.fiscal_year, report.period),
        },
        status=409 if stale else 200,
    )


@login_required
def report_detail(request, pk: int):
    return _detail(request, _report_for(request, pk))


@login_required
def report_edit(request, pk: int):
    report = _report_for(request, pk)  # 404 for outsiders
    if not services.may_edit(report=report, user=request.user):
        raise PermissionDenied  # 403 for those who see it: not a draft, or not theirs to write
    form = ReportSectionsForm.for_report(report, request.POST or None)
    if request.method == "POST" and form.is_valid():
        sections = {name: form.cleaned_data[name] for name in services.SECTION_FIELDS}
        try:
            services.update_report(report=report, user=request.user, version=form.seen_version, **sections)
        except ValidationError as error:  # moved on since the check above
            messages.error(request, " ".join(error.messages))
            return redirect("reports:detail", pk=report.pk)
        except StaleEdit:
            # Saved by someone else since the form was opened: nothing written. The form comes back with
            # the user's text on top of the current one; if the report left the draft meanwhile, the
            # text is still shown (to copy), without a save button.
            report = _report_for(request, pk)
            data, stale = stale_edits.reconcile(posted=form, fresh=ReportSectionsForm.for_report(report))
            context = {
                "report": report,
                "form": ReportSectionsForm.for_report(report, data),
                "stale": stale,
                "can_save": services.may_edit(report=report, user=request.user),
            }
            return render(request, "reports/edit.html", context, status=409)
        messages.success(request, _("The report has been saved."))
        return redirect("reports:detail", pk=report.pk)
    return render(request, "reports/edit.html", {"report": report, "form": form, "can_save": True})


@require_POST
@login_required
def report_transition(request, pk: int):
    report = _report_for(request, pk)
    form = _transition_form(report, request.POST)
    if not form.is_valid():
        return _detail(request, report, form)
    action = form.cleaned_data["action"]
    try:
        moved = services.transition(
            report=report,
            user=request.user,
            action=action,
            version=form.seen_version,
            comment=form.cleaned_data["comment"],
            override_reason=form.cleaned_data["override_reason"] if action == ReportEvent.Action.SUBMIT else "",
            base_url=request.build_absolute_uri("/"),
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _detail(request, report, form)
    except StaleEdit:
        # A second click, or a step on a page opened before someone else's change: nothing was done.
        report = _report_for(request, pk)
        data, stale = stale_edits.reconcile(posted=form, fresh=_transition_form(report), kind="action")
        return _detail(request, report, _transition_form(report, data), stale=stale)
    messages.success(
        request,
        _("The report is now %(status)s.") % {"status": moved.get_status_display()},
    )
    return redirect("reports:detail", pk=moved.pk)


@login_required
def report_pdf(request, pk: int):
    """The report as a PDF in the page's language, through the report's access door (404 to outsiders)."""
    report = _report_for(request, pk)
    from .pdf import render_report_pdf, report_filename  # WeasyPrint loads Pango: only when a PDF is asked for

    content = render_report_pdf(report, language=get_language() or "th")
    response = HttpResponse(content, content_type="application/pdf")
    # Inline: the browser shows it, to print or to save.
    response["Content-Disposition"] = content_disposition_header(False, report_filename(report)) or "inline"
    return response


@login_required
def report_export(request):
    """The reports the user can see (with the list's filters) as an Excel file."""
    _form, reports = _filtered_reports(request)
    resource = ProgressReportResource(user=request.user)
    dataset = resource.export(queryset=reports.select_related("province", "created_by"), force_native_type=True)
    stamp = file_date(timezone.localdate())
    content = with_excel_date_formats(XLSX().export_data(dataset))
    response = HttpResponse(content, content_type=XLSX().get_content_type())
    response["Content-Disposition"] = f'attachment; filename="progress-reports-{stamp}.xlsx"'
    return response
