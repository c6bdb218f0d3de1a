"""Celery tasks of the audit app: the nightly retention job (audit.retention)."""

from celery import shared_task

from .retention import run
from .tracking import context


@shared_task
def prune() -> None:
    """The beat schedule's nightly run (CELERY_BEAT_SCHEDULE, RETENTION_HOUR)."""
    with context(task="audit.prune"):
        run(source="nightly job")
