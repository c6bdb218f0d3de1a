"""The Celery task of analysis sets: thin, it takes an id and calls analysis.services.build_set, which is
idempotent and always ends the set ready or failed."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.EXPORTS_SOFT_TIME_LIMIT,
    time_limit=settings.EXPORTS_TIME_LIMIT,
)
def build_set_task(set_id: int) -> None:
    services.build_set(set_id=set_id)
