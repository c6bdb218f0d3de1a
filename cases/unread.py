"""The header's unread count (templates/base.html), cached per person: every page shows it, and a
notification is created or read far less often than pages are served. Services that create or read
notifications call forget(); the count is one query when not cached."""

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest

from accounts.access import Principal

from .models import Notification

TIMEOUT = 60 * 60


def _key(user_id: int) -> str:
    return f"cases.unread.{user_id}"


def unread_count(user: Principal) -> int:
    if not user.is_authenticated or user.pk is None:
        return 0
    key = _key(user.pk)
    count = cache.get(key)
    if count is None:
        count = Notification.objects.visible_to(user).unread().count()
        cache.set(key, count, TIMEOUT)
    return int(count)


def forget(user_ids: Iterable[int | None]) -> None:
    """Drop the cached counts of these people (their notifications changed)."""
    keys = [_key(u) for u in set(user_ids) if u is not None]
    if keys:
        cache.delete_many(keys)


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the count, computed only if the page's template asks for it."""
    user = getattr(request, "user", None)
    return {"unread_notifications": (lambda: unread_count(user)) if user is not None else 0}
