"""Retention of uploaded files (core.retention, registered by targets/apps.py).

The file of an upload that has ended (applied, cancelled or failed) is deleted from storage
RETENTION_UPLOAD_FILE_DAYS (90 by default) after the upload's last step: the records it wrote,
the report and the rejected rows stay in the database, so the spreadsheet (a second copy of the
children's personal data) is no longer needed once a dispute about the apply is unlikely (PDPA's
data minimisation). The row stays and is marked (`file_pruned_at`); its page says the file is gone.
Only the storage API is used (storage.delete), so the files may live on disk or an object store.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils.translation import gettext_lazy as _

from core import retention
from targets.models import UploadBatch

logger = logging.getLogger(__name__)

ENDED = (UploadBatch.Status.APPLIED, UploadBatch.Status.CANCELLED, UploadBatch.Status.FAILED)
# Files deleted per round: each round deletes its files, then marks their rows in one UPDATE.
ROUND = 500


def expired_uploads(now: datetime):
    cutoff = now - timedelta(days=settings.RETENTION_UPLOAD_FILE_DAYS)
    # The upload's last step: applied, or for a cancelled or failed one the latest time it recorded
    # (nothing records the moment of a cancel or a failure itself).
    ended_at = Greatest(
        F("created_at"),
        Coalesce(F("checked_at"), F("created_at")),
        Coalesce(F("started_at"), F("created_at")),
        Coalesce(F("applied_at"), F("created_at")),
    )
    return (
        UploadBatch.objects.filter(status__in=ENDED, file_pruned_at__isnull=True)
        .alias(ended_at=ended_at)
        .filter(ended_at__lt=cutoff)
    )


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
    retention.register("upload_files", _("files of ended uploads (rows kept)"), prune_upload_files, atomic=False)
