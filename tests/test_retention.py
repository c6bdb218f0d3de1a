"""Retention (issue 15): the nightly job (audit.retention.run, `manage.py prune`) prunes what each
app registered (core.retention): access-log rows archived then deleted, API idempotency keys, the
files of ended uploads (their rows stay); the access log's trigger still refuses any other DELETE.
"""

import csv
import gzip
import io
from datetime import UTC, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import IdempotentRequest
from audit import retention as audit_retention
from audit.models import PRUNE_BEFORE_SETTING, AccessLog, RetentionRun
from core import retention
from targets.models import UploadBatch
from targets.upload.services import cancel_upload
from tests.builders import national_id, upload, upload_and_apply, xlsx

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
HEADER = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"]


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the access log's trigger is PostgreSQL's")


def _log_row(age: timedelta, actor: str = "someone@example.org") -> int:
    """An access-log row written `age` ago (inserted with its time: rows cannot be updated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_accesslog (actor, action, object_id, description, count, created_at, user_agent, path)"
            " VALUES (%s, 'view', '', 'a record', 1, %s, 'Firefox', '/records/1/') RETURNING id",
            [actor, timezone.now() - age],
        )
        return cursor.fetchone()[0]


def _key(name: str, age: timedelta) -> IdempotentRequest:
    row = IdempotentRequest.objects.create(
        principal="key:abc", key=name, request_hash="0" * 64, method="POST", path="/api/v1/records/"
    )
    IdempotentRequest.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def _aged(batch: UploadBatch, age: timedelta) -> UploadBatch:
    when = timezone.now() - age
    UploadBatch.objects.filter(pk=batch.pk).update(
        created_at=when,
        checked_at=when if batch.checked_at else None,
        started_at=when if batch.started_at else None,
        applied_at=when if batch.applied_at else None,
    )
    batch.refresh_from_db()
    return batch


def _file(n: int):
    return xlsx(HEADER, [[national_id(n), "สมชาย", "ใจดี", "out-of-school"]])


def _execute(*statements: tuple[str, list]) -> int:
    """Runs the statements in one transaction; the row count of the last."""
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
        return cursor.rowcount


def _prune_setting(cutoff: str) -> tuple[str, list]:
    return "SELECT set_config(%s, %s, true)", [PRUNE_BEFORE_SETTING, cutoff]


def _read_archive(name: str) -> list[dict]:
    with default_storage.open(name, "rb") as stored:
        text = gzip.decompress(stored.read()).decode()
    return list(csv.DictReader(io.StringIO(text)))


# --- the acceptance test -------------------------------------------------------------------------


def test_the_job_removes_only_what_expired(cast, settings):
    settings.RETENTION_ACCESS_LOG_DAYS = 730
    settings.RETENTION_IDEMPOTENCY_DAYS = 30
    settings.RETENTION_UPLOAD_FILE_DAYS = 90
    settings.TARGETS_UPLOAD_ABANDON_DAYS = 30
    old_rows = [_log_row(731 * DAY), _log_row(1000 * DAY)]
    young_rows = [_log_row(729 * DAY), _log_row(DAY)]
    old_key, young_key = _key("old", 31 * DAY), _key("young", 29 * DAY)

    old_applied = _aged(upload_and_apply(cast.coordinator_a, _file(1)), 91 * DAY)
    young_applied = _aged(upload_and_apply(cast.coordinator_a, _file(2)), 89 * DAY)
    old_checked = _aged(upload(cast.coordinator_a, _file(3)), 200 * DAY)  # left unapplied: cancelled, file gone
    young_checked = _aged(upload(cast.coordinator_a, _file(5)), 29 * DAY)  # may still be applied
    cancelled = upload(cast.coordinator_a, _file(4))
    cancel_upload(batch=cancelled, user=cast.coordinator_a)
    old_cancelled = _aged(UploadBatch.objects.get(pk=cancelled.pk), 91 * DAY)
    for batch in (old_applied, young_applied, old_checked, young_checked, old_cancelled):
        assert default_storage.exists(batch.file.name)

    out = io.StringIO()
    call_command("prune", stdout=out)

    remaining = set(AccessLog.objects.values_list("id", flat=True))
    assert not remaining & set(old_rows)
    assert set(young_rows) <= remaining
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == [young_key.key]
    assert not IdempotentRequest.objects.filter(pk=old_key.pk).exists()
    # The files of the ended, old uploads are gone; their rows stay, marked.
    for batch in (old_applied, old_cancelled, old_checked):
        batch.refresh_from_db()
        assert not default_storage.exists(batch.file.name)
        assert batch.file_pruned_at is not None
        assert batch.status in (UploadBatch.Status.APPLIED, UploadBatch.Status.CANCELLED)
    # The upload left unapplied says why it was cancelled, in its uploader's language (Thai here).
    assert old_checked.status == UploadBatch.Status.CANCELLED
    assert "ยกเลิก" in old_checked.error
    assert "30" in old_checked.error
    for batch in (young_applied, young_checked):
        batch.refresh_from_db()
        assert default_storage.exists(batch.file.name)
        assert batch.file_pruned_at is None
    assert young_checked.status == UploadBatch.Status.CHECKED

    run = RetentionRun.objects.get()
    assert run.source == "manage.py prune"
    assert run.errors == 0
    counts = {name: result["count"] for name, result in run.results.items()}
    assert counts["access_log"] == 2
    assert counts["idempotency_keys"] == 1
    assert counts["stale_uploads"] == 1
    assert counts["upload_files"] == 3
    assert run.total == sum(counts.values())
    # The archive holds exactly the deleted rows, and is in storage.
    [archive] = run.results["access_log"]["files"]
    assert archive.startswith("retention/access-log/")
    assert archive.endswith(".csv.gz")
    archived = _read_archive(archive)
    assert sorted(int(r["id"]) for r in archived) == sorted(old_rows)
    assert archived[0]["actor"] == "someone@example.org"
    assert "access_log: 2 removed" in out.getvalue()

    # A second run finds nothing more.
    again = audit_retention.run(source="test")
    assert again is not None
    assert again.total == 0


def test_the_upload_page_says_the_file_is_no_longer_kept(cast, client_for, settings):
    batch = _aged(upload_and_apply(cast.coordinator_a, _file(1)), 91 * DAY)
    audit_retention.run(source="test")
    response = client_for(cast.coordinator_a).get(f"/uploads/{batch.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="upload-file-pruned"' in page
    assert "ไม่ได้เก็บไฟล์ที่อัปโหลดไว้แล้ว" in page  # Thai, the default language
    # The rejected rows' download still answers, without the file's header.
    assert client_for(cast.coordinator_a).get(f"/uploads/{batch.pk}/rejections.xlsx").status_code in (200, 404)


def test_access_log_is_deleted_in_batches_and_archived_whole(cast, monkeypatch, postgresql):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    old = [_log_row(800 * DAY) for _ in range(5)]
    with CaptureQueriesContext(connection) as ctx:
        pruned = audit_retention.prune_access_log(timezone.now())
    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DELETE FROM audit_accesslog")]
    assert len(deletes) == 3  # 2 + 2 + 1 rows
    assert pruned.count == 5
    assert sorted(int(r["id"]) for r in _read_archive(pruned.files[0])) == old
    assert not AccessLog.objects.filter(id__in=old).exists()


def test_the_access_log_period_never_goes_under_90_days(cast, settings):
    settings.RETENTION_ACCESS_LOG_DAYS = 7
    row = _log_row(30 * DAY)
    audit_retention.run(source="test")
    assert AccessLog.objects.filter(pk=row).exists()


# --- the trigger still refuses every other change ----------------------------------------------


def test_an_ordinary_delete_of_an_old_row_is_still_refused(postgresql):
    row = _log_row(1000 * DAY)
    with pytest.raises(DatabaseError, match="Cannot delete"):
        _execute(("DELETE FROM audit_accesslog WHERE id = %s", [row]))
    assert AccessLog.objects.filter(pk=row).exists()


def test_the_setting_lets_only_rows_older_than_its_cutoff_go(postgresql):
    old, younger = _log_row(1000 * DAY), _log_row(500 * DAY)
    cutoff = (timezone.now() - 700 * DAY).isoformat()
    with pytest.raises(DatabaseError, match="Cannot delete"):
        _execute(_prune_setting(cutoff), ("DELETE FROM audit_accesslog WHERE id IN (%s, %s)", [old, younger]))
    assert _execute(_prune_setting(cutoff), ("DELETE FROM audit_accesslog WHERE id = %s", [old])) == 1
    # The setting was the transaction's own: the next DELETE is refused again.
    with pytest.raises(DatabaseError, match="Cannot delete"):
        _execute(("DELETE FROM audit_accesslog WHERE id = %s", [younger]))
    assert AccessLog.objects.filter(pk=younger).exists()


def test_a_cutoff_of_today_still_keeps_the_last_90_days(postgresql):
    row = _log_row(30 * DAY)
    with pytest.raises(DatabaseError, match="Cannot delete"):
        _execute(_prune_setting(timezone.now().isoformat()), ("DELETE FROM audit_accesslog WHERE id = %s", [row]))


def test_no_update_passes_even_with_the_setting(postgresql):
    row = _log_row(1000 * DAY)
    with pytest.raises(DatabaseError, match="Cannot update"):
        _execute(
            _prune_setting(timezone.now().isoformat()), ("UPDATE audit_accesslog SET actor = 'x' WHERE id = %s", [row])
        )


# --- the registry ----------------------------------------------------------------------------------


def test_a_failing_pruner_does_not_stop_the_others_and_its_writes_roll_back(monkeypatch):
    old_key = _key("old", 400 * DAY)
    young = _key("young", DAY)

    def broken(now):
        IdempotentRequest.objects.filter(pk=young.pk).delete()  # rolled back with the failure
        raise RuntimeError("the export store is unreachable")

    registry = {"broken": retention.Pruner(name="broken", label="broken", func=broken, atomic=True)}
    registry.update(retention._registry)
    monkeypatch.setattr(retention, "_registry", registry)

    run = audit_retention.run(source="test")
    assert run is not None
    assert run.errors == 1
    assert run.results["broken"]["error"] == "RuntimeError: the export store is unreachable"
    assert run.results["idempotency_keys"]["count"] == 1
    assert not IdempotentRequest.objects.filter(pk=old_key.pk).exists()
    assert IdempotentRequest.objects.filter(pk=young.pk).exists()
    with pytest.raises(CommandError, match="1 pruner"):
        call_command("prune", stdout=io.StringIO())


def test_apps_register_their_pruners():
    names = {p.name for p in retention.registered()}
    assert {"access_log", "idempotency_keys", "upload_files"} <= names


def test_a_registered_pruner_may_return_a_count(monkeypatch):
    monkeypatch.setattr(retention, "_registry", {})
    retention.register("exports", "expired export files", lambda now: 3)
    run = audit_retention.run(source="test")
    assert run is not None
    assert run.results == {"exports": {"label": "expired export files", "count": 3, "files": [], "error": ""}}


def test_the_nightly_task_runs_the_job(settings):
    from audit.tasks import prune

    assert settings.CELERY_BEAT_SCHEDULE["retention-nightly"]["task"] == "audit.tasks.prune"
    prune()
    assert RetentionRun.objects.get().source == "nightly job"


def test_admins_see_the_runs_read_only(cast, client_for):
    run = audit_retention.run(source="test")
    assert run is not None
    admin = client_for(cast.eef_admin)  # with TOTP set up, as production requires
    assert admin.get("/admin/audit/retentionrun/").status_code == 200
    assert admin.get(f"/admin/audit/retentionrun/{run.pk}/change/").status_code == 200
    assert admin.post(f"/admin/audit/retentionrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client_for(cast.coordinator_a).get("/admin/audit/retentionrun/").status_code in (302, 403)


def test_on_an_object_store_the_file_goes_from_the_bucket_and_the_archive_lands_in_it(cast, s3_storage):
    """The same job with the storage on the S3 API server (tests/conftest.py): storage API only."""
    old_rows = [_log_row(800 * DAY), _log_row(900 * DAY)]
    young_row = _log_row(DAY)
    old = _aged(upload_and_apply(cast.coordinator_a, _file(1)), 91 * DAY)
    young = upload_and_apply(cast.coordinator_a, _file(2))
    assert {old.file.name, young.file.name} <= set(s3_storage.object_keys())

    run = audit_retention.run(source="test")

    assert run is not None
    assert run.errors == 0
    keys = s3_storage.object_keys()
    assert old.file.name not in keys
    assert young.file.name in keys
    [archive] = run.results["access_log"]["files"]
    assert archive in keys
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(s3_storage.read(archive)).decode())))
    assert sorted(int(r["id"]) for r in rows) == sorted(old_rows)
    assert list(AccessLog.objects.values_list("id", flat=True)) == [young_row]


def test_the_access_logs_archives_go_after_their_own_period_and_are_kept_by_default(cast, settings):
    """RETENTION_ACCESS_LOG_ARCHIVE_DAYS: 0 (the default) keeps every archive; set, an archive written longer ago
    goes, a younger one and any other file stay. Storage API only (the bucket's test below does the same)."""
    from django.core.files.base import ContentFile

    now = timezone.now()
    written = {"old": now - timedelta(days=400), "young": now - timedelta(days=10)}
    names = {
        key: default_storage.save(
            f"retention/access-log/access-log-before-20230101-{when.astimezone(UTC):%Y%m%dT%H%M%S}.csv.gz",
            ContentFile(b"x"),
        )
        for key, when in written.items()
    }
    other = default_storage.save("retention/access-log/notes.txt", ContentFile(b"kept"))
    assert audit_retention.prune_access_log_archives(now) == 0  # kept until EEF decides
    assert all(default_storage.exists(name) for name in [*names.values(), other])

    settings.RETENTION_ACCESS_LOG_ARCHIVE_DAYS = 365
    run = audit_retention.run(source="test")
    assert run is not None
    assert run.results["access_log_archives"]["count"] == 1
    assert not default_storage.exists(names["old"])
    assert default_storage.exists(names["young"])
    assert default_storage.exists(other)
