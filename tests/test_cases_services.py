"""Case follow-up's write path and its door (cases/services.py, cases/policies.py, targets/policies.py):
who sees which child, assignment, contacts and overdue, referrals from sent to completed, closure."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.access import can
from accounts.models import Membership, Role
from cases import services
from cases.models import Agency, AgencyType, Case, Contact, Notification, Referral, ReferralState
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.versioning import StaleEdit
from provinces.models import District
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db


def _record(n: int, province: int = PROVINCE_A, district: District | None = None) -> TargetRecord:
    return TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=f"เด็ก{n}",
        last_name="ทดสอบ",
        province_id=province,
        district=district,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )


@pytest.fixture
def worker(cast):
    return make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)


@pytest.fixture
def agency():
    return Agency.objects.create(
        province_id=PROVINCE_A, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.อำเภอเมืองขอนแก่น"
    )


@pytest.fixture
def agency_user(agency):
    user = make_user("agency.a@example.org")
    Membership.objects.create(user=user, role=Role.AGENCY_USER, province_id=PROVINCE_A, agency=agency)
    return user


def test_a_case_worker_sees_only_the_records_assigned_to_them(cast, worker):
    mine, other, elsewhere = _record(1), _record(2), _record(3, PROVINCE_B)
    assert not TargetRecord.objects.visible_to(worker).exists()
    assert services.assign(user=cast.coordinator_a, records=[mine], worker=worker) == 1
    assert list(TargetRecord.objects.visible_to(worker)) == [mine]
    assert list(Case.objects.visible_to(worker)) == [Case.objects.get(pk=mine.pk)]
    # The coordinator still sees the whole province; the case worker reads no province as a whole.
    assert set(TargetRecord.objects.visible_to(cast.coordinator_a)) == {mine, other}
    assert not can(worker, "targets.read", PROVINCE_A)
    assert not can(worker, "targets.read_identifiers", PROVINCE_A)
    mine.refresh_from_db()
    assert can(worker, "targets.work_on", mine)
    assert not can(worker, "targets.work_on", other)
    assert not can(worker, "targets.write", PROVINCE_A)
    assert elsewhere not in TargetRecord.objects.visible_to(worker)
    # Told once, in the portal.
    assert Notification.objects.filter(user=worker, kind="assigned", case_id=mine.pk).count() == 1


def test_only_the_provinces_coordinator_assigns_and_only_to_its_case_workers(cast, worker):
    record_a, record_b = _record(1), _record(2, PROVINCE_B)
    with pytest.raises(PermissionDenied):
        services.assign(user=cast.coordinator_b, records=[record_a], worker=worker)
    with pytest.raises(PermissionDenied):
        services.assign(user=worker, records=[record_a], worker=worker)
    with pytest.raises(ValidationError):
        services.assign(user=cast.eef_admin, records=[record_b], worker=worker)  # not a case worker in B
    assert not TargetRecord.objects.filter(case_worker=worker).exists()


def test_a_case_worker_limited_to_districts_takes_only_records_there(cast):
    districts = list(District.objects.filter(province_id=PROVINCE_A).order_by("code")[:2])
    worker = make_user("district.worker@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    worker.memberships.get().districts.add(districts[0])
    inside, outside, nowhere = _record(1, district=districts[0]), _record(2, district=districts[1]), _record(3)
    assert services.assign(user=cast.coordinator_a, records=[inside], worker=worker) == 1
    for record in (outside, nowhere):
        with pytest.raises(ValidationError):
            services.assign(user=cast.coordinator_a, records=[record], worker=worker)


def test_contacts_failed_attempts_and_overdue(cast, worker, settings):
    settings.CASES_CONTACT_EVERY_DAYS = 30
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    record.refresh_from_db()
    now = timezone.now()
    services.log_contact(user=worker, record=record, kind="home_visit", happened_at=now - datetime.timedelta(days=40),
                         reached=False, findings="ไม่พบที่บ้าน")  # fmt: skip
    case = Case.objects.get(pk=record.pk)
    assert case.failed_attempts == 1
    assert case.is_overdue()  # 40 days since the last contact
    assert Case.objects.overdue().filter(pk=record.pk).exists()
    due = timezone.localdate() + datetime.timedelta(days=7)
    services.log_contact(user=worker, record=record, kind="home_visit", happened_at=now, reached=True,
                         findings="พบผู้ปกครอง", next_due=due)  # fmt: skip
    case.refresh_from_db()
    assert case.due_on == due
    assert not case.is_overdue()
    assert case.first_contact_at < case.last_contact_at
    assert Contact.objects.filter(case=case, reached=False).count() == 1
    with pytest.raises(ValidationError) as error:
        services.log_contact(user=worker, record=record, kind="phone",
                             happened_at=now + datetime.timedelta(days=1))  # fmt: skip
    assert "happened_at" in error.value.message_dict
    other = _record(2)
    with pytest.raises(PermissionDenied):
        services.log_contact(user=worker, record=other, kind="phone", happened_at=now)


def test_a_contact_sent_twice_with_its_key_is_recorded_once(cast, worker):
    import uuid

    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    record.refresh_from_db()
    key = uuid.uuid4()
    first = services.log_contact(user=worker, record=record, kind="phone", happened_at=timezone.now(), client_key=key)
    again = services.log_contact(user=worker, record=record, kind="phone", happened_at=timezone.now(), client_key=key)
    assert first.pk == again.pk
    assert Contact.objects.filter(case_id=record.pk).count() == 1


def test_a_referral_goes_from_sent_to_completed_and_its_outcome_can_become_the_status(
    cast, worker, agency, agency_user
):
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    record.refresh_from_db()
    deadline = timezone.localdate() + datetime.timedelta(days=14)
    referral = services.refer(user=worker, record=record, agency=agency, reason="ต้องการเรียนต่อ",
                              services="สมัครเรียน กศน.", deadline=deadline)  # fmt: skip
    assert Notification.objects.filter(user=agency_user, kind="referral_received").count() == 1
    # The agency user sees the referral, not the record.
    assert list(Referral.objects.visible_to(agency_user)) == [referral]
    assert not TargetRecord.objects.visible_to(agency_user).exists()
    assert not can(agency_user, "cases.read_referral_identifier", referral)
    # The referring worker cannot answer for the agency.
    with pytest.raises(PermissionDenied):
        services.move_referral(user=worker, referral=referral, to_state="accepted", version=referral.version)
    referral = services.move_referral(user=agency_user, referral=referral, to_state="accepted", version=1)
    with pytest.raises(StaleEdit):
        services.move_referral(user=agency_user, referral=referral, to_state="in_progress", version=1)
    with pytest.raises(ValidationError):
        services.move_referral(user=agency_user, referral=referral, to_state="completed", version=referral.version)
    returned = Outcome.objects.get(code="flexible-learning")
    referral = services.move_referral(user=agency_user, referral=referral, to_state="completed",
                                      version=referral.version, outcome=returned, feedback="ลงทะเบียนแล้ว")  # fmt: skip
    assert referral.state == ReferralState.COMPLETED
    assert list(referral.events.values_list("to_state", flat=True)) == ["sent", "accepted", "completed"]
    assert Notification.objects.filter(user=worker, kind="referral_changed").count() == 2
    assert referral.step.done_at is not None
    services.apply_referral_outcome(user=worker, referral=referral, record_version=record.version)
    record.refresh_from_db()
    assert record.status == returned


def test_declining_needs_a_reason_and_ends_the_referral(cast, worker, agency, agency_user):
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    record.refresh_from_db()
    referral = services.refer(user=worker, record=record, agency=agency, reason="r", services="s",
                              deadline=timezone.localdate())  # fmt: skip
    with pytest.raises(ValidationError):
        services.move_referral(user=agency_user, referral=referral, to_state="declined", version=1)
    referral = services.move_referral(user=agency_user, referral=referral, to_state="declined", version=1,
                                      note="ไม่อยู่ในพื้นที่บริการ")  # fmt: skip
    assert not referral.is_open
    assert referral.decline_reason
    with pytest.raises(ValidationError):
        services.move_referral(user=agency_user, referral=referral, to_state="accepted", version=referral.version)


def test_an_agency_user_of_another_agency_sees_nothing(cast, worker, agency):
    other = Agency.objects.create(province_id=PROVINCE_A, type=agency.type, name="อบต.อื่น")
    outsider = make_user("other.agency@example.org")
    Membership.objects.create(user=outsider, role=Role.AGENCY_USER, province_id=PROVINCE_A, agency=other)
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    record.refresh_from_db()
    referral = services.refer(user=worker, record=record, agency=agency, reason="r", services="s",
                              deadline=timezone.localdate())  # fmt: skip
    assert not Referral.objects.visible_to(outsider).exists()
    with pytest.raises(PermissionDenied):
        services.move_referral(user=outsider, referral=referral, to_state="accepted", version=1)


def test_closing_needs_a_reason_not_found_needs_attempts_and_reopening_a_reason(cast, worker, settings):
    settings.CASES_NOT_FOUND_ATTEMPTS = 2
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    record.refresh_from_db()
    case = services.case_for(record)
    with pytest.raises(ValidationError):
        services.close_case(user=worker, record=record, reason="not_found", version=case.version)
    case = services.close_case(user=worker, record=record, reason="outcome_reached", version=case.version)
    assert not case.is_open
    assert case.due_on is None
    with pytest.raises(ValidationError):
        services.log_contact(user=worker, record=record, kind="phone", happened_at=timezone.now())
    with pytest.raises(ValidationError):
        services.reopen_case(user=worker, record=record, note="", version=case.version)
    case = services.reopen_case(user=worker, record=record, note="กลับมาขอความช่วยเหลือ", version=case.version)
    assert case.is_open
    assert case.due_on is not None
    assert list(case.events.values_list("kind", flat=True)) == ["assigned", "closed", "reopened"]


def test_the_inbox_lists_overdue_due_waiting_and_new_in_a_fixed_number_of_queries(
    cast, worker, agency, agency_user, django_assert_max_num_queries
):
    from cases.selectors import inbox

    records = [_record(n) for n in range(1, 31)]
    services.assign(user=cast.coordinator_a, records=records, worker=worker)
    long_ago = timezone.now() - datetime.timedelta(days=45)
    for record in records[:25]:
        record.refresh_from_db()
        services.log_contact(user=worker, record=record, kind="phone", happened_at=long_ago)
    record = records[-1]
    record.refresh_from_db()
    services.refer(user=worker, record=record, agency=agency, reason="r", services="s",
                   deadline=timezone.localdate())  # fmt: skip
    Referral.objects.update(deadline=timezone.localdate() - datetime.timedelta(days=1))
    for user in (worker, cast.coordinator_a, agency_user):
        user = type(user).objects.get(pk=user.pk)  # a fresh user: its scope is computed in the count
        with django_assert_max_num_queries(10):
            work = inbox(user)
            assert work.total  # rows read inside the count
    worker_inbox = inbox(worker)
    assert worker_inbox.sections["overdue"].total == 25
    assert len(worker_inbox.sections["overdue"].rows) == 20
    assert worker_inbox.sections["new"].total == 30
    assert worker_inbox.sections["referrals_overdue"].total == 1
    coordinator_inbox = inbox(cast.coordinator_a)
    assert coordinator_inbox.sections["overdue"].total == 25
    assert "new" not in coordinator_inbox.sections
    agency_inbox = inbox(agency_user)
    assert agency_inbox.sections["referrals_waiting"].total == 1
    assert agency_inbox.sections["referrals_overdue"].total == 1
    assert "overdue" not in agency_inbox.sections
    # Another province's coordinator has none of it.
    assert inbox(cast.coordinator_b).total == 0
