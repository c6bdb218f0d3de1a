"""Where a notification about another app's row leads (a transfer request, a merge proposal).

cases keeps the notifications, but the apps above it (transfers, identity) own what those are about, and
cases may not import them (pyproject's layers). Each registers, in its AppConfig.ready, how a kind of
notification becomes a link: `link(user, notification)` gives the path, or None when the person may no
longer open it at all (a role ended). It reads only `notification.subject_id` and the door's scope (primed
for the digest's batches: accounts.access.prime_scopes), never the database: the notifications page and
the daily digest call it once per notification. The page it leads to asks the door again for the row
itself and answers 404 to whoever may not see it.
"""

from collections.abc import Callable
from typing import Any

from .models import Notification

Link = Callable[[Any, Notification], str | None]

_links: dict[str, Link] = {}


def register(kind: str, link: Link) -> None:
    if kind not in Notification.Kind.values:
        raise ValueError(f"not a notification kind: {kind}")
    _links[kind] = link


def is_registered(kind: str) -> bool:
    return kind in _links


def link_for(user: Any, notification: Notification) -> str | None:
    """The path of what `notification` is about, for `user`; None when nothing (or no app) leads there."""
    link = _links.get(notification.kind)
    if link is None or notification.subject_id is None:
        return None
    return link(user, notification)
