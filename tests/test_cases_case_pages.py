"""One child's case on the record page and its forms (cases/views_case.py, cases/templatetags/cases_case.py), and
assigning records to case workers, one by one and in bulk."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership, Role
from cases import services
from cases.models import Agency, AgencyType, Case, Contact, PlanStep, Referral
from conftest import PROVINCE_A, PROVINCE_B, make_user
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db


def _record(n: int, province: int = PROVINCE_A) -> TargetRecord:
    return TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=f"เด็ก{n}",
        last_name="ทดสอบ",
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )


def _be(day: datetime.date) -> str:
    """A date as a Thai reader types it (the year in พ.ศ.)."""
    return f"{day.day:02d}/{day.month:02d}/{day.year + 543}"


@pytest.fixture
def worker(cast):
    return make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)


@pytest.fixture
def agency():
    return Agency.objects.create(
        province_id=PROVINCE_A, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.อำเภอเมืองขอนแก่น"
    )


@pytest.fixture
def assigned(cast, worker):
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    record.refresh_from_db()
    return record


def _fill_case(record, worker, agency, *, contacts: int, referrals: int) -> None:
    now = timezone.now()
    for n in range(contacts):
        services.log_contact(
            user=worker,
            record=record,
            kind="home_visit",
            reached=bool(n % 2),
            happened_at=now - datetime.timedelta(hours=contacts - n),
            findings=f"ครั้งที่ {n}",
        )
    for n in range(referrals):
        referral = services.refer(
            user=worker,
            record=record,
            agency=agency,
            reason=f"เหตุผล {n}",
            services="เรียนต่อ",
            deadline=timezone.localdate() + datetime.timedelta(days=14),
        )
        services.move_referral(
            user=worker, referral=referral, to_state="closed_unresolved", version=referral.version, note="ย้ายที่อยู่"
        )
    services.add_step(user=worker, record=record, text="เยี่ยมบ้านอีกครั้ง", due_on=timezone.localdate())


def _page_queries(client, record) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/records/{record.pk}/")
    assert response.status_code == 200
    return len(queries)


def test_record_page_shows_the_case_its_contacts_plan_and_referrals(cast, client_for, assigned, worker, agency):
    _fill_case(assigned, worker, agency, contacts=2, referrals=1)
    response = client_for(worker).get(f"/records/{assigned.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="case-section"' in html
    assert "การติดตามรายกรณี" in html
    assert worker.email in html
    assert html.count('data-testid="contact-row"') == 2
    assert html.count('data-reached="0"') == 1  # the failed attempt is marked
    assert 'data-testid="failed-attempts">1<' in html
    assert "เยี่ยมบ้านอีกครั้ง" in html
    assert 'data-testid="referral" data-state="closed_unresolved"' in html
    assert "ย้ายที่อยู่" in html  # the state change's note, in the referral's history
    assert 'data-testid="log-contact"' in html
    assert 'data-testid="assign-one"' not in html  # a case worker does not assign


def test_coordinator_sees_the_assign_select_viewer_sees_no_buttons(cast, client_for, assigned, worker):
    html = client_for(cast.coordinator_a).get(f"/records/{assigned.pk}/").content.decode()
    assert 'data-testid="assign-one"' in html
    assert 'data-testid="close-case"' in html
    viewer = client_for(cast.viewer_a).get(f"/records/{assigned.pk}/").content.decode()
    assert 'data-testid="case-section"' in viewer
    assert 'data-testid="assign-one"' not in viewer
    assert 'data-testid="log-contact"' not in viewer


def test_record_page_costs_the_same_queries_however_long_the_case(cast, client_for, worker, agency):
    small, large = _record(1), _record(2)
    services.assign(user=cast.coordinator_a, records=[small, large], worker=worker)
    small.refresh_from_db()
    large.refresh_from_db()
    _fill_case(small, worker, agency, contacts=1, referrals=1)
    _fill_case(large, worker, agency, contacts=12, referrals=5)
    for user in (cast.coordinator_a, worker):
        client = client_for(user)
        _page_queries(client, small)  # the session's first request reads more
        assert _page_queries(client, small) == _page_queries(client, large)


def test_record_page_case_section_adds_a_bounded_number_of_queries(
    cast, client_for, assigned, worker, agency, django_assert_max_num_queries
):
    client = client_for(cast.coordinator_a)
    without_case = _record(2)
    _page_queries(client, without_case)  # the session's first request reads more
    baseline = _page_queries(client, without_case)
    _fill_case(assigned, worker, agency, contacts=6, referrals=3)
    # The case section: the case, the province's case workers, the contacts, the steps, the referrals and
    # their state changes (a record without a case reads only the first two).
    with django_assert_max_num_queries(baseline + 5):
        assert client.get(f"/records/{assigned.pk}/").status_code == 200


def test_the_case_worker_logs_a_failed_then_a_successful_home_visit(client_for, assigned, worker):
    client = client_for(worker)
    url = f"/cases/records/{assigned.pk}/contact/"
    assert client.get(url).status_code == 200
    today = timezone.localdate()
    visit = {
        "kind": "home_visit",
        "happened_at_0": _be(today),
        "happened_at_1": "00:00",  # earliest today: never in the future, whatever the time the test runs
        "with_whom": "",
        "findings": "ไม่พบที่บ้าน",
        "next_step": "กลับไปใหม่",
        "next_due": _be(today + datetime.timedelta(days=3)),
    }
    assert client.post(url, visit).status_code == 302
    visit |= {
        "happened_at_1": "00:01",
        "reached": "on",
        "with_whom": "มารดา",
        "findings": "พบเด็กและมารดา",
        "next_due": "",
    }
    response = client.post(url, visit)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/records/{assigned.pk}/#case-contacts")
    case = Case.objects.get(pk=assigned.pk)
    assert case.failed_attempts == 1
    assert list(Contact.objects.filter(case=case).order_by("happened_at").values_list("reached", flat=True)) == [
        False,
        True,
    ]


def test_a_contact_in_the_future_is_refused_in_thai(client_for, assigned, worker):
    tomorrow = timezone.localdate() + datetime.timedelta(days=2)
    response = client_for(worker).post(
        f"/cases/records/{assigned.pk}/contact/",
        {"kind": "phone", "happened_at_0": _be(tomorrow), "happened_at_1": "09:00", "reached": "on"},
    )
    assert response.status_code == 200
    assert not Contact.objects.exists()
    assert response.context["form"].errors


def test_refer_set_goal_add_step_and_mark_it_done(client_for, assigned, worker, agency):
    client = client_for(worker)
    page = client.get(f"/cases/records/{assigned.pk}/refer/")
    assert agency.name in page.content.decode()
    deadline = timezone.localdate() + datetime.timedelta(days=10)
    response = client.post(
        f"/cases/records/{assigned.pk}/refer/",
        {"agency": agency.pk, "reason": "อยากเรียนต่อ", "services": "สมัครเรียน กศน.", "deadline": _be(deadline)},
    )
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert (referral.agency, referral.deadline, referral.share_identifier) == (agency, deadline, False)
    goal = Outcome.objects.filter(kind="achieved").first()
    assert goal is not None
    # The case was opened by the referral: the goal's form carries its version.
    version = Case.objects.get(pk=assigned.pk).version
    assert (
        client.post(f"/cases/records/{assigned.pk}/goal/", {"goal": goal.pk, "seen_version": version}).status_code
        == 302
    )
    assert Case.objects.get(pk=assigned.pk).goal == goal
    response = client.post(f"/cases/records/{assigned.pk}/step/", {"text": "พาไปสมัครเรียน", "responsible": worker.pk})
    assert response.status_code == 302
    step = PlanStep.objects.get(text="พาไปสมัครเรียน")
    assert step.responsible == worker
    assert client.post(f"/cases/steps/{step.pk}/done/", {"done": "1"}).status_code == 302
    step.refresh_from_db()
    assert step.done_at is not None


def test_a_goal_set_from_an_old_page_is_refused_with_409(client_for, assigned, worker):
    client = client_for(worker)
    case = services.case_for(assigned)
    goals = list(Outcome.objects.filter(kind="achieved")[:2])
    page = client.get(f"/cases/records/{assigned.pk}/goal/")
    snapshot = page.context["form"]["seen_values"].initial
    services.set_goal(user=worker, record=assigned, goal=goals[0], version=case.version)  # someone else, meanwhile
    response = client.post(
        f"/cases/records/{assigned.pk}/goal/",
        {"goal": goals[1].pk, "seen_version": case.version, "seen_values": snapshot},
    )
    assert response.status_code == 409
    assert 'data-testid="stale-edit"' in response.content.decode()
    assert Case.objects.get(pk=assigned.pk).goal == goals[0]


def test_close_and_reopen_the_case(client_for, assigned, worker):
    client = client_for(worker)
    case = services.case_for(assigned)
    response = client.post(f"/cases/records/{assigned.pk}/close/", {"reason": "", "seen_version": case.version})
    assert response.status_code == 200
    assert response.context["form"].errors
    response = client.post(
        f"/cases/records/{assigned.pk}/close/",
        {"reason": "outcome_reached", "note": "กลับเข้าเรียนแล้ว", "seen_version": case.version},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.close_reason == "outcome_reached"
    html = client.get(f"/records/{assigned.pk}/").content.decode()
    assert 'data-state="closed"' in html
    assert 'data-testid="reopen-case"' in html
    assert 'data-testid="log-contact"' not in html
    # A second click on the closing page (the old version) is refused.
    stale = client.post(f"/cases/records/{assigned.pk}/close/", {"reason": "moved", "seen_version": case.version - 1})
    assert stale.status_code == 409
    response = client.post(f"/cases/records/{assigned.pk}/reopen/", {"note": "ย้ายกลับมา", "seen_version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.is_open


def test_the_status_follows_a_completed_referral_after_confirmation(cast, client_for, assigned, worker, agency):
    referral = services.refer(
        user=worker, record=assigned, agency=agency, reason="r", services="s", deadline=timezone.localdate()
    )
    referral = services.move_referral(user=cast.coordinator_a, referral=referral, to_state="accepted", version=1)
    outcome = Outcome.objects.get(code="flexible-learning")
    referral = services.move_referral(
        user=cast.coordinator_a, referral=referral, to_state="completed", version=referral.version, outcome=outcome
    )
    client = client_for(worker)
    assert 'data-testid="apply-outcome"' in client.get(f"/records/{assigned.pk}/").content.decode()
    url = f"/cases/records/{assigned.pk}/referrals/{referral.pk}/status/"
    page = client.get(url)
    assert page.status_code == 200
    assert outcome.name in page.content.decode()
    assigned.refresh_from_db()
    # An old page (the record changed since) is refused, and nothing changes.
    assert client.post(url, {"seen_version": assigned.version - 1}).status_code == 409
    assert client.post(url, {"seen_version": assigned.version}).status_code == 302
    assigned.refresh_from_db()
    assert assigned.status == outcome
    assert Referral.objects.get().status_applied


def test_a_case_worker_cannot_reach_another_childs_forms(client_for, assigned, worker):
    other = _record(2)
    client = client_for(worker)
    for suffix in ("contact/", "refer/", "step/", "goal/", "close/", "reopen/"):
        assert client.get(f"/cases/records/{other.pk}/{suffix}").status_code == 404
    assert client.post(f"/cases/records/{other.pk}/assign/", {"worker": worker.pk}).status_code == 404
    # Their own child, but assigning is the coordinator's.
    assert client.post(f"/cases/records/{assigned.pk}/assign/", {"worker": worker.pk}).status_code == 403


def test_coordinator_assigns_one_record_from_its_page(cast, client_for, worker):
    record = _record(1)
    response = client_for(cast.coordinator_a).post(f"/cases/records/{record.pk}/assign/", {"worker": worker.pk})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.case_worker == worker


def test_bulk_assignment_lists_unassigned_records_and_assigns_the_ticked_ones(cast, client_for, worker):
    records = [_record(n) for n in range(1, 6)]
    _record(9, PROVINCE_B)
    services.assign(user=cast.coordinator_a, records=records[:1], worker=worker)
    client = client_for(cast.coordinator_a)
    page = client.get("/cases/unassigned/")
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="assign-row"') == 4
    assert client.get("/cases/assign/").content.decode().count('data-testid="assign-row"') == 5
    assert client.get("/cases/assign/?unassigned=1").content.decode().count('data-testid="assign-row"') == 4
    response = client.post("/cases/unassigned/", {"records": [r.pk for r in records[1:4]], "worker": worker.pk})
    assert response.status_code == 302
    assert set(TargetRecord.objects.filter(case_worker=worker)) == set(records[:4])
    assert client.get("/cases/unassigned/").content.decode().count('data-testid="assign-row"') == 1


def test_bulk_assignment_refuses_records_of_another_province_and_a_non_worker(cast, client_for, worker):
    other = _record(9, PROVINCE_B)
    mine = _record(1)
    client = client_for(cast.coordinator_a)
    client.post("/cases/assign/", {"records": [other.pk], "worker": worker.pk})
    other.refresh_from_db()
    assert other.case_worker is None  # not in the coordinator's list: nothing assigned
    client.post("/cases/assign/", {"records": [mine.pk], "worker": cast.viewer_a.pk})
    mine.refresh_from_db()
    assert mine.case_worker is None


def test_bulk_assignment_is_for_coordinators_and_eef(cast, client_for, worker):
    agency_user = make_user("agency.a@example.org")
    agency = Agency.objects.create(province_id=PROVINCE_A, type=AgencyType.objects.first(), name="อบต.")
    Membership.objects.create(user=agency_user, role=Role.AGENCY_USER, province_id=PROVINCE_A, agency=agency)
    for user in (worker, agency_user, cast.viewer_a, cast.university_member, cast.no_role):
        assert client_for(user).get("/cases/assign/").status_code == 403
    # EEF chooses the province first: its case workers are then offered.
    eef = client_for(cast.eef_admin)
    assert eef.get("/cases/assign/").status_code == 200
    page = eef.get(f"/cases/assign/?province={PROVINCE_A}")
    assert worker.email in page.content.decode()


def test_bulk_assignment_page_costs_the_same_queries_with_more_rows(cast, client_for, worker):
    client = client_for(cast.coordinator_a)
    _record(1)
    client.get("/cases/assign/")  # the session's first request reads more
    with CaptureQueriesContext(connection) as few:
        client.get("/cases/assign/")
    for n in range(2, 30):
        _record(n)
    with CaptureQueriesContext(connection) as many:
        client.get("/cases/assign/")
    assert len(few) == len(many)


def test_overdue_and_due_badges_and_a_late_referral_are_flagged(cast, client_for, worker, agency, settings):
    settings.CASES_CONTACT_EVERY_DAYS = 30
    late, due = _record(1), _record(2)
    services.assign(user=cast.coordinator_a, records=[late, due], worker=worker)
    late.refresh_from_db()
    due.refresh_from_db()
    services.log_contact(
        user=worker, record=late, kind="phone", happened_at=timezone.now() - datetime.timedelta(days=40)
    )
    services.log_contact(
        user=worker,
        record=due,
        kind="phone",
        happened_at=timezone.now(),
        next_due=timezone.localdate() + datetime.timedelta(days=3),
    )
    services.refer(user=worker, record=late, agency=agency, reason="r", services="s", deadline=timezone.localdate())
    Referral.objects.update(deadline=timezone.localdate() - datetime.timedelta(days=1))
    client = client_for(worker)
    late_page = client.get(f"/records/{late.pk}/").content.decode()
    assert 'data-testid="case-overdue"' in late_page
    assert 'class="badge case-overdue">เกินกำหนด</span>' in late_page  # the referral past its deadline, in Thai
    due_page = client.get(f"/records/{due.pk}/").content.decode()
    assert 'data-testid="case-due"' in due_page
    assert 'data-testid="case-overdue"' not in due_page
