"""Big uploads through a real Celery worker on the real Redis and PostgreSQL (targets/tasks.py).

A worker subprocess (`celery -A abe_portal worker --pool=solo`) is pointed at the test database, so
these tests are transactional: the worker only sees committed rows. Every file counts as big
(TARGETS_UPLOAD_INLINE_BYTES=0), so the pages enqueue the check and the apply instead of running them.

Skipped without REDIS_URL or PostgreSQL; with REQUIRE_REAL_SERVICES=1 (CI) a missing service fails
the run instead (conftest.pytest_configure).
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections

from conftest import PROVINCE_A
from core.thai_id import check_digit
from provinces.models import Province
from targets.models import TargetRecord, UploadBatch
from targets.upload.services import receive_upload, start_apply, start_check
from tests.builders import batch_of, batch_status, messy_file

pytestmark = pytest.mark.django_db(transaction=True)

CELERY = Path(sys.executable).with_name("celery")  # the virtualenv's, beside its python
VISIBILITY_TIMEOUT = 2  # seconds before a dead worker's unacknowledged task goes back to the queue


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    # Inside a test, NAME is the test database's (test_<name>), the one the worker must use.
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """Celery worker subprocesses on the test database; each is killed when the test ends."""

    def __init__(self, env: dict, log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.log_files: dict[subprocess.Popen, IO[str]] = {}  # each process's log, closed with it

    def start(self) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{len(self.processes)}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "abe_portal",
                "worker",
                "--pool=solo",
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"upload-test-{len(self.processes)}@%h",
            ],
            cwd=django_settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.log_files[process] = log
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: no warm shutdown, nothing acknowledged, nothing rolled back by the worker itself."""
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop_all(self) -> None:
        # Killed, not stopped warm: the test is over, and a warm shutdown waits out the broker's
        # one-second poll for each worker.
        for process in self.processes:
            self.kill(process)
            self.log_files[process].close()


@pytest.fixture
def workers(redis_url, settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs the test database on PostgreSQL")
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "with REDIS_URL set, tasks go to the broker"
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0  # every upload is "big": the pages enqueue its tasks
    import redis

    # Leftovers of an earlier run must not be picked up: the queue and the unacknowledged tasks.
    client = redis.Redis.from_url(redis_url)
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # the uploaded files of this test
        "TARGETS_UPLOAD_INLINE_BYTES": "0",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CONN_MAX_AGE": "0",
    }
    running = Workers(env, tmp_path)
    yield running
    running.stop_all()
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")


def _wait_for(condition, *, what: str, workers: Workers, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n--- worker log ---\n{workers.logs()}")


def test_worker_checks_and_applies_big_uploads_once_however_often_they_are_confirmed(cast, client_for, workers):
    workers.start()
    client = client_for(cast.coordinator_a)
    first = batch_of(client.post("/uploads/new/", {"file": messy_file()}))
    assert first.status == UploadBatch.Status.CHECKING, "the page enqueued the check instead of running it"
    _wait_for(
        lambda: client.get(f"/uploads/{first.pk}/progress.json").json()["done"],
        what="the check (polled as the page does)",
        workers=workers,
    )
    first.refresh_from_db()
    assert (first.status, first.created, first.rejected) == (UploadBatch.Status.CHECKED, 4, 4)
    # The same file again, checked before the first is applied: it too expects to create 4.
    second = batch_of(client.post("/uploads/new/", {"file": messy_file()}))
    _wait_for(lambda: batch_status(second) == UploadBatch.Status.CHECKED, what="the second check", workers=workers)
    second.refresh_from_db()
    assert second.created == 4

    # Three confirms at once: two of the first upload (two tabs), one of the second.
    barrier = threading.Barrier(3)
    answers = []

    def confirm(batch: UploadBatch) -> None:
        try:
            tab = client_for(cast.coordinator_a)
            barrier.wait(timeout=10)
            answers.append(tab.post(f"/uploads/{batch.pk}/confirm/").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm, args=(b,)) for b in (first, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == [302, 302, 302]
    for batch in (first, second):
        _wait_for(lambda b=batch: batch_status(b) == UploadBatch.Status.APPLIED, what="the applies", workers=workers)
        batch.refresh_from_db()
    assert TargetRecord.objects.count() == 4, "the same rows are applied once"
    counts = sorted((b.created, b.updated, b.unchanged, b.rejected) for b in (first, second))
    assert counts == [(0, 0, 4, 4), (4, 0, 0, 4)], "whichever applied second found everything unchanged"


def _big_csv(rows: int) -> SimpleUploadedFile:
    lines = ["เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย,สถานะ"]
    for n in range(rows):
        first12 = f"14{n:010d}"
        lines.append(f"{first12}{check_digit(first12)},สมชาย{n},ใจดี,เด็กและเยาวชนนอกระบบการศึกษา,อยู่ระหว่างติดตาม")
    lines.append("1400000000009,เลข,ผิด,เด็กและเยาวชนนอกระบบการศึกษา,")  # a rejected row (a wrong check digit)
    return SimpleUploadedFile("ใหญ่.csv", ("\n".join(lines) + "\n").encode("utf-8"))


def _waiting_on_a_lock() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return [pid for (pid,) in cursor.fetchall()]


def _backend_gone(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 0


def test_a_worker_killed_during_the_apply_leaves_nothing_and_the_next_worker_applies_it_all(cast, workers):
    """SIGKILL at the worst moment: every record written, not yet committed.

    To get there every time, not by luck of timing, another connection holds a SHARE lock on the
    rejected rows' table: the apply writes all its records, then waits on that lock when it stores its
    report (targets.upload.services._store, in the same transaction). The worker is killed there.
    """
    rows = 30_000
    worker = workers.start()
    user = cast.coordinator_a
    batch = receive_upload(user=user, province=Province.objects.get(code=PROVINCE_A), uploaded_file=_big_csv(rows))
    start_check(batch=batch, user=user)
    _wait_for(lambda: batch_status(batch) == UploadBatch.Status.CHECKED, what="the check", workers=workers, timeout=45)
    batch.refresh_from_db()
    assert (batch.rows_total, batch.created, batch.rejected) == (rows + 1, rows, 1)

    import psycopg2

    blocker = psycopg2.connect(_database_url())
    try:
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE targets_uploadrejection IN SHARE MODE")  # held until the rollback below
        start_apply(batch=batch, user=user)
        assert batch_status(batch) == UploadBatch.Status.APPLYING
        (stuck,) = _wait_for(_waiting_on_a_lock, what="the apply to reach its report", workers=workers, timeout=45)
        assert TargetRecord.objects.count() == 0, "the worker's rows are not committed"
        workers.kill(worker)
    finally:
        blocker.rollback()
        blocker.close()
    # The killed worker's database session finds its client gone and rolls back.
    _wait_for(lambda: _backend_gone(stuck), what="the dead worker's session to end", workers=workers, timeout=20)
    assert TargetRecord.objects.count() == 0, "a killed worker leaves nothing"
    assert batch_status(batch) == UploadBatch.Status.APPLYING

    # The task was never acknowledged (acks_late): a new worker gets it back once its visibility timeout
    # has passed, and applies the whole file.
    time.sleep(VISIBILITY_TIMEOUT)
    workers.start()
    _wait_for(
        lambda: batch_status(batch) == UploadBatch.Status.APPLIED, what="the redone apply", workers=workers, timeout=60
    )
    batch.refresh_from_db()
    assert (batch.created, batch.rejected) == (rows, 1)
    assert TargetRecord.objects.count() == rows
