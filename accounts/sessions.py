"""Ending every session of some accounts at once: a lost or stolen phone or laptop (README.md, "Field app (offline)",
what an admin does about a lost phone). The sessions are in the database (SESSION_ENGINE): each live one is read and
those signed in as the accounts are deleted, so every device of theirs must sign in again at its next request, while
the accounts themselves stay as they are (unlike deactivating one, or setting a new password)."""

from collections.abc import Iterable

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone

BATCH = 2_000


def end_sessions(user_ids: Iterable[int]) -> int:
    """Deletes the live sessions of the accounts `user_ids`; how many there were. Reads each live session once (a
    portal's live sessions are a few thousand at most: those of the last SESSION_ABSOLUTE_AGE hours)."""
    wanted = {str(pk) for pk in user_ids}
    if not wanted:
        return 0
    ended: list[str] = []
    live = Session.objects.filter(expire_date__gt=timezone.now()).order_by("pk")
    for session in live.iterator(BATCH):
        if str(session.get_decoded().get(SESSION_KEY, "")) in wanted:
            ended.append(session.session_key)
    deleted, _ = Session.objects.filter(session_key__in=ended).delete()
    return deleted
