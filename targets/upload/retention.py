"""Retention of uploaded files (core.retention, registered by targets/apps.py).

The file of an upload that has ended (applied, cancelled or failed) is deleted from storage
RETENTION_UPLOAD_FILE_DAYS (90 by default) after the upload's last step: the records it wrote,
the report and the rejected rows stay in the database, so the spreadsheet (a second copy of the
children's personal data) is no longer needed once a dispute about the apply is unlikely (PDPA's
data minimisation). The row stays and is marked (`file_pruned_at`); its page says the file is gone.
Only the storage API is used (storage.delete), so the files may live on disk or an object store.

An upload received or checked and then left (never applied, never cancelled) would keep its file for ever: its
dry run's report goes stale as the records change, so TARGETS_UPLOAD_ABANDON_DAYS (30 by default) after its last
step the job cancels it, saying why on its page in the uploader's language, and the file then goes as any ended
upload's does. The cancel is one conditional UPDATE, as the uploader's own: an apply confirmed meanwhile
(checked -> applying) and the cancel cannot both win.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core import retention
from targets.models import UploadBatch

logger = logging.getLogger(__name__)

ENDED = (UploadBatch.Status.APPLIED, UploadBatch.Status.CANCELLED, UploadBatch.Status.FAILED)
# Files deleted per round: each round deletes its files, then marks their rows in one UPDATE.
ROUND = 500


# Left waiting for the uploader: received (its check not yet queued) or checked (its apply not confirmed).
WAITING = (UploadBatch.Status.RECEIVED, UploadBatch.Status.CHECKED)


def _last_step():
    """The upload's last step: applied, or the latest time it recorded (nothing records the moment of a cancel or
    a failure itself)."""
    return Greatest(
        F("created_at"),
        Coalesce(F("checked_at"), F("created_at")),
        Coalesce(F("started_at"), F("created_at")),
        Coalesce(F("applied_at"), F("created_at")),
    )


def expired_uploads(now: datetime):
    cutoff = now - timedelta(days=settings.RETENTION_UPLOAD_FILE_DAYS)
    return (
        UploadBatch.objects.filter(status__in=ENDED, file_pruned_at__isnull=True)
        .alias(ended_at=_last_step())
        .filter(ended_at__lt=cutoff)
    )


def stale_uploads(now: datetime):
    cutoff = now - timedelta(days=settings.TARGETS_UPLOAD_ABANDON_DAYS)
    return UploadBatch.objects.filter(status__in=WAITING).alias(last_step=_last_step()).filter(last_step__lt=cutoff)


def cancel_stale_uploads(now: datetime) -> int:
    """Cancel the uploads left received or checked for TARGETS_UPLOAD_ABANDON_DAYS: one UPDATE per uploader's
    language (the reason is written in it, as a task writes its messages), each conditional on the status, so
    that an apply confirmed meanwhile wins and is left alone."""
    days = settings.TARGETS_UPLOAD_ABANDON_DAYS
    cancelled = 0
    languages = set(stale_uploads(now).values_list("language", flat=True).distinct())
    for language in sorted(languages):
        with translation.override(language or settings.LANGUAGE_CODE):
            reason = gettext(
                "Not applied within %(days)d days of its last step, so the portal cancelled it: its check no longer "
                "says what applying it would do. Upload the file again to check and apply it."
            ) % {"days": days}
        cancelled += (
            stale_uploads(now)
            .filter(language=language)
            .update(status=UploadBatch.Status.CANCELLED, error=reason, progress=0)
        )
    return cancelled


def prune_upload_files(now: datetime) -> int:
    count = 0
    last = 0
    while True:
        rows = list(expired_uploads(now).filter(pk__gt=last).order_by("pk").values_list("pk", "file")[:ROUND])
        if not rows:
            return count
        done = []
        for pk, name in rows:
            last = pk
            storage = UploadBatch._meta.get_field("file").storage
            if name:
                # Deleted first, marked after: a run that stops between the two deletes again
                # (a missing file is no error) and marks next time.
                storage.delete(name)
            done.append(pk)
        count += UploadBatch.objects.filter(pk__in=done, file_pruned_at__isnull=True).update(file_pruned_at=now)


def register() -> None:
    # Before the files: an upload cancelled here has its file deleted by the same rule as any ended upload's.
    retention.register(
        "stale_uploads", _("uploads left unapplied, cancelled (files deleted later)"), cancel_stale_uploads
    )
    retention.register("upload_files", _("files of ended uploads (rows kept)"), prune_upload_files, atomic=False)
