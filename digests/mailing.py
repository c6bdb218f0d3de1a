"""How a weekly or monthly digest goes out (digests.weekly, digests.monthly build them): who gets it, in
batches of DIGEST_BATCH people, each mail in the person's language (Thai by default) as HTML with a plain-text
part, and a DigestSent row for each mail that went.

- Who: the holders of the digest's roles, with an address, who did not turn it off on their notifications page
  (cases.EmailPreference), and who have no DigestSent row for this period: a second run of the same week or
  month mails nobody twice.
- The mail server: core.mail_runs.MailRun gives up after a few failures in a row; whoever was not mailed has
  no DigestSent row, so the next run mails them.
- Two runs at once: an advisory lock per kind (core.mail_runs.advisory_lock); the second does nothing.
- Cost: a fixed number of queries per batch (the builders' and one INSERT of the DigestSent rows), never one
  per person.
"""

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Exists, OuterRef
from django.template.loader import get_template
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from cases.models import EmailPreference
from core.mail_runs import MailRun, absolute_url, advisory_lock, batches

from .models import DigestSent

logger = logging.getLogger(__name__)

DIGEST_BATCH = 500
ITEMS_PER_SECTION = 20


@dataclass
class Item:
    text: str
    url: str


@dataclass
class Section:
    """A list of the mail: up to ITEMS_PER_SECTION items, the total, and where the rest are."""

    key: str
    title: str
    note: str = ""  # what the list counts, when its title cannot say it all
    items: list[Item] = field(default_factory=list)
    total: int = 0
    more_url: str = ""

    def add(self, item: Item) -> None:
        self.total += 1
        if len(self.items) < ITEMS_PER_SECTION:
            self.items.append(item)

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass
class Digest:
    """One person's mail: its context for the templates (built in the person's language), and whether there is
    anything to say (nothing: no mail, and no DigestSent row)."""

    user: User
    language: str
    context: dict[str, Any] = field(default_factory=dict)
    empty: bool = True


def recipients(*, kind: str, preference: str, roles: frozenset[str], period: datetime.date) -> list[int]:
    """The ids of the people due this digest for `period`: one query."""
    turned_off = EmailPreference.objects.filter(user_id=OuterRef("pk"), **{preference: False})
    already = DigestSent.objects.filter(user_id=OuterRef("pk"), kind=kind, period=period)
    people = (
        User.objects.filter(is_active=True, memberships__role__in=sorted(roles))
        .exclude(email="")
        .exclude(Exists(turned_off))
        .exclude(Exists(already))
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    return list(people)


def people_of(user_ids: list[int]) -> tuple[list[User], dict[int, str]]:
    """The active people with an address among `user_ids`, and each one's language: two queries."""
    users = list(User.objects.filter(pk__in=user_ids, is_active=True).exclude(email="").order_by("pk"))
    chosen = dict(EmailPreference.objects.filter(user_id__in=user_ids).values_list("user_id", "language"))
    return users, {u.pk: chosen.get(u.pk) or settings.LANGUAGE_CODE for u in users}


def render(digest: Digest, templates: list[Any]) -> EmailMultiAlternatives:
    """The mail of a digest: subject, plain text and HTML templates, in the person's language."""
    subject_template, text_template, html_template = templates
    with translation.override(digest.language):
        context = {
            **digest.context,
            "user": digest.user,
            "language": digest.language,
            "settings_url": absolute_url(reverse("cases:notifications")),
        }
        subject = " ".join(subject_template.render(context).split())
        text = text_template.render(context)
        html = html_template.render(context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [digest.user.email])
    message.attach_alternative(html, "text/html")
    return message


@dataclass(frozen=True)
class Kind:
    """A digest: what DigestSent calls it, the EmailPreference field that turns it off, the roles that get
    it, how a batch of it is built, its templates (subject, text, HTML) and its lock."""

    kind: str
    preference: str
    roles: frozenset[str]
    build: Callable[..., list[Digest]]  # build(user_ids, *, now) -> one Digest per active person
    templates: tuple[str, str, str]
    lock_key: int


@dataclass
class Run:
    sent: int = 0
    failed: int = 0
    empty: int = 0  # nothing to say: no mail


def send(kind: Kind, *, period: datetime.date, now: datetime.datetime) -> Run | None:
    """Mail `kind` for `period` to everyone due it; None if another run of the same kind holds the lock."""
    with advisory_lock(kind.lock_key) as ours:
        if not ours:
            logger.info("the %s digest is already being sent: this run does nothing", kind.kind)
            return None
        run = Run()
        mail = MailRun(f"the {kind.kind} digest")
        # Loaded once per run (DEBUG has no cached loader): see cases.digest.digest_templates.
        templates = [get_template(name) for name in kind.templates]
        ids = recipients(kind=kind.kind, preference=kind.preference, roles=kind.roles, period=period)
        for batch in batches(ids, DIGEST_BATCH):
            sent = []
            for digest in kind.build(batch, now=now):
                if digest.empty:
                    run.empty += 1
                    continue
                if mail.gave_up or not mail.send(render(digest, templates), user_id=digest.user.pk):
                    run.failed += 1  # no DigestSent row: the next run tries again
                    continue
                sent.append(DigestSent(user=digest.user, kind=kind.kind, period=period, sent_at=now))
                run.sent += 1
            DigestSent.objects.bulk_create(sent, ignore_conflicts=True)
        return run
