"""What a province allows its case workers (provinces.CaseSettings): by default only the records assigned
to them; a province that works by area lets them also read, never change, every record of their area."""

import pytest

from accounts.access import can
from accounts.models import Membership, Role
from cases import services
from conftest import PROVINCE_A, PROVINCE_B, make_user
from provinces.models import CaseSettings, District
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db


def _record(n: int, province: int, district: District | None = None) -> TargetRecord:
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
def districts():
    return list(District.objects.filter(province_id=PROVINCE_A).order_by("code")[:2])


def test_by_default_a_case_worker_reads_only_their_assigned_records(cast, districts):
    worker = make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    mine, other = _record(1, PROVINCE_A, districts[0]), _record(2, PROVINCE_A, districts[0])
    services.assign(user=cast.coordinator_a, records=[mine], worker=worker)
    CaseSettings.objects.create(province_id=PROVINCE_A)  # a row with the flag off is the default too
    assert list(TargetRecord.objects.visible_to(worker)) == [mine]
    assert other not in TargetRecord.objects.visible_to(worker)


def test_a_province_that_works_by_area_lets_its_case_workers_read_their_districts_only(cast, districts):
    near, far = districts
    worker = make_user("worker.a@example.org")
    membership = Membership.objects.create(user=worker, role=Role.CASE_WORKER, province_id=PROVINCE_A)
    membership.districts.set([near])
    mine = _record(1, PROVINCE_A, near)
    services.assign(user=cast.coordinator_a, records=[mine], worker=worker)
    in_area, out_of_area = _record(2, PROVINCE_A, near), _record(3, PROVINCE_A, far)
    no_district = _record(4, PROVINCE_A)
    elsewhere = _record(5, PROVINCE_B)
    CaseSettings.objects.create(province_id=PROVINCE_A, case_workers_read_area=True)
    CaseSettings.objects.create(province_id=PROVINCE_B, case_workers_read_area=True)

    assert set(TargetRecord.objects.visible_to(worker)) == {mine, in_area}
    for hidden in (out_of_area, no_district, elsewhere):
        assert hidden not in TargetRecord.objects.visible_to(worker)
    # Reading the area is not working on it: only the assigned record is theirs to change.
    mine.refresh_from_db()
    assert can(worker, "targets.work_on", mine)
    assert not can(worker, "targets.work_on", in_area)
    # The province as a whole stays closed to them (dashboards, uploads, identifiers).
    assert not can(worker, "targets.read", PROVINCE_A)
    assert not can(worker, "targets.read_identifiers", PROVINCE_A)


def test_a_case_worker_of_the_whole_province_reads_it_all_when_allowed(cast, districts, client):
    worker = make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    records = [_record(1, PROVINCE_A, districts[0]), _record(2, PROVINCE_A)]
    elsewhere = _record(3, PROVINCE_B)
    assert not TargetRecord.objects.visible_to(worker).exists()
    settings_a = CaseSettings.objects.create(province_id=PROVINCE_A, case_workers_read_area=True)
    assert set(TargetRecord.objects.visible_to(worker)) == set(records)

    # Through the pages too: the record page opens, the other province's stays 404.
    client.force_login(worker)
    assert client.get(f"/records/{records[1].pk}/").status_code == 200
    assert client.get(f"/records/{elsewhere.pk}/").status_code == 404

    settings_a.case_workers_read_area = False
    settings_a.save()
    assert not TargetRecord.objects.visible_to(worker).exists()
    assert client.get(f"/records/{records[1].pk}/").status_code == 404


def test_only_the_provinces_writers_change_its_setting(cast):
    CaseSettings.objects.create(province_id=PROVINCE_A)
    assert list(CaseSettings.objects.writable_by(cast.coordinator_a).values_list("pk", flat=True)) == [PROVINCE_A]
    assert not CaseSettings.objects.writable_by(cast.coordinator_b).exists()
    assert not CaseSettings.objects.writable_by(cast.viewer_a).exists()
