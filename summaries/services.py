"""Running a summary: the one path for the Celery task, the command, the page button and uploads.

    run = request_summary(trigger=..., user=...)   # a SummaryRun, computed now or by a task after commit
    run_summary(run_id=...)                        # compute and store, in one transaction

A run replaces its own snapshots in one transaction, so a worker killed in the middle leaves the
previous run's snapshots as they were; the task, acknowledged only when done, runs again.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from core.buddhist_dates import current_fiscal_year

from .compute import compute
from .models import Level, Snapshot, SummaryRun
from .schema import dump

DEBOUNCE_KEY = "summaries:pending-after-upload"


def request_summary(*, trigger: str, user: User | None = None, fiscal_year: int | None = None) -> SummaryRun:
    """A new run, done by a Celery task after the current transaction commits (at once when eager)."""
    from .tasks import summarize

    run = SummaryRun.objects.create(
        fiscal_year=fiscal_year or current_fiscal_year(), trigger=trigger, requested_by=user
    )
    transaction.on_commit(lambda: summarize.delay(run.pk))
    return run


def request_summary_after_upload() -> bool:
    """Debounced: ten uploads in a row start one run, a minute after the first (True if this call
    started it)."""
    from .tasks import summarize_after_upload

    delay = settings.SUMMARY_DEBOUNCE_SECONDS
    if not cache.add(DEBOUNCE_KEY, "1", timeout=delay + 60):
        return False
    transaction.on_commit(lambda: summarize_after_upload.apply_async(countdown=delay))
    return True


def summary_after_records_written(sender: object, **kwargs: object) -> None:
    """Receiver of targets.signals.records_written (connected in summaries.apps)."""
    request_summary_after_upload()


def run_summary(*, run_id: int) -> SummaryRun:
    """Compute every figure and store the run's snapshots; safe to call again for the same run."""
    run = SummaryRun.objects.get(pk=run_id)
    if run.status == SummaryRun.Status.DONE:
        return run
    try:
        return _run(run)
    except Exception as exc:
        # Said on the run (the admin and the dashboards show it), then raised for Celery's retry.
        SummaryRun.objects.filter(pk=run_id).exclude(status=SummaryRun.Status.DONE).update(
            status=SummaryRun.Status.FAILED, error=type(exc).__name__
        )
        raise


def _run(run: SummaryRun) -> SummaryRun:
    run_id = run.pk
    started = time.perf_counter()
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        summary = compute(fiscal_year=run.fiscal_year, now=now)
        snapshots = [Snapshot(level=Level.NATIONAL, data=dump(summary.national))]
        snapshots += [
            Snapshot(level=Level.PROVINCE, province_id=int(code), data=dump(figures))
            for code, figures in summary.provinces.items()
        ]
        snapshots += [
            Snapshot(level=Level.UNIVERSITY, university_id=int(pk), data=dump(figures))
            for pk, figures in summary.universities.items()
        ]
        run = SummaryRun.objects.select_for_update().get(pk=run_id)
        if run.status == SummaryRun.Status.DONE:  # another worker finished it meanwhile
            return run
        run.snapshots.all().delete()
        for snapshot in snapshots:
            snapshot.run = run
            snapshot.fiscal_year = run.fiscal_year
            snapshot.as_of = now
            snapshot.schema = summary.version
        Snapshot.objects.bulk_create(snapshots)
        run.status = SummaryRun.Status.DONE
        run.as_of = now
        run.duration_ms = round((time.perf_counter() - started) * 1000)
        run.query_count = len(queries.captured_queries) + 1  # and this save
        run.error = ""
        run.save(update_fields=["status", "as_of", "duration_ms", "query_count", "error"])
    return run
