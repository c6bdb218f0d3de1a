"""Celery tasks of the summaries: thin, idempotent, safe to run twice (summaries.services)."""

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError

from .models import SummaryRun
from .services import DEBOUNCE_KEY, run_summary


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def summarize(run_id: int) -> None:
    run_summary(run_id=run_id)


@shared_task
def scheduled_summary() -> None:
    """The beat schedule's nightly run (CELERY_BEAT_SCHEDULE)."""
    from .services import request_summary

    request_summary(trigger=SummaryRun.Trigger.SCHEDULE)


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def summarize_after_upload() -> None:
    cache.delete(DEBOUNCE_KEY)
    run = SummaryRun.objects.create(fiscal_year=_current_year(), trigger=SummaryRun.Trigger.UPLOAD)
    run_summary(run_id=run.pk)


def _current_year() -> int:
    from core.buddhist_dates import current_fiscal_year

    return current_fiscal_year()
