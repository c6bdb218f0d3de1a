"""A province's data-quality score (README.md, "The quality score"): the share of its records that no rule switched on
finds, out of all its records (every rule looks at every record of the province).

`tally` counts, for every province at once, its records and those that at least one rule switched on finds: one
query (COUNT(*) and COUNT(*) FILTER (WHERE rule 1 OR rule 2 OR ...)), so a record found by several rules counts once.
summaries.compute stores the counts in each snapshot; the score is derived from them (`score`), so a rollup (a
university, the nation) adds up counts, never averages scores."""

import datetime
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from targets.models import TargetRecord

from .rules import ActiveRule, active_rules


@dataclass(frozen=True)
class Tally:
    """One province's records (`checked`) and those found by at least one rule (`flagged`)."""

    checked: int
    flagged: int


def flagged_condition(rules: list[ActiveRule], now: datetime.datetime) -> Q | None:
    """A record found by any of `rules` (None when no rule is switched on: nothing is found)."""
    if not rules:
        return None
    return reduce(or_, (rule.condition(now) for rule in rules))


def tally(
    records: QuerySet[TargetRecord] | None = None,
    *,
    rules: list[ActiveRule] | None = None,
    now: datetime.datetime | None = None,
) -> dict[int, Tally]:
    """Province code -> its tally, over `records` (default: all): one query, and one more for the rules' settings
    when `rules` is not given."""
    rules = active_rules() if rules is None else rules
    condition = flagged_condition(rules, now or timezone.now())
    rows = (records if records is not None else TargetRecord.objects.all()).order_by().values("province_id")
    if condition is None:
        return {row["province_id"]: Tally(row["checked"], 0) for row in rows.annotate(checked=Count("*"))}
    counted = rows.annotate(checked=Count("*"), flagged=Count("pk", filter=condition))
    return {row["province_id"]: Tally(row["checked"], row["flagged"]) for row in counted}


def score(checked: int, flagged: int) -> float | None:
    """The share (%) of the records checked that no rule finds, to one decimal; None without records. Rounded
    down, so that 100.0 means that no record at all is found (99.96% shows 99.9)."""
    if not checked:
        return None
    return (1000 * (checked - flagged) // checked) / 10
