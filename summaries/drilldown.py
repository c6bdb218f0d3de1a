"""Drill-down (issue 17): a province's districts, and a district's sub-districts, side by side.

Per area: its records, those still being followed up, those at an achieved outcome, those that count toward the
provincial plan's goals, and those with at least one data-quality issue (the active rules of quality.rules). The
figures are live, counted from the records the reader sees (TargetRecord.objects.visible_to) in ONE aggregate
query grouped by area, whatever the number of areas or records: every quality rule is a condition of that query
(COUNT(*) FILTER (WHERE rule 1 OR rule 2 ...)), never a query per record or per area.

Goals are set per province (provinces.PlanGoal: a target group and an achieved outcome), not per district: an area
has no goal of its own ("no goal set"); it shows how many of its records count toward the province's goals, and
the province's (or district's) total row sets them against the plan's goal.

Live figures are today's: the province dashboard shows them only with today's figures (not "as of" a past day,
nor for a past fiscal year), and says so (summaries.views.province, _districts.html)."""

import datetime
import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import get_language

from provinces.models import PlanGoal
from quality.rules import ActiveRule
from targets.models import Outcome, TargetRecord

from .figures import Labels, url_with
from .schema import Figures, Progress

# (category pk, outcome pk) -> the goal (people): the plan's goals, each a target group at an achieved outcome.
GoalPairs = dict[tuple[int, int], int]


@dataclass(frozen=True)
class AreaRow:
    """A district or sub-district (key None: records whose area is not recorded) with its live figures."""

    key: int | None
    name: str
    records: int
    in_progress: int
    achieved: int
    toward_goals: int
    with_issue: int
    url: str = ""  # the area's own page (a district's), if any
    records_url: str = ""  # the records list filtered to the area
    quality_url: str = ""  # the province's quality page narrowed to the area (a district's), if any

    @property
    def share_with_issue(self) -> float | None:
        return round(100 * self.with_issue / self.records, 1) if self.records else None


@dataclass(frozen=True)
class AreaTable:
    rows: list[AreaRow]
    total: AreaRow
    goal: Progress  # the records toward the plan's goals against their sum (target 0: the plan sets none)
    rules: int  # how many quality rules are switched on
    counted_at: datetime.datetime


def goal_pairs_of_snapshot(figures: Figures, labels: Labels) -> GoalPairs:
    """The plan's goals as the province's snapshot holds them (by code), by pk: no query."""
    pairs: GoalPairs = {}
    for row in figures.goal_rows:
        category, outcome = labels.pk("category", row.category), labels.pk("outcome", row.outcome)
        if category is not None and outcome is not None and row.target:
            pairs[category, outcome] = pairs.get((category, outcome), 0) + row.target
    return pairs


def plan_goal_pairs(user, *, province: int, fiscal_year: int) -> GoalPairs:
    """The plan's goals of the province for the fiscal year, through the door: one query."""
    rows = (
        PlanGoal.objects.visible_to(user)
        .filter(plan__province_id=province, plan__fiscal_year=fiscal_year, outcome__kind=Outcome.Kind.ACHIEVED)
        .order_by()
        .values_list("category_id", "outcome_id")
        .annotate(target=Sum("target"))
    )
    return {(category, outcome): target for category, outcome, target in rows}


def _name(name_th: str | None, name_en: str | None) -> str:
    if (get_language() or "th").startswith("en") and name_en:
        return name_en
    return name_th or ""


def area_table(
    records: QuerySet[TargetRecord],
    *,
    area: str,
    goals: GoalPairs,
    rules: list[ActiveRule],
    link,
    now: datetime.datetime | None = None,
) -> AreaTable:
    """The records of `records` grouped by `area` ("district" or "sub_district"): one query.

    `link(key)` gives (the area's page, the records list filtered to it) for an area's pk; the row of records
    whose area is not recorded links nowhere (the list has no filter for "not recorded")."""
    moment = now or timezone.now()
    aggregates: dict[str, Any] = {
        "n": Count("pk"),
        "in_progress": Count("pk", filter=Q(status__kind=Outcome.Kind.IN_PROGRESS)),
        "achieved": Count("pk", filter=Q(status__kind=Outcome.Kind.ACHIEVED)),
    }
    if goals:
        toward = reduce(operator.or_, (Q(category_id=c, status_id=o) for c, o in goals))
        aggregates["toward_goals"] = Count("pk", filter=toward)
    if rules:
        # A record with several issues is one record with an issue: the rules' conditions OR-ed, counted once.
        any_issue = reduce(operator.or_, (rule.condition(moment) for rule in rules))
        aggregates["with_issue"] = Count("pk", filter=any_issue)
    found = (
        records.order_by()
        .values(f"{area}_id", f"{area}__name_th", f"{area}__name_en")
        .annotate(**aggregates)
        .order_by(f"{area}_id")  # DOPA order: the "เมือง" district first; not recorded (NULL) last
    )
    rows = []
    for row in found:
        key = row[f"{area}_id"]
        url, records_url, quality_url = link(key) if key is not None else ("", "", "")
        rows.append(
            AreaRow(
                key=key,
                name=_name(row[f"{area}__name_th"], row[f"{area}__name_en"]),
                records=row["n"],
                in_progress=row["in_progress"],
                achieved=row["achieved"],
                toward_goals=row.get("toward_goals", 0),
                with_issue=row.get("with_issue", 0),
                url=url,
                records_url=records_url,
                quality_url=quality_url,
            )
        )
    total = AreaRow(
        key=None,
        name="",
        records=sum(r.records for r in rows),
        in_progress=sum(r.in_progress for r in rows),
        achieved=sum(r.achieved for r in rows),
        toward_goals=sum(r.toward_goals for r in rows),
        with_issue=sum(r.with_issue for r in rows),
    )
    return AreaTable(
        rows=rows,
        total=total,
        goal=Progress(total.toward_goals, sum(goals.values())),
        rules=len(rules),
        counted_at=moment,
    )


def district_links(province: int):
    """(the district's page, the records list of the province filtered to the district, the province's quality
    page narrowed to the district) for a district's pk."""

    def link(district: int) -> tuple[str, str, str]:
        return (
            url_with("summaries:district", code=province, district=district),
            url_with("targets:list", {"province": province, "district": district}),
            url_with("quality:province", {"district": district}, code=province),
        )

    return link


def sub_district_links(province: int, district: int):
    """(no page of its own, the records list filtered to the sub-district, no quality page of its own) for a
    sub-district's pk."""

    def link(sub_district: int) -> tuple[str, str, str]:
        query = {"province": province, "district": district, "sub_district": sub_district}
        return "", url_with("targets:list", query), ""

    return link


def district_table(user, *, province: int, goals: GoalPairs, rules: list[ActiveRule]) -> AreaTable:
    """The province's districts, from the records `user` sees: one query."""
    records = TargetRecord.objects.visible_to(user).filter(province_id=province)
    return area_table(records, area="district", goals=goals, rules=rules, link=district_links(province))


def sub_district_table(user, *, province: int, district: int, goals: GoalPairs, rules: list[ActiveRule]) -> AreaTable:
    """The district's sub-districts, from the records `user` sees: one query."""
    records = TargetRecord.objects.visible_to(user).filter(province_id=province, district_id=district)
    link = sub_district_links(province, district)
    return area_table(records, area="sub_district", goals=goals, rules=rules, link=link)
