"""Assigning records to case workers through the upload's optional column (targets/upload/hooks.py → cases)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, Role
from cases.models import Case, CaseEvent, Notification
from conftest import PROVINCE_A, PROVINCE_B, make_user
from provinces.models import District
from targets.models import TargetRecord
from targets.upload.columns import label
from targets.upload.services import start_apply
from tests.builders import OUT, national_id, upload, upload_and_apply, xlsx

pytestmark = pytest.mark.django_db

HEADER = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "อำเภอ", "ผู้ดูแลรายกรณี (อีเมล)"]


def _districts() -> tuple[str, str]:
    first, second = District.objects.filter(province_id=PROVINCE_A).order_by("code")[:2]
    return first.name_th, second.name_th


def _limited_worker():
    """A case worker of province A limited to its first district."""
    worker = make_user("limited.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    first = District.objects.filter(province_id=PROVINCE_A).order_by("code").first()
    Membership.objects.get(user=worker).districts.add(first)
    return worker


def test_the_column_assigns_records_through_the_cases_write_path(cast):
    home, _other = _districts()
    limited = _limited_worker()
    rows = [
        [national_id(1), "ก", "ข", OUT, home, " CaseWorker.A@example.org "],
        [national_id(2), "ค", "ง", OUT, home, "caseworker.a@example.org"],
        [national_id(3), "จ", "ฉ", OUT, home, "limited.a@example.org"],
        [national_id(4), "ช", "ซ", OUT, home, ""],
    ]
    batch = upload_and_apply(cast.coordinator_a, xlsx(HEADER, rows))
    assert (batch.created, batch.rejected) == (4, 0)
    workers = dict(TargetRecord.objects.values_list("identifier", "case_worker__email"))
    assert workers == {
        national_id(1): "caseworker.a@example.org",
        national_id(2): "caseworker.a@example.org",
        national_id(3): "limited.a@example.org",
        national_id(4): None,
    }
    assert Case.objects.count() == 3
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.ASSIGNED, by=cast.coordinator_a).count() == 3
    # services.assign notifies each worker of their records (one call per worker, one notice per record).
    assert Notification.objects.filter(user=cast.case_worker_a, kind=Notification.Kind.ASSIGNED).count() == 2
    assert Notification.objects.filter(user=limited).count() == 1

    # The same file again: nothing changes, nobody is notified twice.
    upload_and_apply(cast.coordinator_a, xlsx(HEADER, rows))
    assert CaseEvent.objects.count() == 3
    assert Notification.objects.count() == 3


def test_a_worker_who_may_not_take_the_row_rejects_only_that_row(cast):
    home, other = _districts()
    _limited_worker()
    make_user("caseworker.b@example.org", role=Role.CASE_WORKER, province=PROVINCE_B)
    rows = [
        [national_id(1), "ก", "ข", OUT, home, "caseworker.a@example.org"],
        [national_id(2), "ค", "ง", OUT, home, "nobody.here@example.org"],  # no such user
        [national_id(3), "จ", "ฉ", OUT, home, "caseworker.b@example.org"],  # another province's worker
        [national_id(4), "ช", "ซ", OUT, other, "limited.a@example.org"],  # outside the worker's district
        [national_id(5), "ฌ", "ญ", OUT, home, "coord.a@example.org"],  # a user, not a case worker
    ]
    batch = upload(cast.coordinator_a, xlsx(HEADER, rows))
    assert (batch.created, batch.rejected) == (1, 4)
    reasons = {r.row_number: (r.column, r.reason) for r in batch.rejections.all()}
    assert set(reasons) == {3, 4, 5, 6}
    assert {column for column, _ in reasons.values()} == {label("case_worker")}
    # The same words for an unknown e-mail and another province's worker: nothing about who exists where.
    assert reasons[3][1].replace("nobody.here", "caseworker.b") == reasons[4][1]
    assert "caseworker.b@example.org" in reasons[4][1]

    assert not Case.objects.exists(), "the dry run assigns nothing"
    assert not TargetRecord.objects.exists()

    start_apply(batch=batch, user=cast.coordinator_a)
    assert list(TargetRecord.objects.values_list("identifier", "case_worker__email")) == [
        (national_id(1), "caseworker.a@example.org")
    ]
    assert Case.objects.count() == 1


def test_an_empty_cell_leaves_the_assignment_as_it_is(cast):
    home, _other = _districts()
    upload_and_apply(
        cast.coordinator_a, xlsx(HEADER, [[national_id(1), "ก", "ข", OUT, home, "caseworker.a@example.org"]])
    )
    batch = upload_and_apply(cast.coordinator_a, xlsx(HEADER, [[national_id(1), "ก", "แก้", OUT, home, ""]]))
    assert batch.updated == 1
    record = TargetRecord.objects.get()
    assert (record.last_name, record.case_worker) == ("แก้", cast.case_worker_a)
    assert CaseEvent.objects.count() == 1


def test_the_check_costs_the_same_queries_whatever_the_number_of_rows_naming_workers(cast):
    home, _other = _districts()
    _limited_worker()

    def rows(count: int) -> list[list]:
        workers = ("caseworker.a@example.org", "limited.a@example.org", "unknown@example.org")
        return [[national_id(n), "ก", "ข", OUT, home, workers[n % 3]] for n in range(1, count + 1)]

    small, large = xlsx(HEADER, rows(3)), xlsx(HEADER, rows(60))
    with CaptureQueriesContext(connection) as few:
        upload(cast.coordinator_a, small)
    with CaptureQueriesContext(connection) as many:
        batch = upload(cast.coordinator_a, large)
    assert (batch.created, batch.rejected) == (40, 20)
    assert len(many) <= len(few) + 2  # a row of rejections more to store, never one query per row
