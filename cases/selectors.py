"""Reads reused by pages, the API, the digest and the benchmark: "my work" (the inbox).

Every read goes through the door (visible_to); each section is one query for its first rows and one
for its count, so the inbox costs the same number of queries at any data size (tests and `make bench`).
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.access import Principal, can, restrict
from targets.models import TargetRecord

from .models import Case, Notification, Referral, ReferralState

ROWS_PER_SECTION = 20
NEW_FOR_DAYS = 7


@dataclass
class Section:
    key: str
    rows: list[Any]
    total: int


@dataclass
class Inbox:
    today: datetime.date
    sections: dict[str, Section] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(section.total for section in self.sections.values())


def _section(key: str, queryset: QuerySet[Any], limit: int) -> Section:
    rows = list(queryset[:limit])
    total = len(rows) if len(rows) < limit else queryset.count()
    return Section(key=key, rows=rows, total=total)


def _my_cases(user: Principal) -> QuerySet[Case]:
    """Open cases of the records assigned to the user (a case worker's own), or of the provinces they
    coordinate (a coordinator's, an EEF/IPSR admin's)."""
    cases = Case.objects.open().select_related("record__status", "record__district", "record__province")
    if can(user, "cases.coordinates_cases"):
        return restrict(cases, user, "cases.coordinated_cases")
    return cases.filter(record__case_worker_id=user.pk)


def inbox(user: Principal, *, today: datetime.date | None = None, limit: int = ROWS_PER_SECTION) -> Inbox:
    """The user's work, most urgent first:

    - overdue: open cases past their due date (no contact in CASES_CONTACT_EVERY_DAYS, or the next
      contact's date passed);
    - due this week: open cases that become overdue within 7 days;
    - referrals waiting: for an agency's side, referrals sent to it and not yet answered;
    - referrals overdue: open referrals past their deadline, on both sides;
    - new: records assigned to a case worker in the last 7 days.
    """
    today = today or timezone.localdate()
    result = Inbox(today=today)
    if not can(user, "cases.inbox"):
        return result
    week = today + datetime.timedelta(days=7)
    works_cases = can(user, "cases.coordinates_cases") or can(user, "cases.works_cases")
    if works_cases:
        cases = _my_cases(user)
        result.sections["overdue"] = _section("overdue", cases.filter(due_on__lt=today).order_by("due_on", "pk"), limit)
        result.sections["due_this_week"] = _section(
            "due_this_week", cases.filter(due_on__gte=today, due_on__lte=week).order_by("due_on", "pk"), limit
        )
    # The child of each listed referral comes by prefetch (two small queries), not by a join: joined, a
    # coordinator's list would read every case of the province to find the few overdue (make bench).
    referrals = Referral.objects.visible_to(user).select_related("agency__type").prefetch_related("case__record")
    if can(user, "cases.agency_user"):
        waiting = restrict(referrals, user, "cases.agency_referrals").filter(state=ReferralState.SENT)
        result.sections["referrals_waiting"] = _section("referrals_waiting", waiting.order_by("deadline", "pk"), limit)
    if not can(user, "cases.coordinates_cases") and can(user, "cases.works_cases"):
        referrals = referrals.filter(case__record__case_worker_id=user.pk)
    overdue_referrals = referrals.overdue(today).order_by("deadline", "pk")
    result.sections["referrals_overdue"] = _section("referrals_overdue", overdue_referrals, limit)
    if can(user, "cases.works_cases") and not can(user, "cases.coordinates_cases"):
        since = timezone.now() - datetime.timedelta(days=NEW_FOR_DAYS)
        new = (
            TargetRecord.objects.visible_to(user)
            .filter(case_worker_id=user.pk, case_assigned_at__gte=since)
            .select_related("status", "district")
            .order_by("-case_assigned_at", "pk")
        )
        result.sections["new"] = _section("new", new, limit)
    return result


def unread_count(user: Principal) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.visible_to(user).unread().count()
