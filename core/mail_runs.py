"""What every scheduled mailing shares (the daily case digest, cases.digest; the weekly and monthly digests,
digests.mailing): one mail connection per run that gives up when the mail server is down, people taken in
batches, absolute links, and a lock so that two runs at once do not mail twice."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection

logger = logging.getLogger(__name__)

# After this many mails in a row fail, the mail server is taken to be down: the rest wait for the next run.
GIVE_UP_AFTER_FAILURES = 3


def absolute_url(path: str) -> str:
    """A link for a mail: the portal's address (PORTAL_BASE_URL) and the path."""
    base: str = settings.PORTAL_BASE_URL
    return base.rstrip("/") + path


def batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class MailRun:
    """One connection for a whole run. `send` answers whether the mail went; after GIVE_UP_AFTER_FAILURES
    failures in a row it stops trying (`gave_up`), and what was not sent waits for the next run."""

    def __init__(self, what: str) -> None:
        self.what = what  # for the log: "the daily digest"
        self.connection: Any = get_connection()
        self.failures_in_a_row = 0

    @property
    def gave_up(self) -> bool:
        return self.failures_in_a_row >= GIVE_UP_AFTER_FAILURES

    def send(self, message: EmailMessage, *, user_id: int) -> bool:
        if self.gave_up:
            return False
        try:
            self.connection.send_messages([message])
        except Exception:  # any mail backend error: logged; the caller leaves it for the next run
            logger.exception("could not send %s to user %s", self.what, user_id)
            self.failures_in_a_row += 1
            return False
        self.failures_in_a_row = 0
        return True


@contextmanager
def advisory_lock(key: int) -> Iterator[bool]:
    """Yields whether this run holds the lock `key` (False: another run is at work). SQLite, the embedded
    default with no beat, has no such locks."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (ours,) = cursor.fetchone()
    try:
        yield ours
    finally:
        if ours:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
