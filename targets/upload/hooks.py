"""What other apps do after an upload's apply, without targets importing them (cases is a layer above).

cases/apps.py registers the assignment of the rows' case workers here (the optional column).
"""

from collections.abc import Callable

# (batch, the user who applied, {worker id: identifiers of the applied rows naming that worker})
AfterApply = Callable[[object, object, dict[int, list[str]]], None]

_after_apply: list[AfterApply] = []


def register_after_apply(callback: AfterApply) -> None:
    if callback not in _after_apply:
        _after_apply.append(callback)


def after_apply(batch: object, user: object, assignments: dict[int, list[str]]) -> None:
    """Called once per apply, in its transaction, after the rows are written; not when nothing names a worker."""
    if not assignments:
        return
    for callback in _after_apply:
        callback(batch, user, assignments)
