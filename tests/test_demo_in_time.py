"""Demo data is possible in time (issue 12): nothing is dated after the moment it was loaded, no report is
submitted before its period's last month (nor reviewed or accepted in the wrong order), and every history entry
is recorded at or after the thing it describes — a record exists before its first change, a request is filed
before it is delivered, help is recorded after it was given."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.periods import period_bounds
from reports.models import ProgressReport, ReportEvent, submission_opens

pytestmark = pytest.mark.django_db

BANGKOK = ZoneInfo("Asia/Bangkok")


def _local_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def _check_reports(now: datetime.datetime) -> None:
    reports = list(ProgressReport.objects.filter(is_demo=True).prefetch_related("events"))
    assert len(reports) == 24
    for report in reports:
        events = list(report.events.all())
        moments = [report.created_at, *(e.created_at for e in events)]
        assert moments == sorted(moments), report  # created first, steps in order
        assert max(*moments, report.updated_at) <= now, report  # nothing after now
        _start, end = period_bounds(report.fiscal_year, report.period)
        for event in events:
            if event.action == ReportEvent.Action.SUBMIT:
                assert _local_date(event.created_at) >= submission_opens(report.fiscal_year, report.period), report
                assert not event.override_reason
            if event.action == ReportEvent.Action.ACCEPT:
                assert _local_date(event.created_at) > end, report  # accepted once the period is over


def test_every_demo_loader_gives_possible_dates(cast):
    from meetings.models import ActionItem, LessonLearned, Meeting
    from portal.demo.meetings import load_demo_meetings
    from portal.demo.provinces import ensure_demo_admin, ensure_demo_users, load_demo_assignments
    from portal.demo.provincial_work import load_demo_provincial_work
    from portal.demo.records import load_demo_records
    from portal.demo.reports import load_demo_reports
    from targets.models import Assistance, StatusChange, TargetRecord

    ensure_demo_admin()
    ensure_demo_users()
    load_demo_assignments()
    load_demo_provincial_work()
    from portal.demo.support import load_demo_support

    load_demo_support()
    assert load_demo_reports() == 24
    load_demo_meetings()
    assert load_demo_records(count=600) > 0
    now = timezone.now()
    today = timezone.localdate()

    _check_reports(now)

    # Target-group records: entered before their first change and before any help; help recorded after it.
    records = {r.pk: r for r in TargetRecord.objects.filter(is_demo=True).only("pk", "created_at")}
    changes = list(StatusChange.objects.filter(record__is_demo=True))
    assert changes
    for change in changes:
        assert records[change.record_id].created_at <= change.changed_at <= now
    helps = list(Assistance.objects.filter(record__is_demo=True))
    assert helps
    for help_given in helps:
        assert help_given.date <= today
        assert _local_date(records[help_given.record_id].created_at) <= help_given.date
        assert _local_date(help_given.created_at) >= help_given.date
    assert max(r.created_at for r in records.values()) <= now

    _check_cases(now)

    # Support activities happened before they were recorded; a capacity request was filed before its delivery.
    from universities.models import CapacityRequest, SupportActivity

    for activity in SupportActivity.objects.filter(is_demo=True):
        assert activity.date <= _local_date(activity.created_at) <= today
    requests = list(CapacityRequest.objects.filter(is_demo=True).select_related("delivered_activity"))
    assert requests
    for request_obj in requests:
        assert request_obj.created_at <= now
        if request_obj.delivered_activity:
            assert _local_date(request_obj.created_at) < request_obj.delivered_activity.date
        if request_obj.scheduled_for:
            assert _local_date(request_obj.created_at) <= request_obj.scheduled_for

    # Meetings: held ones are in the past, planned ones ahead; what a meeting produced comes after it.
    for meeting in Meeting.objects.filter(is_demo=True):
        assert meeting.created_at <= now
        if meeting.status == Meeting.Status.HELD:
            assert meeting.ends_on < today, meeting
        if meeting.status == Meeting.Status.PLANNED:
            assert meeting.starts_on >= today, meeting
    for lesson in LessonLearned.objects.filter(meeting__is_demo=True).select_related("meeting"):
        assert lesson.meeting.status == Meeting.Status.HELD
    for item in ActionItem.objects.filter(meeting__is_demo=True).select_related("meeting"):
        assert _local_date(item.created_at) >= item.meeting.starts_on
        assert item.created_at <= now


def _check_cases(now: datetime.datetime) -> None:
    """Case follow-up: assigned after the record existed, contacted after the assignment, referred after
    the first contact, answered after the referral, closed after all of it; nothing after now."""
    from django.conf import settings

    from cases.models import Agency, AgencyType, Case, CaseEvent, Contact, Referral, ReferralState
    from cases.services import due_on
    from portal.demo.cases import load_demo_cases
    from portal.demo.provinces import DEMO_LEADS

    made = load_demo_cases()
    assert made["cases"] > 0
    assert made["referrals"] > 0
    assert load_demo_cases() == {"agencies": 0, "cases": 0, "contacts": 0, "referrals": 0}  # idempotent
    # Every default agency type in every demo province.
    types = set(AgencyType.objects.filter(is_active=True).values_list("pk", flat=True))
    for code in DEMO_LEADS:
        assert set(Agency.objects.filter(province_id=code, is_demo=True).values_list("type_id", flat=True)) == types
    cases = list(Case.objects.filter(record__is_demo=True).select_related("record"))
    for case in cases:
        record = case.record
        assert record.case_worker_id is not None
        assert record.case_assigned_at is not None
        assert record.created_at <= record.case_assigned_at == case.opened_at <= now, case
        contacts = sorted(Contact.objects.filter(case=case), key=lambda c: c.happened_at)
        for contact in contacts:
            assert case.opened_at <= contact.happened_at <= contact.created_at <= now, contact
        assert case.failed_attempts == sum(1 for c in contacts if not c.reached)
        if contacts:
            assert case.first_contact_at == contacts[0].happened_at
            assert case.last_contact_at == contacts[-1].happened_at
        assert case.due_on == due_on(case)
        moments = [case.opened_at, *(c.happened_at for c in contacts)]
        for referral in Referral.objects.filter(case=case).prefetch_related("events"):
            events = list(referral.events.all())
            assert contacts
            assert contacts[0].happened_at <= referral.sent_at
            times = [e.at for e in events]
            assert times == sorted(times)
            assert times[0] == referral.sent_at
            assert times[-1] <= now
            assert events[-1].to_state == referral.state
            if referral.answered_at:
                assert referral.sent_at < referral.answered_at <= now
            if not referral.is_open:
                assert referral.finished_at == times[-1]
            moments += times
        if case.closed_at is not None:
            assert case.closed_at >= max(moments), case
            assert case.closed_at <= now
            if case.close_reason == "not_found":
                assert case.failed_attempts >= settings.CASES_NOT_FOUND_ATTEMPTS
        assert all(case.opened_at <= e.at <= now for e in CaseEvent.objects.filter(case=case))
    states = set(Referral.objects.filter(case__record__is_demo=True).values_list("state", flat=True))
    assert states == set(ReferralState.values)
    assert Contact.objects.filter(case__record__is_demo=True, reached=False).exists()
    assert Case.objects.filter(record__is_demo=True, closed_at__isnull=False).exists()


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 10, 1, 0, 30, tzinfo=BANGKOK),  # the first half hour of a fiscal year
        datetime.datetime(2026, 12, 1, 7, 5, tzinfo=BANGKOK),  # the morning Q1's last month opens
        datetime.datetime(2027, 2, 14, 15, 0, tzinfo=BANGKOK),  # Q2 under way, its last month not yet begun
        datetime.datetime(2027, 9, 30, 23, 50, tzinfo=BANGKOK),  # the last minutes of a fiscal year
    ],
)
def test_demo_reports_are_possible_whenever_they_are_loaded(cast, moment):
    from portal.demo.provinces import ensure_demo_admin, ensure_demo_users, load_demo_assignments
    from portal.demo.reports import demo_periods, load_demo_reports

    ensure_demo_admin()
    ensure_demo_users()
    load_demo_assignments()
    now = moment
    assert load_demo_reports(now=now) == 24
    _check_reports(now)
    older, recent = demo_periods(now.date())
    assert {(r.fiscal_year, r.period) for r in ProgressReport.objects.all()} == {older, recent}
    assert period_bounds(*older)[1] < period_bounds(*recent)[0]
