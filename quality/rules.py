"""The registry of data-quality rules (README.md, "Data quality rules").

Each rule has a code, a name in Thai and English (gettext), a severity, a short "how to fix", and a check: a Q over
TargetRecord (plain columns and Exists subqueries), so that every rule runs as part of one set-based query, never
per record. The same Q
  - lists a rule's records (`records_with`: records.filter(Q));
  - counts every rule at once for a province (`counts`: one query, conditional aggregation);
  - names one record's issues (`issues_of`: the same aggregation over one row).
EEF/IPSR admins switch rules off and set thresholds in admin (quality.models.RuleSetting); `active_rules` reads
those settings in one query.

Adding a rule: append a Rule to RULES with a new code (a slug), and its Thai name and "how to fix" to
locale/th/LC_MESSAGES/django.po."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases.models import Contact
from duplicates.models import DuplicateCandidate
from targets.models import TargetRecord

from .models import RuleSetting

ERROR = "error"
WARNING = "warning"
SEVERITIES = {ERROR: _("error"), WARNING: _("warning")}

# Ages (in whole years, at today's date) that fit each category (targets.reference_data.CATEGORIES). A record of a
# category not named here is checked only for a birth date in the future.
CATEGORY_AGES = {
    "early-childhood": (0, 6),
    "out-of-school": (3, 24),
    "at-risk": (3, 24),
    "poor-student": (3, 24),
    "disability": (0, 24),
    "working-age-youth": (15, 24),
}
# A Thai mobile number as records store it (digits only): 06, 08 or 09 and eight more digits.
THAI_MOBILE = r"^0[689][0-9]{8}$"
FOLLOWING_UP = "in-follow-up"
NOT_FOUND = "not-found"


@dataclass(frozen=True)
class Rule:
    code: str
    name: Promise
    severity: str
    how_to_fix: Promise
    check: Callable[["Context"], Q]  # a condition over TargetRecord
    default_threshold: int | None = None
    threshold_unit: Promise | None = None  # what the threshold counts, e.g. days

    @property
    def severity_label(self) -> Promise:
        return SEVERITIES[self.severity]


@dataclass(frozen=True)
class Context:
    """What a check needs: its threshold (the setting's, else the rule's default) and now."""

    threshold: int | None
    now: datetime.datetime

    @property
    def today(self) -> datetime.date:
        return timezone.localdate(self.now)


def years_before(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` earlier (28 February for a 29 February in a year that has none)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _birth_date_implausible(ctx: Context) -> Q:
    today = ctx.today
    condition = Q(birth_date__gt=today)
    for code, (youngest, oldest) in CATEGORY_AGES.items():
        # Older than `oldest`: born on or before the day `oldest + 1` years ago; younger than `youngest`: born after
        # the day `youngest` years ago.
        implausible = Q(birth_date__lte=years_before(today, oldest + 1))
        if youngest:
            implausible |= Q(birth_date__gt=years_before(today, youngest))
        condition |= Q(category__code=code) & implausible
    return condition


def _phone(ctx: Context) -> Q:
    return Q(phone="") | ~Q(phone__regex=THAI_MOBILE)


def _consent(ctx: Context) -> Q:
    return Q(consent=False)


def _no_recent_contact(ctx: Context) -> Q:
    since = ctx.now - datetime.timedelta(days=ctx.threshold or 0)
    recent = Contact.objects.filter(case_id=OuterRef("pk"), happened_at__gte=since)
    # A record followed up for less than N days is not yet late.
    return Q(status__code=FOLLOWING_UP, created_at__lt=since) & Q(~Exists(recent))


def _not_found_without_failed_contact(ctx: Context) -> Q:
    failed = Contact.objects.filter(case_id=OuterRef("pk"), reached=False)
    return Q(status__code=NOT_FOUND) & Q(~Exists(failed))


def _last_name(ctx: Context) -> Q:
    return Q(last_name="")


def _untouched(ctx: Context) -> Q:
    return Q(updated_at__lt=ctx.now - datetime.timedelta(days=ctx.threshold or 0))


def _probable_duplicate(ctx: Context) -> Q:
    open_pairs = DuplicateCandidate.objects.filter(state=DuplicateCandidate.State.OPEN)
    return Q(Exists(open_pairs.filter(record_a_id=OuterRef("pk")))) | Q(
        Exists(open_pairs.filter(record_b_id=OuterRef("pk")))
    )


DAYS = _("days")

RULES = [
    Rule(
        "birth-date-implausible",
        _("Birth date implausible for the category"),
        ERROR,
        _("Check the birth date (day/month/year in พ.ศ.) and the category, e.g. early childhood is 6 or younger."),
        _birth_date_implausible,
    ),
    Rule(
        "phone-missing-or-malformed",
        _("Phone missing or not a Thai mobile number"),
        WARNING,
        _("Enter a mobile number of 10 digits starting 06, 08 or 09."),
        _phone,
    ),
    Rule(
        "consent-not-noted",
        _("Consent not noted"),
        WARNING,
        _("Ask the family for consent and tick “consent noted” on the record."),
        _consent,
    ),
    Rule(
        "follow-up-without-contact",
        _("Being followed up, with no recent contact"),
        ERROR,
        _("Contact the child or the family and log the contact, or change the status."),
        _no_recent_contact,
        default_threshold=30,
        threshold_unit=DAYS,
    ),
    Rule(
        "not-found-without-failed-contact",
        _("“Not found” without a logged failed contact"),
        ERROR,
        _("Log the attempt that failed (untick “reached”), or correct the status."),
        _not_found_without_failed_contact,
    ),
    Rule(
        "last-name-missing",
        _("Last name missing"),
        WARNING,
        _("Enter the last name as on the ID card or the house registration."),
        _last_name,
    ),
    Rule(
        "untouched-for-a-year",
        _("Record untouched for a long time"),
        WARNING,
        _("Check that the record is still right (status, contact details) and save it."),
        _untouched,
        default_threshold=365,
        threshold_unit=DAYS,
    ),
    Rule(
        "probable-duplicate",
        _("Probable duplicate"),
        WARNING,
        _("Review the pair in the probable duplicates queue: merge them or mark them as different people."),
        _probable_duplicate,
    ),
]
BY_CODE = {rule.code: rule for rule in RULES}


@dataclass(frozen=True)
class ActiveRule:
    """A rule switched on, with the threshold it runs with."""

    rule: Rule
    threshold: int | None

    @property
    def code(self) -> str:
        return self.rule.code

    def condition(self, now: datetime.datetime) -> Q:
        return self.rule.check(Context(threshold=self.threshold, now=now))


def active_rules() -> list[ActiveRule]:
    """The rules switched on, in RULES order, with their thresholds: one query (the settings)."""
    settings = {s.code: s for s in RuleSetting.objects.all()}
    active = []
    for rule in RULES:
        setting = settings.get(rule.code)
        if setting is not None and not setting.enabled:
            continue
        threshold = setting.threshold if setting is not None and setting.threshold is not None else None
        active.append(ActiveRule(rule, threshold if threshold is not None else rule.default_threshold))
    return active


def records_with(records: QuerySet[TargetRecord], rule: ActiveRule, *, now: datetime.datetime | None = None):
    """The records of `records` that `rule` finds: one query when evaluated."""
    return records.filter(rule.condition(now or timezone.now()))


def counts(
    records: QuerySet[TargetRecord], rules: list[ActiveRule], *, now: datetime.datetime | None = None
) -> dict[str, int]:
    """How many of `records` each rule finds: one query (COUNT(*) FILTER (WHERE ...) per rule)."""
    if not rules:
        return {}
    moment = now or timezone.now()
    aggregates: dict[str, Any] = {f"n{i}": Count("pk", filter=r.condition(moment)) for i, r in enumerate(rules)}
    found = records.order_by().aggregate(**aggregates)
    return {r.code: found[f"n{i}"] or 0 for i, r in enumerate(rules)}


def issues_of(record_pk: int, rules: list[ActiveRule], *, now: datetime.datetime | None = None) -> list[ActiveRule]:
    """The rules that find the record: one query."""
    found = counts(TargetRecord.objects.filter(pk=record_pk), rules, now=now)
    return [r for r in rules if found.get(r.code)]
