"""Retention of the API's idempotency keys (core.retention, registered by api/apps.py).

A key answers a retry with the first response for RETENTION_IDEMPOTENCY_DAYS (30 by default): far
longer than any client retries a request (clients retry within minutes, a partner's queue after an
outage within days), after which the same key would be a new request. Deleted in batches.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core import retention

from .models import IdempotentRequest


def prune_idempotency_keys(now: datetime) -> int:
    cutoff = now - timedelta(days=settings.RETENTION_IDEMPOTENCY_DAYS)
    expired = IdempotentRequest.objects.filter(created_at__lt=cutoff)
    count = 0
    while True:
        with transaction.atomic():
            ids = list(expired.order_by("id").values_list("id", flat=True)[: retention.BATCH_SIZE])
            if not ids:
                return count
            deleted, _by_model = IdempotentRequest.objects.filter(id__in=ids).delete()
            count += deleted


def register() -> None:
    retention.register("idempotency_keys", _("API idempotency keys"), prune_idempotency_keys, atomic=False)
