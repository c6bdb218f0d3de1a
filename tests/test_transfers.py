"""Transfers between provinces (transfers/): a coordinator asks for a record another province holds, the
holding province (or EEF/IPSR) accepts or declines, EEF/IPSR move a record directly. At each step: what
each side can see. Before acceptance the requesting side never learns the record's name nor which
province holds it; after it, the old province keeps only a line with the date, and gets 404 for the record.
"""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Role
from cases import services as case_services
from cases.models import Agency, AgencyType, Case, CaseEvent, Contact, Referral
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.versioning import StaleEdit
from provinces.models import District, Province, SubDistrict
from targets.models import Category, Outcome, StatusChange, TargetRecord
from tests.builders import national_id
from transfers import services
from transfers.figures import transfers_by_quarter
from transfers.models import TransferRequest, TransferState

pytestmark = pytest.mark.django_db

PROVINCE_C = 10  # กรุงเทพมหานคร: a third province, outside both sides
CHILD_FIRST, CHILD_LAST = "ปิ่นมณี", "ศรีสุข"


def _province_names(code: int) -> list[str]:
    province = Province.objects.get(code=code)
    return [province.name_th, province.name_en]


@pytest.fixture
def held_by_b(cast) -> TargetRecord:
    """A child's record in province B, with a district, a status change, a case worker, a contact and a
    referral to one of B's agencies."""
    district = District.objects.filter(province_id=PROVINCE_B).first()
    record = TargetRecord.objects.create(
        identifier=national_id(501),
        identifier_kind="national_id",
        first_name=CHILD_FIRST,
        last_name=CHILD_LAST,
        province_id=PROVINCE_B,
        district=district,
        sub_district=SubDistrict.objects.filter(district=district).first(),
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )
    StatusChange.objects.create(
        record=record, from_status=record.status, to_status=Outcome.objects.get(code="returned-to-school")
    )
    worker = make_user("worker.b@example.org", role=Role.CASE_WORKER, province=PROVINCE_B)
    case_services.assign(user=cast.coordinator_b, records=[record], worker=worker)
    record.refresh_from_db()
    case_services.log_contact(
        user=cast.coordinator_b, record=record, kind="phone", happened_at=timezone.now(), findings="โทรคุยกับยาย"
    )
    agency = Agency.objects.create(
        province_id=PROVINCE_B, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.อำเภอเมืองพะเยา"
    )
    case_services.refer(
        user=cast.coordinator_b,
        record=record,
        agency=agency,
        reason="ต้องการเรียนต่อ",
        services="การศึกษานอกระบบ",
        deadline=timezone.localdate() + datetime.timedelta(days=14),
    )
    record.refresh_from_db()
    return record


def _ask(cast, record, note="ย้ายมาอยู่กับยาย") -> TransferRequest:
    return services.request_transfer(user=cast.coordinator_a, identifier=record.identifier, note=note)


# --- the service: requested, accepted, declined, forced ------------------------------------------------------------


def test_a_request_records_only_what_the_requester_typed(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    assert (transfer.state, transfer.from_province_id, transfer.to_province_id) == ("requested", PROVINCE_B, PROVINCE_A)
    assert transfer.identifier == held_by_b.identifier
    # Nothing moved; A still reads nothing of the record.
    held_by_b.refresh_from_db()
    assert held_by_b.province_id == PROVINCE_B
    assert not TargetRecord.objects.visible_to(cast.coordinator_a).filter(pk=held_by_b.pk).exists()
    # Both sides and EEF/IPSR see the request; nobody else.
    for user in (cast.coordinator_a, cast.coordinator_b, cast.eef_admin):
        assert TransferRequest.objects.visible_to(user).filter(pk=transfer.pk).exists()
    for user in (cast.viewer_a, cast.university_member, cast.case_worker_a, cast.agency_user_a, cast.no_role):
        assert not TransferRequest.objects.visible_to(user).exists()
    assert list(TransferRequest.objects.incoming_for(cast.coordinator_b)) == [transfer]
    assert not TransferRequest.objects.incoming_for(cast.coordinator_a).exists()


def test_asking_twice_for_the_same_record_is_refused(cast, held_by_b):
    _ask(cast, held_by_b)
    with pytest.raises(ValidationError, match="already asked"):
        _ask(cast, held_by_b)


def test_asking_for_a_record_of_ones_own_province_or_none_is_refused(cast, held_by_b):
    with pytest.raises(ValidationError, match="already in your province"):
        services.request_transfer(user=cast.coordinator_b, identifier=held_by_b.identifier)
    with pytest.raises(ValidationError, match="No record"):
        services.request_transfer(user=cast.coordinator_a, identifier=national_id(999))
    with pytest.raises(ValidationError):
        services.request_transfer(user=cast.coordinator_a, identifier="12345")


def test_only_coordinators_ask(cast, held_by_b):
    for user in (cast.viewer_a, cast.university_member, cast.case_worker_a, cast.no_role, cast.eef_admin):
        with pytest.raises(PermissionDenied):
            services.request_transfer(user=user, identifier=held_by_b.identifier)


def test_accepted_the_record_moves_with_its_history_and_its_case_is_handed_over(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    referral = Referral.objects.get(case_id=held_by_b.pk)
    contacts = Contact.objects.filter(case_id=held_by_b.pk).count()
    with pytest.raises(PermissionDenied):  # the requester cannot answer its own request
        services.accept_transfer(user=cast.coordinator_a, transfer=transfer, version=transfer.version)
    services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)
    transfer.refresh_from_db()
    assert (transfer.state, transfer.answered_by) == (TransferState.ACCEPTED, cast.coordinator_b)
    record = TargetRecord.objects.get(pk=held_by_b.pk)
    assert record.province_id == PROVINCE_A
    assert (record.district_id, record.sub_district_id, record.case_worker_id) == (None, None, None)
    # The history, the case, its contacts and referrals went with it.
    assert StatusChange.objects.filter(record=record).count() == 1
    case = Case.objects.get(pk=record.pk)
    assert case.province_id == PROVINCE_A
    assert Contact.objects.filter(case=case).count() == contacts
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.UNASSIGNED).exists()
    assert list(Referral.objects.visible_to(cast.coordinator_a)) == [referral]
    # Visibility follows the province: A reads it, B no longer does.
    assert TargetRecord.objects.visible_to(cast.coordinator_a).filter(pk=record.pk).exists()
    assert not TargetRecord.objects.visible_to(cast.coordinator_b).filter(pk=record.pk).exists()
    assert record in TargetRecord.objects.visible_to(cast.coordinator_a).unassigned()


def test_declined_nothing_moves(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    with pytest.raises(ValidationError, match="reason"):
        services.decline_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version, reason=" ")
    services.decline_transfer(
        user=cast.coordinator_b, transfer=transfer, version=transfer.version, reason="เด็กยังอยู่ในพื้นที่"
    )
    transfer.refresh_from_db()
    assert (transfer.state, transfer.answer_reason) == (TransferState.DECLINED, "เด็กยังอยู่ในพื้นที่")
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_B
    # Asking again is possible once answered.
    assert _ask(cast, held_by_b).state == TransferState.REQUESTED


def test_a_stale_answer_is_refused(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    seen = transfer.version
    services.decline_transfer(user=cast.coordinator_b, transfer=transfer, version=seen, reason="ไม่ย้าย")
    with pytest.raises(StaleEdit):
        services.accept_transfer(user=cast.eef_admin, transfer=transfer, version=seen)
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_B


def test_an_answered_request_cannot_be_answered_again(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    services.withdraw_transfer(user=cast.coordinator_a, transfer=transfer, version=transfer.version)
    transfer.refresh_from_db()
    assert transfer.state == TransferState.CANCELLED
    with pytest.raises(ValidationError, match="already been answered"):
        services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)


def test_eef_moves_a_record_directly_with_a_reason(cast, held_by_b):
    pending = _ask(cast, held_by_b)
    with pytest.raises(PermissionDenied):
        services.force_move(user=cast.coordinator_b, record=held_by_b, to_province=PROVINCE_C, reason="x")
    with pytest.raises(ValidationError):
        services.force_move(user=cast.eef_admin, record=held_by_b, to_province=PROVINCE_C, reason="")
    transfer = services.force_move(
        user=cast.eef_admin, record=held_by_b, to_province=PROVINCE_C, reason="ย้ายตามคำสั่งศาล"
    )
    assert (transfer.state, transfer.forced, transfer.from_province_id) == ("accepted", True, PROVINCE_B)
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_C
    # A's open request asked about a record B no longer holds: declined, without naming anyone.
    pending.refresh_from_db()
    assert pending.state == TransferState.DECLINED
    assert not any(name in pending.answer_reason for name in _province_names(PROVINCE_C) + _province_names(PROVINCE_B))
    # Neither A nor B reads the record now.
    for user in (cast.coordinator_a, cast.coordinator_b):
        assert not TargetRecord.objects.visible_to(user).filter(pk=held_by_b.pk).exists()


# --- figures -------------------------------------------------------------------------------------------------------


def test_transfers_by_quarter_counts_in_and_out_in_constant_queries(cast, held_by_b, django_assert_num_queries):
    transfer = _ask(cast, held_by_b)
    services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)
    services.force_move(user=cast.eef_admin, record=held_by_b, to_province=PROVINCE_C, reason="ย้าย")
    with django_assert_num_queries(1):  # one aggregate over the accepted moves, grouped by province and month
        figures = transfers_by_quarter()
    transfer.refresh_from_db()
    from core.buddhist_dates import fiscal_year_of

    when = timezone.localtime(transfer.answered_at).date()
    year, quarter = fiscal_year_of(when), f"Q{(when.month + 2) % 12 // 3 + 1}"
    assert figures[(PROVINCE_A, year, quarter)] == {"in": 1, "out": 1}
    assert figures[(PROVINCE_B, year, quarter)] == {"in": 0, "out": 1}
    assert figures[(PROVINCE_C, year, quarter)] == {"in": 1, "out": 0}
