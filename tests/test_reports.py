"""Progress reports: the coordinator writes, the lead university reviews, EEF accepts, nobody else
moves a report, and an accepted report is locked (reports/services.py, reports/views.py, admin)."""

import datetime
import io

import pytest
import tablib
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from import_export.exceptions import ImportError as ImportExportError
from openpyxl import load_workbook

from accounts.models import Role
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.buddhist_dates import current_fiscal_year
from core.periods import period_bounds
from core.spreadsheet_safety import neutralise_formula
from reports import services
from reports.models import SECTIONS, ProgressReport, ReportEvent, Status, submission_opens
from reports.resources import ProgressReportResource
from universities.models import SupportAssignment, University

pytestmark = pytest.mark.django_db

YEAR = current_fiscal_year()
ACTIONS = ("submit", "review", "accept", "return")
SECTIONS_TEXT = {
    "situation": "พบเด็กนอกระบบ 120 คน",
    "mechanisms": "คณะทำงานจังหวัดประชุม 2 ครั้ง",
    "progress": "กลับเข้าเรียน 30 คน",
    "recommendations": "ขอทุนเสมอภาคเพิ่ม",
    "lessons_learned": "การลงพื้นที่ร่วมกันได้ผล",
}


@pytest.fixture(autouse=True)
def reporting_day(monkeypatch):
    """The period rules are checked against reports.services.today(): pinned to the last day of this
    fiscal year, when every period of it may be submitted, so the tests do not depend on the calendar.
    A test moves the day by calling the fixture's value."""

    def pin(day):
        monkeypatch.setattr(services, "today", lambda: day)

    pin(period_bounds(YEAR, "Q4")[1])
    return pin


@pytest.fixture
def ipsr_member(cast):
    """A member of MU-IPSR, which supports province A beside its lead (KKU) but does not lead it."""
    return make_user("ipsr@example.org", role=Role.UNIVERSITY_MEMBER, university="MU-IPSR")


@pytest.fixture
def report_a(cast):
    """A draft of province A for this fiscal year, written by A's coordinator."""
    report = services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR, period="Q1")
    return services.update_report(report=report, user=cast.coordinator_a, **SECTIONS_TEXT)


def _advance(report, cast, to: str) -> ProgressReport:
    """Move a report of A along the workflow, each step by the one who may take it."""
    steps = [("submit", cast.coordinator_a), ("review", cast.university_member), ("accept", cast.eef_admin)]
    order: list[str] = [Status.DRAFT, Status.SUBMITTED, Status.REVIEWED, Status.ACCEPTED]
    report = _fresh(report)
    for action, user in steps[order.index(report.status) : order.index(to)]:
        report = services.transition(report=report, user=user, action=action)
    return report


def _seen(report) -> dict:
    """The report's version as its pages show it: forms send it back (tests/test_stale_edits.py)."""
    return {"seen_version": _fresh(report).version}


def _fresh(report) -> ProgressReport:
    return ProgressReport.objects.get(pk=report.pk)


# --- the workflow through the service -------------------------------------------------------------


def test_coordinator_writes_submits_university_reviews_and_eef_accepts(cast, report_a):
    assert report_a.status == Status.DRAFT
    assert report_a.situation == SECTIONS_TEXT["situation"]
    submitted = services.transition(report=report_a, user=cast.coordinator_a, action="submit")
    assert submitted.status == Status.SUBMITTED
    reviewed = services.transition(report=submitted, user=cast.university_member, action="review", comment="ครบถ้วน")
    assert reviewed.status == Status.REVIEWED
    accepted = services.transition(report=reviewed, user=cast.eef_admin, action="accept")
    assert accepted.status == Status.ACCEPTED
    assert _fresh(report_a).is_locked

    steps = list(
        ReportEvent.objects.filter(report=report_a).values_list(
            "action", "from_status", "to_status", "actor", "comment"
        )
    )
    assert steps == [
        ("submit", "draft", "submitted", cast.coordinator_a.pk, ""),
        ("review", "submitted", "reviewed", cast.university_member.pk, "ครบถ้วน"),
        ("accept", "reviewed", "accepted", cast.eef_admin.pk, ""),
    ]


def _outsiders(cast, ipsr_member, kku_for_b=None) -> dict:
    return {
        "coordinator_b": cast.coordinator_b,
        "viewer_a": cast.viewer_a,
        "no_role": cast.no_role,
        "non_lead_supporting_university": ipsr_member,
    }


# Who may take which action at each stage of a report of province A (everyone else is refused).
ALLOWED = {
    Status.DRAFT: {("coordinator_a", "submit")},
    Status.SUBMITTED: {
        ("university_member", "review"),
        ("university_member", "return"),
        ("eef_admin", "review"),
        ("eef_admin", "return"),
    },
    Status.REVIEWED: {("eef_admin", "accept"), ("eef_admin", "return")},
    Status.ACCEPTED: set(),
}


@pytest.mark.parametrize("stage", [Status.DRAFT, Status.SUBMITTED, Status.REVIEWED, Status.ACCEPTED])
def test_nobody_else_can_move_the_report_at_any_stage(cast, ipsr_member, report_a, stage):
    report = _advance(report_a, cast, stage)
    people = {
        "eef_admin": cast.eef_admin,
        "university_member": cast.university_member,
        "coordinator_a": cast.coordinator_a,
        **_outsiders(cast, ipsr_member),
    }
    for name, user in people.items():
        allowed = sorted(a for who, a in ALLOWED[stage] if who == name)
        assert sorted(services.allowed_actions(report=report, user=user)) == allowed, name
        for action in ACTIONS:
            if action in allowed:
                continue
            expected = (PermissionDenied, ValidationError)
            if name in _outsiders(cast, ipsr_member):
                expected = PermissionDenied  # never theirs to move, whatever the state
            with pytest.raises(expected):
                services.transition(report=report, user=user, action=action, comment="ขอแก้ไข")
    assert _fresh(report).status == stage
    assert ReportEvent.objects.filter(report=report).count() == [
        Status.DRAFT,
        Status.SUBMITTED,
        Status.REVIEWED,
        Status.ACCEPTED,
    ].index(stage)


def test_university_member_cannot_move_a_report_of_a_province_their_university_does_not_lead(cast):
    report_b = services.create_report(user=cast.coordinator_b, province=PROVINCE_B, fiscal_year=YEAR, period="Q1")
    report_b = services.transition(report=report_b, user=cast.coordinator_b, action="submit")
    for action in ("review", "return"):
        with pytest.raises(PermissionDenied):
            services.transition(report=report_b, user=cast.university_member, action=action, comment="x")
    # B's own lead (UP) may.
    up_member = make_user("up@example.org", role=Role.UNIVERSITY_MEMBER, university="UP")
    assert services.allowed_actions(report=report_b, user=up_member) == ["review", "return"]


def test_reviewer_is_the_lead_of_the_reports_own_fiscal_year(cast):
    # In FY 2565 (no demo assignment) UP led province A: KKU, today's lead, may not review that year's report.
    SupportAssignment.objects.create(
        university=University.objects.get(code="UP"), province_id=PROVINCE_A, fiscal_year=2565, is_lead=True
    )
    old = services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=2565, period="H2")
    old = services.transition(report=old, user=cast.coordinator_a, action="submit")
    with pytest.raises(PermissionDenied):
        services.transition(report=old, user=cast.university_member, action="review")
    up_lead = make_user("up.lead@example.org", role=Role.UNIVERSITY_LEAD, university="UP")
    assert services.transition(report=old, user=up_lead, action="review").status == Status.REVIEWED


def test_return_needs_a_comment(cast, report_a):
    submitted = _advance(report_a, cast, Status.SUBMITTED)
    for blank in ("", "   \n"):
        with pytest.raises(ValidationError) as error:
            services.transition(report=submitted, user=cast.university_member, action="return", comment=blank)
        assert "comment" in error.value.message_dict
    assert _fresh(report_a).status == Status.SUBMITTED

    back = services.transition(
        report=submitted, user=cast.university_member, action="return", comment=" เพิ่มตัวเลขรายอำเภอ "
    )
    assert back.status == Status.DRAFT
    event = ReportEvent.objects.get(report=report_a, action="return")
    assert (event.from_status, event.to_status, event.comment) == ("submitted", "draft", "เพิ่มตัวเลขรายอำเภอ")
    # Back in draft, the coordinator edits and submits again.
    services.update_report(report=back, user=cast.coordinator_a, progress="กลับเข้าเรียน 30 คน ใน 4 อำเภอ")
    assert services.transition(report=back, user=cast.coordinator_a, action="submit").status == Status.SUBMITTED


def test_only_eef_sends_back_a_reviewed_report(cast, report_a):
    reviewed = _advance(report_a, cast, Status.REVIEWED)
    with pytest.raises(PermissionDenied):
        services.transition(report=reviewed, user=cast.university_member, action="return", comment="ขอแก้")
    back = services.transition(report=reviewed, user=cast.eef_admin, action="return", comment="ขอเพิ่มข้อเสนอแนะ")
    assert back.status == Status.DRAFT


def test_unknown_action_is_refused(cast, report_a):
    with pytest.raises(ValidationError):
        services.transition(report=report_a, user=cast.eef_admin, action="delete")


def test_accepted_report_cannot_be_updated_by_anyone(cast, report_a):
    accepted = _advance(report_a, cast, Status.ACCEPTED)
    for user in (cast.coordinator_a, cast.eef_admin):
        with pytest.raises(ValidationError):
            services.update_report(report=accepted, user=user, situation="แก้ไขภายหลัง")
    for user in (cast.coordinator_b, cast.viewer_a, cast.university_member, cast.no_role):
        with pytest.raises((PermissionDenied, ValidationError)):
            services.update_report(report=accepted, user=user, situation="แก้ไขภายหลัง")
    assert _fresh(report_a).situation == SECTIONS_TEXT["situation"]


# --- report periods (issue 12) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [("H1", "Q1"), ("H1", "Q2"), ("Q1", "H1"), ("Q2", "H1"), ("H2", "Q3"), ("Q4", "H2")],
)
def test_periods_of_one_province_do_not_overlap(cast, first, second):
    services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR, period=first)
    with pytest.raises(ValidationError) as error:
        services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR, period=second)
    assert "period" in error.value.message_dict
    # Another province, or another fiscal year, is free to report on that period.
    assert services.create_report(user=cast.coordinator_b, province=PROVINCE_B, fiscal_year=YEAR, period=second).pk
    assert services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR - 1, period=second).pk


def test_quarters_that_do_not_overlap_live_side_by_side(cast):
    for period in ("Q1", "Q2", "H2"):
        services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR, period=period)
    assert ProgressReport.objects.filter(province_id=PROVINCE_A).count() == 3


def test_no_report_more_than_one_fiscal_year_ahead(cast, reporting_day):
    reporting_day(period_bounds(YEAR, "Q1")[0])  # the first day of this fiscal year
    assert services.create_report(user=cast.eef_admin, province=PROVINCE_A, fiscal_year=YEAR + 1, period="Q1").pk
    for year in (YEAR + 2, YEAR + 5):
        with pytest.raises(ValidationError) as error:
            services.create_report(user=cast.eef_admin, province=PROVINCE_A, fiscal_year=year, period="Q4")
        assert "fiscal_year" in error.value.message_dict


def test_the_create_page_names_the_overlap_and_the_year_too_far_ahead(cast, report_a, client_for):
    client = client_for(cast.coordinator_a)
    response = client.post("/reports/new/", {"province": PROVINCE_A, "fiscal_year": YEAR, "period": "H1"})
    assert response.status_code == 200
    assert response.context["form"].errors["period"]
    response = client.post("/reports/new/", {"province": PROVINCE_A, "fiscal_year": YEAR + 5, "period": "Q4"})
    assert response.context["form"].errors["fiscal_year"]
    assert ProgressReport.objects.count() == 1


def test_admin_add_refuses_an_overlapping_period_on_the_form(cast, report_a, client_for):
    response = client_for(cast.eef_admin).post(
        "/admin/reports/progressreport/add/",
        {"province": PROVINCE_A, "fiscal_year": YEAR, "period": "H1", "situation": "x"},
    )
    assert response.status_code == 200  # the form again, with the reason, not a 500
    assert response.context["adminform"].form.errors
    assert ProgressReport.objects.count() == 1


def test_coordinator_cannot_submit_before_the_periods_last_month(cast, report_a, reporting_day):
    opens = submission_opens(YEAR, "Q1")  # 1 December
    reporting_day(opens - datetime.timedelta(days=1))
    assert services.allowed_actions(report=report_a, user=cast.coordinator_a) == []
    with pytest.raises(PermissionDenied):
        services.transition(report=report_a, user=cast.coordinator_a, action="submit")
    assert _fresh(report_a).status == Status.DRAFT
    reporting_day(opens)
    assert services.allowed_actions(report=report_a, user=cast.coordinator_a) == ["submit"]
    assert services.transition(report=report_a, user=cast.coordinator_a, action="submit").status == Status.SUBMITTED


def test_admin_submits_early_only_with_a_reason_kept_in_the_history(cast, report_a, reporting_day, client_for):
    reporting_day(period_bounds(YEAR, "Q1")[0] + datetime.timedelta(days=20))  # 21 October
    assert services.allowed_actions(report=report_a, user=cast.eef_admin) == ["submit"]
    with pytest.raises(ValidationError) as error:
        services.transition(report=report_a, user=cast.eef_admin, action="submit", override_reason="  ")
    assert "override_reason" in error.value.message_dict
    assert _fresh(report_a).status == Status.DRAFT

    reason = "คณะทำงานจังหวัดขอส่งก่อนเพื่อนำเข้าที่ประชุมผู้ว่าราชการจังหวัด"
    submitted = services.transition(report=report_a, user=cast.eef_admin, action="submit", override_reason=reason)
    assert submitted.status == Status.SUBMITTED
    event = ReportEvent.objects.get(report=report_a)
    assert (event.action, event.actor, event.override_reason) == ("submit", cast.eef_admin, reason)
    page = client_for(cast.viewer_a).get(_url(report_a)).content.decode()
    assert reason in page
    assert 'data-testid="override-reason"' in page


def test_no_override_reason_where_none_is_needed(cast, report_a):
    with pytest.raises(ValidationError):
        services.transition(report=report_a, user=cast.coordinator_a, action="submit", override_reason="ขอส่งก่อน")
    assert _fresh(report_a).status == Status.DRAFT


def test_early_submission_through_the_page(cast, report_a, reporting_day, client_for):
    reporting_day(period_bounds(YEAR, "Q1")[0])
    coordinator_page = client_for(cast.coordinator_a).get(_url(report_a)).content.decode()
    assert 'data-testid="action-submit"' not in coordinator_page
    assert 'data-testid="submission-opens"' in coordinator_page
    eef = client_for(cast.eef_admin)
    assert 'name="override_reason"' in eef.get(_url(report_a)).content.decode()
    response = eef.post(_url(report_a, "transition/"), {"action": "submit", **_seen(report_a)})
    assert response.status_code == 200
    assert response.context["transition_form"].errors["override_reason"]
    response = eef.post(
        _url(report_a, "transition/"),
        {"action": "submit", "override_reason": "ส่งล่วงหน้าตามคำขอของจังหวัด", **_seen(report_a)},
    )
    assert response.status_code == 302
    assert ReportEvent.objects.get(report=report_a).override_reason == "ส่งล่วงหน้าตามคำขอของจังหวัด"


# --- creating and writing ------------------------------------------------------------------------


def test_coordinator_creates_only_their_own_provinces_reports(cast):
    report = services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR, period="H1")
    assert (report.status, report.created_by, report.province_id) == (Status.DRAFT, cast.coordinator_a, PROVINCE_A)
    for user in (cast.coordinator_b, cast.viewer_a, cast.university_member, cast.no_role):
        with pytest.raises(PermissionDenied):
            services.create_report(user=user, province=PROVINCE_A, fiscal_year=YEAR, period="Q2")
    assert services.create_report(user=cast.eef_admin, province=PROVINCE_B, fiscal_year=YEAR, period="Q2").pk


def test_one_report_per_province_and_period(cast, report_a):
    with translation.override("en"), pytest.raises(ValidationError, match="already exists"):
        services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR, period="Q1")


def test_fiscal_year_must_be_buddhist_era(cast):
    with pytest.raises(ValidationError):
        services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=2026, period="Q1")
    assert not ProgressReport.objects.exists()


def test_only_writers_update_and_only_a_draft(cast, report_a):
    for user in (cast.coordinator_b, cast.viewer_a, cast.university_member, cast.no_role):
        with pytest.raises(PermissionDenied):
            services.update_report(report=report_a, user=user, situation="x")
    services.update_report(report=report_a, user=cast.eef_admin, lessons_learned="ข้อเรียนรู้จาก กสศ.")
    with pytest.raises(ValidationError):
        services.update_report(report=report_a, user=cast.coordinator_a, colour="red")
    submitted = _advance(report_a, cast, Status.SUBMITTED)
    with pytest.raises(ValidationError):
        services.update_report(report=submitted, user=cast.coordinator_a, situation="x")
    assert _fresh(report_a).lessons_learned == "ข้อเรียนรู้จาก กสศ."


# --- mail to the next people ---------------------------------------------------------------------


def test_each_step_mails_the_next_people(cast, ipsr_member, report_a, django_capture_on_commit_callbacks):
    kku_lead = make_user("kku.lead@example.org", role=Role.UNIVERSITY_LEAD, university="KKU")
    second_coordinator = make_user("coord.a2@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    base = "https://abe.example.org/"
    link = f"https://abe.example.org/reports/{report_a.pk}/"

    def step(user, action, comment=""):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.transition(report=report_a, user=user, action=action, comment=comment, base_url=base)
        assert all(len(message.to) == 1 for message in mail.outbox)  # nobody sees the others' addresses
        return sorted(message.to[0] for message in mail.outbox)

    # Submitted: the lead university's team (not the supporting MU-IPSR, not the coordinators).
    assert step(cast.coordinator_a, "submit") == ["kku.lead@example.org", "kku@example.org"]
    message = mail.outbox[0]
    for words in ("รายงานความก้าวหน้า", "ขอนแก่น", "Progress report", "Khon Kaen"):
        assert words in message.subject
    for words in (link, "ผู้ประสานงานจังหวัดส่งรายงานแล้ว", "has submitted the report"):
        assert words in message.body

    # Sent back: the province's coordinators, with the comment.
    assert step(cast.university_member, "return", "เพิ่มตัวเลข & ตาราง") == [
        "coord.a2@example.org",
        "coord.a@example.org",
    ]
    assert "เพิ่มตัวเลข & ตาราง" in mail.outbox[0].body  # plain text: nothing HTML-escaped

    step(cast.coordinator_a, "submit")
    # Reviewed: the EEF/IPSR admins.
    assert step(kku_lead, "review") == ["eef@example.org"]
    # Accepted: the province's coordinators.
    assert step(cast.eef_admin, "accept") == ["coord.a2@example.org", "coord.a@example.org"]
    assert link in mail.outbox[0].body
    assert second_coordinator.email in [m.to[0] for m in mail.outbox]


def test_a_refused_step_mails_nobody(cast, report_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        services.transition(report=report_a, user=cast.viewer_a, action="submit")
    assert mail.outbox == []


def test_a_failing_mail_server_does_not_undo_the_step(cast, report_a, django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "tests.test_reports.BrokenMailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        services.transition(report=report_a, user=cast.coordinator_a, action="submit")
    assert _fresh(report_a).status == Status.SUBMITTED


class BrokenMailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


# --- the pages ----------------------------------------------------------------------------------


def _url(report, suffix: str = "") -> str:
    return f"/reports/{report.pk}/{suffix}"


def test_the_journey_through_the_pages(cast, client_for, django_capture_on_commit_callbacks):
    coordinator = client_for(cast.coordinator_a)
    response = coordinator.post("/reports/new/", {"province": PROVINCE_A, "fiscal_year": YEAR, "period": "Q2"})
    report = ProgressReport.objects.get(province_id=PROVINCE_A, fiscal_year=YEAR, period="Q2")
    assert response.status_code == 302
    assert response["Location"] == _url(report, "edit/")
    assert coordinator.post(_url(report, "edit/"), {**SECTIONS_TEXT, **_seen(report)}).status_code == 302
    assert _fresh(report).progress == SECTIONS_TEXT["progress"]

    with django_capture_on_commit_callbacks(execute=True):
        assert coordinator.post(_url(report, "transition/"), {"action": "submit", **_seen(report)}).status_code == 302
    assert _fresh(report).status == Status.SUBMITTED
    assert f"http://testserver/reports/{report.pk}/" in mail.outbox[0].body  # the link comes from the request

    university = client_for(cast.university_member)
    response = university.post(_url(report, "transition/"), {"action": "review", "comment": "ดี", **_seen(report)})
    assert response.status_code == 302
    assert _fresh(report).status == Status.REVIEWED

    eef = client_for(cast.eef_admin)
    response = eef.post(_url(report, "transition/"), {"action": "accept", **_seen(report)}, follow=True)
    assert _fresh(report).status == Status.ACCEPTED
    page = response.content.decode()
    assert 'data-testid="locked"' in page
    assert 'data-testid="transition-form"' not in page


# What each outsider gets for a POST to a report of A: 404 where they cannot see it, 403 where they can.
OUTSIDER_POST = {"coordinator_b": 404, "no_role": 404, "viewer_a": 403, "non_lead_supporting_university": 403}


@pytest.mark.parametrize("stage", [Status.DRAFT, Status.SUBMITTED, Status.REVIEWED, Status.ACCEPTED])
def test_outsiders_cannot_move_the_report_by_post(cast, ipsr_member, report_a, client_for, stage):
    report = _advance(report_a, cast, stage)
    outsiders = _outsiders(cast, ipsr_member)
    for name, expected in OUTSIDER_POST.items():
        client = client_for(outsiders[name])
        for action in ACTIONS:
            response = client.post(_url(report, "transition/"), {"action": action, "comment": "ขอแก้"})
            assert response.status_code == expected, (name, action)
    # And those inside the workflow cannot take another's step.
    insiders = {"eef_admin": cast.eef_admin, "university_member": cast.university_member, "a": cast.coordinator_a}
    for name, user in insiders.items():
        who = "coordinator_a" if name == "a" else name
        client = client_for(user)
        for action in ACTIONS:
            if (who, action) in ALLOWED[stage]:
                continue
            response = client.post(_url(report, "transition/"), {"action": action, "comment": "ขอแก้", **_seen(report)})
            # 403 when the step is not theirs; the page again with the reason when the state is wrong.
            assert response.status_code in (403, 200), (who, action)
    assert _fresh(report).status == stage


def test_university_member_cannot_post_a_step_on_a_report_of_another_province(cast, client_for):
    report_b = services.create_report(user=cast.coordinator_b, province=PROVINCE_B, fiscal_year=YEAR, period="Q1")
    report_b = services.transition(report=report_b, user=cast.coordinator_b, action="submit")
    client = client_for(cast.university_member)
    assert client.post(_url(report_b, "transition/"), {"action": "review"}).status_code == 404
    assert _fresh(report_b).status == Status.SUBMITTED


def test_accepted_report_cannot_be_edited_by_post(cast, report_a, client_for):
    accepted = _advance(report_a, cast, Status.ACCEPTED)
    changed = {**SECTIONS_TEXT, "situation": "แก้ไขหลังรับรอง"}
    for user, expected in (
        (cast.coordinator_a, 403),
        (cast.eef_admin, 403),
        (cast.viewer_a, 403),
        (cast.university_member, 403),
        (cast.coordinator_b, 404),
        (cast.no_role, 404),
    ):
        client = client_for(user)
        assert client.get(_url(accepted, "edit/")).status_code == expected
        assert client.post(_url(accepted, "edit/"), changed).status_code == expected
    assert _fresh(report_a).situation == SECTIONS_TEXT["situation"]


def test_accepted_report_cannot_be_changed_in_admin(cast, report_a, client_for):
    accepted = _advance(report_a, cast, Status.ACCEPTED)
    url = f"/admin/reports/progressreport/{accepted.pk}/"
    data = {
        **SECTIONS_TEXT,
        "situation": "แก้ไขใน admin",
        "status": "draft",
        "events-TOTAL_FORMS": "3",
        "events-INITIAL_FORMS": "3",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for user in (cast.eef_admin, cast.coordinator_a):
        client = client_for(user)
        assert client.get(f"{url}change/").status_code == 200  # read-only view
        assert client.post(f"{url}change/", data).status_code == 403
        assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert client_for(cast.coordinator_b).post(f"{url}change/", data).status_code == 404
    fresh = _fresh(report_a)
    assert (fresh.status, fresh.situation) == (Status.ACCEPTED, SECTIONS_TEXT["situation"])


def test_admin_edits_a_draft_through_the_service_and_never_moves_its_status(cast, report_a, client_for):
    url = f"/admin/reports/progressreport/{report_a.pk}/change/"
    data = {
        **SECTIONS_TEXT,
        "progress": "แก้ไขโดยผู้ประสานงานใน admin",
        "status": "accepted",  # read-only: ignored
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
        "_save": "Save",
        **_seen(report_a),
    }
    assert client_for(cast.coordinator_a).post(url, data).status_code == 302
    fresh = _fresh(report_a)
    assert (fresh.status, fresh.progress) == (Status.DRAFT, "แก้ไขโดยผู้ประสานงานใน admin")
    # A submitted report is read-only in admin, for its coordinator and for EEF alike.
    _advance(report_a, cast, Status.SUBMITTED)
    assert client_for(cast.coordinator_a).post(url, data).status_code == 403
    assert client_for(cast.eef_admin).post(url, data).status_code == 403


def test_admin_add_goes_through_create_report_and_offers_only_writable_provinces(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.get("/admin/reports/progressreport/add/")
    assert list(response.context["adminform"].form.fields["province"].queryset) == [
        cast.coordinator_a.memberships.get().province
    ]
    data = {
        "province": PROVINCE_A,
        "fiscal_year": YEAR,
        "period": "Q3",
        **SECTIONS_TEXT,
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    assert client.post("/admin/reports/progressreport/add/", data).status_code == 302
    report = ProgressReport.objects.get(province_id=PROVINCE_A, period="Q3")
    assert (report.status, report.created_by, report.situation) == (
        Status.DRAFT,
        cast.coordinator_a,
        SECTIONS_TEXT["situation"],
    )
    # Province B is not a choice for A's coordinator.
    response = client.post("/admin/reports/progressreport/add/", {**data, "province": PROVINCE_B, "period": "Q4"})
    assert response.status_code == 200
    assert not ProgressReport.objects.filter(province_id=PROVINCE_B).exists()


def test_admin_deletes_only_a_draft_that_never_entered_the_workflow(cast, report_a, client_for):
    other = services.create_report(user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=YEAR, period="Q4")
    client = client_for(cast.coordinator_a)
    sent_back = _advance(report_a, cast, Status.SUBMITTED)
    services.transition(report=sent_back, user=cast.university_member, action="return", comment="แก้")
    assert client.post(f"/admin/reports/progressreport/{report_a.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/reports/progressreport/{other.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(ProgressReport.objects.values_list("pk", flat=True)) == [report_a.pk]


def test_transition_answers_405_to_a_get(cast, report_a, client_for):
    assert client_for(cast.coordinator_a).get(_url(report_a, "transition/")).status_code == 405
    assert _fresh(report_a).status == Status.DRAFT


def test_sending_back_without_a_comment_shows_the_page_again_with_the_reason(cast, report_a, client_for):
    _advance(report_a, cast, Status.SUBMITTED)
    client = client_for(cast.university_member)
    response = client.post(_url(report_a, "transition/"), {"action": "return", "comment": " ", **_seen(report_a)})
    assert response.status_code == 200
    assert response.context["transition_form"].errors["comment"]
    assert _fresh(report_a).status == Status.SUBMITTED


def test_detail_page_shows_only_the_buttons_the_user_may_press(cast, ipsr_member, report_a, client_for):
    def buttons(user) -> list[str]:
        page = client_for(user).get(_url(report_a)).content.decode()
        return [action for action in ACTIONS if f'data-testid="action-{action}"' in page]

    assert buttons(cast.coordinator_a) == ["submit"]
    assert buttons(cast.eef_admin) == []
    assert buttons(cast.university_member) == []
    _advance(report_a, cast, Status.SUBMITTED)
    assert buttons(cast.university_member) == ["review", "return"]
    assert buttons(cast.eef_admin) == ["review", "return"]
    assert buttons(cast.coordinator_a) == []
    assert buttons(ipsr_member) == []
    assert buttons(cast.viewer_a) == []
    _advance(report_a, cast, Status.REVIEWED)
    assert buttons(cast.eef_admin) == ["accept", "return"]
    assert buttons(cast.university_member) == []


def test_detail_page_shows_the_sections_in_order_and_the_history(cast, report_a, client_for):
    _advance(report_a, cast, Status.SUBMITTED)
    services.transition(report=report_a, user=cast.university_member, action="return", comment="เพิ่มตารางรายอำเภอ")
    page = client_for(cast.viewer_a).get(_url(report_a)).content.decode()
    positions = [page.index(text) for text in SECTIONS_TEXT.values()]
    assert positions == sorted(positions)
    with translation.override("th"):
        labels = [str(label) for _name, label in SECTIONS]
    label_positions = [page.index(f"</span> {label}</h2>") for label in labels]
    assert label_positions == sorted(label_positions)
    # The history: who, what, when (in พ.ศ.), and the comment.
    assert page.count('data-testid="history-event"') == 2
    assert "เพิ่มตารางรายอำเภอ" in page
    assert str(cast.university_member) in page
    assert str(timezone.localdate().year + 543) in page


def test_edit_page_is_for_the_writers_of_a_draft(cast, report_a, client_for):
    assert client_for(cast.coordinator_a).get(_url(report_a, "edit/")).status_code == 200
    assert client_for(cast.eef_admin).get(_url(report_a, "edit/")).status_code == 200
    assert client_for(cast.viewer_a).get(_url(report_a, "edit/")).status_code == 403
    assert client_for(cast.university_member).get(_url(report_a, "edit/")).status_code == 403
    assert client_for(cast.coordinator_b).get(_url(report_a, "edit/")).status_code == 404
    _advance(report_a, cast, Status.SUBMITTED)
    assert client_for(cast.coordinator_a).get(_url(report_a, "edit/")).status_code == 403


def test_create_page_offers_only_the_users_provinces(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.get("/reports/new/")
    assert response.status_code == 200
    assert [p.code for p in response.context["form"].fields["province"].queryset] == [PROVINCE_A]
    assert response.context["form"]["fiscal_year"].value() == YEAR
    response = client.post("/reports/new/", {"province": PROVINCE_B, "fiscal_year": YEAR, "period": "Q1"})
    assert response.status_code == 200
    assert response.context["form"].errors["province"]
    assert not ProgressReport.objects.exists()
    for user in (cast.viewer_a, cast.university_member, cast.no_role):
        assert client_for(user).get("/reports/new/").status_code == 403


def test_create_page_says_when_the_report_exists(cast, report_a, client_for):
    response = client_for(cast.coordinator_a).post(
        "/reports/new/", {"province": PROVINCE_A, "fiscal_year": YEAR, "period": "Q1"}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert ProgressReport.objects.count() == 1


# --- the list ------------------------------------------------------------------------------------


def _reports(cast, count: int) -> None:
    """`count` reports spread over the 12 programme provinces, periods and years, at various stages."""
    codes = list(SupportAssignment.objects.current().leads().values_list("province_id", flat=True))
    periods = ("Q1", "Q2", "Q3", "Q4", "H1", "H2")
    rows = []
    for i in range(count):
        rows.append(
            ProgressReport(
                province_id=codes[i % len(codes)],
                fiscal_year=YEAR - (i // (len(codes) * len(periods))),
                period=periods[(i // len(codes)) % len(periods)],
                status=[Status.DRAFT, Status.SUBMITTED, Status.REVIEWED, Status.ACCEPTED][i % 4],
                created_by=cast.eef_admin,
            )
        )
    ProgressReport.objects.bulk_create(rows)


def test_list_shows_only_visible_reports_with_filters(cast, client_for):
    _reports(cast, 24)
    client = client_for(cast.coordinator_a)
    page = client.get("/reports/").context["page"]
    assert {r.province_id for r in page.object_list} == {PROVINCE_A}
    assert page.paginator.count == 2
    # The province filter cannot reach past the scope: B is not even a choice.
    response = client.get(f"/reports/?province={PROVINCE_B}")
    assert response.context["filter_form"].errors["province"]
    assert {r.province_id for r in response.context["page"].object_list} == {PROVINCE_A}

    eef = client_for(cast.eef_admin)
    assert eef.get("/reports/").context["page"].paginator.count == 24
    filtered = eef.get(f"/reports/?province={PROVINCE_B}&status=draft&fiscal_year={YEAR}").context["page"]
    assert {(r.province_id, r.status) for r in filtered.object_list} <= {(PROVINCE_B, Status.DRAFT)}
    assert client_for(cast.no_role).get("/reports/").context["page"].paginator.count == 0


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize(("member", "queries"), [("university_member", 8), ("eef_admin", 7)])
def test_list_page_query_count_holds_as_reports_grow(
    cast, client_for, django_assert_num_queries, count, member, queries
):
    _reports(cast, count)
    client = client_for(cast[member])
    client.get("/reports/")  # warm up: the first request of a session writes it (and the two-factor mark)
    # 1 session, 2 user, 3 memberships (scope), 4 this year's assignments of KKU (scope; none for
    # EEF, who is national), 5 provinces that have a visible report (filter choices), 6 fiscal years
    # (filter choices), 7 count (paginator), 8 the page of reports with their provinces.
    with django_assert_num_queries(queries):
        response = client.get("/reports/")
    assert response.status_code == 200
    if member == "eef_admin":  # sees them all, 25 a page
        assert len(response.context["page"].object_list) == min(count, 25)


@pytest.mark.parametrize("returns", [1, 10])
def test_detail_page_query_count_holds_as_the_history_grows(
    cast, report_a, client_for, django_assert_num_queries, returns
):
    for _ in range(returns):
        _advance(report_a, cast, Status.SUBMITTED)
        services.transition(report=report_a, user=cast.university_member, action="return", comment="แก้")
    _advance(report_a, cast, Status.SUBMITTED)  # the university's turn: its buttons are worked out
    client = client_for(cast.university_member)
    client.get(_url(report_a))
    # 1 session, 2 user, 3 memberships, 4 KKU's assignments this year (scope), 5 the report with its
    # province and author, 6 is KKU the lead of the report's year (the buttons, asked once),
    # 7 the history with its actors.
    with django_assert_num_queries(7):
        response = client.get(_url(report_a))
    assert response.status_code == 200
    assert len(response.context["events"]) == 2 * returns + 1
    assert [action for action, _label in response.context["actions"]] == ["review", "return"]


# --- export --------------------------------------------------------------------------------------


def _rows(response) -> list[tuple]:
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    return list(sheet.iter_rows(values_only=True))


def test_export_holds_only_the_visible_reports(cast, client_for):
    _reports(cast, 24)
    _header, *rows = _rows(client_for(cast.coordinator_a).get("/reports/export/"))
    assert len(rows) == 2
    assert {row[0] for row in rows} == {PROVINCE_A}
    assert len(_rows(client_for(cast.eef_admin).get("/reports/export/"))) == 25
    assert len(_rows(client_for(cast.no_role).get("/reports/export/"))) == 1  # the header only
    # The list's filters apply to the export too.
    assert len(_rows(client_for(cast.eef_admin).get("/reports/export/?status=accepted"))) == 1 + 6


def test_export_neutralises_formulas(cast, report_a, client_for):
    services.update_report(
        report=report_a,
        user=cast.coordinator_a,
        situation='=HYPERLINK("http://evil.example","click")',
        mechanisms="+1+1",
        progress="-2+3",
        recommendations="@SUM(A1)",
        lessons_learned="\t=1",
    )
    header, row = _rows(client_for(cast.coordinator_a).get("/reports/export/"))
    with translation.override("th"):  # the export speaks the user's language (Thai by default)
        cells = dict(zip(header, row, strict=True))
        section = {name: cells[str(label)] for name, label in SECTIONS}
    assert section["situation"] == '\'=HYPERLINK("http://evil.example","click")'
    assert section["mechanisms"] == "'+1+1"
    assert section["progress"] == "'-2+3"
    assert section["recommendations"] == "'@SUM(A1)"
    assert section["lessons_learned"] == "'\t=1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+66812345678", "'+66812345678"),
        ("-5", "'-5"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ปกติ", "ปกติ"),
        ("a=b", "a=b"),
        ("", ""),
        (42, 42),
        (None, None),
    ],
)
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected


def test_admin_export_is_scoped(cast, client_for):
    _reports(cast, 24)
    fields = list(ProgressReportResource().get_export_order())
    response = client_for(cast.coordinator_a).post(
        "/admin/reports/progressreport/export/",
        {"format": "0", "resource": "0", **{f"progressreportresource_{name}": "on" for name in fields}},
    )
    assert response.status_code == 200, response.content[:500]
    content = response.content.decode("utf-8-sig")
    lines = [line for line in content.splitlines() if line]
    assert len(lines) == 1 + 2


def test_resource_refuses_imports(cast):
    dataset = tablib.Dataset(["40", str(YEAR), "Q1"], headers=["province_code", "fiscal_year", "period"])
    with pytest.raises(ImportExportError, match="not imported"):
        ProgressReportResource(user=cast.eef_admin).import_data(dataset, raise_errors=True)
    assert not ProgressReport.objects.exists()


# --- demo data -----------------------------------------------------------------------------------


def test_demo_reports_two_per_province_every_status_idempotent(cast):
    from portal.demo.provinces import DEMO_LEADS, ensure_demo_admin, ensure_demo_users
    from portal.demo.reports import demo_periods, load_demo_reports

    ensure_demo_admin()
    ensure_demo_users()
    assert load_demo_reports() == 24
    assert load_demo_reports() == 0
    reports = ProgressReport.objects.all()
    assert reports.count() == 24
    assert not reports.filter(is_demo=False).exists()
    assert set(reports.values_list("province_id", flat=True)) == set(DEMO_LEADS)
    assert set(reports.values_list("status", flat=True)) == set(Status.values)
    (older_year, older), _recent = demo_periods(timezone.localdate())
    first = reports.filter(fiscal_year=older_year, period=older)
    assert first.get(province_id=40).created_by.email == "khonkaen@demo.abe-portal.local"
    assert first.get(province_id=32).created_by.email == "admin@demo.abe-portal.local"
    for report in reports.prefetch_related("events"):
        events = list(report.events.all())
        chain = [Status.DRAFT] + [e.to_status for e in events]
        assert [e.from_status for e in events] == chain[:-1]
        assert chain[-1] == report.status
        assert all(e.comment for e in events if e.action == "return")
        assert [e.created_at for e in events] == sorted(e.created_at for e in events)
        assert report.situation.strip()
    assert ReportEvent.objects.filter(action="return").exists()


# --- print and PDF (issue 12) ----------------------------------------------------------------------


@pytest.fixture
def poppler():
    import os
    import shutil

    missing = [tool for tool in ("pdftotext", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 but {', '.join(missing)} missing (poppler-utils)", pytrace=False)
        pytest.skip("poppler-utils missing")


def test_report_pdf_is_thai_with_buddhist_era_dates_and_the_override_reason(
    cast, report_a, reporting_day, client_for, poppler, tmp_path
):
    import re
    import subprocess

    reporting_day(period_bounds(YEAR, "Q1")[0])
    services.transition(report=report_a, user=cast.eef_admin, action="submit", override_reason="ตามคำขอของจังหวัด")
    response = client_for(cast.viewer_a).get(_url(report_a, "pdf/"), HTTP_ACCEPT_LANGUAGE="th")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    path = tmp_path / "report.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    flat = re.sub(r"\s+", "", text.decode())
    start = period_bounds(YEAR, "Q1")[0]
    for words in (
        "รายงานความก้าวหน้า",
        SECTIONS_TEXT["situation"],
        SECTIONS_TEXT["lessons_learned"],
        f"1ตุลาคม{start.year + 543}",  # the period's first day, long form, in พ.ศ.
        "ตามคำขอของจังหวัด",
    ):
        assert words.replace(" ", "") in flat, words
    assert str(start.year) not in flat  # no Christian Era year anywhere


def test_report_pdf_goes_through_the_reports_door(cast, report_a, client_for):
    assert client_for(cast.coordinator_b).get(_url(report_a, "pdf/")).status_code == 404
    assert client_for(cast.no_role).get(_url(report_a, "pdf/")).status_code == 404
    assert client_for(None).get(_url(report_a, "pdf/")).status_code == 302  # to the sign-in page


def test_report_page_links_the_pdf_and_prints_without_navigation(cast, report_a, client_for):
    from pathlib import Path

    from django.contrib.staticfiles import finders

    page = client_for(cast.viewer_a).get(_url(report_a)).content.decode()
    assert f'href="{_url(report_a, "pdf/")}"' in page
    assert "พิมพ์ / PDF" in page
    css = Path(finders.find("css/reports.css")).read_text(encoding="utf-8")
    print_rules = css[css.index("@media print") :]
    for selector in ("nav", ".topbar", ".report-actions", ".transition-form", "button"):
        assert selector in print_rules.split("{")[1], selector
