"""Uploads made with a partner key.

An upload row names a User (`uploaded_by`): a key's uploads are the partner's service account's
(api.Partner.service_user: no role, no password). For the request, that account carries the key's
scope (`api_scope`, which accounts.access.scope_for honours), so receive_upload and start_check of
targets.upload.services check the key's provinces exactly as they check a coordinator's.

The apply cannot go through targets.upload.services.apply_upload: it looks its user up again by id,
and the key's scope is not in the database. `apply_as_partner` does the same steps with the key's
scope, in one transaction, with the upload pipeline itself (targets.upload.pipeline.run).
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation

from audit.tracking import context as audit_context
from targets.models import UploadBatch
from targets.upload import pipeline
from targets.upload import services as upload_services
from targets.upload.reading import UnreadableFile

from .authentication import PartnerPrincipal, is_partner


def uploader_for(user):
    """The User an upload of `user` is recorded as: the user, or a key's service account with the key's scope."""
    if not is_partner(user):
        return user
    account = user.service_user
    account.api_scope = user.api_scope  # in memory, for this request only
    return account


def apply_as_partner(*, batch_id: int, principal: PartnerPrincipal) -> None:
    """Apply a checked upload for a key (targets.upload.services.apply_upload's steps). Applying an
    applied upload does nothing."""
    account = principal.service_user
    labels = {"upload": batch_id, "user": account.pk, "api_key": principal.key.prefix}
    language = translation.get_language() or settings.LANGUAGE_CODE
    failure = None
    with translation.override(language), audit_context(**labels):
        try:
            with transaction.atomic():
                batch = UploadBatch.objects.select_for_update().select_related("province").get(pk=batch_id)
                if batch.status not in (UploadBatch.Status.CHECKED, UploadBatch.Status.APPLYING):
                    return
                if not UploadBatch.objects.writable_by(principal).filter(pk=batch.pk).exists():
                    raise PermissionDenied
                report = pipeline.run(batch, apply=True, user=account)
                upload_services._store(batch, report, status=UploadBatch.Status.APPLIED)
                if report.created or report.updated:
                    from summaries.services import request_summary_after_upload

                    request_summary_after_upload()
        except UnreadableFile as exc:  # nothing was written (rolled back); the upload says why
            failure = str(exc)
        if failure is not None:
            upload_services._fail(batch, failure)
