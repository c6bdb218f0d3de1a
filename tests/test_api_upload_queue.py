"""A partner key's upload apply goes the way of a user's (targets.upload.services.start_apply): a big file's apply
is queued and the API answers 202; the task applies it as the partner's service account with the key's scope as
it is when the task runs (targets.upload.hooks.key_account, registered by api/apps.py), naming the key in the
audit trail, and refuses it once the key is revoked or expired or its provinces changed.

With the real broker (Redis): the request's message is read from the queue and run here, as a worker would.
tests/test_upload_locks.py has the small file's apply that finds its province busy.
"""

import ast
import datetime
import json

import pytest
import redis
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from api.models import Partner, PartnerKey
from conftest import PROVINCE_A, PROVINCE_B
from targets.models import TargetRecord, UploadBatch
from targets.tasks import apply_upload_task
from targets.upload.services import sweep_stuck_uploads
from tests.api_support import key_client, make_key
from tests.builders import national_id

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the job lock and the audit trail: PostgreSQL"),
]

API = "/api/v1"
Status = UploadBatch.Status
OUT = "เด็กและเยาวชนนอกระบบการศึกษา"
KEY_GONE_TH = "คีย์ API ที่ยืนยันการนำเข้าไฟล์นี้ถูกเพิกถอนหรือหมดอายุแล้ว"
NO_LONGER_TH = "ท่านไม่มีสิทธิ์บันทึกข้อมูลของจังหวัดนี้แล้ว"


@pytest.fixture
def broker(redis_url, settings):
    """The real broker, its default queue emptied before and after (no worker takes the messages here)."""
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    client = redis.Redis.from_url(redis_url)
    client.delete("celery")
    yield client
    client.delete("celery")


@pytest.fixture
def key_a(programme):
    return make_key(provinces=[PROVINCE_A], name="key-a")


def _queued_applies(client: redis.Redis) -> list[tuple]:
    """The arguments of each upload apply task waiting in the broker's default queue."""
    messages = [json.loads(m) for m in client.lrange("celery", 0, -1)]
    return [
        ast.literal_eval(m["headers"]["argsrepr"])
        for m in messages
        if m["headers"]["task"] == "targets.tasks.apply_upload_task"
    ]


def _checked_upload(client, count: int = 2) -> UploadBatch:
    lines = ["เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย"]
    lines += [f"{national_id(40_000_000 + n)},เด็ก{n},ใจดี,{OUT}" for n in range(1, count + 1)]
    upload = SimpleUploadedFile("ขอนแก่น.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")
    response = client.post(f"{API}/imports/", {"province": PROVINCE_A, "file": upload})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "checked"
    return UploadBatch.objects.get(pk=response.json()["id"])


def _confirm_big(client, batch: UploadBatch, settings, capture, broker: redis.Redis) -> tuple:
    """Confirm `batch` as a file bigger than TARGETS_UPLOAD_INLINE_BYTES: 202, queued. The task's arguments."""
    settings.TARGETS_UPLOAD_INLINE_BYTES = batch.size - 1
    with capture(execute=True):  # the publish to the broker, once the request's transaction commits
        response = client.post(f"{API}/imports/{batch.pk}/apply/")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "applying"
    [args] = _queued_applies(broker)
    return args


def test_a_keys_big_apply_answers_202_and_the_task_applies_it_with_the_keys_scope_naming_the_key(
    key_a, broker, settings, django_capture_on_commit_callbacks
):
    key, secret = key_a
    client = key_client(secret)
    batch = _checked_upload(client)
    args = _confirm_big(client, batch, settings, django_capture_on_commit_callbacks, broker)
    service_user = Partner.objects.get(pk=key.partner_id).service_user
    row = UploadBatch.objects.get(pk=batch.pk)
    assert (row.status, row.attempts, row.api_key) == (Status.APPLYING, 0, key.prefix)
    assert row.confirmed_by_id == service_user.pk
    assert args[:2] == (batch.pk, service_user.pk)
    assert not TargetRecord.objects.exists(), "nothing written by the request"

    apply_upload_task(*args)  # what the worker runs: the account looked up again, the scope made from the key

    row = UploadBatch.objects.get(pk=batch.pk)
    assert (row.status, row.created, row.attempts) == (Status.APPLIED, 2, 1)
    assert set(TargetRecord.objects.values_list("province_id", "updated_by_id")) == {(PROVINCE_A, service_user.pk)}
    events = apps.get_model("audit", "TargetRecordEvent").objects.filter(pgh_label="insert")
    assert events.count() == 2
    assert {(e.pgh_context.metadata["api_key"], e.pgh_context.metadata["upload"]) for e in events} == {
        (key.prefix, batch.pk)
    }
    # The API reports it applied; applying again changes nothing.
    again = client.post(f"{API}/imports/{batch.pk}/apply/")
    assert (again.status_code, again.json()["status"], again.json()["created"]) == (200, "applied", 2)


def _revoke(key: PartnerKey) -> None:
    PartnerKey.objects.filter(pk=key.pk).update(revoked=True)


def _expire(key: PartnerKey) -> None:
    PartnerKey.objects.filter(pk=key.pk).update(expiry_date=timezone.now() - datetime.timedelta(seconds=1))


def _deactivate_partner(key: PartnerKey) -> None:
    Partner.objects.filter(pk=key.partner_id).update(is_active=False)


def _withdraw_uploads(key: PartnerKey) -> None:
    PartnerKey.objects.filter(pk=key.pk).update(permissions={"records": "write"})


@pytest.mark.parametrize("change", [_revoke, _expire, _deactivate_partner, _withdraw_uploads])
def test_a_key_revoked_between_the_confirm_and_the_task_fails_the_upload_with_the_reason_and_writes_nothing(
    key_a, broker, settings, django_capture_on_commit_callbacks, change
):
    key, secret = key_a
    client = key_client(secret)
    batch = _checked_upload(client)
    args = _confirm_big(client, batch, settings, django_capture_on_commit_callbacks, broker)
    change(key)

    apply_upload_task(*args)

    row = UploadBatch.objects.get(pk=batch.pk)
    assert (row.status, row.failure, row.progress) == (Status.FAILED, UploadBatch.Failure.REFUSED, 100)
    assert row.error.startswith(KEY_GONE_TH), row.error
    assert not TargetRecord.objects.exists()


def test_a_keys_queued_apply_never_reaches_beyond_the_keys_provinces_as_they_are_when_it_runs(
    key_a, broker, settings, django_capture_on_commit_callbacks
):
    key, secret = key_a
    client = key_client(secret)
    batch = _checked_upload(client)
    args = _confirm_big(client, batch, settings, django_capture_on_commit_callbacks, broker)
    # The partner is moved to province B before a worker takes the task: the key may no longer write A's records.
    Partner.objects.get(pk=key.partner_id).provinces.set([PROVINCE_B])

    apply_upload_task(*args)

    row = UploadBatch.objects.get(pk=batch.pk)
    assert (row.status, row.failure) == (Status.FAILED, UploadBatch.Failure.REFUSED)
    assert row.error.startswith(NO_LONGER_TH), row.error
    assert not TargetRecord.objects.exists()


def test_a_key_of_another_province_cannot_apply_the_upload(key_a, programme):
    batch = _checked_upload(key_client(key_a[1]))
    other = key_client(make_key(provinces=[PROVINCE_B], name="key-b")[1])
    assert other.post(f"{API}/imports/{batch.pk}/apply/").status_code == 404
    assert UploadBatch.objects.get(pk=batch.pk).status == Status.CHECKED


def test_the_sweeper_queues_a_keys_lost_apply_again_and_it_applies_with_the_keys_scope(
    key_a, broker, settings, django_capture_on_commit_callbacks
):
    key, secret = key_a
    client = key_client(secret)
    batch = _checked_upload(client)
    _confirm_big(client, batch, settings, django_capture_on_commit_callbacks, broker)
    broker.delete("celery")  # Redis lost the message
    settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 0
    UploadBatch.objects.filter(pk=batch.pk).update(queued_at=timezone.now() - datetime.timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stuck_uploads() == {"requeued": 1, "failed": 0}
    [args] = _queued_applies(broker)
    apply_upload_task(*args)

    row = UploadBatch.objects.get(pk=batch.pk)
    assert (row.status, row.created, row.api_key) == (Status.APPLIED, 2, key.prefix)
    events = apps.get_model("audit", "TargetRecordEvent").objects.filter(pgh_label="insert")
    assert {e.pgh_context.metadata["api_key"] for e in events} == {key.prefix}
