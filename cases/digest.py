"""The daily job's work (cases.tasks.daily): keep the due dates, flag what became overdue, and mail each
person one digest of what the portal told them since the last one.

Set-based at any size: the due dates are one UPDATE, the overdue flags two INSERT ... SELECT, and the
digest costs a few queries per batch of DIGEST_BATCH people (their scopes are primed for the door in
three queries: accounts.access.prime_scopes), never a query per notification. A mail names no child:
a record's number and district, and a link to the page that says the rest to whoever may read it.
"""

import datetime
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Coalesce, Greatest
from django.template.loader import get_template
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.access import can, prime_scopes
from accounts.models import Role, User
from core.mail_runs import MailRun, absolute_url, advisory_lock, batches

from . import notification_links
from .models import OPEN_REFERRAL_STATES, Case, EmailPreference, Notification, Referral
from .services import due_on
from .unread import forget

logger = logging.getLogger(__name__)

DIGEST_BATCH = 500
ITEMS_PER_SECTION = 20
SECTIONS = ("overdue", "due_this_week", "waiting", "answered", "decided", "assigned")
_SECTION_OF: dict[str, str] = {
    Notification.Kind.CONTACT_OVERDUE: "overdue",
    Notification.Kind.REFERRAL_OVERDUE: "overdue",
    Notification.Kind.REFERRAL_RECEIVED: "waiting",
    Notification.Kind.REFERRAL_CHANGED: "answered",
    Notification.Kind.ASSIGNED: "assigned",
    Notification.Kind.CHILD_FOUND: "waiting",
    Notification.Kind.TRANSFER_REQUESTED: "waiting",
    Notification.Kind.MERGE_PROPOSED: "waiting",
    Notification.Kind.TRANSFER_ACCEPTED: "decided",
    Notification.Kind.TRANSFER_DECLINED: "decided",
    Notification.Kind.TRANSFER_WITHDRAWN: "decided",
    Notification.Kind.MOVED_IN: "decided",
    Notification.Kind.MOVED_OUT: "decided",
    Notification.Kind.MERGE_CONFIRMED: "decided",
    Notification.Kind.MERGE_REJECTED: "decided",
}


# --- due dates and overdue flags ---------------------------------------------------------------------------


def refresh_due_dates() -> int:
    """Recompute every open case's due date (CASES_CONTACT_EVERY_DAYS may have changed): the rule of
    cases.services.due_on, in one UPDATE. Not a new version of the case: nobody edited it."""
    if connection.vendor != "postgresql":  # the embedded SQLite default: small, row by row
        cases = list(Case.objects.open())
        for case in cases:
            case.due_on = due_on(case)
        return Case.objects.bulk_update(cases, ["due_on"], batch_size=500)
    rule = """LEAST((COALESCE(last_contact_at, opened_at) AT TIME ZONE %s)::date + %s, next_contact_due)"""
    with connection.cursor() as cursor:
        # LEAST ignores NULL: without a next contact's date, the rhythm alone decides.
        cursor.execute(
            f"UPDATE cases_case SET due_on = {rule} WHERE closed_at IS NULL AND due_on IS DISTINCT FROM {rule}",  # noqa: S608
            [settings.TIME_ZONE, settings.CASES_CONTACT_EVERY_DAYS] * 2,
        )
        return cursor.rowcount


def flag_overdue(*, today: datetime.date, now: datetime.datetime) -> tuple[int, int]:
    """Notifications for what became overdue; returns (referral notifications, case notifications).

    A referral past its deadline is flagged once, to both sides: the record's case worker, who sent it,
    and the agency's users (a REFERRAL_OVERDUE notification is its marker: never again on the next days).
    A case past its due date is flagged to its case worker once per overdue spell: again only after a
    contact or a reopening started a new one.
    """
    flagged = Notification.objects.filter(kind=Notification.Kind.REFERRAL_OVERDUE, referral_id=OuterRef("pk"))
    referrals = (
        Referral.objects.filter(state__in=OPEN_REFERRAL_STATES, deadline__lt=today)
        .exclude(Exists(flagged))
        .values("pk", "case_id", "agency_id", "sent_by_id", worker_id=F("case__record__case_worker_id"))
    )
    agency_users = User.objects.filter(is_active=True, memberships__role=Role.AGENCY_USER)
    recipients: dict[tuple[int, int], set[int]] = {}
    rows = list(referrals)
    by_agency: dict[int, set[int]] = {}
    for user_id, agency_id in agency_users.filter(
        memberships__agency_id__in={r["agency_id"] for r in rows}
    ).values_list("pk", "memberships__agency_id"):
        by_agency.setdefault(agency_id, set()).add(user_id)
    for row in rows:
        people = recipients.setdefault((row["pk"], row["case_id"]), set())
        people.update(u for u in (row["worker_id"], row["sent_by_id"]) if u is not None)
        people.update(by_agency.get(row["agency_id"], ()))
    Notification.objects.bulk_create(
        [
            Notification(user_id=u, kind=Notification.Kind.REFERRAL_OVERDUE, case_id=c, referral_id=r, created_at=now)
            for (r, c), people in recipients.items()
            for u in sorted(people)
        ],
        batch_size=1000,
    )
    referral_count = sum(len(people) for people in recipients.values())

    # The spell began at the last contact or the (re)opening, whichever is later: a flag since then counts.
    this_spell = Notification.objects.filter(
        kind=Notification.Kind.CONTACT_OVERDUE,
        case_id=OuterRef("pk"),
        created_at__gte=Greatest(Coalesce(OuterRef("last_contact_at"), OuterRef("opened_at")), OuterRef("opened_at")),
    )
    cases = (
        Case.objects.open()
        .filter(due_on__lt=today, record__case_worker__isnull=False)
        .exclude(Exists(this_spell))
        .values_list("record__case_worker_id", "pk")
    )
    sql, params = cases.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cases_notification (user_id, case_id, kind, created_at) "  # noqa: S608
            f"SELECT r.*, %s, %s FROM ({sql}) AS r RETURNING user_id",
            [Notification.Kind.CONTACT_OVERDUE.value, now, *params],
        )
        flagged_workers = [row[0] for row in cursor.fetchall()]
        case_count = len(flagged_workers)
    # The header's cached unread counts of everyone told (services.notify does the same one by one).
    forget([u for people in recipients.values() for u in people] + flagged_workers)
    return referral_count, case_count


# --- the digest ----------------------------------------------------------------------------------------------


@dataclass
class Item:
    text: str
    url: str


@dataclass
class Digest:
    """One person's mail: up to ITEMS_PER_SECTION items per section, and each section's total."""

    user: User
    language: str
    sections: dict[str, list[Item]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def add(self, section: str, item: Item) -> None:
        self.totals[section] = self.totals.get(section, 0) + 1
        items = self.sections.setdefault(section, [])
        if len(items) < ITEMS_PER_SECTION:
            items.append(item)


@dataclass
class DigestRun:
    sent: int = 0
    failed: int = 0
    # People whose unmailed notifications were all settled without a mail (nothing left to name, no address).
    settled: int = 0


def _record(case: Case) -> dict[str, object]:
    district = case.record.district
    return {"number": case.pk, "district": district.name if district else "-"}


def _item(user: User, notification: Notification) -> tuple[str, Item] | None:
    """What a notification says in the digest (in the active language), or None if the person may no
    longer see what it is about (a case reassigned, a role ended)."""
    if notification.subject_id is not None:
        return _subject_item(user, notification)
    case, referral = notification.case, notification.referral
    if referral is not None:
        if not can(user, "cases.read_referral", referral):
            return None
        if can(user, "cases.is_agency_side", referral):
            path = reverse("cases:referral", kwargs={"pk": referral.pk})
        else:
            path = reverse("targets:detail", kwargs={"pk": referral.case_id})
        about = {
            **_record(referral.case),
            "agency": referral.agency.name,
            "deadline": formats.date_format(referral.deadline),
            "state": referral.get_state_display(),
        }
        texts: dict[str, str] = {
            Notification.Kind.REFERRAL_OVERDUE: _(
                "Referral of record %(number)s (%(district)s) to %(agency)s: past its deadline, %(deadline)s"
            ),
            Notification.Kind.REFERRAL_RECEIVED: _(
                "Referral of record %(number)s (%(district)s) to %(agency)s: waiting for your answer by %(deadline)s"
            ),
        }
        text = texts.get(
            notification.kind, _("Referral of record %(number)s (%(district)s) to %(agency)s: now %(state)s")
        )
        return _SECTION_OF[notification.kind], Item(text=text % about, url=absolute_url(path))
    if case is None or not can(user, "cases.read_case", case):
        return None
    path = reverse("targets:detail", kwargs={"pk": case.pk})
    if notification.kind == Notification.Kind.CONTACT_OVERDUE:
        text = _("Record %(number)s (%(district)s): a contact is overdue") % _record(case)
    elif notification.kind == Notification.Kind.CHILD_FOUND:
        text = _("Record %(number)s (%(district)s): a new child noted by a case worker; check it") % _record(case)
    else:
        text = _("Record %(number)s (%(district)s): assigned to you") % _record(case)
    return _SECTION_OF[notification.kind], Item(text=text, url=absolute_url(path))


def _subject_item(user: User, notification: Notification) -> tuple[str, Item] | None:
    """A transfer request's or a merge proposal's notification: its number and what happened, never the
    record nor the other province; the link is the owning app's (cases.notification_links), None if the
    person may no longer open such pages."""
    path = notification_links.link_for(user, notification)
    if path is None:
        return None
    texts: dict[str, str] = {
        Notification.Kind.TRANSFER_REQUESTED: _("Transfer request %(number)s: waiting for your answer"),
        Notification.Kind.TRANSFER_ACCEPTED: _("Transfer request %(number)s: accepted, the record is now yours"),
        Notification.Kind.TRANSFER_DECLINED: _("Transfer request %(number)s: declined"),
        Notification.Kind.TRANSFER_WITHDRAWN: _("Transfer request %(number)s: withdrawn by the requesting province"),
        Notification.Kind.MOVED_IN: _("Move %(number)s: EEF moved a record into your province; assign a case worker"),
        Notification.Kind.MOVED_OUT: _("Move %(number)s: EEF moved a record of your province to another province"),
        Notification.Kind.MERGE_PROPOSED: _("Merge proposal %(number)s: waiting for your confirmation"),
        Notification.Kind.MERGE_CONFIRMED: _("Merge proposal %(number)s: confirmed, the records are now one"),
        Notification.Kind.MERGE_REJECTED: _("Merge proposal %(number)s: rejected"),
    }
    text = texts[notification.kind] % {"number": notification.subject_id}
    return _SECTION_OF[notification.kind], Item(text=text, url=absolute_url(path))


def build_digests(user_ids: list[int], *, today: datetime.date, until: datetime.datetime) -> list[Digest]:
    """The digests of one batch of people, in five queries whatever its size: the people, their
    preferences, their scopes (prime_scopes: three), their unread notifications up to `until`, and
    the cases due this week of those who are case workers."""
    users = list(User.objects.filter(pk__in=user_ids, is_active=True).exclude(email="").order_by("pk"))
    languages = dict(EmailPreference.objects.filter(user_id__in=user_ids).values_list("user_id", "language"))
    prime_scopes(users)
    digests = {u.pk: Digest(user=u, language=languages.get(u.pk) or settings.LANGUAGE_CODE) for u in users}
    notifications = (
        Notification.objects.filter(user_id__in=list(digests), emailed_at__isnull=True, read_at__isnull=True)
        .filter(created_at__lte=until)
        .select_related("case__record__district", "referral__agency", "referral__case__record__district")
        .order_by("user_id", "created_at", "pk")
    )
    week = today + datetime.timedelta(days=7)
    due = (
        Case.objects.open()
        .filter(record__case_worker_id__in=list(digests), due_on__gte=today, due_on__lte=week)
        .select_related("record__district")
        .order_by("due_on", "pk")
    )
    seen: set[tuple[int, str, int | None, int | None, int | None]] = set()
    for notification in notifications:
        key = (
            notification.user_id,
            notification.kind,
            notification.case_id,
            notification.referral_id,
            notification.subject_id,
        )
        if key in seen:
            continue
        seen.add(key)
        digest = digests[notification.user_id]
        with translation.override(digest.language):
            found = _item(digest.user, notification)
        if found is not None:
            digest.add(*found)
    for case in due:
        digest = digests[case.record.case_worker_id]  # type: ignore[index]
        if not digest.total or not can(digest.user, "cases.read_case", case):
            continue  # due dates alone send no mail: they come with something new
        with translation.override(digest.language):
            text = _("Record %(number)s (%(district)s): the next contact is due by %(date)s") % {
                **_record(case),
                "date": formats.date_format(case.due_on or today),
            }
        digest.add(
            "due_this_week", Item(text=text, url=absolute_url(reverse("targets:detail", kwargs={"pk": case.pk})))
        )
    return list(digests.values())


TEMPLATES = ("cases/email/digest_subject.txt", "cases/email/digest.txt", "cases/email/digest.html")


def digest_templates() -> list[Any]:
    """The digest's templates, loaded once per run (DEBUG has no cached loader: 10,000 mails would parse them
    30,000 times)."""
    return [get_template(name) for name in TEMPLATES]


def render_digest(digest: Digest, templates: list[Any] | None = None) -> EmailMultiAlternatives:
    subject_template, text_template, html_template = templates or digest_templates()
    with translation.override(digest.language):
        titles = {
            "overdue": pgettext("digest", "Overdue"),
            "due_this_week": pgettext("digest", "Due this week"),
            "waiting": pgettext("digest", "Waiting for your answer"),
            "answered": pgettext("digest", "Referrals answered"),
            "decided": pgettext("digest", "Transfers and merges answered"),
            "assigned": pgettext("digest", "Newly assigned to you"),
        }
        context = {
            "user": digest.user,
            "sections": [
                {
                    "key": key,
                    "title": titles[key],
                    "items": digest.sections[key],
                    "total": digest.totals[key],
                    "more": digest.totals[key] - len(digest.sections[key]),
                }
                for key in SECTIONS
                if digest.totals.get(key)
            ],
            "total": digest.total,
            "inbox_url": absolute_url(_path_of_inbox()),
            "settings_url": absolute_url(_path_of_notifications()),
            "language": digest.language,
        }
        subject = " ".join(subject_template.render(context).split())
        text = text_template.render(context)
        html = html_template.render(context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [digest.user.email])
    message.attach_alternative(html, "text/html")
    return message


def _path_of_inbox() -> str:
    return reverse("cases:inbox")


def _path_of_notifications() -> str:
    return reverse("cases:notifications")


def send_digests(*, today: datetime.date, now: datetime.datetime) -> DigestRun:
    """One mail per person with unmailed notifications up to `now`, then their emailed_at is set. People
    who turned the digest off are left out (their in-app list stays as it is). A mail that fails is
    logged and its notifications stay unmailed, for the next run."""
    run = DigestRun()
    waiting = (
        Notification.objects.filter(emailed_at__isnull=True, created_at__lte=now)
        .exclude(Exists(EmailPreference.objects.filter(user_id=OuterRef("user_id"), daily_digest=False)))
        .values_list("user_id", flat=True)
        .distinct()
        .order_by("user_id")
    )
    mail = MailRun("the daily digest")
    templates = digest_templates()
    for batch in batches(list(waiting), DIGEST_BATCH):
        done: list[int] = list(batch)
        digests = build_digests(batch, today=today, until=now)
        for digest in digests:
            if not digest.total:
                run.settled += 1
                continue
            # A mail that failed, or was not tried once the server seemed down: its notifications wait.
            if mail.gave_up or not mail.send(render_digest(digest, templates), user_id=digest.user.pk):
                done.remove(digest.user.pk)
                run.failed += 1
                continue
            run.sent += 1
        Notification.objects.filter(user_id__in=done, emailed_at__isnull=True, created_at__lte=now).update(
            emailed_at=now
        )
    return run


# --- the daily job --------------------------------------------------------------------------------------------

# pg_try_advisory_lock's key for the daily job: two runs at once (a beat that fired twice, a run by hand)
# must not mail twice.
DAILY_LOCK_KEY = 1_402_001


def daily_lock() -> AbstractContextManager[bool]:
    """Whether this run holds the daily job's lock (False: another run is at work): core.mail_runs."""
    return advisory_lock(DAILY_LOCK_KEY)


@dataclass
class DailyRun:
    due_dates: int
    referrals_flagged: int
    cases_flagged: int
    digests: DigestRun


def run_daily(*, now: datetime.datetime | None = None) -> DailyRun | None:
    """The daily job: due dates, overdue flags, digests. None if another run holds the lock."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    with daily_lock() as ours:
        if not ours:
            logger.info("the daily case job is already running: this run does nothing")
            return None
        with transaction.atomic():
            due_dates = refresh_due_dates()
            referrals, cases = flag_overdue(today=today, now=now)
        digests = send_digests(today=today, now=now)
    return DailyRun(due_dates=due_dates, referrals_flagged=referrals, cases_flagged=cases, digests=digests)
