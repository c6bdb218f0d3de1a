"""Uploads of target-group records: the one path that pages, Django admin, the API and the Celery
tasks all call.

    batch = receive_upload(user=..., province=..., uploaded_file=...)   # stored, nothing read yet
    start_check(batch=batch, user=...)     # the dry run: inline for small files, else a task
    start_apply(batch=batch, user=...)     # confirm: applies every valid row in one transaction

A killed worker leaves all or nothing: the apply is one transaction, and its task is acknowledged
only when done (acks_late), so it runs again. Applying an applied batch does nothing.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit.tracking import context as audit_context
from provinces.models import Province
from targets.models import UploadBatch, UploadRejection

from . import pipeline
from .reading import UnreadableFile, file_kind


def progress_key(batch_id: int) -> str:
    return f"targets:upload:{batch_id}:progress"


def read_progress(batch: UploadBatch) -> int:
    if batch.status in (UploadBatch.Status.CHECKED, UploadBatch.Status.APPLIED):
        return 100
    return int(cache.get(progress_key(batch.pk), batch.progress))


def receive_upload(*, user, province: Province, uploaded_file) -> UploadBatch:
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
    )
    batch.file.save(uploaded_file.name, uploaded_file, save=False)
    batch.save()
    return batch


def _runs_inline(batch: UploadBatch) -> bool:
    return settings.CELERY_TASK_ALWAYS_EAGER or batch.size <= settings.TARGETS_UPLOAD_INLINE_BYTES


def start_check(*, batch: UploadBatch, user) -> None:
    """The dry run, now (small file) or by a task after this transaction commits."""
    language = translation.get_language()
    if _runs_inline(batch):
        check_upload(batch_id=batch.pk, language=language)
        batch.refresh_from_db()
        return
    from targets.tasks import check_upload_task

    UploadBatch.objects.filter(pk=batch.pk).update(status=UploadBatch.Status.CHECKING, progress=0)
    cache.delete(progress_key(batch.pk))
    transaction.on_commit(lambda: check_upload_task.delay(batch.pk, language))


def start_apply(*, batch: UploadBatch, user) -> None:
    """Confirm: apply the upload, now (small file) or by a task after this transaction commits."""
    if not UploadBatch.objects.writable_by(user).filter(pk=batch.pk).exists():
        raise PermissionDenied
    if batch.status == UploadBatch.Status.APPLIED:
        return
    if batch.status != UploadBatch.Status.CHECKED:
        raise ValidationError(_("Only a checked upload can be applied."))
    language = translation.get_language()
    if _runs_inline(batch):
        apply_upload(batch_id=batch.pk, user_id=user.pk, language=language)
        batch.refresh_from_db()
        return
    from targets.tasks import apply_upload_task

    UploadBatch.objects.filter(pk=batch.pk, status=UploadBatch.Status.CHECKED).update(
        status=UploadBatch.Status.APPLYING, progress=0
    )
    cache.delete(progress_key(batch.pk))  # the check's 100 % must not show for the apply
    transaction.on_commit(lambda: apply_upload_task.delay(batch.pk, user.pk, language))


def cancel_upload(*, batch: UploadBatch, user) -> None:
    if not UploadBatch.objects.writable_by(user).filter(pk=batch.pk).exists():
        raise PermissionDenied
    UploadBatch.objects.filter(
        pk=batch.pk, status__in=[UploadBatch.Status.RECEIVED, UploadBatch.Status.CHECKED]
    ).update(status=UploadBatch.Status.CANCELLED)


# --- the work itself (called inline or by targets.tasks) -------------------------------------------


def check_upload(*, batch_id: int, language: str | None = None) -> None:
    """The dry run: counts, the updates with their changed fields, every rejected row. Writes no record."""
    with translation.override(language or settings.LANGUAGE_CODE):
        batch = UploadBatch.objects.select_related("province").get(pk=batch_id)
        if batch.status not in (UploadBatch.Status.RECEIVED, UploadBatch.Status.CHECKING):
            return  # checked already (a retried task), applied, or cancelled
        try:
            report = pipeline.run(batch, apply=False, progress=_progress_writer(batch.pk))
        except UnreadableFile as exc:
            _fail(batch, str(exc))
            return
        with transaction.atomic():
            _store(batch, report, status=UploadBatch.Status.CHECKED)


def apply_upload(*, batch_id: int, user_id: int | None = None, user=None, language: str | None = None) -> None:
    """Apply every valid row in one transaction; running it again changes nothing.

    `user` is an account already in hand (an API key's service account carries the key's scope,
    which looking the account up again by `user_id`, as a Celery task must, would lose).
    """
    from django.contrib.auth import get_user_model

    # The audit trail names the upload and who confirmed it, also when a Celery task applies it.
    audit_labels = {"upload": batch_id, "user": user.pk if user is not None else user_id}
    with translation.override(language or settings.LANGUAGE_CODE), audit_context(**audit_labels), transaction.atomic():
        batch = UploadBatch.objects.select_for_update().select_related("province").get(pk=batch_id)
        if batch.status not in (UploadBatch.Status.CHECKED, UploadBatch.Status.APPLYING):
            return  # applied already (the other of two concurrent confirms, or a retried task)
        if user is None:
            user = get_user_model().objects.get(pk=user_id)
        if not UploadBatch.objects.writable_by(user).filter(pk=batch.pk).exists():
            # The user lost the right to write this province after confirming: say so, and stop the
            # page's progress bar, rather than leave the upload "applying" for ever.
            _fail(batch, _("You may no longer write this province's records."))
            return
        try:
            # A savepoint: a file found unreadable half-way leaves nothing written, and the failure
            # below is still recorded when the outer transaction commits.
            with transaction.atomic():
                report = pipeline.run(batch, apply=True, user=user, progress=_progress_writer(batch.pk))
        except UnreadableFile as exc:
            _fail(batch, str(exc))
            return
        _store(batch, report, status=UploadBatch.Status.APPLIED)
        if report.created or report.updated:
            # The dashboards follow: one summary run a minute later, however many uploads come meanwhile.
            from summaries.services import request_summary_after_upload

            request_summary_after_upload()


def _progress_writer(batch_id: int):
    def write(percent: int) -> None:
        cache.set(progress_key(batch_id), percent, 3600)

    return write


def _fail(batch: UploadBatch, message: str) -> None:
    UploadBatch.objects.filter(pk=batch.pk).update(status=UploadBatch.Status.FAILED, error=message, progress=100)


def _store(batch: UploadBatch, report: pipeline.Report, *, status: str) -> None:
    batch.status = status
    batch.progress = 100
    batch.rows_total = report.rows_total
    batch.created = report.created
    batch.updated = report.updated
    batch.unchanged = report.unchanged
    batch.rejected = report.rejected
    batch.columns = {**report.columns, "blank_rows": report.blank_rows}
    batch.preview = {"updates": report.updates}
    batch.error = ""
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
