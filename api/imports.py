"""Uploads made with a partner key, through targets.upload.services like any other upload.

A key's uploads are its partner's service account's (api.Partner.service_user: no role, no password),
which carries the key's scope (`api_scope`, in memory only, honoured by accounts.access.scope_for),
so the services check the key's provinces exactly as they check a coordinator's. The apply is the
upload service's start_apply, given the key's principal: it keeps the key's prefix on the upload, and
a task that applies it later makes the account again through upload_account (registered by apps.py),
with the key's scope as it is then, or refuses the upload once the key is revoked or expired.
"""

from accounts.access import Principal
from accounts.models import User

from .authentication import PartnerPrincipal, is_partner


def uploader_for(user: Principal) -> Principal:
    """The User an upload of `user` is recorded as: the user, or a key's service account with the key's scope."""
    return service_account(user) if is_partner(user) else user


def service_account(principal: PartnerPrincipal) -> User:
    """The key's partner's service account, carrying the key's scope."""
    account = principal.service_user
    account.api_scope = principal.api_scope  # type: ignore[attr-defined]  # in memory, for this request only
    return account


def upload_account(principal: object) -> User | None:
    """targets.upload.hooks.key_account: the account a key's upload is applied as, in its request or later in a
    worker (the principal then found again by its prefix, with the key's provinces as they are now); None when
    the key may not write uploads (any more)."""
    if not is_partner(principal) or not principal.key.allows("imports", write=True):
        return None
    return service_account(principal)
