"""Writing and moving progress reports: the one path for pages, admin, demo data and tests. The steps
are TRANSITIONS below, who takes each is reports/policies.py's, and the period rules (issue 12) are
check_new_period's and _check_submission_date's.

An accepted report is locked: nobody edits or moves it. Writes and steps take the `version` of the
report the user saw and raise StaleEdit if it changed since, so a second click, or a step taken on a
page opened before someone else's change, does nothing (None: no precondition, for demo data). A
wrong user gets PermissionDenied (403 on the pages), a wrong state or bad input a ValidationError.
"""

import datetime
from functools import cache, partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Principal, can
from accounts.models import User
from core.buddhist_dates import fiscal_year_of, format_thai_date
from core.periods import Period, overlapping_periods
from core.versioning import check_version
from provinces.models import Province

from .models import SECTIONS, ProgressReport, ReportEvent, Status, submission_opens
from .notifications import notify_transition
from .policies import Step

SECTION_FIELDS = tuple(name for name, _label in SECTIONS)

# action -> (the states it leaves from, the state it goes to); the order is the buttons' order.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    ReportEvent.Action.SUBMIT: (frozenset({Status.DRAFT}), Status.SUBMITTED),
    ReportEvent.Action.REVIEW: (frozenset({Status.SUBMITTED}), Status.REVIEWED),
    ReportEvent.Action.ACCEPT: (frozenset({Status.REVIEWED}), Status.ACCEPTED),
    ReportEvent.Action.RETURN: (frozenset({Status.SUBMITTED, Status.REVIEWED}), Status.DRAFT),
}
ACTIONS = tuple(TRANSITIONS)


def today() -> datetime.date:
    """The day in Thailand that the period rules are checked against (tests pin it)."""
    return timezone.localdate()


def may_submit_now(report: ProgressReport, *, day: datetime.date | None = None) -> bool:
    """Whether the report's period has reached its last month, when a report may be submitted."""
    return (day or today()) >= submission_opens(report.fiscal_year, report.period)


# --- who may (the rules: reports/policies.py) ------------------------------------------------------
def may_write_province(*, province_id: int, user: Principal) -> bool:
    """Coordinators of the province and EEF/IPSR admins write its reports."""
    return can(user, "reports.write", province_id)


def may_edit(*, report: ProgressReport, user: Principal) -> bool:
    return report.is_editable and may_write_province(province_id=report.province_id, user=user)


def _may_act(*, report: ProgressReport, user: Principal, action: str, from_status: str, lead_team=None) -> bool:
    """`lead_team`: a callable answering whether the user is in the lead university's team, so that a
    page asking about several actions makes that query once (allowed_actions)."""
    step = Step(report, action, from_status, submission_open=may_submit_now(report), lead_team=lead_team)
    return can(user, "reports.act", step)


def allowed_actions(*, report: ProgressReport, user: Principal) -> list[str]:
    """The actions `user` may take on `report` now, in workflow order (the buttons a page shows)."""
    lead_team = cache(partial(can, user, "reports.lead_team", report))
    return [
        action
        for action, (sources, _target) in TRANSITIONS.items()
        if report.status in sources
        and _may_act(report=report, user=user, action=action, from_status=report.status, lead_team=lead_team)
    ]


# --- writes ----------------------------------------------------------------------------------------
def create_report(*, user: User, province, fiscal_year: int, period: str) -> ProgressReport:
    """A new draft report of `province` for a period of a fiscal year (พ.ศ.)."""
    province_id = getattr(province, "pk", province)
    if not may_write_province(province_id=province_id, user=user):
        raise PermissionDenied
    if period not in Period.values:
        raise ValidationError({"period": _("Choose a period.")})
    report = ProgressReport(province_id=province_id, fiscal_year=fiscal_year, period=period, created_by=user)
    # The fiscal-year range and the one-report-per-period rule are constraints of the model.
    check_new_period(province_id=province_id, fiscal_year=fiscal_year, period=period)
    report.full_clean()
    try:
        with transaction.atomic():
            # The province's row is the lock that keeps two overlapping periods (H1 and Q1 made at
            # the same moment) from both passing the check: a unique constraint cannot say "overlap".
            Province.objects.select_for_update().filter(pk=province_id).exists()
            check_new_period(province_id=province_id, fiscal_year=fiscal_year, period=period)
            report.save()
    except IntegrityError as error:  # created by someone else in the meantime
        raise ValidationError(_("A report for this province and period already exists."), code="exists") from error
    return report


def check_new_period(*, province_id: int, fiscal_year: int, period: str) -> None:
    """Refuse a period that exists already, overlaps one of the province's reports, or lies more
    than one fiscal year ahead (also asked by the admin's form, before create_report)."""
    latest = fiscal_year_of(today()) + 1
    if fiscal_year > latest:
        message = _("A report can be made at most one fiscal year ahead (up to %(year)s).") % {"year": latest}
        raise ValidationError({"fiscal_year": message}, code="too_far_ahead")
    existing = ProgressReport.objects.filter(province_id=province_id, fiscal_year=fiscal_year)
    if existing.filter(period=period).exists():
        raise ValidationError(_("A report for this province and period already exists."), code="exists")
    clash = existing.filter(period__in=overlapping_periods(period)).order_by("period").first()
    if clash is not None:
        raise ValidationError(
            {
                "period": _("%(period)s overlaps the province's report for %(other)s of this fiscal year.")
                % {"period": Period(period).label, "other": clash.get_period_display()}
            },
            code="overlap",
        )


def update_report(
    *, report: ProgressReport, user: Principal, version: int | None = None, **sections: str
) -> ProgressReport:
    """Write the sections of a draft (only the coordinators of its province and EEF/IPSR admins)."""
    unknown = set(sections) - set(SECTION_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown sections: %(names)s") % {"names": ", ".join(sorted(unknown))})
    with transaction.atomic():
        current = ProgressReport.objects.select_for_update().get(pk=report.pk)
        if not may_write_province(province_id=current.province_id, user=user):
            raise PermissionDenied
        check_version(current, version)
        if not current.is_editable:
            raise ValidationError(_locked_or_waiting(current), code="not_editable")
        for name, text in sections.items():
            setattr(current, name, text or "")
        current.save(update_fields=[*sections, "updated_at"])
    return current


def transition(
    *,
    report: ProgressReport,
    user: User,
    action: str,
    version: int | None = None,
    comment: str = "",
    override_reason: str = "",
    base_url: str = "",
) -> ProgressReport:
    """Move `report` one step of the workflow, keep the step as a ReportEvent, and mail the next people.

    `override_reason`: why an EEF/IPSR admin submits before the period's last month (required then,
    refused otherwise). `base_url` (e.g. "https://abe.example.org", from
    `request.build_absolute_uri("/")`) makes the link in the mail absolute; the mail is sent only
    once the transaction has committed.
    """
    if action not in TRANSITIONS:
        raise ValidationError(_("Unknown action."), code="unknown_action")
    comment = (comment or "").strip()
    override_reason = (override_reason or "").strip()
    sources, target = TRANSITIONS[action]
    with transaction.atomic():
        # of=("self",): lock the report's row only, not the province row it is joined to.
        current = ProgressReport.objects.select_for_update(of=("self",)).select_related("province").get(pk=report.pk)
        from_status = current.status
        if not _may_act(report=current, user=user, action=action, from_status=from_status):
            raise PermissionDenied
        check_version(current, version)
        if current.is_locked:
            raise ValidationError(_("This report has been accepted and is locked."), code="locked")
        if from_status not in sources:
            raise ValidationError(
                _("A %(status)s report cannot be %(action)s.")
                % {"status": current.get_status_display(), "action": ReportEvent.Action(action).label},
                code="wrong_state",
            )
        if action == ReportEvent.Action.RETURN and not comment:
            raise ValidationError({"comment": _("Say why the report is sent back.")}, code="comment_required")
        _check_submission_date(report=current, action=action, override_reason=override_reason)
        event = ReportEvent.objects.create(
            report=current,
            action=action,
            from_status=from_status,
            to_status=target,
            actor=user,
            comment=comment,
            override_reason=override_reason,
        )
        current.status = target
        current.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: notify_transition(event=event, base_url=base_url))
    return current


def _check_submission_date(*, report: ProgressReport, action: str, override_reason: str) -> None:
    """A report is submitted once its period's last month has begun; earlier only with an admin's
    reason (who may submit early at all is _may_act's answer, asked before this)."""
    if action != ReportEvent.Action.SUBMIT:
        if override_reason:
            raise ValidationError(_("Only a submission before its time takes a reason."), code="no_override")
        return
    if may_submit_now(report):
        if override_reason:
            raise ValidationError(
                _("This report may be submitted now; no override is needed."), code="no_override_needed"
            )
        return
    if not override_reason:
        opens = submission_opens(report.fiscal_year, report.period)
        raise ValidationError(
            {
                "override_reason": _(
                    "This report can be submitted from %(date)s. To submit it earlier, give the reason."
                )
                % {"date": format_thai_date(opens)}
            },
            code="too_early",
        )


def _locked_or_waiting(report: ProgressReport) -> str:
    if report.is_locked:
        return _("This report has been accepted and is locked.")
    return _("Only a draft can be edited; this report is %(status)s.") % {"status": report.get_status_display()}
