"""What waits for a person in the apps above cases, for "My work" (cases:inbox): transfer requests to
answer, merge proposals to confirm. cases may not import those apps; each registers, in its AppConfig.ready,
how many wait for a user (through its own door: visible_to and policies) and where they are listed.
`count(user)` returns None when the user has no part in that app at all (no line on the page), else one
COUNT query.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Waiting:
    key: str
    heading: Any  # a lazy translation
    count: Callable[[Any], int | None]
    url: Callable[[], str]


_entries: dict[str, Waiting] = {}


def register(key: str, *, heading: Any, count: Callable[[Any], int | None], url: Callable[[], str]) -> None:
    _entries[key] = Waiting(key=key, heading=heading, count=count, url=url)


def for_user(user: Any) -> list[dict[str, Any]]:
    """Each registered app's line for `user`, in the order registered: key, heading, count, url."""
    lines = []
    for entry in _entries.values():
        count = entry.count(user)
        if count is not None:
            lines.append({"key": entry.key, "heading": entry.heading, "count": count, "url": entry.url()})
    return lines
