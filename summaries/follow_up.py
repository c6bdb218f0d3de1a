"""The case follow-up figures of a summary run (issue 14): four aggregate queries for every province.

Medians are taken from histograms: the database groups cases (and completed referrals) by province
and by whole days, and Python takes the median of the counts. A histogram adds up, so a university's
and the nation's medians come from their provinces' histograms without another query, and the method
is the same on PostgreSQL and on SQLite (`make run`): one path, no percentile_cont beside a Python
copy. Days are calendar days in Thailand's time (Asia/Bangkok): a contact on the record's first day
is 0 days. What each figure counts is README.md's "What the figures count".
"""

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, DurationField, ExpressionWrapper, Q
from django.db.models.functions import TruncDate

from cases.models import OPEN_REFERRAL_STATES, Case, Referral, ReferralState

from .schema import CaseFigures, ReferralCounts

UNRESOLVED = (ReferralState.DECLINED.value, ReferralState.CLOSED_UNRESOLVED.value)


@dataclass
class ReferralTally:
    open: int = 0
    overdue: int = 0
    completed: int = 0
    unresolved: int = 0
    days_to_complete: Counter[int] = field(default_factory=Counter)  # whole days -> completed referrals

    def add(self, other: "ReferralTally") -> None:
        self.open += other.open
        self.overdue += other.overdue
        self.completed += other.completed
        self.unresolved += other.unresolved
        self.days_to_complete.update(other.days_to_complete)

    def typed(self) -> ReferralCounts:
        return ReferralCounts(
            open=self.open,
            overdue=self.overdue,
            completed=self.completed,
            unresolved=self.unresolved,
            median_days_to_complete=median(self.days_to_complete),
        )


@dataclass
class CaseTally:
    """One subject's case figures while a run adds them up (summaries.compute keeps one per province)."""

    in_follow_up: int = 0
    contacted_30d: int = 0
    waiting_first_contact: int = 0
    days_to_first_contact: Counter[int] = field(default_factory=Counter)  # whole days -> records
    closed_by_reason: Counter[str] = field(default_factory=Counter)
    referrals: dict[str, ReferralTally] = field(default_factory=dict)  # AgencyType.code -> tally

    def referral(self, agency_type: str) -> ReferralTally:
        return self.referrals.setdefault(agency_type, ReferralTally())

    def add(self, other: "CaseTally") -> None:
        self.in_follow_up += other.in_follow_up
        self.contacted_30d += other.contacted_30d
        self.waiting_first_contact += other.waiting_first_contact
        self.days_to_first_contact.update(other.days_to_first_contact)
        self.closed_by_reason.update(other.closed_by_reason)
        for code, tally in other.referrals.items():
            self.referral(code).add(tally)

    def typed(self) -> CaseFigures:
        every = ReferralTally()
        for tally in self.referrals.values():
            every.add(tally)
        return CaseFigures(
            in_follow_up=self.in_follow_up,
            contacted_30d=self.contacted_30d,
            waiting_first_contact=self.waiting_first_contact,
            with_first_contact=sum(self.days_to_first_contact.values()),
            median_days_to_first_contact=median(self.days_to_first_contact),
            closed_by_reason=dict(sorted(self.closed_by_reason.items())),
            referrals=every.typed(),
            referrals_by_agency_type={code: self.referrals[code].typed() for code in sorted(self.referrals)},
        )


def rollup(parts: Iterable[CaseTally]) -> CaseTally:
    total = CaseTally()
    for part in parts:
        total.add(part)
    return total


def median(histogram: Counter[int]) -> float | None:
    """The median of the values counted in `histogram` (value -> how many), as percentile_cont(0.5)
    gives it: the middle value, or the mean of the two middle ones; None when nothing is counted."""
    n = sum(histogram.values())
    if not n:
        return None
    wanted = sorted({(n - 1) // 2, n // 2})  # the positions of the middle value(s), from 0
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return round(sum(found) / len(found), 1)


def _days(later: str, earlier: str) -> ExpressionWrapper:
    """Calendar days (in the current time zone, Asia/Bangkok) from `earlier` to `later`, as an interval
    on PostgreSQL and microseconds on SQLite: Django gives a timedelta either way."""
    return ExpressionWrapper(TruncDate(later) - TruncDate(earlier), output_field=DurationField())


def _whole_days(value: datetime.timedelta | None) -> int:
    # A contact recorded as before the record existed (a record uploaded after the visit) counts as 0 days.
    return max(0, value.days) if value is not None else 0


def gather(*, now: datetime.datetime, today: datetime.date) -> dict[int, CaseTally]:
    """Every province's case figures (province code -> tally), in four queries whatever the data."""
    found: dict[int, CaseTally] = {}

    def of(code: int) -> CaseTally:
        return found.setdefault(code, CaseTally())

    # 1: cases by province and close reason ("" for the open ones, as the constraint keeps it), with the
    # open ones assigned to a case worker, contacted in the last 30 days, and never contacted.
    assigned = Q(record__case_worker__isnull=False)
    for code, reason, n, in_follow_up, contacted, waiting in (
        Case.objects.order_by()
        .values_list("province_id", "close_reason")
        .annotate(
            n=Count("*"),
            in_follow_up=Count("pk", filter=assigned),
            contacted=Count("pk", filter=assigned & Q(last_contact_at__gte=now - datetime.timedelta(days=30))),
            waiting=Count("pk", filter=assigned & Q(first_contact_at__isnull=True)),
        )
    ):
        tally = of(code)
        if reason:
            tally.closed_by_reason[reason] += n
        else:
            tally.in_follow_up += in_follow_up
            tally.contacted_30d += contacted
            tally.waiting_first_contact += waiting

    # 2: cases with a first contact, by province and days from the record's creation to it.
    for code, days, n in (
        Case.objects.filter(first_contact_at__isnull=False)
        .order_by()
        .annotate(days=_days("first_contact_at", "record__created_at"))
        .values_list("province_id", "days")
        .annotate(n=Count("*"))
    ):
        of(code).days_to_first_contact[_whole_days(days)] += n

    # 3: referrals by the case's province, the agency's type and state (overdue: open past the deadline).
    for code, agency_type, state, n, overdue in (
        Referral.objects.order_by()
        .values_list("case__province_id", "agency__type__code", "state")
        .annotate(n=Count("*"), overdue=Count("pk", filter=Q(state__in=OPEN_REFERRAL_STATES, deadline__lt=today)))
    ):
        referrals = of(code).referral(agency_type)
        referrals.overdue += overdue
        if state in OPEN_REFERRAL_STATES:
            referrals.open += n
        elif state == ReferralState.COMPLETED:
            referrals.completed += n
        elif state in UNRESOLVED:
            referrals.unresolved += n

    # 4: completed referrals by province, agency type and days from sent to completed.
    for code, agency_type, days, n in (
        Referral.objects.filter(state=ReferralState.COMPLETED, finished_at__isnull=False)
        .order_by()
        .annotate(days=_days("finished_at", "sent_at"))
        .values_list("case__province_id", "agency__type__code", "days")
        .annotate(n=Count("*"))
    ):
        of(code).referral(agency_type).days_to_complete[_whole_days(days)] += n
    return found
