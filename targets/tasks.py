"""Celery tasks of the uploads: thin, they take ids and call targets.upload.services, which makes each
idempotent and safe to run twice (README.md, "Background jobs", also on the time limits).

The soft time limit makes the service fail the upload with a message (SoftTimeLimitExceeded); the
hard one, a little later, ends a pool process that ignores it, and the sweeper takes over.
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
