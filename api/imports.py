"""Uploads made with a partner key, through targets.upload.services like any other upload.

A key's uploads are its partner's service account's (api.Partner.service_user: no role, no password),
which carries the key's scope for the request (`api_scope`, honoured by accounts.access.scope_for),
so the services check the key's provinces exactly as they check a coordinator's. The apply is given
the account itself, not its id, which would lose the key's scope.
"""

from django.utils import translation

from audit.tracking import context as audit_context
from targets.upload import services as upload_services

from .authentication import PartnerPrincipal, is_partner


def uploader_for(user):
    """The User an upload of `user` is recorded as: the user, or a key's service account with the key's scope."""
    if not is_partner(user):
        return user
    account = user.service_user
    account.api_scope = user.api_scope  # in memory, for this request only
    return account


def apply_as_partner(*, batch_id: int, principal: PartnerPrincipal) -> None:
    """Apply a checked upload for a key, through the upload service like every other apply, as the
    key's service account carrying the key's scope. Applying an applied upload does nothing."""
    with audit_context(api_key=principal.key.prefix):
        upload_services.apply_upload(
            batch_id=batch_id, user=uploader_for(principal), language=translation.get_language()
        )
