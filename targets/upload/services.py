"""Uploads of target-group records: the one path that pages, Django admin, the API and the Celery
tasks all call (receive_upload, start_check, start_apply, cancel_upload, sweep_stuck_uploads).

The upload's row is the truth, not a message in the broker: every check and apply ends checked,
applied, or failed with a message in the uploader's language, whatever goes wrong, and a lost or
duplicate message is harmless. README.md, "Background jobs", tells how (queued_at, the job lock,
counted attempts, the sweeper); the apply is one transaction, so a killed worker leaves all or nothing.
"""

import hashlib
import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.access import Principal
from accounts.models import User
from audit.tracking import context as audit_context
from exports.models import asker_of
from exports.registry import principal_for_key
from provinces.models import Province
from targets.models import UploadBatch, UploadRejection
from targets.signals import announce_records_written

from . import background, hooks, pipeline
from .reading import UnreadableFile, file_kind

logger = logging.getLogger(__name__)

Status = UploadBatch.Status
Failure = UploadBatch.Failure
RUNNING = (Status.CHECKING, Status.APPLYING)
# The advisory lock a task holds on an upload while it works (PostgreSQL's two-key form, whose
# keys never meet the pipeline's one-key APPLY_LOCK_KEY). The sweeper tries it to tell a live task
# from a dead one.
JOB_LOCK_CLASS = 0x4142_4A42  # "ABJB"
# Database trouble a Celery task retries (targets.tasks autoretry_for) rather than fail the upload:
# the connection went away, a lock timed out. Each retry counts an attempt.
TRANSIENT = (OperationalError, InterfaceError)


def progress_key(batch_id: int) -> str:
    return f"targets:upload:{batch_id}:progress"


def read_progress(batch: UploadBatch) -> int:
    if batch.status in (Status.CHECKED, Status.APPLIED):
        return 100
    try:
        return int(cache.get(progress_key(batch.pk), batch.progress))
    except Exception:  # the progress bar is a nicety: Redis being away must not fail the page
        logger.warning("upload %s: progress unreadable from the cache", batch.pk, exc_info=True)
        return batch.progress


def _forget_progress(batch_id: int) -> None:
    try:
        cache.delete(progress_key(batch_id))
    except Exception:  # see read_progress
        logger.warning("upload %s: progress not reset in the cache", batch_id, exc_info=True)


def receive_upload(*, user: User, province: Province, uploaded_file) -> UploadBatch:
    """Store an uploaded file for `province`; nothing is read yet."""
    if not Province.objects.writable_by(user).filter(pk=province.pk).exists():
        raise PermissionDenied
    if uploaded_file.size > settings.TARGETS_UPLOAD_MAX_BYTES:
        raise ValidationError(
            _("The file is larger than %(size)d MB.") % {"size": settings.TARGETS_UPLOAD_MAX_BYTES // (1024 * 1024)}
        )
    try:
        file_kind(uploaded_file.name)
    except UnreadableFile as exc:
        raise ValidationError(str(exc)) from exc
    digest = hashlib.sha256()
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    batch = UploadBatch(
        province=province,
        uploaded_by=user,
        original_name=uploaded_file.name[:255],
        sha256=digest.hexdigest(),
        size=uploaded_file.size,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    batch.file.save(uploaded_file.name, uploaded_file, save=False)
    batch.save()
    return batch


def _runs_here(batch: UploadBatch, *, job: str) -> bool:
    """Whether the request runs the job itself. A check of a small file (TARGETS_UPLOAD_INLINE_BYTES)
    does: it reads, and waits for nobody. An apply of a small file tries with a broker (wait=False:
    another upload's apply holding its province, or one of its rows, hands it to the queue instead);
    without one (the embedded default) every apply, and a big file's check, goes to the background
    thread (targets.upload.background), unless settings say to run it here (the test suite)."""
    embedded = settings.CELERY_TASK_ALWAYS_EAGER
    if embedded and not settings.TARGETS_UPLOAD_BACKGROUND_THREAD:
        return True
    small = batch.size <= settings.TARGETS_UPLOAD_INLINE_BYTES
    if job == "check":
        return small
    return small and not embedded


def start_check(*, batch: UploadBatch, user: Principal) -> None:
    """The dry run, now (small file) or by a task after this transaction commits."""
    language = translation.get_language()
    if _runs_here(batch, job="check"):
        check_upload(batch_id=batch.pk, language=language)
    elif _queue(batch, from_status=Status.RECEIVED, to_status=Status.CHECKING, language=language):
        _enqueue_check(batch.pk, language)
    batch.refresh_from_db()


def start_apply(*, batch: UploadBatch, user: Principal) -> None:
    """Confirm: apply the upload, now (a small file whose province is free) or by a task (Celery, or the
    embedded default's thread) after this transaction commits. The request never waits for another upload.

    `user` may be a partner's API key (api.authentication): the upload is then applied as the partner's
    service account carrying the key's scope (hooks.key_account), and the key's prefix is kept on the row
    (`api_key`), so that a task applies it with the key's scope as it is then, or refuses it."""
    account, key = _applier(user)
    if account is None or not UploadBatch.objects.writable_by(account).filter(pk=batch.pk).exists():
        raise PermissionDenied
    if batch.status == Status.APPLIED:
        return
    if batch.status != Status.CHECKED:
        raise ValidationError(_("Only a checked upload can be applied."))
    language = translation.get_language()
    if _runs_here(batch, job="apply"):
        apply_upload(
            batch_id=batch.pk, user=account, api_key=key, language=language, wait=settings.CELERY_TASK_ALWAYS_EAGER
        )
    elif _queue(
        batch,
        from_status=Status.CHECKED,
        to_status=Status.APPLYING,
        language=language,
        confirmed_by=account,
        api_key=key,
    ):
        # Only the confirm that moved the row queues a task; a second tab's finds it applying.
        _enqueue_apply(batch.pk, account.pk, language)
    batch.refresh_from_db()


def _applier(principal: Principal) -> tuple[User | None, str]:
    """The account an apply confirmed by `principal` runs as, and the prefix of its API key ("" for a user)."""
    _user_id, key = asker_of(principal)
    if key:
        return hooks.key_account(principal), key
    return (principal if isinstance(principal, User) else None), ""


def _key_account(prefix: str) -> User | None:
    """The account a key's upload is applied as, with the key's scope as it is now (a task: the request's
    is gone); None once the key is revoked or expired, or its partner deactivated."""
    principal = principal_for_key(prefix)
    return hooks.key_account(principal) if principal is not None else None


def cancel_upload(*, batch: UploadBatch, user: Principal) -> None:
    """Abandon an upload that is not being worked on: received, checked, or failed (then the same
    file may simply be uploaded again: nothing refuses a file seen before)."""
    if not UploadBatch.objects.writable_by(user).filter(pk=batch.pk).exists():
        raise PermissionDenied
    UploadBatch.objects.filter(pk=batch.pk, status__in=[Status.RECEIVED, Status.CHECKED, Status.FAILED]).update(
        status=Status.CANCELLED
    )


def _queue(
    batch: UploadBatch,
    *,
    from_status: str,
    to_status: str,
    language: str | None,
    confirmed_by: User | None = None,
    api_key: str = "",
) -> bool:
    """Record a new job on the row, the truth the sweeper reads; False if another request did first."""
    changes = {
        "status": to_status,
        "progress": 0,
        "attempts": 0,
        "queued_at": timezone.now(),
        "started_at": None,
        "error": "",
        "failure": "",
        "language": language or settings.LANGUAGE_CODE,
    }
    if confirmed_by is not None:
        changes["confirmed_by"] = confirmed_by
        changes["api_key"] = api_key
    queued = UploadBatch.objects.filter(pk=batch.pk, status=from_status).update(**changes)
    if queued:
        _forget_progress(batch.pk)  # the check's 100 % must not show for the apply
    return bool(queued)


def _enqueue_check(batch_id: int, language: str | None) -> None:
    from targets.tasks import check_upload_task

    _enqueue(check_upload_task, batch_id, language, here=lambda: check_upload(batch_id=batch_id, language=language))


def _enqueue_apply(batch_id: int, user_id: int, language: str | None) -> None:
    from targets.tasks import apply_upload_task

    _enqueue(
        apply_upload_task,
        batch_id,
        user_id,
        language,
        here=lambda: apply_upload(batch_id=batch_id, user_id=user_id, language=language),
    )


def _enqueue(task, batch_id: int, *args, here: Callable[[], None]) -> None:
    """Hand a job to the broker once the transaction commits. A broker that is down, or hangs, must
    not fail the request (settings.py bounds how long a publish may take): the row stays queued,
    and the sweeper queues the job again. Without a broker (the embedded default), to the background
    thread instead, which runs what the task would."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(lambda: background.submit(here))
        return

    def publish() -> None:
        try:
            task.delay(batch_id, *args)
        except Exception:  # kombu's OperationalError, a socket timeout: whatever the broker did
            logger.warning(
                "upload %s: %s not queued; the sweeper will queue it again", batch_id, task.name, exc_info=True
            )

    transaction.on_commit(publish)


# --- the work itself (called inline or by targets.tasks) -------------------------------------------


def check_upload(*, batch_id: int, language: str | None = None, in_task: bool = False) -> None:
    """The dry run: counts, the updates with their changed fields, every rejected row. Writes no record.

    Ends checked or failed. `in_task`: a Celery task retries transient database errors instead.
    """
    with translation.override(language or settings.LANGUAGE_CODE), _job_lock(batch_id) as ours:
        if not ours:
            return  # another task is at work on it (this is a duplicate message)
        batch = _claim(batch_id, accepts=(Status.RECEIVED, Status.CHECKING), running=Status.CHECKING)
        if batch is None:
            return  # checked already (a retried task), cancelled, failed or given up
        with _ends_in_a_final_state(batch, job="check", in_task=in_task):
            report = pipeline.run(batch, apply=False, progress=_progress_writer(batch.pk))
            with transaction.atomic():
                _store(batch, report, status=Status.CHECKED)


def apply_upload(
    *,
    batch_id: int,
    user_id: int | None = None,
    user: User | None = None,
    api_key: str = "",
    language: str | None = None,
    in_task: bool = False,
    wait: bool = True,
) -> None:
    """Apply every valid row in one transaction; running it again changes nothing.

    Ends applied or failed, with nothing half-written. `user` is an account already in hand (a request's:
    an API key's service account carries the key's scope, and `api_key` names the key). A task gives
    `user_id`: the account is looked up again, or, when a key confirmed the upload (the row's `api_key`),
    made again with the key's scope as it is now (_key_account), and the upload refused if the key is no
    longer usable. `in_task`: as for check_upload. `wait=False` (a web request): when another upload's
    apply holds the province (or a row, or a new identifier), nothing is written and the job is queued
    instead (_hand_off), so the request answers at once.
    """
    from django.contrib.auth import get_user_model

    confirmed_by_id = user.pk if user is not None else user_id
    handed_off = False
    with translation.override(language or settings.LANGUAGE_CODE), _job_lock(batch_id) as ours:
        if not ours:
            return
        claimed = _claim(
            batch_id,
            accepts=(Status.CHECKED, Status.APPLYING),
            running=Status.APPLYING,
            confirmed_by_id=confirmed_by_id,
            api_key=api_key,
        )
        if claimed is None:
            return  # applied already (the other of two concurrent confirms, or a retried task)
        # The audit trail names the upload, who confirmed it and the key a partner confirmed it with, also
        # when a Celery task applies it (the key from the row, as _claim recorded it).
        audit_labels: dict[str, object] = {"upload": batch_id, "user": confirmed_by_id}
        if claimed.api_key:
            audit_labels["api_key"] = claimed.api_key
        with audit_context(**audit_labels), transaction.atomic():
            # Its own row only (of=self): a lock on the province's row would hold back the commit of another
            # apply of the province (its records' foreign keys are checked at commit), which this one waits for.
            batch = UploadBatch.objects.select_for_update(of=("self",)).select_related("province").get(pk=batch_id)
            if batch.status != Status.APPLYING:
                return
            if user is None and batch.api_key:
                # Never the service account looked up by id: it has no scope of its own (nor any role).
                user = _key_account(batch.api_key)
                if user is None:
                    _fail(
                        batch,
                        _(
                            "The API key that confirmed this upload was revoked or has expired, or may no longer "
                            "apply uploads. Nothing was saved."
                        ),
                        failure=Failure.REFUSED,
                    )
                    return
            elif user is None and user_id is not None:
                user = get_user_model().objects.filter(pk=user_id).first()
            if user is None or not UploadBatch.objects.writable_by(user).filter(pk=batch.pk).exists():
                # The user lost the right to write this province's records after confirming: say so,
                # and stop the page's progress bar, rather than leave the upload "applying" for ever.
                _fail(batch, _("You may no longer write this province's records."), failure=Failure.REFUSED)
                return
            with _ends_in_a_final_state(batch, job="apply", in_task=in_task):
                # A savepoint: whatever stops the apply half-way leaves nothing written, and the
                # failure is still recorded when the outer transaction commits.
                try:
                    with transaction.atomic():
                        report = pipeline.apply_in_turn(
                            batch, user=user, progress=_progress_writer(batch.pk), wait=wait
                        )
                        _store(batch, report, status=Status.APPLIED)
                except pipeline.Busy:
                    _hand_off(batch)
                    handed_off = True
                else:
                    if report.created or report.updated:
                        # The dashboards follow (summaries listens): after the commit, so that Redis or
                        # the broker being away cannot undo the apply.
                        announce_records_written(sender=UploadBatch)
    if handed_off and confirmed_by_id is not None:
        # Queued once the job lock is released, so that the task that takes it finds the lock free.
        _enqueue_apply(batch_id, confirmed_by_id, language)


def _hand_off(batch: UploadBatch) -> None:
    """The request's apply found another upload's in its way: wait queued, as a big file's does (its
    attempt does not count: nothing ran)."""
    logger.info("upload %s: its province is busy; the apply is queued", batch.pk)
    UploadBatch.objects.filter(pk=batch.pk).update(
        status=Status.APPLYING, attempts=0, started_at=None, queued_at=timezone.now(), progress=0
    )
    _forget_progress(batch.pk)


# --- every job ends in a final state ---------------------------------------------------------------


@contextmanager
def _job_lock(batch_id: int):
    """Yields whether this session now holds the upload's job lock (False: another task does).

    A task holds it from before it counts its attempt until the upload's final state is committed,
    so the sweeper can tell a live task (the lock is held) from one whose worker died (its database
    session ended, and the lock with it). Session-level, so that it spans the attempt's own
    transaction and the work's. SQLite (the embedded default: one process, no beat) has no such
    locks; there the sweeper goes by time alone.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = batch_id % 2**31  # the two-key form takes 32-bit keys
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
                # The session is broken, or an outer transaction (an API request's) is aborted: have
                # Django close the connection at the end of the request or task, so that the lock
                # goes with its session instead of making the upload look busy for ever.
                logger.warning("upload %s: job lock not released; closing the connection", batch_id, exc_info=True)
                connection.close_at = 0


# The uploads a job of this process works on (the job lock without PostgreSQL: _job_lock).
_HELD: set[int] = set()
_HELD_LOCK = threading.Lock()


def _claim(
    batch_id: int, *, accepts: tuple, running: str, confirmed_by_id: int | None = None, api_key: str = ""
) -> UploadBatch | None:
    """Count this task's attempt at the job, committed before any work, so that a worker killed by the
    file still counts. None: nothing to do (the job is done, the upload cancelled, or given up)."""
    with transaction.atomic():
        batch = (
            UploadBatch.objects.select_for_update(of=("self",)).select_related("province").filter(pk=batch_id).first()
        )
        if batch is None or batch.status not in accepts:
            return None
        if batch.status != running:  # a new job begins here (inline): its attempts count from 0
            batch.attempts = 0
            batch.queued_at = None
            if confirmed_by_id is not None:
                batch.confirmed_by_id = confirmed_by_id
                batch.api_key = api_key
        if batch.attempts >= settings.TARGETS_UPLOAD_MAX_ATTEMPTS:
            _give_up(batch)
            return None
        batch.status = running
        batch.attempts += 1
        batch.started_at = timezone.now()
        batch.progress = 0
        batch.save(
            update_fields=["status", "attempts", "started_at", "queued_at", "confirmed_by", "api_key", "progress"]
        )
    return batch


@contextmanager
def _ends_in_a_final_state(batch: UploadBatch, *, job: str, in_task: bool):
    """Whatever stops the work becomes the upload's failure, in the uploader's language: a file
    refused says why; anything else says that something went wrong, and goes to the log (masked by
    its filter), never to the page."""
    try:
        yield
    except UnreadableFile as exc:
        _fail(batch, str(exc), failure=Failure.REFUSED)
    except SoftTimeLimitExceeded:
        minutes = max(1, settings.TARGETS_UPLOAD_SOFT_TIME_LIMIT // 60)
        logger.error("upload %s: the %s passed its time limit", batch.pk, job)
        _fail(
            batch,
            _(
                "Processing this file took longer than %(minutes)d minutes and was stopped. Nothing was saved. "
                "Split the file into smaller files and upload them again."
            )
            % {"minutes": minutes},
            failure=Failure.ERROR,
        )
    except Exception as exc:
        if in_task and isinstance(exc, TRANSIENT):
            raise  # the task retries (targets.tasks); failing that, the sweeper restarts the job
        logger.exception("upload %s: the %s failed unexpectedly", batch.pk, job)
        if job == "check":
            message = _(
                "An unexpected error stopped the check of this file. Nothing was saved. "
                "The administrators have been told; you may upload the file again."
            )
        else:
            message = _(
                "An unexpected error stopped the saving of this file. Nothing was saved. "
                "The administrators have been told; you may upload the file again."
            )
        _fail(batch, message, failure=Failure.ERROR)


def _give_up(batch: UploadBatch) -> None:
    """The job's tasks started TARGETS_UPLOAD_MAX_ATTEMPTS times and never finished: the file (or the
    portal) kills its worker. Fail it rather than crash another one."""
    logger.error("upload %s: given up after %s attempts that never finished", batch.pk, batch.attempts)
    with translation.override(batch.language or settings.LANGUAGE_CODE):
        message = _(
            "This file could not be processed: the work on it stopped unexpectedly %(count)d times. "
            "Nothing was saved. The administrators have been told."
        ) % {"count": batch.attempts}
    _fail(batch, message, failure=Failure.GAVE_UP)


def _fail(batch: UploadBatch, message: str, *, failure: str) -> None:
    UploadBatch.objects.filter(pk=batch.pk).exclude(status__in=[Status.APPLIED, Status.CANCELLED]).update(
        status=Status.FAILED, error=message, failure=failure, progress=100
    )
    if failure != Failure.REFUSED:
        transaction.on_commit(lambda: _tell_admins(batch.pk))


def _tell_admins(batch_id: int) -> None:
    """Mail the EEF/IPSR admins about an upload that failed for a reason they should look at (a
    crash loop, an unexpected error; admin's upload list filters them by "why it failed"). The mail
    names the upload by number and province, never a row or the file's name. A mail server that
    fails is logged and changes nothing."""
    from django.contrib.auth import get_user_model
    from django.core.mail import EmailMessage, get_connection
    from django.template.loader import render_to_string

    from accounts.models import Role

    try:
        batch = UploadBatch.objects.select_related("province").get(pk=batch_id)
        users = get_user_model().objects.filter(is_active=True, memberships__role=Role.EEF_ADMIN)
        addresses = sorted(set(users.values_list("email", flat=True)))
        if not addresses:
            return
        context = {"batch": batch}
        subject = " ".join(render_to_string("targets/upload_failed_subject.txt", context).split())
        body = render_to_string("targets/upload_failed_email.txt", context)
        get_connection().send_messages(
            [EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in addresses]
        )
    except Exception:  # the failure is recorded and shown in admin whatever the mail server does
        logger.exception("upload %s: the mail to the admins was not sent", batch_id)


# --- the sweeper (targets.tasks.sweep_uploads, on Celery beat) -------------------------------------

SWEEP_BATCH = 200  # uploads looked at per sweep at most; the next sweep takes the rest


def sweep_stuck_uploads(*, pk: int | None = None) -> dict[str, int]:
    """Queue again every check or apply that has no live task; fail those whose attempts are used up.

    A job is stuck when no task holds its lock and either a task started it (and is gone: its worker
    was killed, or a hard time limit ended it) or it was queued longer ago than
    TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS and no task ever took it (the message was lost with a Redis
    that restarted empty, or never sent while the broker was down). A live task is never doubled:
    the row lock an apply holds is skipped, the job lock tried. A message that arrives after all
    finds the job done or locked and does nothing.
    """
    waited = timezone.now() - timedelta(seconds=settings.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS)
    started = Q(started_at__isnull=False)
    if connection.vendor != "postgresql":
        started &= Q(started_at__lt=waited)  # no lock to ask: only time tells
    never_started = Q(started_at__isnull=True) & (
        Q(queued_at__lt=waited) | Q(queued_at__isnull=True, created_at__lt=waited)
    )
    stuck = Q(status__in=RUNNING) & (started | never_started) | Q(status=Status.RECEIVED, created_at__lt=waited)
    if pk is not None:
        stuck &= Q(pk=pk)
    counts = {"requeued": 0, "failed": 0}
    for found in UploadBatch.objects.filter(stuck).order_by("pk").values_list("pk", flat=True)[:SWEEP_BATCH]:
        with transaction.atomic():
            batch = UploadBatch.objects.select_for_update(skip_locked=True).filter(stuck, pk=found).first()
            if batch is None:
                continue  # an apply holds its row (alive), or it moved on meanwhile
            with _job_lock(found) as free:
                if not free:
                    continue  # a live task: its check, or an apply between its two transactions
                if batch.attempts >= settings.TARGETS_UPLOAD_MAX_ATTEMPTS:
                    _give_up(batch)
                    counts["failed"] += 1
                else:
                    _restart(batch)
                    counts["requeued"] += 1
    return counts


def _restart(batch: UploadBatch) -> None:
    now = timezone.now()
    checking = batch.status in (Status.RECEIVED, Status.CHECKING)
    batch.status = Status.CHECKING if checking else Status.APPLYING
    batch.queued_at = batch.restarted_at = now
    batch.started_at = None  # so that the next sweep waits for this message before queuing another
    batch.save(update_fields=["status", "queued_at", "restarted_at", "started_at"])
    logger.warning("upload %s: restarted its %s (no live task)", batch.pk, "check" if checking else "apply")
    if checking:
        _enqueue_check(batch.pk, batch.language)
    else:
        # The one who confirmed it (uploads queued before that was recorded: the uploader); a key's apply
        # finds its key on the row (apply_upload).
        _enqueue_apply(batch.pk, batch.confirmed_by_id or batch.uploaded_by_id, batch.language)


# --- progress and the report -------------------------------------------------------------------------


def _progress_writer(batch_id: int):
    def write(percent: int) -> None:
        try:
            cache.set(progress_key(batch_id), percent, 3600)
        except Exception:  # see read_progress: a progress bar never fails an upload
            logger.debug("upload %s: progress not written to the cache", batch_id, exc_info=True)

    return write


def _store(batch: UploadBatch, report: pipeline.Report, *, status: str) -> None:
    batch.status = status
    batch.progress = 100
    batch.rows_total = report.rows_total
    batch.created = report.created
    batch.updated = report.updated
    batch.unchanged = report.unchanged
    batch.rejected = report.rejected
    batch.columns = {**report.columns, "blank_rows": report.blank_rows}
    # The check's warnings (probable duplicates of new rows) stay on the page once applied: the apply finds none.
    before = batch.preview or {}
    warned = bool(report.warnings) or status != UploadBatch.Status.APPLIED
    batch.preview = {
        "updates": report.updates,
        "warnings": report.warnings if warned else before.get("warnings", []),
        "warned": report.warned if warned else before.get("warned", 0),
    }
    batch.error = ""
    batch.failure = ""
    now = timezone.now()
    if status == UploadBatch.Status.APPLIED:
        batch.applied_at = now
    else:
        batch.checked_at = now
    batch.save()
    batch.rejections.all().delete()
    UploadRejection.objects.bulk_create(
        [
            UploadRejection(batch=batch, row_number=r.row_number, column=r.column, reason=r.reason, values=r.values)
            for r in report.rejections
        ],
        batch_size=2000,
    )
