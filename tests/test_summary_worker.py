"""The summary task in a real Celery worker, over the real Redis and PostgreSQL (not eager mode).

- A worker runs a requested summary end to end.
- A worker killed in the middle of a run leaves the previous run's snapshots as they were; the
  task, acknowledged only when done (acks_late, reject_on_worker_lost), is given back after the
  broker's visibility timeout and a new worker redoes it.

The run is stopped "in the middle" for real: the test holds a row lock on the run from another
database connection, so the worker blocks inside its transaction after computing the figures and
before storing them; then the worker is SIGKILLed.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connection

from abe_portal.celery import app as celery_app
from summaries.models import Snapshot, SummaryRun
from summaries.services import request_summary, run_summary

ROOT = Path(__file__).resolve().parent.parent
VISIBILITY_TIMEOUT = 3

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_real_services():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail("the worker tests need PostgreSQL and Redis")
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")


@pytest.fixture
def programme(transactional_db):
    """The demo assignments, committed (the reference data is there: conftest.py puts it back after a flush)."""
    from portal.demo.provinces import load_demo_assignments

    load_demo_assignments()


@pytest.fixture
def worker():
    """start() runs a Celery worker process on the test database; every one is killed at the end."""
    celery_app.control.purge()  # tasks left in the queue by other tests (no worker ran them)
    database = settings.DATABASES["default"]
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        "DJANGO_SETTINGS_MODULE": "abe_portal.settings",
    }
    processes = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "abe_portal",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _wait_for(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _status(run_id: int) -> str:
    return SummaryRun.objects.values_list("status", flat=True).get(pk=run_id)


def test_worker_runs_a_requested_summary_end_to_end(programme, worker):
    worker()
    run = request_summary(trigger=SummaryRun.Trigger.ON_DEMAND)  # autocommit: enqueued at once
    _wait_for(lambda: _status(run.pk) == SummaryRun.Status.DONE, timeout=60, what="the worker's summary")
    assert Snapshot.objects.filter(run=run.pk).count() == 1 + 8 + 12


def test_killed_worker_leaves_the_previous_snapshots_and_the_run_is_redone(programme, worker):
    previous = run_summary(run_id=SummaryRun.objects.create(fiscal_year=2570, trigger="command").pk)
    before = list(Snapshot.objects.filter(run=previous).order_by("pk").values_list("pk", "data"))

    database = settings.DATABASES["default"]
    blocker = psycopg2.connect(
        dbname=database["NAME"],
        user=database["USER"],
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
    )
    try:
        run = SummaryRun.objects.create(fiscal_year=2570, trigger=SummaryRun.Trigger.ON_DEMAND)
        with blocker.cursor() as cursor:  # the worker will wait for this row lock inside its transaction
            cursor.execute("SELECT id FROM summaries_summaryrun WHERE id = %s FOR UPDATE", [run.pk])
            first = worker()
            from summaries.tasks import summarize

            summarize.delay(run.pk)
            _wait_for(lambda: _worker_waits_for_lock(blocker), timeout=60, what="the worker to reach the lock")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        blocker.rollback()  # the lock goes; the killed worker's transaction went with its connection

        assert _status(run.pk) == SummaryRun.Status.RUNNING
        assert not Snapshot.objects.filter(run=run.pk).exists()
        assert list(Snapshot.objects.filter(run=previous).order_by("pk").values_list("pk", "data")) == before

        worker()  # the task comes back after the visibility timeout and is done again
        _wait_for(lambda: _status(run.pk) == SummaryRun.Status.DONE, timeout=60, what="the redone summary")
        assert Snapshot.objects.filter(run=run.pk).count() == len(before)
    finally:
        blocker.close()


def _worker_waits_for_lock(blocker) -> bool:
    """Another backend is waiting for a lock held by `blocker`'s backend. Asked on the test's own
    connection: inside the blocker's transaction pg_stat_activity would stay as it first saw it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            [blocker.get_backend_pid()],
        )
        return cursor.fetchone()[0] > 0
