"""Celery tasks of the uploads: thin, take ids, call targets.upload.services.

Each is idempotent and safe to run twice: a task that finds its upload's job done, or another task
at work on it (the job lock), does nothing. acks_late with reject_on_worker_lost (settings) gives a
killed worker's task back to the queue, and the services count every start, so a file that kills
its worker is given up after TARGETS_UPLOAD_MAX_ATTEMPTS. The apply is one transaction, so a
rerun starts from nothing written. A task whose message was lost is found by sweep_uploads.

Time limits: the soft one makes the service fail the upload with a message (SoftTimeLimitExceeded);
the hard one, a little later, ends a pool process that ignores it, and the sweeper takes over. Both
sit well above the longest real job (README.md, "Background jobs").
"""

from celery import shared_task
from django.conf import settings

from targets.upload import services

LIMITS = {
    "soft_time_limit": settings.TARGETS_UPLOAD_SOFT_TIME_LIMIT,
    "time_limit": settings.TARGETS_UPLOAD_TIME_LIMIT,
}


@shared_task(autoretry_for=services.TRANSIENT, retry_backoff=True, max_retries=5, **LIMITS)
def check_upload_task(batch_id: int, language: str | None = None) -> None:
    services.check_upload(batch_id=batch_id, language=language, in_task=True)


@shared_task(autoretry_for=services.TRANSIENT, retry_backoff=True, max_retries=5, **LIMITS)
def apply_upload_task(batch_id: int, user_id: int, language: str | None = None) -> None:
    services.apply_upload(batch_id=batch_id, user_id=user_id, language=language, in_task=True)


@shared_task
def sweep_uploads() -> dict[str, int]:
    """The beat schedule's sweeper (CELERY_BEAT_SCHEDULE, every TARGETS_UPLOAD_SWEEP_SECONDS)."""
    return services.sweep_stuck_uploads()
