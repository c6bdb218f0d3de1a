"""Celery tasks of probable duplicates: thin and idempotent (duplicates.finder.run)."""

from celery import shared_task
from django.db import OperationalError

from . import finder


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def nightly() -> dict[str, int]:
    """The beat schedule's nightly run (CELERY_BEAT_SCHEDULE "duplicates-nightly", at DUPLICATES_HOUR): every
    record's key refreshed, every province's candidates recomputed. Two runs at once write the same rows."""
    return finder.run()
