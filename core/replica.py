"""Reads of dashboards, lists and exports from a read replica, when one is configured.

DATABASE_REPLICA_URL (README.md, "Running at national scale") adds the database alias "replica" and the
router below. A view wrapped in `@reads_from_replica` (or code inside `with replica_reads():`, e.g. an
export job) reads from the replica; every write goes to "default", and so does every read
- outside such a view or block (sign-in, sessions, forms, the upload pipeline: they read what they just
  wrote, and a replica lags);
- inside a transaction on "default" (select_for_update, a read after the block's own write);
- of a session (the session is the user's own write of a moment ago).
With DATABASE_REPLICA_URL unset there is no "replica" alias and everything uses "default".
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model

REPLICA = "replica"
_reading_from_replica: ContextVar[bool] = ContextVar("reading_from_replica", default=False)
_PRIMARY_ONLY_APPS = frozenset({"sessions"})

F = TypeVar("F", bound=Callable[..., Any])


def replica_configured() -> bool:
    return REPLICA in connections.settings


@contextmanager
def replica_reads() -> Iterator[None]:
    """Inside this block, reads go to the replica (if one is configured); writes never do."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


def _streamed_from_replica(chunks: Iterator[Any]) -> Iterator[Any]:
    with replica_reads():
        yield from chunks


def reads_from_replica(view: F) -> F:
    """A view (dashboard, list, export) whose reads may come from the replica; a streamed response's
    chunks too, since they are read after the view has returned."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with replica_reads():
            response = view(*args, **kwargs)
        if getattr(response, "streaming", False) and not getattr(response, "is_async", False):
            response.streaming_content = _streamed_from_replica(iter(response.streaming_content))
        return response

    return wrapped  # type: ignore[return-value]


class ReplicaRouter:
    """DATABASE_ROUTERS entry when DATABASE_REPLICA_URL is set (abe_portal/settings.py)."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if not _reading_from_replica.get() or not replica_configured():
            return None  # "default"
        if model._meta.app_label in _PRIMARY_ONLY_APPS or connections["default"].in_atomic_block:
            return None
        return REPLICA

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database and its copy

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db != REPLICA  # the replica gets its tables from the primary's replication
