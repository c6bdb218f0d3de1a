"""Celery tasks of the uploads: thin, take ids, call targets.upload.services.

Both are idempotent and safe to run twice: a checked batch is not checked again, an applied one
not applied again. acks_late with reject_on_worker_lost (settings) gives a killed worker's task
back to the queue; the apply is one transaction, so the rerun starts from nothing written.
"""

from celery import shared_task
from django.db import OperationalError

from targets.upload import services


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def check_upload_task(batch_id: int, language: str | None = None) -> None:
    services.check_upload(batch_id=batch_id, language=language)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def apply_upload_task(batch_id: int, user_id: int, language: str | None = None) -> None:
    services.apply_upload(batch_id=batch_id, user_id=user_id, language=language)
