"""Every read of personal data through the API goes to the access log (audit.AccessLog), one entry
per response: the endpoint and the number of records, never an identifier.

A signed-in user's read goes through audit.access_log.record_access as the pages' do. A partner key
has no User row: its entry has no user and names the partner, the key and the key's prefix as the
actor; the rest (time, IP address, browser, path without the query string) is recorded the same way.
"""

from django.contrib.contenttypes.models import ContentType
from django.db import models

from audit.access_log import DESCRIPTION_MAX, PATH_MAX, USER_AGENT_MAX, client_ip, record_access
from audit.models import AccessLog
from audit.redaction import redact_ids

from .authentication import is_partner


def log_read(request, *, model: type[models.Model], description: str, count: int, object_id: str | int = "") -> None:
    user = request.user
    if not is_partner(user):
        record_access(
            request=request,
            action=AccessLog.Action.API_READ,
            model=model,
            object_id=object_id,
            description=description,
            count=count,
        )
        return
    AccessLog.objects.create(
        user=None,
        actor=user.get_username(),
        action=AccessLog.Action.API_READ,
        content_type=ContentType.objects.get_for_model(model),
        object_id=redact_ids(str(object_id)),
        description=redact_ids(description)[:DESCRIPTION_MAX],
        count=max(count, 0),
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        path=redact_ids(request.path)[:PATH_MAX],
    )
