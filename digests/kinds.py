"""The two digests (digests.mailing.Kind) and their periods: the weekly one per week (its Monday), the monthly
one per month (its first day), both in Thailand's calendar."""

import datetime

from django.utils import timezone

from . import monthly, weekly
from .mailing import Kind, Run, send
from .models import DigestSent

# pg_try_advisory_lock keys: one run of each digest at a time (cases.digest.DAILY_LOCK_KEY is 1_402_001).
WEEKLY = Kind(
    kind=DigestSent.Kind.WEEKLY,
    preference="weekly_digest",
    roles=weekly.WEEKLY_ROLES,
    build=weekly.build,
    templates=("digests/email/weekly_subject.txt", "digests/email/weekly.txt", "digests/email/weekly.html"),
    lock_key=1_402_017,
)
MONTHLY = Kind(
    kind=DigestSent.Kind.MONTHLY,
    preference="monthly_digest",
    roles=monthly.MONTHLY_ROLES,
    build=monthly.build,
    templates=("digests/email/monthly_subject.txt", "digests/email/monthly.txt", "digests/email/monthly.html"),
    lock_key=1_402_018,
)


def week_of(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def month_of(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def send_weekly(*, now: datetime.datetime | None = None) -> Run | None:
    now = now or timezone.now()
    return send(WEEKLY, period=week_of(timezone.localdate(now)), now=now)


def send_monthly(*, now: datetime.datetime | None = None) -> Run | None:
    now = now or timezone.now()
    return send(MONTHLY, period=month_of(timezone.localdate(now)), now=now)
