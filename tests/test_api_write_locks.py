"""The API's record writes take their provinces' turn, as uploads' applies do (targets/upload/pipeline.py
write_in_turn, api/record_writes.py): another province's apply never holds a write back, an apply of its own
province holds it WRITE_LOCK_WAIT at most (then 503 with Retry-After, nothing written), and a race on a new
identifier with another province's apply ends with the identifier rejected, the rest written.

Real concurrency on PostgreSQL, as tests/test_upload_locks.py: an apply holds its transaction open in a
thread of its own while the API request runs in another.
"""

import json

import pytest
from django.db import connection

from conftest import PROVINCE_A, PROVINCE_B
from targets.models import TargetRecord
from targets.upload import pipeline
from tests.api_support import key_client, make_key
from tests.builders import national_id, upload
from tests.test_upload_locks import WAIT, Holder, InThread, _csv, _until, _waits_on

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/v1"
BUSY_TH = "กำลังบันทึกไฟล์อัปโหลดของจังหวัดนี้"


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks and concurrent transactions: PostgreSQL only")


def _item(identifier: str, n: int = 0) -> dict:
    return {"identifier": identifier, "first_name": f"สมหญิง{n}", "last_name": "รักเรียน", "category": "out-of-school"}


def _post(secret: str, items: list[dict], **headers):
    return key_client(secret).post(
        f"{API}/records/bulk/", {"records": items}, content_type="application/json", **headers
    )


def test_an_api_write_runs_beside_another_provinces_apply(cast):
    """Province A's apply holds its transaction open; a key of B writes B's records at once (the national key
    is held shared by both: before, the write took it exclusively and waited for A's whole apply)."""
    a = upload(cast.coordinator_a, _csv([national_id(1), national_id(2)]), PROVINCE_A)
    _key, secret_b = make_key(provinces=[PROVINCE_B], name="key-b")
    holder = Holder(a, cast.coordinator_a)
    try:
        response = InThread(lambda: _post(secret_b, [_item(national_id(11))])).join()
        assert response.status_code == 200, response.content
        assert json.loads(response.content)["summary"]["created"] == 1
        assert TargetRecord.objects.filter(identifier=national_id(11), province_id=PROVINCE_B).exists()
        assert not TargetRecord.objects.filter(province_id=PROVINCE_A).exists(), "A's apply not committed yet"
    finally:
        holder.commit()
    assert TargetRecord.objects.filter(province_id=PROVINCE_A).count() == 2


def test_an_api_write_of_a_province_whose_upload_is_applying_answers_503_and_writes_nothing(cast, monkeypatch):
    monkeypatch.setattr(pipeline, "WRITE_LOCK_WAIT", "300ms")
    a = upload(cast.coordinator_a, _csv([national_id(1)]), PROVINCE_A)
    _key, secret_a = make_key(provinces=[PROVINCE_A], name="key-a")
    holder = Holder(a, cast.coordinator_a)
    try:
        busy = InThread(lambda: _post(secret_a, [_item(national_id(5))], HTTP_IDEMPOTENCY_KEY="w-1")).join()
        assert busy.status_code == 503
        assert busy["Retry-After"] == "5"
        error = json.loads(busy.content)["error"]
        assert (error["code"], error["details"]) == ("province_busy", {"retry_after": 5})
        assert error["message"].startswith(BUSY_TH)
        assert not TargetRecord.objects.filter(identifier=national_id(5)).exists()
    finally:
        holder.commit()
    # The same request again with the same key, once the apply is done: written, not the 503 replayed.
    again = _post(secret_a, [_item(national_id(5))], HTTP_IDEMPOTENCY_KEY="w-1")
    assert (again.status_code, "Idempotent-Replayed" in again) == (200, False)
    assert json.loads(again.content)["summary"]["created"] == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("0",), "the write's lock_timeout does not outlive it"


def test_an_api_write_racing_another_provinces_apply_on_a_new_identifier_rejects_it_and_writes_the_rest(
    cast, monkeypatch, caplog
):
    """A's apply wrote the shared identifier and holds its transaction open; B's write (which found it new)
    waits on it, fails on the unique index once A commits, and is redone under the national key: the
    identifier is rejected as held outside B's province, B's other record written, the results redone."""
    monkeypatch.setattr(pipeline, "WRITE_LOCK_WAIT", f"{WAIT}s")
    shared = national_id(99)
    a = upload(cast.coordinator_a, _csv([shared]), PROVINCE_A)
    _key, secret_b = make_key(provinces=[PROVINCE_B], name="key-b")
    holder = Holder(a, cast.coordinator_a)
    try:
        racing = InThread(lambda: _post(secret_b, [_item(national_id(11), 1), _item(shared, 2)]))
        _until(lambda: _waits_on(racing.pid) == "transactionid", "B's COPY to wait on A's identifier")
    finally:
        holder.commit()
    response = racing.join()
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    assert body["summary"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    first, second = body["results"]
    assert (first["status"], first["errors"], first["id"] is not None) == ("created", [], True)
    fields = [error["field"] for error in second["errors"]]
    assert (second["status"], second["id"], fields) == ("rejected", None, ["identifier"])
    assert TargetRecord.objects.get(identifier=shared).province_id == PROVINCE_A
    assert TargetRecord.objects.get(identifier=national_id(11)).province_id == PROVINCE_B
    assert "lost a race on a new identifier" in caplog.text
