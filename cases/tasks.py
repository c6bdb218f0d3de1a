"""Celery tasks of case follow-up: thin, idempotent, safe to run twice (cases.digest)."""

from celery import shared_task
from django.db import OperationalError

from .digest import run_daily


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def daily() -> None:
    """The beat schedule's daily run (CELERY_BEAT_SCHEDULE "cases-daily")."""
    run_daily()
