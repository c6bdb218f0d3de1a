"""The upload's dry run warns about probable duplicates beside the row (duplicates/upload.py through
targets/upload/hooks.py): never a rejection, and the record is named only to whom may read it."""

import datetime

import pytest
from django.db import connection

from conftest import PROVINCE_A
from duplicates import generated
from targets.models import TargetRecord, UploadBatch
from tests.builders import OUT, national_id, upload, upload_and_apply, xlsx

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm: PostgreSQL only")

HEADER = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "เพศ", "วันเกิด", "อำเภอ", "กลุ่มเป้าหมาย"]


def _existing() -> TargetRecord:
    generated.save(
        [
            {
                "identifier": national_id(501),
                "identifier_kind": "national_id",
                "name_prefix": "",
                "first_name": "กิตติพงษ์",
                "last_name": "ศรีสุข",
                "sex": "M",
                "birth_date": datetime.date(2014, 5, 3),
                "province_id": PROVINCE_A,
                "district_id": None,
            }
        ]
    )
    return TargetRecord.objects.get(identifier=national_id(501))


@pytest.mark.django_db
def test_a_probable_duplicate_is_a_warning_beside_its_row_not_a_rejection(cast, client_for):
    record = _existing()
    rows = [
        ["G644200000001", "ด.ช.กิตติพงศ์", "ศรี สุข", "ชาย", "03/05/2557", "เมืองขอนแก่น", OUT],  # the same child
        [national_id(502), "กิตติพงษ์", "ศรีสุข", "ชาย", "03/05/2554", "เมืองขอนแก่น", OUT],  # three years older
        [national_id(503), "ธีรภัทร", "ศรีสุข", "ชาย", "03/05/2557", "เมืองขอนแก่น", OUT],  # a twin
    ]
    batch = upload(cast.coordinator_a, xlsx(HEADER, rows))
    assert batch.status == UploadBatch.Status.CHECKED
    assert (batch.created, batch.rejected) == (3, 0)
    warnings = batch.preview["warnings"]
    assert [(w["row"], w["record"]) for w in warnings] == [(2, record.pk)]
    assert batch.preview["warned"] == 1

    page = client_for(cast.coordinator_a).get(f"/uploads/{batch.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="upload-warnings"' in text
    assert "อาจซ้ำกับระเบียนที่มีอยู่" in text
    assert f"/records/{record.pk}/" in text

    # Applied: the rows are created all the same, and the warnings stay on the report.
    batch = upload_and_apply(cast.coordinator_a, xlsx(HEADER, rows))
    assert batch.created == 3
    assert [w["row"] for w in batch.preview["warnings"]] == [2]


@pytest.mark.django_db
def test_a_warning_about_a_record_the_viewer_cannot_read_names_nothing(cast, client_for):
    record = _existing()
    rows = [["G644200000001", "ด.ช.กิตติพงศ์", "ศรีสุข", "ชาย", "03/05/2557", "เมืองขอนแก่น", OUT]]
    batch = upload(cast.coordinator_a, xlsx(HEADER, rows))
    assert batch.preview["warnings"]
    # The record moved to another province since the check: the page no longer names it.
    TargetRecord.objects.filter(pk=record.pk).update(province_id=56)
    text = client_for(cast.coordinator_a).get(f"/uploads/{batch.pk}/").content.decode()
    assert "อาจซ้ำกับระเบียนที่มีอยู่" in text
    assert "กิตติพงษ์" not in text
    assert f"/records/{record.pk}/" not in text
    assert "ศรีสุข" not in text.split('data-testid="upload-warnings"')[1].split("</section>")[0]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_question_runs_on_the_helpers_own_connection(programme):
    """A check is not a transaction: the helper thread asks over its own connection (the other core), and finds
    the committed record as the shared connection would; then closes it."""
    from concurrent.futures import Future

    from duplicates import upload as duplicate_upload

    record = _existing()
    assert not connection.in_atomic_block
    batch = UploadBatch(province_id=PROVINCE_A)
    rows = [
        {
            "row": 7,
            "identifier_kind": "g_code",
            "first_name": "ด.ช.กิตติพงศ์",
            "last_name": "ศรี สุข",
            "sex": "M",
            "birth_date": datetime.date(2014, 5, 3),
        }
    ]
    answer = duplicate_upload.warn_about_rows(batch, rows)
    assert isinstance(answer, Future)
    warnings = answer.result(timeout=30)
    assert [(w["row"], w["record"]) for w in warnings] == [(7, record.pk)]
    # Closed after its question: no idle connection is left behind in the worker.
    assert duplicate_upload._helper.submit(_connected).result(timeout=30) is False


def _connected() -> bool:
    return connection.connection is not None
