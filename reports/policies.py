"""Who may write, review and close progress reports: the reports app's rules, registered with the door
(accounts.access); the workflow itself (states, steps, checks) is reports/services.py's.

  write   the province's coordinators and EEF/IPSR admins (drafts, and new reports)
  submit  the province's coordinators once the period's last month has begun; before that EEF/IPSR
          admins only, overriding with a reason
  review  the team of the province's LEAD university in the report's fiscal year, or EEF/IPSR admins
  accept  EEF/IPSR admins
  return  from submitted: the lead university's team or EEF/IPSR admins; from reviewed: EEF/IPSR admins
"""

from collections.abc import Callable
from typing import NamedTuple

from accounts.access import Principal, Scope, register
from universities.models import SupportAssignment

from .models import ProgressReport, ReportEvent, Status


class Step(NamedTuple):
    """A step asked about: `lead_team` answers "is the user in the lead university's team?" once per page
    for several steps (services.allowed_actions); None asks the database."""

    report: ProgressReport
    action: str
    from_status: str
    submission_open: bool
    lead_team: Callable[[], bool] | None = None


def _code(province) -> int:
    """A province given as itself or by its code."""
    return getattr(province, "pk", province)


def _is_coordinator_of(scope: Scope, province_id: int) -> bool:
    """A coordinator of the province (writable_provinces holds coordinator roles only)."""
    return province_id in scope.writable_provinces


def _is_lead_team(scope: Scope, report: ProgressReport) -> bool:
    """A lead or member of the university that leads the report's province in the REPORT'S fiscal year."""
    if not scope.universities:
        return False
    return (
        SupportAssignment.objects.for_fiscal_year(report.fiscal_year)
        .leads()
        .filter(province_id=report.province_id, university_id__in=scope.universities)
        .exists()
    )


def _may_act(user: Principal | None, scope: Scope, step: Step) -> bool:
    if step.action == ReportEvent.Action.SUBMIT:
        return _is_coordinator_of(scope, step.report.province_id) if step.submission_open else scope.national
    if step.action == ReportEvent.Action.ACCEPT:
        return scope.national
    if step.action == ReportEvent.Action.RETURN and step.from_status == Status.REVIEWED:
        return scope.national
    # review, and return from submitted: the lead university's team or EEF/IPSR.
    return scope.national or (step.lead_team or (lambda: _is_lead_team(scope, step.report)))()


def register_rules() -> None:
    # obj: the province (or its code).
    register("reports.write", lambda user, scope, province: scope.can_write_province(_code(province)))
    # Filing a province's reports is its coordinators' (the province page's button); admins act on their behalf.
    register("reports.file", lambda user, scope, province: _is_coordinator_of(scope, _code(province)))
    register("reports.create", lambda user, scope, obj: scope.national or bool(scope.writable_provinces))
    register("reports.lead_team", lambda user, scope, report: _is_lead_team(scope, report))
    register("reports.act", _may_act)
