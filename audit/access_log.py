"""The access log: one append-only row for each view or export of personal data.

Pages, exports and the API call `record_access` once per response that shows personal data, e.g.:

    record_access(request=request, action=AccessLog.Action.VIEW, obj=record)
    record_access(request=request, action=AccessLog.Action.EXPORT, model=TargetRecord,
                  description="province 40, fiscal year 2567", count=len(rows))

What it costs: one INSERT and nothing else (the object type comes from ContentType's cache of the
process, the user is the request's). Inside a request (audit.middleware.AccessLogMiddleware) the
entries are kept in a list and written together, one multi-row INSERT, when the view has answered
and before the answer leaves the portal: a response is never sent whose entries are not stored, and
a failed write turns it into an error page. Outside a request (Celery tasks, management commands,
a streaming response's generator after the middleware has finished) each entry is written at once.
Nothing goes through Redis, so a Redis outage loses no entry.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest

from core.client_ip import client_ip

from .models import AccessLog
from .redaction import redact_ids

USER_AGENT_MAX = AccessLog._meta.get_field("user_agent").max_length
PATH_MAX = AccessLog._meta.get_field("path").max_length
DESCRIPTION_MAX = AccessLog._meta.get_field("description").max_length

# The entries of the request being answered, written by flush() (None: write at once). A context
# variable, so that each thread of a threaded server (and each task) has its own.
_pending: ContextVar[list[AccessLog] | None] = ContextVar("access_log_pending", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Keeps the entries recorded inside the block and writes them in one INSERT when it ends,
    also when it ends by an exception (what was recorded was shown, or about to be)."""
    token = _pending.set([])
    try:
        yield
        flush()
    except BaseException:
        flush()
        raise
    finally:
        _pending.reset(token)


def flush() -> int:
    """Writes the entries kept so far in one multi-row INSERT; returns how many."""
    pending = _pending.get()
    if not pending:
        return 0
    entries = pending[:]
    pending.clear()
    if len(entries) == 1:
        # One statement in autocommit: bulk_create would wrap it in BEGIN ... COMMIT (two more round trips).
        entries[0].save()
    else:
        # One INSERT of every row, in one transaction: one commit instead of one per entry.
        AccessLog.objects.bulk_create(entries)
    return len(entries)


def record_access(
    *,
    request: HttpRequest,
    action: str,
    obj: models.Model | None = None,
    model: type[models.Model] | None = None,
    object_id: str | int = "",
    description: str = "",
    count: int = 1,
) -> AccessLog:
    """Write one access log entry for `request`: who, what (`obj`, or `model` and `object_id`),
    when, from where. IDs in `description` are masked: it is meant for filters and page names.
    """
    return write_access(
        principal=getattr(request, "user", None),
        action=action,
        obj=obj,
        model=model,
        object_id=object_id,
        description=description,
        count=count,
        # request.path never includes the query string, where search terms (possibly an ID) go.
        path=request.path,
        ip_address=client_ip(request),  # behind our proxies, the address they saw (TRUSTED_PROXY_COUNT)
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def write_access(
    *,
    principal,
    action: str,
    obj: models.Model | None = None,
    model: type[models.Model] | None = None,
    object_id: str | int = "",
    description: str = "",
    count: int = 1,
    path: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
) -> AccessLog:
    """record_access without a request: for work done on someone's behalf outside one (an upload's
    check in a Celery task), or by a caller that kept only who asked and where (targets.id_probes).
    `principal` is a User, an API key's principal (api.authentication) or None."""
    if action not in AccessLog.Action.values:
        raise ValueError(f"Unknown access log action {action!r}; use AccessLog.Action.")
    if obj is not None:
        model = type(obj)
        object_id = obj.pk
    if principal is None or not principal.is_authenticated:
        principal = None
    # A partner's API key (api.authentication) is a principal without a User row: the entry names it
    # as the actor and leaves the user empty.
    account = principal if principal is not None and getattr(principal, "pk", None) is not None else None
    entry = AccessLog(
        user=account,
        actor=principal.get_username() if principal is not None else "anonymous",
        action=action,
        content_type=ContentType.objects.get_for_model(model) if model is not None else None,
        object_id=redact_ids(str(object_id)),
        description=redact_ids(description)[:DESCRIPTION_MAX],
        count=max(count, 0),
        ip_address=ip_address,
        user_agent=user_agent[:USER_AGENT_MAX],
        path=redact_ids(path)[:PATH_MAX],
    )
    pending = _pending.get()
    if pending is None:
        entry.save()
    else:
        pending.append(entry)  # its id and time are set when the request's entries are written
    return entry
