"""What other apps do for an upload, without targets importing them (cases and api are layers above).

cases/apps.py registers the assignment of the rows' case workers here (the optional column); api/apps.py, the
account an API key's upload is applied as; duplicates/apps.py, the dry run's warnings about probable duplicates of
new rows.
"""

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accounts.models import User

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


# The account an API key's upload is applied as: api/apps.py registers it (the api app is a layer above).
# key_account(principal) -> the key's partner's service account carrying the key's scope, or None when the key
# may not apply uploads. A worker finds the key's principal again by its prefix (exports.registry.principal_for_key,
# also the api app's: None once the key is revoked or expired, or its partner deactivated).
KeyAccount = Callable[[Any], "User | None"]

_key_account: list[KeyAccount] = []


def register_key_account(resolver: KeyAccount) -> None:
    _key_account[:] = [resolver]


def key_account(principal: Any) -> "User | None":
    """None when nothing is registered: an upload is never applied for a key without the key's scope."""
    return _key_account[0](principal) if _key_account else None


# (batch, the chunk's valid new rows) -> warnings to show beside those rows, never rejections: a list, or a Future of
# one (work done beside the pipeline; `resolve` waits for it). Each row is a dict: "row" (its number in the file),
# "identifier_kind" and the record fields the file gives (name_prefix, first_name, last_name, sex, birth_date,
# district_id, ...). duplicates/apps.py registers the probable-duplicate check here.
RowWarnings = Callable[[object, list[dict]], "list[dict] | Future[list[dict]]"]

_row_warnings: list[RowWarnings] = []


def register_row_warnings(callback: RowWarnings) -> None:
    if callback not in _row_warnings:
        _row_warnings.append(callback)


def wants_row_warnings() -> bool:
    return bool(_row_warnings)


def row_warnings(batch: object, rows: list[dict]) -> list:
    """Called by the dry run (not the apply) once per chunk that has new rows: what each callback answered (a list
    of warnings, or a Future of one), for `resolve` at the end of the run."""
    if not rows:
        return []
    return [callback(batch, rows) for callback in _row_warnings]


def resolve(pending: list) -> list[dict]:
    """The warnings of every chunk, in order, once all are answered. Waits for every Future even when one failed
    (none may still use the connection after this), then raises the first failure."""
    found: list[dict] = []
    failure: BaseException | None = None
    for answer in pending:
        if isinstance(answer, Future):
            try:
                found.extend(answer.result())
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others are waited for
                failure = failure or exc
        else:
            found.extend(answer)
    if failure is not None:
        raise failure
    return found
