"""Optimistic locking of the records people edit: a version number that every write bumps, so that a
write based on an older version is refused instead of silently undoing a change made since (README.md,
"Two people editing the same thing").

A model's one write service locks the row, calls `check_version(locked, version)`, then saves. None
means "no precondition", for code that acts on the current state by design (demo data, admin bulk
actions); pages and the API never pass None for a user, so a form or request that does not say what
it saw is refused (UNKNOWN_VERSION). Writes that bypass save() bump the version themselves.
"""

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Versioned(models.Model):
    """A model whose every change is numbered: 1 when created, one more with each write."""

    # db_default as well as default: rows inserted outside the ORM (the upload's COPY) start at 1 too.
    version = models.PositiveIntegerField(
        _("version"),
        default=1,
        db_default=1,
        editable=False,
        help_text=_("Goes up by one with every change; a change made from an older version is refused."),
    )

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if self._state.adding or (update_fields is not None and not update_fields):
            super().save(*args, **kwargs)  # a new row (version 1), or a save that writes nothing
            return
        # Every save of a stored row is a new version, whoever calls it (a service, Django admin,
        # demo data): nothing that goes through save() can forget it.
        self.version += 1
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version"}
        try:
            super().save(*args, **kwargs)
        except BaseException:
            self.version -= 1  # nothing was written: the object still holds the stored version
            raise


# What a form or request that did not say which version it saw is taken to have seen: no stored version
# is negative, so such a write is refused like a stale one (and the form shown again, now with a version).
UNKNOWN_VERSION = -1


class StaleEdit(Exception):
    """The object changed after the writer read it: `seen` is the version they read (None: they did not
    say), `current` the object as it is now (locked by the service that raised this)."""

    def __init__(self, current: Versioned, *, seen: int | None) -> None:
        super().__init__(f"{type(current).__name__} {current.pk} is at version {current.version}, not {seen}")
        self.current = current
        self.seen = seen


def check_version(current: Versioned, version: int | None) -> None:
    """Refuse a write made from another version than `current`'s (None: no precondition)."""
    if version is not None and version != current.version:
        raise StaleEdit(current, seen=version)
