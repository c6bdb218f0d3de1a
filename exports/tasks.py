"""Celery tasks of the exports: thin, they take ids and call exports.services, which makes each idempotent
(README.md, "Exports"). acks_late and reject_on_worker_lost are the project's defaults (settings.py)."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=services.TRANSIENT,
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=settings.EXPORTS_SOFT_TIME_LIMIT,
    time_limit=settings.EXPORTS_TIME_LIMIT,
)
def run_export_task(job_id: int) -> None:
    services.run_export(job_id=job_id, in_task=True)


@shared_task
def sweep_exports() -> dict[str, int]:
    """The beat schedule's sweeper (CELERY_BEAT_SCHEDULE, every EXPORTS_SWEEP_SECONDS)."""
    return services.sweep_exports()
