"""Export jobs: the one path that pages, the API, the Celery task and tests call (start_export, run_export,
sweep_exports, prune_expired).

The job's row is the truth, as for uploads (targets.upload.services): a job is queued on it, the task that
takes it holds a PostgreSQL advisory lock on it while it works and counts its attempt before the work, and
every job ends done or failed with a message in the asker's language, whatever happens. A lost message, a
killed worker or a stopped server leaves the job to the sweeper, which queues it again or fails it once its
attempts are used up. In the embedded default (no broker: CELERY_TASK_ALWAYS_EAGER) a job runs in a background
thread of the web process instead of in the request, and its page does the sweeper's work for it.
"""

import logging
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import registry
from .models import ExportJob, asker_of

logger = logging.getLogger(__name__)

Status = ExportJob.Status
UNFINISHED = (Status.QUEUED, Status.RUNNING)
# The advisory lock of a job at work (PostgreSQL's two-key form; the uploads' class is "ABJB").
JOB_LOCK_CLASS = 0x4142_4558  # "ABEX"
# Database trouble the Celery task retries rather than fail the job (exports.tasks autoretry_for).
TRANSIENT = (OperationalError, InterfaceError)
PROGRESS_EVERY_SECONDS = 0.5


class Refused(Exception):
    """The asker may not have this export (an unknown kind or format): a message for them."""


def keep_for() -> timedelta:
    return timedelta(hours=settings.EXPORTS_KEEP_HOURS)


# --- asking ----------------------------------------------------------------------------------------------------------


def start_export(
    *, principal: Any, kind: str, file_format: str, params: dict | None = None, language: str | None = None
) -> ExportJob:
    """Queue an export for `principal` (a user or an API key's principal). Raises Http404 when the subject is
    outside their scope (the kind's check, the same door as its page) and Refused for an unknown kind or
    format. The job starts once the caller's transaction commits."""
    found = registry.get(kind)
    if found is None:
        raise Refused(_("Unknown kind of export."))
    if file_format not in found.formats:
        raise Refused(_("Unknown file format."))
    user_id, key = asker_of(principal)
    if user_id is None and not key:
        raise Http404
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        cleaned = found.check(principal, dict(params or {}), file_format)
        title = str(found.title(cleaned, file_format))
    now = timezone.now()
    job = ExportJob.objects.create(
        user_id=user_id,
        api_key=key,
        actor=principal.get_username()[:254],
        kind=kind,
        params=cleaned,
        file_format=file_format,
        language=language,
        title=title[:200],
        created_at=now,
        queued_at=now,
        expires_at=now + keep_for(),
    )
    transaction.on_commit(lambda: dispatch(job.pk))
    return job


def dispatch(job_id: int) -> None:
    """Hand the job to a Celery worker, or, without a broker, to a thread of this process. A broker that is
    down must not fail the request: the job stays queued and the sweeper queues it again."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        thread = threading.Thread(target=_run_in_thread, args=(job_id,), name=f"export-{job_id}", daemon=True)
        thread.start()
        return
    from .tasks import run_export_task

    try:
        run_export_task.delay(job_id)
    except Exception:  # kombu's OperationalError, a socket timeout: whatever the broker did
        logger.warning("export %s: not queued; the sweeper will queue it again", job_id, exc_info=True)


def _run_in_thread(job_id: int) -> None:
    try:
        run_export(job_id=job_id)
    except Exception:  # run_export fails the job itself; this is what even that could not do
        logger.exception("export %s: the background thread stopped", job_id)
    finally:
        connections.close_all()  # this thread's own connections


# --- the work (exports.tasks.run_export_task, or the thread) ---------------------------------------------------------


def progress_key(job_id: int) -> str:
    return f"exports:job:{job_id}:progress"


def read_progress(job: ExportJob) -> int:
    if job.finished:
        return 100
    try:
        return int(cache.get(progress_key(job.pk), job.progress))
    except Exception:  # a progress bar is a nicety: Redis being away must not fail the page
        logger.warning("export %s: progress unreadable from the cache", job.pk, exc_info=True)
        return job.progress


def _progress_writer(job_id: int):
    """progress(done, total): the percentage in the cache (the build runs in one transaction, which the page
    could not see into), at most twice a second. Without a total, 1 % per 1,000 rows up to 95 %."""
    last = {"at": 0.0, "percent": -1}

    def write(done: int, total: int | None) -> None:
        percent = min(99, done * 100 // total) if total else min(95, done // 1000)
        now = time.monotonic()
        if percent == last["percent"] or now - last["at"] < PROGRESS_EVERY_SECONDS:
            return
        last.update(at=now, percent=percent)
        try:
            cache.set(progress_key(job_id), percent, 3600)
        except Exception:
            logger.debug("export %s: progress not written to the cache", job_id, exc_info=True)

    return write


def run_export(*, job_id: int, in_task: bool = False) -> None:
    """Build the job's file and keep it in default_storage. Idempotent: a job done, failed or at work in another
    task (its lock held) is left alone. Ends done or failed. `in_task`: transient database errors are raised for
    the Celery task to retry (each retry counts an attempt; the sweeper ends a job whose attempts are used up)."""
    with _job_lock(job_id) as ours:
        if not ours:
            return
        job = _claim(job_id)
        if job is None:
            return
        with translation.override(job.language or settings.LANGUAGE_CODE), _ends_in_a_final_state(job, in_task):
            _build(job)


def _build(job: ExportJob) -> None:
    kind = registry.get(job.kind)
    if kind is None:
        raise LookupError(f"export kind {job.kind!r} is not registered")
    principal = _principal(job)
    if principal is None:
        _fail(job, _("You may no longer make this export: your account or API key is no longer active."))
        return
    with tempfile.TemporaryFile() as handle:
        # One transaction: a consistent read, and the server-side cursor a streaming builder reads through.
        with transaction.atomic():
            built = kind.build(
                registry.Job(
                    principal=principal,
                    params=job.params,
                    file_format=job.file_format,
                    language=job.language,
                    out=handle,
                    progress=_progress_writer(job.pk),
                )
            )
        size = handle.tell()
        handle.seek(0)
        # Through the storage API only (the disk, or an object store): never a path.
        job.file.save(built.filename, File(handle, name=built.filename), save=False)
    finished = timezone.now()
    model = built.log_model
    done = ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.DONE,
        progress=100,
        file=job.file.name,
        filename=built.filename[:200],
        content_type=built.content_type[:100],
        size=size,
        row_count=built.rows,
        log_model=model._meta.label if model is not None else "",
        log_object_id=str(built.log_object_id)[:64],
        log_description=built.log_description[:200],
        message="",
        finished_at=finished,
        expires_at=finished + keep_for(),
    )
    if not done and job.file.name:  # the sweeper failed it meanwhile: keep nothing of this run
        job.file.storage.delete(job.file.name)
    _forget_progress(job.pk)


def _principal(job: ExportJob) -> Any:
    if job.user_id is not None:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(pk=job.user_id, is_active=True).first()
    return registry.principal_for_key(job.api_key)


def _forget_progress(job_id: int) -> None:
    try:
        cache.delete(progress_key(job_id))
    except Exception:
        logger.debug("export %s: progress not removed from the cache", job_id, exc_info=True)


@contextmanager
def _job_lock(job_id: int):
    """Yields whether this session now holds the job's lock (False: another task does). Session-level, released
    when the work ends or the session does (a killed worker), which is how the sweeper tells the two apart.
    SQLite (the embedded default) has no such locks; there the sweeper goes by time alone."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = job_id % 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK_CLASS, key])
        (ours,) = cursor.fetchone()
    try:
        yield ours
    finally:
        if ours:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK_CLASS, key])
            except DatabaseError:
                logger.warning("export %s: job lock not released; closing the connection", job_id, exc_info=True)
                connection.close_at = 0


def _claim(job_id: int) -> ExportJob | None:
    """Count this attempt, committed before any work, so that a worker killed by the export still counts."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in UNFINISHED:
            return None
        if job.attempts >= settings.EXPORTS_MAX_ATTEMPTS:
            _give_up(job)
            return None
        job.status = Status.RUNNING
        job.attempts += 1
        job.started_at = timezone.now()
        job.progress = 0
        job.save(update_fields=["status", "attempts", "started_at", "progress"])
    return job


@contextmanager
def _ends_in_a_final_state(job: ExportJob, in_task: bool):
    try:
        yield
    except Http404:
        _fail(job, _("You may no longer see what this export holds."))
    except SoftTimeLimitExceeded:
        logger.error("export %s: passed its time limit", job.pk)
        _fail(
            job,
            _(
                "This export took too long and was stopped. "
                "Choose fewer records (a province, a category) and try again."
            ),
        )
    except Exception as exc:
        if in_task and isinstance(exc, TRANSIENT):
            raise
        logger.exception("export %s (%s) failed unexpectedly", job.pk, job.kind)
        _fail(
            job,
            _(
                "An unexpected error stopped this export. Please try again; "
                "the administrators can see what happened in the log."
            ),
        )


def _give_up(job: ExportJob) -> None:
    logger.error("export %s: given up after %s attempts that never finished", job.pk, job.attempts)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        message = _("This export could not be made: the work on it stopped unexpectedly %(count)d times.") % {
            "count": job.attempts
        }
    _fail(job, message)


def _fail(job: ExportJob, message: str) -> None:
    ExportJob.objects.filter(pk=job.pk, status__in=UNFINISHED).update(
        status=Status.FAILED, message=message, progress=100, finished_at=timezone.now()
    )
    _forget_progress(job.pk)


# --- the sweeper (exports.tasks.sweep_exports, on Celery beat) -------------------------------------------------------

SWEEP_BATCH = 200


def sweep_exports(*, pk: int | None = None) -> dict[str, int]:
    """Queue again every job with no live task; fail those whose attempts are used up. A job is stuck when no
    task holds its lock and either a task started it (and is gone) or it was queued longer than
    EXPORTS_REQUEUE_AFTER_SECONDS ago and no task took it (a lost message, a broker that was down)."""
    waited = timezone.now() - timedelta(seconds=settings.EXPORTS_REQUEUE_AFTER_SECONDS)
    started = Q(status=Status.RUNNING, started_at__isnull=False)
    if connection.vendor != "postgresql":
        started &= Q(started_at__lt=waited)  # no lock to ask: only time tells
    never_started = Q(started_at__isnull=True, queued_at__lt=waited)
    stuck = Q(status__in=UNFINISHED) & (started | never_started)
    if pk is not None:
        stuck &= Q(pk=pk)
    counts = {"requeued": 0, "failed": 0}
    for found in ExportJob.objects.filter(stuck).order_by("pk").values_list("pk", flat=True)[:SWEEP_BATCH]:
        with transaction.atomic():
            job = ExportJob.objects.select_for_update(skip_locked=True).filter(stuck, pk=found).first()
            if job is None:
                continue
            with _job_lock(found) as free:
                if not free:
                    continue  # a live task
                if job.attempts >= settings.EXPORTS_MAX_ATTEMPTS:
                    _give_up(job)
                    counts["failed"] += 1
                else:
                    ExportJob.objects.filter(pk=found).update(
                        status=Status.QUEUED, queued_at=timezone.now(), started_at=None
                    )
                    logger.warning("export %s: queued again (no live task)", found)
                    transaction.on_commit(partial(dispatch, found))
                    counts["requeued"] += 1
    return counts


# --- retention -------------------------------------------------------------------------------------------------------


def prune_expired(now: datetime) -> int:
    """Delete the files of jobs whose time is up (expires_at <= now) from storage and mark the jobs expired (the
    row stays, so the list of exports says what became of it). Returns how many jobs it expired. Safe to run
    twice and beside the workers: a job at work is left for the sweeper to end."""
    count = 0
    due = ExportJob.objects.filter(expires_at__lte=now).exclude(status__in=[Status.EXPIRED, Status.RUNNING])
    for job in due.order_by("pk").only("pk", "file").iterator(chunk_size=500):
        if job.file.name:
            try:
                job.file.storage.delete(job.file.name)
            except Exception:  # kept for the next run: the row stays as it is
                logger.warning("export %s: its file could not be deleted", job.pk, exc_info=True)
                continue
        count += (
            ExportJob.objects.filter(pk=job.pk)
            .exclude(status=Status.EXPIRED)
            .update(status=Status.EXPIRED, file="", progress=100)
        )
    return count
