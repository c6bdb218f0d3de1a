"""The weekly digest of a provincial coordinator (Monday morning: digests.tasks.weekly): for each province they
coordinate, and nothing of any other,

- quality issues new this week: the rules are conditions computed over the records, not events, so "new" means
  the records a rule finds now among those added or changed in the last 7 days, per rule, each linked to the
  province's quality page of that rule (quality.rules.counts over those records: one query for all);
- overdue follow-ups: open cases past their due date (cases.digest keeps the due dates), each linked to its
  record, the rest on the inbox;
- open action items of meetings that the coordinator or their province owns;
- reports due: drafts whose period's submission has opened, and the current quarter's report not started once
  its submission has opened;
- the next meeting the coordinator may see.

Built for a batch of people at once in a fixed number of queries: the people, their languages, their scopes
(accounts.access.prime_scopes, supporting universities included), then one read per list over all of the
batch's provinces; each person's share is then taken through the door (`can`), never by a query of their own.
"""

import datetime
from collections import defaultdict
from typing import Any

from django.db.models import Count, F, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.access import can, own_provinces, own_universities, prime_scopes
from accounts.models import Role, User
from cases.models import Case
from core.buddhist_dates import current_fiscal_year
from core.mail_runs import absolute_url
from core.periods import Period, quarter_of
from core.templatetags.thai_dates import be_date
from meetings.models import ActionItem, Kind, Meeting
from provinces.models import Province
from quality.rules import ActiveRule, active_rules
from reports.models import ProgressReport, Status, submission_opens
from targets.models import TargetRecord
from universities.models import SupportAssignment

from .mailing import ITEMS_PER_SECTION, Digest, Item, Section, people_of

NEW_FOR_DAYS = 7
HALF_OF = {"Q1": "H1", "Q2": "H1", "Q3": "H2", "Q4": "H2"}


def build(user_ids: list[int], *, now: datetime.datetime) -> list[Digest]:
    """The weekly digests of a batch of people (one per active person with an address)."""
    today = timezone.localdate(now)
    users, languages = people_of(user_ids)
    prime_scopes(users, supporting=True)
    # Each person's provinces: those they coordinate (the door's answer from the primed scope, no query).
    provinces_of = {u.pk: sorted(own_provinces(u, write=True)) if can(u, "cases.weekly_digest") else [] for u in users}
    codes = sorted({code for held in provinces_of.values() for code in held})
    reads = _Reads(users=users, codes=codes, today=today, now=now)
    digests = []
    for user in users:
        with translation.override(languages[user.pk]):
            digests.append(_digest(user, languages[user.pk], provinces_of[user.pk], reads, today))
    return digests


class _Reads:
    """What a batch's digests list, read once for all of the batch's provinces (the comments name the queries)."""

    def __init__(self, *, users: list[User], codes: list[int], today: datetime.date, now: datetime.datetime) -> None:
        # The provinces' names.
        self.provinces = {p.pk: p for p in Province.objects.filter(pk__in=codes)}
        # The rule settings; then every rule counted at once over the records changed this week, per province.
        self.rules = active_rules()
        since = now - datetime.timedelta(days=NEW_FOR_DAYS)
        changed = TargetRecord.objects.filter(updated_at__gte=since)
        self.quality = _counts_by_province(changed, codes, self.rules, now) if codes and self.rules else {}
        # Overdue open cases: the first ITEMS_PER_SECTION of each province, and how many there are, in one query.
        self.overdue: dict[int, list[Any]] = defaultdict(list)
        cases = (
            Case.objects.open()
            .filter(province_id__in=codes, due_on__lt=today)
            .select_related("record__district")
            .annotate(
                rank=Window(RowNumber(), partition_by=[F("province_id")], order_by=[F("due_on"), F("pk")]),
                of=Window(Count("pk"), partition_by=[F("province_id")]),
            )
            .filter(rank__lte=ITEMS_PER_SECTION)
            .order_by("province_id", "due_on", "pk")
        )
        for case in cases if codes else []:
            self.overdue[case.province_id].append(case)
        # Open action items owned by the people or their provinces, with their meetings' provinces and
        # universities (three queries), for the door's per-item answer.
        self.actions = list(
            ActionItem.objects.open()
            .filter(Q(owner_user_id__in=[u.pk for u in users]) | Q(owner_province_id__in=codes))
            .select_related("meeting", "owner_province")
            .prefetch_related("meeting__provinces", "meeting__universities")
            .order_by(F("due_date").asc(nulls_last=True), "pk")
        )
        # Reports: drafts, and this fiscal year's of the current quarter and its half (one query).
        self.fiscal_year = current_fiscal_year()
        self.quarter = quarter_of(today)
        self.current = current = [self.quarter, HALF_OF[self.quarter]]
        self.reports: dict[int, list[ProgressReport]] = defaultdict(list)
        if codes:
            for report in (
                ProgressReport.objects.filter(province_id__in=codes)
                .filter(Q(status=Status.DRAFT) | Q(fiscal_year=self.fiscal_year, period__in=current))
                .order_by("fiscal_year", "period", "pk")
            ):
                self.reports[report.province_id].append(report)
        # Upcoming meetings that may concern the batch: national ones, their provinces', and their provinces'
        # supporting universities' or their own (three queries); the door decides per person.
        readable = sorted({code for u in users for code in own_provinces(u)})
        universities = sorted({pk for u in users for pk in own_universities(u)})
        supporting = SupportAssignment.objects.for_fiscal_year(self.fiscal_year).filter(province_id__in=readable)
        concerned = (
            Q(kind=Kind.NATIONAL)
            | Q(provinces__in=readable)
            | Q(universities__in=Subquery(supporting.values("university_id")))
            | Q(universities__in=universities)
        )
        self.meetings = list(
            Meeting.objects.upcoming(today)
            .filter(pk__in=Meeting.objects.filter(concerned).values("pk"))
            .prefetch_related("provinces", "universities")
            .order_by("starts_on", F("start_time").asc(nulls_first=True), "pk")
        )


def _counts_by_province(
    records: Any, codes: list[int], rules: list[ActiveRule], now: datetime.datetime
) -> dict[int, dict[str, int]]:
    """quality.rules.counts for each province at once: the same conditional aggregation, grouped by province."""
    found: dict[int, dict[str, int]] = {}
    # quality.rules.counts aggregates one queryset; grouped by province it is the same COUNT(*) FILTER per rule.
    grouped = records.filter(province_id__in=codes).order_by().values("province_id")
    aggregates = {f"n{i}": Count("pk", filter=rule.condition(now)) for i, rule in enumerate(rules)}
    for row in grouped.annotate(**aggregates):
        found[row["province_id"]] = {rule.code: row[f"n{i}"] or 0 for i, rule in enumerate(rules)}
    return found


def _digest(user: User, language: str, codes: list[int], reads: _Reads, today: datetime.date) -> Digest:
    digest = Digest(user=user, language=language)
    if not codes:
        return digest
    provinces = [reads.provinces[code] for code in codes if code in reads.provinces]
    sections = [
        _quality(user, provinces, reads),
        _overdue(user, provinces, reads),
        _actions(user, reads),
        _reports(user, provinces, reads, today),
    ]
    meeting = next((m for m in reads.meetings if can(user, "meetings.read_loaded", m)), None)
    digest.context = {
        "provinces": [p.name for p in provinces],
        "sections": [s for s in sections if s.total],
        "meeting": _meeting(meeting) if meeting is not None else None,
        "week_start": be_date(today - datetime.timedelta(days=NEW_FOR_DAYS)),
        "today": be_date(today),
        "total": sum(s.total for s in sections),
    }
    digest.empty = not digest.context["sections"] and meeting is None
    return digest


def _quality(user: User, provinces: list[Province], reads: _Reads) -> Section:
    section = Section(
        key="quality",
        title=pgettext("digest", "Data quality issues new this week"),
        note=_(
            "Records added or changed in the last 7 days that a data-quality rule finds now, by rule; "
            "each link opens the province's list of that rule's records."
        ),
    )
    for province in provinces:
        if not can(user, "quality.read", province.pk):
            continue
        found = reads.quality.get(province.pk, {})
        for rule in reads.rules:
            count = found.get(rule.code, 0)
            if not count:
                continue
            text = _("%(province)s · %(rule)s: %(count)s records") % {
                "province": province.name,
                "rule": rule.rule.name,
                "count": count,
            }
            url = reverse("quality:rule_records", kwargs={"code": province.pk, "rule": rule.code})
            section.add(Item(text=text, url=absolute_url(url)))
        if not section.more_url:
            section.more_url = absolute_url(reverse("quality:province", kwargs={"code": province.pk}))
    return section


def _overdue(user: User, provinces: list[Province], reads: _Reads) -> Section:
    section = Section(
        key="overdue",
        title=pgettext("digest", "Overdue follow-ups"),
        more_url=absolute_url(reverse("cases:inbox")),
    )
    for province in provinces:
        cases = [case for case in reads.overdue.get(province.pk, []) if can(user, "cases.read_case", case)]
        for case in cases:
            district = case.record.district
            text = _("%(province)s · record %(number)s (%(district)s): a contact was due by %(date)s") % {
                "province": province.name,
                "number": case.pk,
                "district": district.name if district else "-",
                "date": be_date(case.due_on),
            }
            section.add(Item(text=text, url=absolute_url(reverse("targets:detail", kwargs={"pk": case.pk}))))
        if cases:
            section.total += cases[0].of - len(cases)  # those past the first ITEMS_PER_SECTION of the province
    return section


def _actions(user: User, reads: _Reads) -> Section:
    section = Section(
        key="actions",
        title=pgettext("digest", "Open action items"),
        more_url=absolute_url(reverse("meetings:actions")),
    )
    for item in reads.actions:
        if not (can(user, "meetings.action_item.own", item) and can(user, "meetings.read_loaded", item.meeting)):
            continue
        about = {"what": str(item), "meeting": item.meeting.title}
        if item.due_date is not None:
            about["date"] = be_date(item.due_date)
            if item.due_date < timezone.localdate():
                text = _("%(what)s (%(meeting)s): overdue since %(date)s") % about
            else:
                text = _("%(what)s (%(meeting)s): due by %(date)s") % about
        else:
            text = _("%(what)s (%(meeting)s)") % about
        url = reverse("meetings:detail", kwargs={"pk": item.meeting_id})
        section.add(Item(text=text, url=absolute_url(url)))
    return section


def _reports(user: User, provinces: list[Province], reads: _Reads, today: datetime.date) -> Section:
    section = Section(
        key="reports",
        title=pgettext("digest", "Reports due"),
        note=_("Drafts whose period is open for submission, and the current quarter's report once it opens."),
    )
    periods = dict(Period.choices)
    for province in provinces:
        if not can(user, "reports.file", province.pk):
            continue
        reports = reads.reports.get(province.pk, [])
        for report in reports:
            if report.status != Status.DRAFT or submission_opens(report.fiscal_year, report.period) > today:
                continue
            text = _("%(province)s · %(period)s %(year)s: a draft to submit") % {
                "province": province.name,
                "period": periods[report.period],
                "year": report.fiscal_year,
            }
            url = reverse("reports:detail", kwargs={"pk": report.pk})
            section.add(Item(text=text, url=absolute_url(url)))
        started = any(r.fiscal_year == reads.fiscal_year and r.period in reads.current for r in reports)
        if not started and submission_opens(reads.fiscal_year, reads.quarter) <= today:
            text = _("%(province)s · %(period)s %(year)s: not started") % {
                "province": province.name,
                "period": periods[reads.quarter],
                "year": reads.fiscal_year,
            }
            url = reverse("reports:list") + f"?province={province.pk}&fiscal_year={reads.fiscal_year}"
            section.add(Item(text=text, url=absolute_url(url)))
    if section.total:
        section.more_url = absolute_url(reverse("reports:list"))
    return section


def _meeting(meeting: Meeting) -> Item:
    when = be_date(meeting.starts_on)
    if meeting.start_time is not None:
        when += " " + formats.time_format(meeting.start_time)
    text = _("%(title)s, %(when)s") % {"title": meeting.title, "when": when}
    if meeting.venue:
        text += " · " + meeting.venue
    return Item(text=text, url=absolute_url(reverse("meetings:detail", kwargs={"pk": meeting.pk})))


WEEKLY_ROLES = frozenset({Role.PROVINCE_COORDINATOR})
