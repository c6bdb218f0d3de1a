"""Uploads made with a partner key, through targets.upload.services like any other upload.

A key's uploads are its partner's service account's (api.Partner.service_user: no role, no password),
which carries the key's scope for the request (`api_scope`, honoured by accounts.access.scope_for),
so the services check the key's provinces exactly as they check a coordinator's. The apply is given
the account itself, not its id, which would lose the key's scope.
"""

from django.utils import translation

from accounts.access import Principal
from accounts.models import User
from audit.tracking import context as audit_context
from targets.upload import services as upload_services

from .authentication import PartnerPrincipal, is_partner


def uploader_for(user: Principal) -> Principal:
    """The User an upload of `user` is recorded as: the user, or a key's service account with the key's scope."""
    return service_account(user) if is_partner(user) else user


def service_account(principal: PartnerPrincipal) -> User:
    """The key's partner's service account, carrying the key's scope."""
    account = principal.service_user
    account.api_scope = principal.api_scope  # type: ignore[attr-defined]  # in memory, for this request only
    return account


def apply_as_partner(*, batch_id: int, principal: PartnerPrincipal) -> None:
    """Apply a checked upload for a key, through the upload service like every other apply, as the
    key's service account carrying the key's scope. Applying an applied upload does nothing."""
    with audit_context(api_key=principal.key.prefix):
        upload_services.apply_upload(
            batch_id=batch_id, user=service_account(principal), language=translation.get_language()
        )
