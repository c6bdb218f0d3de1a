"""The upload lifecycle (targets.upload.services, targets.tasks): every check and apply ends in a
final state, a file that kills its worker is given up after TARGETS_UPLOAD_MAX_ATTEMPTS, the
sweeper restarts what lost its task, and a broker that loses its messages loses no upload.

The first tests run in the test process (small files are checked and applied within the request).
The others start real Celery workers on the test database, as tests/test_upload_worker.py does, so
they are transactional; tests/upload_fault_worker.py is the real worker with a pipeline that aborts
or raises on demand. The Redis test starts its own redis-server on PRIVATE_REDIS_PORT and never
touches the shared one.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
import redis
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.utils import timezone

from audit.redaction import NATIONAL_ID_MASK
from conftest import PROVINCE_A, free_port
from provinces.models import Province
from targets.models import StatusChange, TargetRecord, UploadBatch
from targets.upload import pipeline
from targets.upload.services import receive_upload, start_apply, start_check, sweep_stuck_uploads
from tests.builders import batch_of, batch_status, messy_file, national_id
from tests.test_upload_worker import _backend_gone, _big_csv, _database_url, _waiting_on_a_lock

Status = UploadBatch.Status
Failure = UploadBatch.Failure
CELERY = Path(sys.executable).with_name("celery")
FAULT_WORKER = Path(__file__).with_name("upload_fault_worker.py")
PRIVATE_REDIS_PORT = free_port()  # per process: each xdist worker has its own

# The messages the uploader reads (Thai: the test client sends no Accept-Language).
CHECK_ERROR_TH = "เกิดข้อผิดพลาดที่ไม่คาดคิดระหว่างตรวจสอบไฟล์นี้"
APPLY_ERROR_TH = "เกิดข้อผิดพลาดที่ไม่คาดคิดระหว่างบันทึกข้อมูลจากไฟล์นี้"
GAVE_UP_TH = "ระบบไม่สามารถประมวลผลไฟล์นี้ได้ เนื่องจากการดำเนินการหยุดลงโดยไม่คาดคิด {} ครั้ง"
RESTARTED_TH = "การดำเนินการกับไฟล์นี้ถูกขัดจังหวะ ระบบจึงเริ่มดำเนินการใหม่โดยอัตโนมัติ"


def _row(batch: UploadBatch) -> UploadBatch:
    return UploadBatch.objects.get(pk=batch.pk)


def _same_file(content: bytes, name: str = "รายชื่อ.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


# --- in the request: unexpected errors, cancel, upload again, the page ------------------------------


@pytest.fixture
def broken_check(monkeypatch):
    """The check meets a bug nobody foresaw; the exception's text names a child's national ID."""
    identifier = national_id(7)

    def run(batch, *, apply, **kwargs):
        raise RuntimeError(f"a bug met in the row of {identifier}")

    monkeypatch.setattr(pipeline, "run", run)
    return identifier


def test_an_unexpected_error_in_the_check_fails_the_upload_with_a_thai_message(
    cast, client_for, broken_check, caplog, mailoutbox, django_capture_on_commit_callbacks
):
    client = client_for(cast.coordinator_a)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_of(client.post("/uploads/new/", {"file": messy_file()}))  # not a 500

    assert (batch.status, batch.failure, batch.attempts) == (Status.FAILED, Failure.ERROR, 1)
    assert batch.error.startswith(CHECK_ERROR_TH)
    page = client.get(f"/uploads/{batch.pk}/").content.decode()
    assert "ไม่สามารถประมวลผลไฟล์นี้ได้" in page
    assert CHECK_ERROR_TH in page
    assert broken_check not in page
    assert "RuntimeError" not in page, "details go to the log, not to the page"
    (logged,) = [r for r in caplog.records if r.name == "targets.upload.services" and r.levelname == "ERROR"]
    assert logged.exc_info[0] is RuntimeError
    # The EEF admins are told, without the file's rows or name.
    assert [m.to for m in mailoutbox] == [[cast.eef_admin.email]]
    assert f"/admin/targets/uploadbatch/{batch.pk}/change/" in mailoutbox[0].body
    assert broken_check not in mailoutbox[0].body
    assert "รายชื่อ" not in mailoutbox[0].body


def test_an_unexpected_error_in_the_apply_fails_it_and_leaves_nothing_written(cast, client_for, monkeypatch):
    client = client_for(cast.coordinator_a)
    batch = batch_of(client.post("/uploads/new/", {"file": messy_file()}))
    assert (batch.status, batch.created) == (Status.CHECKED, 4)
    real_run = pipeline.run
    written = []

    def run(batch, *, apply, **kwargs):
        real_run(batch, apply=apply, **kwargs)
        written.append(TargetRecord.objects.count())
        raise RuntimeError("a bug met after every record was written")

    monkeypatch.setattr(pipeline, "run", run)
    response = client.post(f"/uploads/{batch.pk}/confirm/", follow=True)

    assert response.status_code == 200
    assert written == [4], "the records were written in the apply's transaction before the error"
    batch.refresh_from_db()
    assert (batch.status, batch.failure) == (Status.FAILED, Failure.ERROR)
    assert batch.error.startswith(APPLY_ERROR_TH)
    assert APPLY_ERROR_TH in response.content.decode()
    assert TargetRecord.objects.count() == 0
    assert StatusChange.objects.count() == 0, "nothing half-written"


def test_a_failed_upload_can_be_cancelled_and_the_same_file_uploaded_again_and_applied(cast, client_for, monkeypatch):
    content = messy_file().read()
    client = client_for(cast.coordinator_a)
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "run", lambda batch, **kwargs: 1 / 0)
        failed = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    assert failed.status == Status.FAILED
    assert 'data-testid="cancel-upload"' in client.get(f"/uploads/{failed.pk}/").content.decode()

    response = client.post(f"/uploads/{failed.pk}/cancel/", follow=True)
    assert _row(failed).status == Status.CANCELLED
    assert "ยกเลิกการนำเข้าไฟล์นี้แล้ว ไม่มีข้อมูลใดถูกบันทึก" in response.content.decode()

    again = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    assert again.sha256 == failed.sha256, "the very same file"
    assert (again.status, again.created) == (Status.CHECKED, 4)
    client.post(f"/uploads/{again.pk}/confirm/")
    again.refresh_from_db()
    assert (again.status, again.created, again.attempts) == (Status.APPLIED, 4, 1)
    assert TargetRecord.objects.count() == 4


def test_the_upload_page_shows_each_final_state_in_thai(cast, client_for, monkeypatch):
    client = client_for(cast.coordinator_a)
    content = messy_file().read()

    def page(batch: UploadBatch) -> str:
        response = client.get(f"/uploads/{batch.pk}/")
        assert response.status_code == 200
        return response.content.decode()

    checked = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    assert "ตรวจสอบแล้ว" in page(checked)
    assert 'data-testid="confirm-upload"' in page(checked)
    applied = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    client.post(f"/uploads/{applied.pk}/confirm/")
    assert _row(applied).status == Status.APPLIED
    assert "บันทึกแล้ว" in page(applied)

    refused = batch_of(client.post("/uploads/new/", {"file": _same_file(b"not a workbook")}))
    assert (refused.status, refused.failure) == (Status.FAILED, Failure.REFUSED)
    assert "ไม่สามารถอ่านไฟล์ได้" in page(refused)

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "run", lambda batch, **kwargs: 1 / 0)
        broken = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    assert "ไม่สามารถประมวลผลไฟล์นี้ได้" in page(broken)
    assert CHECK_ERROR_TH in page(broken)

    cancelled = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    client.post(f"/uploads/{cancelled.pk}/cancel/")
    assert "ยกเลิกการนำเข้าไฟล์นี้แล้ว" in page(cancelled)
    assert RESTARTED_TH not in page(checked)


@pytest.fixture
def queued(settings):
    """Big uploads go to the queue (with a broker: the embedded default runs every job inline)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("no broker (REDIS_URL unset): every check and apply runs inline")
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0


def test_the_sweepers_work_shows_on_the_upload_page_in_thai_and_in_admin(
    cast, client_for, queued, settings, django_capture_on_commit_callbacks
):
    client = client_for(cast.coordinator_a)
    content = messy_file().read()

    def page(batch: UploadBatch) -> str:
        response = client.get(f"/uploads/{batch.pk}/")
        assert response.status_code == 200
        return response.content.decode()

    # Two big uploads queued for a worker that never came (their messages are not even sent: the
    # on-commit publish is not run here). One was started three times by tasks that all died.
    settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 0
    waiting = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    assert waiting.status == Status.CHECKING
    assert "ไฟล์กำลังรอคิว" in page(waiting)
    crashing = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    UploadBatch.objects.filter(pk=crashing.pk).update(attempts=3, started_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=False):
        assert sweep_stuck_uploads() == {"requeued": 1, "failed": 1}
    restarted = _row(waiting)
    assert (restarted.status, restarted.restarted_at is not None) == (Status.CHECKING, True)
    assert RESTARTED_TH in page(waiting)
    assert (_row(crashing).status, _row(crashing).failure) == (Status.FAILED, Failure.GAVE_UP)
    assert GAVE_UP_TH.format(3) in page(crashing)

    # Admins find it: highlighted in the upload list, and by the "why it failed" filter.
    admin = client_for(cast.eef_admin)
    listed = admin.get("/admin/targets/uploadbatch/?failure__exact=gave_up")
    assert listed.status_code == 200
    assert list(listed.context["cl"].queryset) == [_row(crashing)]
    assert '<strong style="color:#ba2121">ไม่สำเร็จ (หยุดหลังจากทำงานล้มเหลวซ้ำหลายครั้ง)</strong>' in listed.content.decode()


def test_the_sweeper_waits_for_a_queued_job_before_queuing_it_again(cast, queued, settings):
    user = cast.coordinator_a
    batch = receive_upload(user=user, province=Province.objects.get(code=PROVINCE_A), uploaded_file=messy_file())
    start_check(batch=batch, user=user)  # queued; its message is sent on commit (never, in this test)
    settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 300
    assert sweep_stuck_uploads() == {"requeued": 0, "failed": 0}, "a message may still be on its way"
    UploadBatch.objects.filter(pk=batch.pk).update(queued_at=timezone.now() - timedelta(seconds=301))
    assert sweep_stuck_uploads() == {"requeued": 1, "failed": 0}
    assert sweep_stuck_uploads() == {"requeued": 0, "failed": 0}, "queued again just now: wait again"
    row = _row(batch)
    assert (row.status, row.attempts, row.started_at) == (Status.CHECKING, 0, None), "a requeue is not an attempt"


def test_without_a_broker_the_upload_page_restarts_a_job_a_stopped_server_cut_off(
    cast, client_for, settings, django_capture_on_commit_callbacks
):
    """The embedded default runs no beat: opening the page does the sweeper's work for that upload."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 300
    user = cast.coordinator_a
    batch = receive_upload(user=user, province=Province.objects.get(code=PROVINCE_A), uploaded_file=messy_file())
    # The server stopped in the middle of the check: the row says a check started six minutes ago.
    UploadBatch.objects.filter(pk=batch.pk).update(
        status=Status.CHECKING, attempts=1, started_at=timezone.now() - timedelta(seconds=360)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).get(f"/uploads/{batch.pk}/")
    assert response.status_code == 200
    row = _row(batch)
    assert (row.status, row.restarted_at is not None, row.rows_total) == (Status.CHECKED, True, 8)
    assert RESTARTED_TH in client_for(user).get(f"/uploads/{batch.pk}/").content.decode()


# --- real workers -------------------------------------------------------------------------------


def with_workers(test):
    """Transactional: a worker sees committed rows only (the reference data is there: conftest.py)."""
    return pytest.mark.django_db(transaction=True)(test)


class Workers:
    """Celery worker subprocesses on the test database; each is stopped when the test ends."""

    def __init__(self, env: dict, log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.log_files: dict[subprocess.Popen, IO[str]] = {}  # each process's log, closed with it

    def start(self, *, fault: str | None = None, pool: str = "solo", **env: str) -> subprocess.Popen:
        """A worker; with `fault`, tests/upload_fault_worker.py's (prefork keeps the worker alive when
        a pool process dies)."""
        number = len(self.processes)
        options = ["-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        options += [f"--pool={pool}", "-n", f"lifecycle-test-{number}@%h"]
        if pool == "prefork":
            options += ["-c", "1"]
        if fault:
            command = [sys.executable, str(FAULT_WORKER), "worker", *options]
            env["UPLOAD_FAULT"] = fault
        else:
            command = [str(CELERY), "-A", "abe_portal", "worker", *options]
        log = open(self.log_dir / f"worker-{number}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command,
            cwd=django_settings.BASE_DIR,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.log_files[process] = log
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL to the whole worker: nothing acknowledged, nothing rolled back by the worker itself."""
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop_all(self) -> None:
        # The test is over: each worker is killed, with a prefork worker's pool process (a warm shutdown
        # waits out the broker's one-second poll, and a prefork pool's own shutdown more).
        for process in self.processes:
            pool = _children(process.pid) if process.poll() is None else []
            self.kill(process)
            for pid in pool:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.log_files[process].close()


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


QUEUE_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex")


@pytest.fixture
def workers(redis_url, settings, tmp_path, transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs the test database on PostgreSQL")
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0  # every upload is "big": the pages queue its tasks
    client = redis.Redis.from_url(redis_url)
    client.delete(*QUEUE_KEYS)  # leftovers of an earlier run must not be picked up
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TARGETS_UPLOAD_INLINE_BYTES": "0",
        "CONN_MAX_AGE": "0",
        # Left at its default (30 minutes): what brings a killed worker's job back here is the sweeper.
        "CELERY_VISIBILITY_TIMEOUT": "1800",
    }
    running = Workers(env, tmp_path)
    running.redis = client
    yield running
    running.stop_all()
    client.delete(*QUEUE_KEYS)


def _wait_for(condition, *, what: str, workers: Workers, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n--- worker log ---\n{workers.logs()}")


@with_workers
def test_a_file_that_kills_its_worker_fails_after_max_attempts_and_is_not_run_again(cast, client_for, workers):
    """The crash loop: the parser aborts the pool process (SIGABRT); acks_late and
    reject_on_worker_lost give the message back at once, and each start counts. The start after
    the third fails the upload and acknowledges the message: the worker lives on, idle."""
    worker = workers.start(fault="abort", pool="prefork")
    client = client_for(cast.coordinator_a)
    batch = batch_of(client.post("/uploads/new/", {"file": messy_file()}))

    _wait_for(
        lambda: batch_status(batch) == Status.FAILED, what="the upload to be given up", workers=workers, timeout=120
    )
    _wait_for(
        lambda: not any(workers.redis.exists(key) for key in ("celery", "unacked")),
        what="the message to be acknowledged, not given back again",
        workers=workers,
    )
    batch.refresh_from_db()
    assert (batch.failure, batch.attempts) == (Failure.GAVE_UP, django_settings.TARGETS_UPLOAD_MAX_ATTEMPTS)
    assert batch.error.startswith(GAVE_UP_TH.format(3))
    assert GAVE_UP_TH.format(3) in client.get(f"/uploads/{batch.pk}/").content.decode()
    logs = workers.logs()
    assert logs.count("exited with 'signal 6 (SIGABRT)'") == 3, logs
    assert worker.poll() is None, "the worker itself is alive"
    # The EEF admins were mailed: the console mail backend writes to the worker's log.
    assert f"To: {cast.eef_admin.email}" in logs
    assert f"/admin/targets/uploadbatch/{batch.pk}/change/" in logs
    assert TargetRecord.objects.count() == 0


@with_workers
def test_unexpected_errors_in_a_worker_fail_the_upload_in_thai_and_log_the_details_masked(cast, client_for, workers):
    identifier = national_id(8)
    checking = workers.start(fault="raise-check", UPLOAD_FAULT_ID=identifier)
    client = client_for(cast.coordinator_a)
    batch = batch_of(client.post("/uploads/new/", {"file": messy_file()}))
    _wait_for(lambda: batch_status(batch) == Status.FAILED, what="the failed check", workers=workers)
    batch.refresh_from_db()
    assert (batch.failure, batch.attempts) == (Failure.ERROR, 1)
    assert batch.error.startswith(CHECK_ERROR_TH)
    page = client.get(f"/uploads/{batch.pk}/").content.decode()
    assert CHECK_ERROR_TH in page
    assert identifier not in page
    assert "PipelineBug" not in page

    checking.terminate()
    checking.wait(timeout=15)
    workers.start(fault="raise-apply", UPLOAD_FAULT_ID=identifier)
    batch = batch_of(client.post("/uploads/new/", {"file": messy_file()}))
    _wait_for(lambda: batch_status(batch) == Status.CHECKED, what="the check", workers=workers)
    client.post(f"/uploads/{batch.pk}/confirm/")
    _wait_for(lambda: batch_status(batch) == Status.FAILED, what="the failed apply", workers=workers)
    batch.refresh_from_db()
    assert batch.error.startswith(APPLY_ERROR_TH)
    assert TargetRecord.objects.count() == 0
    assert StatusChange.objects.count() == 0, "nothing half-written"

    logs = workers.logs()
    assert logs.count("PipelineBug: a bug met") == 2, "the details are in the log"
    assert identifier not in logs
    assert NATIONAL_ID_MASK in logs, "masked by the log's filter"


@with_workers
def test_the_sweeper_leaves_a_live_apply_alone_and_restarts_it_after_its_worker_is_killed(
    cast, client_for, workers, settings
):
    """A SIGKILL of the whole worker in the middle of an apply: the task stays unacknowledged in
    Redis for the visibility timeout (30 minutes), but the sweeper sees its lock gone and restarts it."""
    settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 0
    rows = 2_000
    worker = workers.start()
    user = cast.coordinator_a
    batch = receive_upload(user=user, province=Province.objects.get(code=PROVINCE_A), uploaded_file=_big_csv(rows))
    start_check(batch=batch, user=user)
    _wait_for(lambda: batch_status(batch) == Status.CHECKED, what="the check", workers=workers)
    batch.refresh_from_db()

    import psycopg2

    blocker = psycopg2.connect(_database_url())
    try:
        with blocker.cursor() as cursor:
            # The apply writes every record, then waits here when it stores its report.
            cursor.execute("LOCK TABLE targets_uploadrejection IN SHARE MODE")
        start_apply(batch=batch, user=user)
        (stuck,) = _wait_for(_waiting_on_a_lock, what="the apply to reach its report", workers=workers)
        assert sweep_stuck_uploads() == {"requeued": 0, "failed": 0}, "a live task is never doubled"
        row = _row(batch)
        assert (row.status, row.attempts, row.restarted_at) == (Status.APPLYING, 1, None)
        workers.kill(worker)
    finally:
        blocker.rollback()
        blocker.close()
    _wait_for(lambda: _backend_gone(stuck), what="the dead worker's session to end", workers=workers)
    assert TargetRecord.objects.count() == 0
    assert batch_status(batch) == Status.APPLYING
    assert workers.redis.hlen("unacked") == 1, "its message waits out the visibility timeout"

    workers.start()
    assert sweep_stuck_uploads() == {"requeued": 1, "failed": 0}
    _wait_for(lambda: batch_status(batch) == Status.APPLIED, what="the restarted apply", workers=workers)
    batch.refresh_from_db()
    assert (batch.created, batch.rejected, batch.attempts) == (rows, 1, 2)
    assert TargetRecord.objects.count() == rows
    assert RESTARTED_TH in client_for(user).get(f"/uploads/{batch.pk}/").content.decode()


@with_workers
def test_the_sweeper_leaves_a_live_check_alone_and_fails_it_once_its_attempts_are_used_up(
    cast, client_for, workers, settings, mailoutbox
):
    settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 0
    settings.TARGETS_UPLOAD_MAX_ATTEMPTS = 1
    worker = workers.start()
    user = cast.coordinator_a

    import psycopg2

    blocker = psycopg2.connect(_database_url())
    try:
        with blocker.cursor() as cursor:
            # The check reads the province's records to classify the rows: it waits here.
            cursor.execute("LOCK TABLE targets_targetrecord IN ACCESS EXCLUSIVE MODE")
        batch = receive_upload(user=user, province=Province.objects.get(code=PROVINCE_A), uploaded_file=messy_file())
        start_check(batch=batch, user=user)
        (stuck,) = _wait_for(_waiting_on_a_lock, what="the check to wait on the records", workers=workers)
        assert sweep_stuck_uploads() == {"requeued": 0, "failed": 0}, "its job lock says it is alive"
        assert (_row(batch).status, _row(batch).attempts) == (Status.CHECKING, 1)
        workers.kill(worker)
    finally:
        blocker.rollback()
        blocker.close()
    _wait_for(lambda: _backend_gone(stuck), what="the dead worker's session to end", workers=workers)

    assert sweep_stuck_uploads() == {"requeued": 0, "failed": 1}
    batch.refresh_from_db()
    assert (batch.status, batch.failure) == (Status.FAILED, Failure.GAVE_UP)
    assert batch.error.startswith(GAVE_UP_TH.format(1))
    assert [m.to for m in mailoutbox] == [[cast.eef_admin.email]]
    assert "ประมวลผลไม่สำเร็จ" in mailoutbox[0].subject


# --- Redis loses its messages -------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own, without persistence: killed, it comes back empty."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"
        self.process: subprocess.Popen | None = None
        self.client = redis.Redis(port=PRIVATE_REDIS_PORT, socket_timeout=2)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(PRIVATE_REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {PRIVATE_REDIS_PORT}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # in case it was frozen
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    """Our own Redis, and the test process's Celery app publishing to it (its connection pools are
    cached on the app: they are dropped, and dropped again afterwards)."""
    import shutil

    from abe_portal.celery import app

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    shared_broker = app.conf.broker_url

    def use(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    use(server.url)
    yield server
    use(shared_broker)
    server.kill()


@with_workers
def test_a_queued_upload_survives_redis_losing_its_messages(cast, client_for, workers, private_redis, settings):
    settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 0
    client = client_for(cast.coordinator_a)
    content = messy_file().read()

    # 1. Queued while Redis is up; then Redis restarts without persistence, before any worker took it.
    lost = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    assert lost.status == Status.CHECKING
    assert private_redis.client.llen("celery") == 1
    private_redis.kill()

    # 2. Uploaded while Redis is down: no 500, the upload waits, queued.
    while_down = batch_of(client.post("/uploads/new/", {"file": _same_file(content)}))
    assert while_down.status == Status.CHECKING

    # 3. Uploaded while Redis is frozen (accepts connections, never answers): the request still ends.
    private_redis.start()
    private_redis.process.send_signal(signal.SIGSTOP)
    answers = []

    def upload() -> None:
        try:
            answers.append(client.post("/uploads/new/", {"file": _same_file(content)}))
        finally:
            connections.close_all()  # this thread's own database connection

    request = threading.Thread(target=upload)
    request.start()
    request.join(timeout=60)
    private_redis.process.send_signal(signal.SIGCONT)
    assert not request.is_alive(), "the publish gave up instead of hanging the request"
    frozen = batch_of(answers[0])
    private_redis.kill()
    private_redis.start()
    assert private_redis.client.llen("celery") == 0, "every message is gone"
    assert {batch_status(b) for b in (lost, while_down, frozen)} == {Status.CHECKING}

    # Redis is back, empty. The row is the truth: the sweeper queues each again, a worker checks them.
    workers.start(REDIS_URL=private_redis.url)
    assert sweep_stuck_uploads() == {"requeued": 3, "failed": 0}
    for batch in (lost, while_down, frozen):
        _wait_for(lambda b=batch: batch_status(b) == Status.CHECKED, what="the requeued check", workers=workers)
    client.post(f"/uploads/{lost.pk}/confirm/")
    _wait_for(lambda: batch_status(lost) == Status.APPLIED, what="the apply", workers=workers)
    assert TargetRecord.objects.count() == 4
