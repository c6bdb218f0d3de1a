"""What other apps do for an upload, without targets importing them (cases and api are layers above).

cases/apps.py registers the assignment of the rows' case workers here (the optional column); api/apps.py, the
account an API key's upload is applied as.
"""

from collections.abc import Callable
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
