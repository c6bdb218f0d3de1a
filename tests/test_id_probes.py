"""Probing for national IDs (PDPA; targets/id_probes.py).

Telling someone that an identifier "is already recorded outside your province" tells them a child
is in the programme elsewhere. The upload's dry run, the API's record writes and the record form
give that answer within a small daily allowance per user or key (TARGETS_ID_PROBE_DAILY_LIMIT, 3
here), each time with an access-log entry; beyond it they refuse as a whole, flag the day for
EEF/IPSR admins (audit.IdentifierProbeDay, Django admin) and mail them, once. Identifiers of a
province the asker may read never count.
"""

import datetime
import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership, Role
from audit.models import AccessLog, IdentifierProbeDay
from conftest import PROVINCE_A, PROVINCE_B, make_user
from targets.models import TargetRecord, UploadBatch, UploadRejection
from targets.upload.services import check_upload, start_apply
from tests.api_support import key_client, make_key, make_records
from tests.builders import OUT, national_id, upload

pytestmark = pytest.mark.django_db

API = "/api/v1"
LIMIT = 3
ELSEWHERE_TH = "มีระเบียนอยู่นอกจังหวัดของท่านแล้ว"  # the upload's words for "recorded outside your province"
PROBE = AccessLog.Action.IDENTIFIER_PROBE
REFUSED = AccessLog.Action.IDENTIFIER_PROBE_REFUSED


@pytest.fixture(autouse=True)
def limit(settings):
    settings.TARGETS_ID_PROBE_DAILY_LIMIT = LIMIT


@pytest.fixture
def ids_of_b(programme) -> list[str]:
    """Identifiers of six records of province B, which coordinator A cannot see."""
    return [r.identifier for r in make_records(PROVINCE_B, 6, start=300)]


def _new_id(n: int) -> str:
    return national_id(PROVINCE_A * 10_000_000 + 700 + n)


def _csv(identifiers: list[str]) -> SimpleUploadedFile:
    lines = ["เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย"]
    lines += [f"{identifier},เด็ก{n},ทดสอบ,{OUT}" for n, identifier in enumerate(identifiers)]
    return SimpleUploadedFile("probe.csv", ("\n".join(lines) + "\n").encode())


def _entries(action=None):
    entries = AccessLog.objects.filter(action__in=[PROBE, REFUSED]).order_by("pk")
    return entries.filter(action=action) if action else entries


def _day(asker: str) -> IdentifierProbeDay:
    return IdentifierProbeDay.objects.get(asker=asker, day=timezone.localdate())


def _messages_of(batch: UploadBatch) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for row, reason in UploadRejection.objects.filter(batch=batch).values_list("row_number", "reason"):
        found.setdefault(row, []).append(reason)
    return found


# --- uploads ---------------------------------------------------------------------------------------------


def test_an_upload_within_the_allowance_names_the_rows_held_elsewhere_and_logs_who_asked(cast, client_for, ids_of_b):
    client = client_for(cast.coordinator_a)
    client.post("/uploads/new/", {"file": _csv([ids_of_b[0], _new_id(1), ids_of_b[1]])})
    batch = UploadBatch.objects.get()
    assert (batch.status, batch.created, batch.rejected) == ("checked", 1, 2)
    # The uploader sent those rows: within the allowance each says its identifier is held elsewhere.
    messages = _messages_of(batch)
    assert sorted(messages) == [2, 4]
    assert all(ELSEWHERE_TH in reasons[0] for reasons in messages.values())
    [entry] = _entries()
    assert (entry.action, entry.user, entry.count) == (PROBE, cast.coordinator_a, 2)
    assert entry.path == f"/uploads/{batch.pk}/"
    assert (entry.content_type, entry.object_id) == (ContentType.objects.get_for_model(UploadBatch), str(batch.pk))
    day = _day(f"user:{cast.coordinator_a.pk}")
    assert (day.asked, day.answered, day.flagged_at) == (2, 2, None)
    # Confirming the same file is not a new question: nothing more is counted.
    client.post(f"/uploads/{batch.pk}/confirm/")
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.rejected) == ("applied", 1, 2)
    assert sorted(_messages_of(batch)) == [2, 4]
    assert _entries().count() == 1
    assert _day(f"user:{cast.coordinator_a.pk}").asked == 2


def test_an_upload_over_the_allowance_is_refused_as_a_whole_flagged_and_mailed(
    cast, ids_of_b, mailoutbox, django_capture_on_commit_callbacks
):
    first = upload(cast.coordinator_a, _csv([ids_of_b[0]]))
    assert first.status == "checked"
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload(cast.coordinator_a, _csv([ids_of_b[1], _new_id(1), ids_of_b[2], ids_of_b[3]]))
    # 1 + 3 > 3: refused as a whole, saying how many and that the admins were told, never which rows.
    assert batch.status == "failed"
    assert batch.error.startswith("เลขประจำตัวที่ส่งมามี 3 รายการที่บันทึกอยู่ในจังหวัดอื่นแล้ว")
    assert "ได้แจ้งผู้ดูแลระบบของ กสศ./IPSR แล้ว" in batch.error
    assert not UploadRejection.objects.filter(batch=batch).exists()
    assert not TargetRecord.objects.filter(province_id=PROVINCE_A).exists()
    refused = _entries(REFUSED).get()
    assert (refused.user, refused.count, refused.path) == (cast.coordinator_a, 3, f"/uploads/{batch.pk}/")
    day = _day(f"user:{cast.coordinator_a.pk}")
    assert (day.asked, day.answered) == (4, 1)
    assert day.flagged_at is not None
    [mail] = mailoutbox
    assert mail.to == [cast.eef_admin.email]
    assert cast.coordinator_a.email in mail.body
    assert f"/admin/audit/identifierprobeday/{day.pk}/change/" in mail.body
    assert not any(identifier in mail.body for identifier in ids_of_b)
    # Further questions the same day are refused too; the day stays one flag, one mail.
    with django_capture_on_commit_callbacks(execute=True):
        again = upload(cast.coordinator_a, _csv([ids_of_b[4]]))
    assert again.status == "failed"
    assert IdentifierProbeDay.objects.count() == 1
    assert len(mailoutbox) == 1
    assert _entries(REFUSED).count() == 2


def test_identifiers_of_provinces_the_uploader_may_read_never_count(cast, ids_of_b):
    own = [r.identifier for r in make_records(PROVINCE_A, 5, start=100)]
    batch = upload(cast.coordinator_a, _csv(own))  # all five already recorded, in A
    assert (batch.status, batch.unchanged, batch.rejected) == ("checked", 0, 0)
    # A coordinator of both provinces, and an EEF/IPSR admin, see B: its identifiers tell them nothing new.
    both = make_user("coord.ab@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    Membership.objects.create(user=both, role=Role.PROVINCE_COORDINATOR, province_id=PROVINCE_B)
    for uploader in (both, cast.eef_admin):
        batch = upload(uploader, _csv(ids_of_b[:5]))
        assert (batch.status, batch.rejected) == ("checked", 5)
    assert not _entries().exists()
    assert not IdentifierProbeDay.objects.exists()


def test_a_check_costs_the_same_queries_whatever_the_number_of_rows_held_elsewhere(cast, settings):
    settings.TARGETS_ID_PROBE_DAILY_LIMIT = 1000
    ids = [r.identifier for r in make_records(PROVINCE_B, 40, start=1000)]
    upload(cast.coordinator_a, _csv(ids[:1]))  # the first question of the day creates the day's row

    def queries_of_a_check(identifiers: list[str]) -> int:
        batch = upload(cast.coordinator_a, SimpleUploadedFile("x.csv", b"x"))  # fails: a batch to reuse
        batch.file.save("probe.csv", _csv(identifiers), save=False)
        UploadBatch.objects.filter(pk=batch.pk).update(status="received", file=batch.file.name)
        with CaptureQueriesContext(connection) as queries:
            check_upload(batch_id=batch.pk)
        assert UploadBatch.objects.get(pk=batch.pk).rejected == len(identifiers)
        return len(queries)

    # One count (and one access-log entry) per file, never a query per row.
    assert queries_of_a_check(ids[1:4]) == queries_of_a_check(ids[4:40])
    assert _day(f"user:{cast.coordinator_a.pk}").asked == 1 + 3 + 36


def test_a_check_that_runs_again_does_not_count_the_same_file_twice(cast, ids_of_b):
    batch = upload(cast.coordinator_a, _csv(ids_of_b[:2]))
    # A worker that died after the check's count, before its report: the task runs the check again.
    UploadBatch.objects.filter(pk=batch.pk).update(status="checking")
    check_upload(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.rejected) == ("checked", 2)
    assert _day(f"user:{cast.coordinator_a.pk}").asked == 2
    assert _entries().count() == 1


def test_yesterdays_questions_do_not_count_today(cast, ids_of_b):
    now = timezone.now()
    IdentifierProbeDay.objects.create(
        asker=f"user:{cast.coordinator_a.pk}", actor=cast.coordinator_a.email, user=cast.coordinator_a,
        day=timezone.localdate() - datetime.timedelta(days=1), asked=50, answered=3, first_at=now, last_at=now,
        flagged_at=now,
    )  # fmt: skip
    batch = upload(cast.coordinator_a, _csv(ids_of_b[:3]))
    assert (batch.status, batch.rejected) == ("checked", 3)


# --- the API -------------------------------------------------------------------------------------------


def _item(identifier: str, n: int = 0) -> dict:
    return {"identifier": identifier, "first_name": f"สมชาย{n}", "last_name": "ใจดี", "category": "out-of-school"}


def test_an_api_write_within_the_allowance_answers_and_logs_the_key(ids_of_b):
    key, secret = make_key(provinces=[PROVINCE_A], name="ระบบจังหวัด")
    client = key_client(secret)
    response = client.post(
        f"{API}/records/", _item(ids_of_b[0]), content_type="application/json", HTTP_IDEMPOTENCY_KEY="one"
    )
    assert response.status_code == 400
    assert ELSEWHERE_TH in json.loads(response.content)["error"]["details"]["identifier"][0]
    # Kept although the write was refused (the request's transaction is not rolled back for it).
    [entry] = _entries()
    assert (entry.action, entry.user, entry.count, entry.path) == (PROBE, None, 1, "/api/v1/records/")
    assert key.prefix in entry.actor
    body = {"records": [_item(ids_of_b[1], 1), _item(_new_id(1), 2), _item(ids_of_b[2], 3)]}
    response = client.post(f"{API}/records/bulk/", body, content_type="application/json")
    results = json.loads(response.content)["results"]
    assert [r["status"] for r in results] == ["rejected", "created", "rejected"]
    assert ELSEWHERE_TH in results[0]["errors"][0]["message"]
    assert [e.count for e in _entries()] == [1, 2]
    assert _entries().last().path == "/api/v1/records/bulk/"
    day = _day(f"key:{key.prefix}")
    assert (day.asked, day.answered, day.flagged_at, day.user) == (3, 3, None, None)


def test_an_api_write_over_the_allowance_is_refused_as_a_whole(
    ids_of_b, mailoutbox, django_capture_on_commit_callbacks, cast
):
    key, secret = make_key(provinces=[PROVINCE_A])
    client = key_client(secret)
    body = {"records": [_item(_new_id(1), 1), *(_item(identifier, n) for n, identifier in enumerate(ids_of_b[:4]))]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}/records/bulk/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="b")
    assert response.status_code == 403
    error = json.loads(response.content)["error"]
    assert error["code"] == "identifier_probe_limit"
    assert error["message"].startswith("เลขประจำตัวที่ส่งมามี 4 รายการ")
    assert not TargetRecord.objects.filter(province_id=PROVINCE_A).exists()  # not even the new one
    refused = _entries(REFUSED).get()
    assert (refused.count, refused.path) == (4, "/api/v1/records/bulk/")
    assert _day(f"key:{key.prefix}").flagged_at is not None
    [mail] = mailoutbox
    assert key.prefix in mail.body
    # The retry with the same key gets the same answer, stored, without counting again.
    again = client.post(f"{API}/records/bulk/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="b")
    assert (again.status_code, again["Idempotent-Replayed"]) == (403, "true")
    assert _day(f"key:{key.prefix}").asked == 4
    # One more identifier of B, alone: refused too.
    response = client.post(f"{API}/records/?lang=en", _item(ids_of_b[5]), content_type="application/json")
    assert response.status_code == 403
    assert "limited to 3 a day" in json.loads(response.content)["error"]["message"]


def test_a_keys_allowance_is_its_own(ids_of_b, cast):
    first, second = make_key(provinces=[PROVINCE_A], name="k1"), make_key(provinces=[PROVINCE_A], name="k2")
    body = {"records": [_item(identifier, n) for n, identifier in enumerate(ids_of_b[:3])]}
    assert key_client(first[1]).post(f"{API}/records/bulk/", body, content_type="application/json").status_code == 200
    assert key_client(second[1]).post(f"{API}/records/bulk/", body, content_type="application/json").status_code == 200
    assert _day(f"key:{first[0].prefix}").asked == _day(f"key:{second[0].prefix}").asked == 3


# --- the record form -------------------------------------------------------------------------------------


def _form(identifier: str) -> dict:
    return {"identifier": identifier, "first_name": "สมชาย", "category": "out-of-school", "status": "in-follow-up"}


def test_the_record_form_answers_within_the_allowance_then_refuses_and_flags(
    cast, client_for, ids_of_b, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.TARGETS_ID_PROBE_DAILY_LIMIT = 1
    client = client_for(cast.coordinator_a)
    response = client.post("/records/new/", _form(ids_of_b[0]))
    assert response.status_code == 200
    assert response.context["form"].errors["identifier"] == [
        "เลขประจำตัวนี้มีระเบียนอยู่นอกจังหวัดของท่านแล้ว ท่านขอโอนย้ายระเบียนมายังจังหวัดของท่านได้"
    ]
    [entry] = _entries()
    assert (entry.action, entry.user, entry.count, entry.path) == (PROBE, cast.coordinator_a, 1, "/records/new/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/records/new/", _form(ids_of_b[1]))
    [message] = response.context["form"].errors["identifier"]
    assert message.startswith("เลขประจำตัวที่ส่งมามี 1 รายการ")
    assert _entries(REFUSED).get().user == cast.coordinator_a
    assert _day(f"user:{cast.coordinator_a.pk}").flagged_at is not None
    assert len(mailoutbox) == 1
    assert not TargetRecord.objects.filter(province_id=PROVINCE_A).exists()


def test_the_record_form_names_the_province_the_user_may_read_and_counts_nothing(cast, client_for):
    [record] = make_records(PROVINCE_A, 1, start=50)
    response = client_for(cast.coordinator_a).post("/records/new/", _form(record.identifier))
    assert response.context["form"].errors["identifier"] == ["เลขประจำตัวนี้มีข้อมูลอยู่แล้วในขอนแก่น"]
    assert not _entries().exists()
    assert not IdentifierProbeDay.objects.exists()


# --- what EEF/IPSR admins see ----------------------------------------------------------------------------


def test_eef_admins_find_the_flagged_days_in_admin_and_mark_them_reviewed(cast, client_for, ids_of_b):
    upload(cast.coordinator_a, _csv(ids_of_b[:4]))  # over the limit: flagged
    upload(cast.eef_admin, _csv([_new_id(1)]))
    day = _day(f"user:{cast.coordinator_a.pk}")
    admin = client_for(cast.eef_admin)
    page = admin.get("/admin/audit/identifierprobeday/?flagged=yes")
    assert page.status_code == 200
    assert cast.coordinator_a.email in page.content.decode()
    admin.post(
        "/admin/audit/identifierprobeday/",
        {"action": "mark_reviewed", "_selected_action": [day.pk], "index": 0},
    )
    day.refresh_from_db()
    assert day.reviewed_by == cast.eef_admin
    assert day.reviewed_at is not None
    assert cast.coordinator_a.email not in admin.get("/admin/audit/identifierprobeday/?flagged=yes").content.decode()
    assert client_for(cast.coordinator_a).get("/admin/audit/identifierprobeday/").status_code == 403


def test_the_apply_answers_rows_held_elsewhere_once_its_last_copy_is_done(cast, ids_of_b, monkeypatch):
    """The COPY of the last chunk runs on a second thread over the same connection, and a query sent
    while it streams breaks it: the look-up of what the check already answered waits for the COPY.
    A COPY whose data arrives slowly makes the overlap certain."""
    import io
    import time
    import types

    from targets.upload import pipeline

    if connection.vendor != "postgresql":
        pytest.skip("the COPY writer is PostgreSQL's")

    class SlowText(io.StringIO):
        def read(self, *args):
            time.sleep(0.05)
            return super().read(*args)

    monkeypatch.setattr(pipeline, "io", types.SimpleNamespace(StringIO=SlowText))
    batch = upload(cast.coordinator_a, _csv([ids_of_b[0], _new_id(1)]))
    start_apply(batch=batch, user=cast.coordinator_a)
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.rejected) == ("applied", 1, 1)
    assert _day(f"user:{cast.coordinator_a.pk}").asked == 1
