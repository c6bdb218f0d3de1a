"""Retention: the registry of what the nightly job prunes.

Each app registers its own pruner from its AppConfig.ready():

    from core import retention
    retention.register("exports", _("expired export files"), prune_expired)

A pruner is `func(now) -> int | Pruned`: it removes what is older than its own period counted back
from `now` (a period of its app's settings) and says how many things it removed. The job
(audit.retention.run, nightly on Celery beat and `python manage.py prune`) calls every registered
pruner, each in its own transaction (or, registered with `atomic=False`, one that commits batch by
batch itself), and one failing does not stop the others; it records what each did (audit.RetentionRun).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.functional import Promise

# Rows per statement when a pruner deletes in batches: long enough to be efficient, short enough
# that no statement holds its locks (or its WAL) for long.
BATCH_SIZE = 10_000


@dataclass(frozen=True)
class Pruned:
    """What a pruner did, when it has more to say than a count: the files it wrote (an archive)."""

    count: int
    files: list[str] = field(default_factory=list)


PrunerResult = int | Pruned


@dataclass(frozen=True)
class Pruner:
    name: str
    label: str | Promise
    func: Callable[[datetime], PrunerResult]
    atomic: bool = True


_registry: dict[str, Pruner] = {}


def register(
    name: str,
    label: str | Promise,
    func: Callable[[datetime], PrunerResult],
    *,
    atomic: bool = True,
) -> None:
    """Adds a pruner. `name` is its key in the job's results; registering a name again replaces it
    (ready() may run more than once in tests)."""
    _registry[name] = Pruner(name=name, label=label, func=func, atomic=atomic)


def registered() -> list[Pruner]:
    return list(_registry.values())


def as_pruned(result: PrunerResult) -> Pruned:
    return result if isinstance(result, Pruned) else Pruned(count=int(result))
