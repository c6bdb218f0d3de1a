"""Every read of personal data through the API goes to the access log (audit.AccessLog), one entry
per response: the endpoint and the number of records, never an identifier.

Users and partner keys alike go through audit.access_log.record_access, as the pages do; a key has
no User row, so its entry names the partner, the key and its prefix as the actor.
"""

from django.db import models

from audit.access_log import record_access
from audit.models import AccessLog


def log_read(request, *, model: type[models.Model], description: str, count: int, object_id: str | int = "") -> None:
    record_access(
        request=request,
        action=AccessLog.Action.API_READ,
        model=model,
        object_id=object_id,
        description=description,
        count=count,
    )
