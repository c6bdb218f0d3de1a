"""Retention of the digests' sent rows (core.retention, registered by digests/apps.py).

A DigestSent row is needed only while its period can still be mailed (the current week or month: it keeps a run
that fires twice from mailing anyone twice); it is kept a year longer, so that "did she get last month's digest?" has
an answer, then deleted. The mails' content is not kept anywhere."""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import retention

from .models import DigestSent

KEEP_DAYS = 400


def prune_sent(now: datetime) -> int:
    cutoff = timezone.localdate(now) - timedelta(days=KEEP_DAYS)
    deleted, _by_model = DigestSent.objects.filter(period__lt=cutoff).delete()
    return deleted


def register() -> None:
    retention.register("digests_sent", _("digests sent (who got which week's or month's mail)"), prune_sent)
