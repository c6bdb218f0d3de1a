"""Celery tasks of the digests: thin, idempotent, safe to run twice (digests.mailing: DigestSent rows)."""

from celery import shared_task
from django.db import OperationalError

from .kinds import send_monthly, send_weekly


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def weekly() -> None:
    """The beat schedule's Monday run (CELERY_BEAT_SCHEDULE "digests-weekly")."""
    send_weekly()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def monthly() -> None:
    """The beat schedule's run on the first of the month (CELERY_BEAT_SCHEDULE "digests-monthly")."""
    send_monthly()
