"""Probing for national IDs (PDPA): how often one user or API key may be told that an identifier is
already recorded in a province it cannot see (README.md, "Probing for national IDs").

An identifier has one record in the whole programme, so a refused write itself says "this child is
in the programme, elsewhere", and anyone who writes records can ask it of any identifier. Each such
question is logged and counted per asker and day (Bangkok time) by one upsert in the database, so the
limit holds while Redis is down and two questions at once cannot both slip under it. An answer lasts
only as long as the caller's transaction: each caller asks before anything that could roll it back.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import connection, models, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.access import Principal, can, own_provinces
from accounts.models import Role
from audit.access_log import client_ip, write_access
from audit.models import AccessLog, IdentifierProbeDay

logger = logging.getLogger(__name__)


class ProbeRefused(Exception):
    """The question is refused as a whole: it would take its asker over the day's allowance. The
    message (in the active language) says how many identifiers and that EEF/IPSR admins were told."""


@dataclass(frozen=True)
class Asker:
    """Who asks, and where: a User, or an API key's principal (api.authentication.PartnerPrincipal)."""

    principal: Principal
    path: str = ""
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def of_request(cls, request) -> "Asker":
        return cls(
            principal=request.user,
            path=request.path,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )

    @classmethod
    def of_upload(cls, batch) -> "Asker":
        """The uploader (for a key's upload, its partner's service account), at the upload's page:
        its check may run in a Celery task, far from the request that sent the file."""
        return cls(principal=batch.uploaded_by, path=reverse("uploads:detail", kwargs={"pk": batch.pk}))

    @property
    def key(self) -> str:
        """Whose allowance: "user:<id>", or the key's own label ("key:<prefix>")."""
        pk = getattr(self.principal, "pk", None)
        return f"user:{pk}" if pk is not None else str(self.principal.label)  # type: ignore[union-attr]  # a key's


def unseen(principal: Principal, provinces: Iterable[int]) -> int:
    """How many of `provinces` (one per identifier found elsewhere) `principal` may not read: the
    answers that would tell it something it cannot see."""
    return sum(1 for code in provinces if not can(principal, "targets.read", code))


def unseen_holders(principal: Principal, identifiers: list[str]) -> int:
    """How many of `identifiers` are recorded in provinces `principal` may not read: one query (none
    for EEF/IPSR, who read every province)."""
    from targets.models import RecordAlias, TargetRecord

    if can(principal, "portal.national") or not identifiers:
        return 0
    own = own_provinces(principal)
    # A record's own identifiers and those a merge kept as its aliases (targets.RecordAlias): both answer.
    records = TargetRecord.objects.filter(identifier__in=identifiers).exclude(province__in=own).values("pk")
    aliases = RecordAlias.objects.filter(identifier__in=identifiers).exclude(record__province__in=own).values("pk")
    return records.order_by().union(aliases.order_by(), all=True).count()


def answered_before(*, model: type[models.Model], object_id) -> int:
    """Identifiers already answered about for this object (an upload whose check ran twice, then its
    apply): the same file is the same question, counted once."""
    from django.contrib.contenttypes.models import ContentType

    total = AccessLog.objects.filter(
        action=AccessLog.Action.IDENTIFIER_PROBE,
        content_type=ContentType.objects.get_for_model(model),
        object_id=str(object_id),
    ).aggregate(total=Sum("count"))["total"]
    return total or 0


def may_answer(
    *,
    asker: Asker,
    count: int,
    model: type[models.Model] | None = None,
    object_id: str | int = "",
    description: str = "",
    refusable: bool = True,
) -> bool:
    """Count a question that would tell `asker` about `count` identifiers recorded in provinces it
    cannot see, and log it. True: answer it row by row. False: refuse it as a whole (the caller says
    so with refusal_message); the day is then flagged and the admins mailed, once.

    `refusable=False` is for an upload's apply, which answers rows its check already answered (and,
    in a race with another province's writes, a few new ones): counted, logged and flagged alike.
    """
    if count <= 0:
        return True
    limit = settings.TARGETS_ID_PROBE_DAILY_LIMIT
    row_id, asked, flagged_at = _count(asker=asker, count=count, limit=limit, refusable=refusable)
    allowed = asked <= limit or not refusable
    write_access(
        principal=asker.principal,
        action=AccessLog.Action.IDENTIFIER_PROBE if allowed else AccessLog.Action.IDENTIFIER_PROBE_REFUSED,
        model=model,
        object_id=object_id,
        description=description,
        count=count,
        path=asker.path,
        ip_address=asker.ip_address,
        user_agent=asker.user_agent,
    )
    if asked > limit and flagged_at is None:
        _flag(row_id=row_id, asker=asker, asked=asked, limit=limit)
    return allowed


def held_elsewhere_message() -> str:
    """What a refused write says about an identifier recorded in a province the asker cannot see (the upload's
    rows, the record form, the API). The pages offer "request a transfer" beside it (transfers/)."""
    return _("This identifier is already recorded outside your province; you can request a transfer of the record.")


def held_elsewhere_reasons() -> frozenset[str]:
    """held_elsewhere_message in every language of the portal: an upload's rejection keeps its reason in the
    uploader's language at the time of the check (targets/upload/views.py finds these rows by it)."""
    reasons = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            reasons.add(held_elsewhere_message())
    return frozenset(reasons)


def refusal_message(*, count: int) -> str:
    return _(
        "%(count)d of the identifiers sent are already recorded in other provinces. Answers about other "
        "provinces' identifiers are limited to %(limit)d a day, so none of this was saved or answered row by row, "
        "and the EEF/IPSR admins have been told. Ask them to move those records to your province."
    ) % {"count": count, "limit": settings.TARGETS_ID_PROBE_DAILY_LIMIT}


# The day's row, created or added to in one statement: the row lock of ON CONFLICT makes two questions
# at once take turns, and every SET expression reads the row as it was before this question.
_UPSERT = """
    INSERT INTO {table} AS d (asker, actor, user_id, day, asked, answered, first_at, last_at)
    VALUES (%s, %s, %s, %s, %s, CASE WHEN %s <= %s OR NOT %s THEN %s ELSE 0 END, %s, %s)
    ON CONFLICT (asker, day) DO UPDATE SET
        asked = d.asked + EXCLUDED.asked,
        answered = d.answered + CASE WHEN d.asked + EXCLUDED.asked <= %s OR NOT %s THEN EXCLUDED.asked ELSE 0 END,
        actor = EXCLUDED.actor,
        last_at = EXCLUDED.last_at
    RETURNING id, asked, flagged_at
"""


def _count(*, asker: Asker, count: int, limit: int, refusable: bool) -> tuple[int, int, object]:
    principal = asker.principal
    now = timezone.now()
    user_id = getattr(principal, "pk", None)
    sql = _UPSERT.format(table=connection.ops.quote_name(IdentifierProbeDay._meta.db_table))
    params = [
        asker.key, principal.get_username()[:254], user_id, timezone.localdate(now), count,
        count, limit, refusable, count, now, now,
        limit, refusable,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _flag(*, row_id: int, asker: Asker, asked: int, limit: int) -> None:
    """Flag the day once (the first question over the limit), and mail the EEF/IPSR admins after commit."""
    flagged = IdentifierProbeDay.objects.filter(pk=row_id, flagged_at__isnull=True).update(flagged_at=timezone.now())
    if flagged:
        actor = asker.principal.get_username()
        # robust: a mail server that fails is logged and does not undo the refusal or its record.
        transaction.on_commit(partial(_mail_admins, row_id=row_id, actor=actor, asked=asked, limit=limit), robust=True)


def admin_addresses() -> list[str]:
    users = get_user_model().objects.filter(is_active=True)
    users = users.filter(Q(memberships__role=Role.EEF_ADMIN) | Q(is_superuser=True))
    return sorted(set(users.values_list("email", flat=True)))


def _mail_admins(*, row_id: int, actor: str, asked: int, limit: int) -> None:
    addresses = admin_addresses()
    if not addresses:
        logger.warning("Identifier look-ups over the limit (row %s), but no EEF/IPSR admin to tell", row_id)
        return
    link = reverse("admin:audit_identifierprobeday_change", args=[row_id])
    parts = []
    for language in ("th", "en"):
        with translation.override(language):
            parts.append(
                (
                    _("Too many identifier look-ups of other provinces"),
                    _(
                        "%(actor)s has asked today about %(count)d identifiers that are recorded in other provinces "
                        "(the limit is %(limit)d a day). Further answers are refused until tomorrow. Please look "
                        "into it: Django admin, %(link)s"
                    )
                    % {"actor": actor, "count": asked, "limit": limit, "link": link},
                )
            )
    subject = " / ".join(subject for subject, _body in parts)
    body = "\n\n".join(body for _subject, body in parts)
    # One message each: nobody sees the others' addresses (as reports.notifications does).
    send_mass_mail([(subject, body, None, [address]) for address in addresses])
