"""Every figure of a progress summary, for all provinces, universities and the nation at once.

A constant number of aggregate queries, whatever the number of provinces or records: never a query
per province or per record. `Count("*")` rather than Count("id") lets PostgreSQL answer the record
counts from the covering index target_record_summary_idx (province, category, status) alone. What
each figure counts is README.md's "What the figures count"; the result is typed by summaries.schema.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from core.buddhist_dates import fiscal_year_bounds, fiscal_year_of
from core.periods import quarter_of
from duplicates import figures as duplicate_figures
from meetings.models import ActionItem, Meeting
from provinces.models import PlanGoal
from quality import score as quality_score
from quality.rules import active_rules
from reports.models import ProgressReport
from targets.models import Assistance, AssistanceType, Category, Outcome, TargetRecord, UploadBatch
from transfers import figures as transfer_figures
from universities.models import CapacityRequest, SupportActivity, SupportAssignment, University

from . import follow_up, schema
from .schema import Figures

RETURNED = Outcome.Group.RETURNED_TO_LEARNING.value
KEPT = Outcome.Group.KEPT_IN_SCHOOL.value
NO_GROUP = Outcome.Group.OTHER.value
HEADLINES = (RETURNED, KEPT)
# Where a record stands, for the charts: an achieved outcome's headline group (or "other_achieved"),
# else its kind ("in_progress", "exited"). Records in progress or exited never count toward a goal.
OTHER_ACHIEVED = "other_achieved"
BUCKETS = (RETURNED, KEPT, OTHER_ACHIEVED, Outcome.Kind.IN_PROGRESS.value, Outcome.Kind.EXITED.value)


def bucket_of(kind: str, group: str) -> str:
    if kind != Outcome.Kind.ACHIEVED:
        return kind
    return group if group in HEADLINES else OTHER_ACHIEVED


def _tree():
    return defaultdict(int)


def current_period(today: datetime.date) -> str:
    """The quarter of the fiscal year that `today` falls in (Q1 = Oct–Dec)."""
    return quarter_of(today)


@dataclass(frozen=True)
class Summary:
    """Every subject's figures of one run, of schema `version`."""

    provinces: dict[int, Figures]  # province code -> figures
    universities: dict[int, Figures]  # university id -> figures
    national: Figures
    period: str  # the current period of the fiscal year (Q4 for a past year)
    version: int = schema.SCHEMA_VERSION


def compute(*, fiscal_year: int, now: datetime.datetime | None = None) -> Summary:
    """The figures of every programme province (and any with records), every university and the nation."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    year_start, year_end = fiscal_year_bounds(fiscal_year)
    period = current_period(today) if fiscal_year_of(today) == fiscal_year else "Q4"

    # 1-3: the small reference tables (codes, outcome kinds and headline groups).
    categories = dict(Category.objects.values_list("pk", "code"))
    outcomes = {
        pk: (code, kind, group) for pk, code, kind, group in Outcome.objects.values_list("pk", "code", "kind", "group")
    }
    # Achieved outcomes only (goals stand on nothing else): code -> headline group.
    goal_groups = {code: group for code, kind, group in outcomes.values() if kind == Outcome.Kind.ACHIEVED}
    help_types = dict(AssistanceType.objects.values_list("pk", "code"))

    # 4: which universities support which provinces this year (the programme).
    assignments = list(
        SupportAssignment.objects.for_fiscal_year(fiscal_year).values_list("province_id", "university_id", "is_lead")
    )
    programme = sorted({p for p, _, _ in assignments})
    provinces = {code: _empty() for code in programme}

    def province(code):
        if code not in provinces:
            provinces[code] = _empty()
        return provinces[code]

    # 5: records by province, category and status (the covering index answers it).
    for code, category_id, status_id, n in (
        TargetRecord.objects.order_by().values_list("province_id", "category_id", "status_id").annotate(n=Count("*"))
    ):
        figures = province(code)["records"]
        category = categories[category_id]
        status, kind, group = outcomes[status_id]
        bucket = bucket_of(kind, group)
        figures["total"] += n
        figures["by_category"][category] += n
        figures["by_status"][status] += n
        figures["by_kind"][kind] += n
        figures["by_bucket"][bucket] += n
        figures["by_category_bucket"][category][bucket] += n
        figures["by_category_status"][category][status] += n

    # 6: recent changes and data completeness, one pass over the records.
    since = now - datetime.timedelta(days=30)
    for row in (
        TargetRecord.objects.order_by()
        .values("province_id")
        .annotate(
            changed=Count("pk", filter=Q(updated_at__gte=since)),
            no_birth_date=Count("pk", filter=Q(birth_date__isnull=True)),
            no_sex=Count("pk", filter=Q(sex="")),
            no_address=Count("pk", filter=Q(sub_district__isnull=True)),
            incomplete=Count("pk", filter=Q(birth_date__isnull=True) | Q(sex="") | Q(sub_district__isnull=True)),
        )
    ):
        figures = province(row["province_id"])
        figures["changed_30d"] = row["changed"]
        figures["completeness"].update(
            missing_birth_date=row["no_birth_date"],
            missing_sex=row["no_sex"],
            missing_address=row["no_address"],
            incomplete=row["incomplete"],
        )

    # 7: the last applied upload of each province.
    for code, last in (
        UploadBatch.objects.filter(status=UploadBatch.Status.APPLIED)
        .order_by()
        .values_list("province_id")
        .annotate(last=Max("applied_at"))
    ):
        province(code)["completeness"]["last_upload"] = last.isoformat() if last else None

    # 8: help given, by type.
    for code, type_id, n in (
        Assistance.objects.order_by().values_list("record__province_id", "type_id").annotate(n=Count("*"))
    ):
        province(code)["help_by_type"][help_types[type_id]] += n

    # 9: the plan's goals of the year, each a category and one achieved outcome (save_plan allows no
    # other; the filter keeps an outcome whose kind an admin changed since from counting).
    for code, category_id, outcome_id, target in (
        PlanGoal.objects.filter(plan__fiscal_year=fiscal_year, outcome__kind=Outcome.Kind.ACHIEVED)
        .order_by()
        .values_list("plan__province_id", "category_id", "outcome_id")
        .annotate(target=Sum("target"))
    ):
        province(code)["goals"][categories[category_id]][outcomes[outcome_id][0]] += target

    # 10: progress reports of the year, by period and status.
    for code, report_period, status, n in (
        ProgressReport.objects.filter(fiscal_year=fiscal_year)
        .order_by()
        .values_list("province_id", "period", "status")
        .annotate(n=Count("*"))
    ):
        figures = province(code)["reports"]
        figures["by_status"][status] += n
        if report_period == period and status != "draft":
            figures["current_period_in"] = True

    # 11: support activities of the year, by province, university and role.
    activities_by_university: defaultdict[int, defaultdict[str, int]] = defaultdict(_tree)
    for code, university_id, role, n in (
        SupportActivity.objects.filter(date__range=(year_start, year_end))
        .order_by()
        .values_list("province_id", "university_id", "role")
        .annotate(n=Count("*"))
    ):
        province(code)["activities_by_role"][str(role)] += n
        activities_by_university[university_id][str(role)] += n

    # 12: capacity requests, by province, university and status (with overdue and ratings).
    requests_by_university: defaultdict[int, dict[str, int]] = defaultdict(_requests)
    for code, university_id, status, n, overdue, rating_sum, rated in (
        CapacityRequest.objects.order_by()
        .values_list("province_id", "university_id", "status")
        .annotate(
            n=Count("*"),
            overdue=Count("pk", filter=Q(status__in=CapacityRequest.OPEN_STATUSES, desired_date__lt=today)),
            rating_sum=Sum("rating"),
            rated=Count("rating"),
        )
    ):
        for figures in (province(code)["requests"], requests_by_university[university_id]):
            _add_requests(figures, status, n, overdue, rating_sum, rated)

    # 13-14: meetings held in the year, by province and by university concerned.
    held = Q(meeting__status=Meeting.Status.HELD, meeting__starts_on__range=(year_start, year_end))
    for code, n in (
        Meeting.provinces.through.objects.filter(held).order_by().values_list("province_id").annotate(n=Count("*"))
    ):
        province(code)["meetings_held"] = n
    meetings_by_university = dict(
        Meeting.universities.through.objects.filter(held).order_by().values_list("university_id").annotate(n=Count("*"))
    )

    # 15: action items open and overdue, by owning province and owning university.
    items_by_university: defaultdict[int, dict[str, int]] = defaultdict(lambda: {"open": 0, "overdue": 0})
    for code, university_id, n, overdue in (
        ActionItem.objects.filter(status=ActionItem.Status.OPEN)
        .order_by()
        .values_list("owner_province_id", "owner_university_id")
        .annotate(n=Count("*"), overdue=Count("pk", filter=Q(due_date__lt=today)))
    ):
        if code is not None:
            figures = province(code)["action_items"]
            figures["open"] += n
            figures["overdue"] += overdue
        if university_id is not None:
            items_by_university[university_id]["open"] += n
            items_by_university[university_id]["overdue"] += overdue

    # 16-19: case follow-up (summaries.follow_up), four queries.
    for code, tally in follow_up.gather(now=now, today=today).items():
        province(code)["cases"] = tally

    # 20-21: one child, one record: the fiscal year's moves between provinces, each counted in the province it
    # left and the one it joined; probable duplicate pairs open now.
    for (code, year, quarter), moves in transfer_figures.transfers_by_quarter().items():
        if year == fiscal_year:
            one_record = province(code)["one_record"]
            one_record["transfers_in"][quarter] += moves["in"]
            one_record["transfers_out"][quarter] += moves["out"]
    for code, pairs in duplicate_figures.open_by_province().items():
        province(code)["one_record"]["duplicates_open"] = pairs

    # 22-23: the data-quality score's counts (quality.score): the rules switched on, then every province's records
    # and those any of them finds, in one query.
    rules = active_rules()
    for code, found in quality_score.tally(rules=rules, now=now).items():
        province(code)["quality"].update(checked=found.checked, flagged=found.flagged)

    for figures in provinces.values():
        figures["quality"]["rules"] = len(rules)
        figures["goal_rows"] = _goal_rows(figures, goal_groups)
        _derive(figures, period)

    # Universities roll up the provinces they support this fiscal year; their own work is their own.
    universities = {}
    supported = defaultdict(set)
    for code, university_id, _lead in assignments:
        supported[university_id].add(code)
    for university_id in University.objects.values_list("pk", flat=True):  # 24
        rollup = _rollup([provinces[c] for c in sorted(supported[university_id]) if c in provinces], period)
        rollup["provinces"] = sorted(supported[university_id])
        rollup["leads"] = sorted(c for c, u, lead in assignments if u == university_id and lead)
        rollup["own"] = {
            "activities_by_role": dict(activities_by_university[university_id]),
            "requests": requests_by_university[university_id],
            "meetings_held": meetings_by_university.get(university_id, 0),
            "action_items": items_by_university[university_id],
        }
        _finish_requests(rollup["own"]["requests"])
        universities[university_id] = rollup

    national = _rollup(list(provinces.values()), period)
    national["provinces"] = programme
    return Summary(
        provinces={code: _typed(figures) for code, figures in provinces.items()},
        universities={pk: _typed(figures) for pk, figures in universities.items()},
        national=_typed(national),
        period=period,
    )


# --- the shape of the figures ---------------------------------------------------------------------


def _requests():
    return {"open": 0, "overdue": 0, "delivered": 0, "declined": 0, "total": 0, "rating_sum": 0, "rated": 0}


def _add_requests(figures: dict, status: str, n: int, overdue: int, rating_sum, rated: int) -> None:
    figures["total"] += n
    figures["overdue"] += overdue
    if status in CapacityRequest.OPEN_STATUSES:
        figures["open"] += n
    elif status in (CapacityRequest.Status.DELIVERED, CapacityRequest.Status.CLOSED):
        figures["delivered"] += n
    elif status == CapacityRequest.Status.DECLINED:
        figures["declined"] += n
    figures["rating_sum"] += rating_sum or 0
    figures["rated"] += rated


def _finish_requests(figures: dict) -> None:
    rated = figures["rated"]
    figures["mean_rating"] = round(figures["rating_sum"] / rated, 2) if rated else None


def _empty() -> dict:
    return {
        "records": {
            "total": 0,
            "by_category": defaultdict(int),
            "by_status": defaultdict(int),
            "by_kind": defaultdict(int),
            "by_bucket": defaultdict(int),
            "by_category_bucket": defaultdict(_tree),
            "by_category_status": defaultdict(_tree),
        },
        "goals": defaultdict(_tree),
        "help_by_type": defaultdict(int),
        "changed_30d": 0,
        "completeness": {
            "missing_birth_date": 0,
            "missing_sex": 0,
            "missing_address": 0,
            "incomplete": 0,
            "last_upload": None,
        },
        "reports": {"by_status": defaultdict(int), "current_period_in": False},
        "activities_by_role": defaultdict(int),
        "requests": _requests(),
        "meetings_held": 0,
        "action_items": {"open": 0, "overdue": 0},
        "cases": follow_up.CaseTally(),
        "one_record": {"transfers_in": defaultdict(int), "transfers_out": defaultdict(int), "duplicates_open": 0},
        "quality": {"checked": 0, "flagged": 0, "rules": 0},
    }


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _goal_rows(figures: dict, goal_groups: dict[str, str]) -> list[dict]:
    """A province's goals one by one: its records of the goal's category whose status is the goal's
    outcome, against the goal. Nothing else counts (not another category, not another outcome)."""
    by_category_status = figures["records"]["by_category_status"]
    return [
        {
            "category": category,
            "outcome": outcome,
            "group": goal_groups.get(outcome, NO_GROUP),
            "target": target,
            "achieved": by_category_status.get(category, {}).get(outcome, 0),
        }
        for category, outcomes in sorted(figures["goals"].items())
        for outcome, target in sorted(outcomes.items())
    ]


def _sum_goal_rows(parts: list[dict]) -> list[dict]:
    """Several provinces' goals added up goal by goal (same category and outcome)."""
    rows: dict[tuple[str, str], dict] = {}
    for part in parts:
        for goal in part["goal_rows"]:
            key = (goal["category"], goal["outcome"])
            row = rows.setdefault(key, {**goal, "target": 0, "achieved": 0})
            row["target"] += goal["target"]
            row["achieved"] += goal["achieved"]
    return [rows[key] for key in sorted(rows)]


def _derive(figures: dict, period: str) -> None:
    """Progress against the goals (from `goal_rows`, set before), shares; from the counts gathered above.
    Each headline figure is the sum of its goal rows, so the parts always add up to it."""
    goals = figures["goal_rows"]
    progress = {}
    for key, rows in (
        (RETURNED, [g for g in goals if g["group"] == RETURNED]),
        (KEPT, [g for g in goals if g["group"] == KEPT]),
        ("overall", goals),
    ):
        achieved, target = sum(g["achieved"] for g in rows), sum(g["target"] for g in rows)
        progress[key] = {"achieved": achieved, "target": target}  # its percent: schema.Progress
    figures["progress"] = progress
    records = figures["records"]
    figures["completeness"]["share_incomplete"] = _percent(figures["completeness"]["incomplete"], records["total"])
    quality = figures["quality"]
    quality["score"] = quality_score.score(quality["checked"], quality["flagged"])
    figures["reports"]["current_period"] = period
    _finish_requests(figures["requests"])


def _rollup(parts: list[dict], period: str) -> dict:
    """The sum of several provinces' figures (a university's, the nation's)."""
    total = _empty()
    last_uploads = []
    for part in parts:
        records = part["records"]
        total["records"]["total"] += records["total"]
        for key in ("by_category", "by_status", "by_kind", "by_bucket"):
            for k, v in records[key].items():
                total["records"][key][k] += v
        for key in ("by_category_bucket", "by_category_status"):
            for category, counts in records[key].items():
                for k, v in counts.items():
                    total["records"][key][category][k] += v
        for category, outcomes in part["goals"].items():
            for outcome, v in outcomes.items():
                total["goals"][category][outcome] += v
        for k, v in part["help_by_type"].items():
            total["help_by_type"][k] += v
        total["changed_30d"] += part["changed_30d"]
        for key in ("missing_birth_date", "missing_sex", "missing_address", "incomplete"):
            total["completeness"][key] += part["completeness"][key]
        if part["completeness"]["last_upload"]:
            last_uploads.append(part["completeness"]["last_upload"])
        for k, v in part["reports"]["by_status"].items():
            total["reports"]["by_status"][k] += v
        for k, v in part["activities_by_role"].items():
            total["activities_by_role"][k] += v
        requests = part["requests"]
        for key in ("open", "overdue", "delivered", "declined", "total"):
            total["requests"][key] += requests[key]
        total["requests"]["rated"] += requests["rated"]
        total["requests"]["rating_sum"] += requests["rating_sum"]
        total["meetings_held"] += part["meetings_held"]
        for key in ("open", "overdue"):
            total["action_items"][key] += part["action_items"][key]
        for key in ("transfers_in", "transfers_out"):
            for quarter, n in part["one_record"][key].items():
                total["one_record"][key][quarter] += n
        total["one_record"]["duplicates_open"] += part["one_record"]["duplicates_open"]
        for key in ("checked", "flagged"):
            total["quality"][key] += part["quality"][key]
        total["quality"]["rules"] = max(total["quality"]["rules"], part["quality"]["rules"])
    total["cases"] = follow_up.rollup(part["cases"] for part in parts)
    total["completeness"]["last_upload"] = max(last_uploads) if last_uploads else None
    total["reports"]["provinces_in"] = sum(1 for p in parts if p["reports"]["current_period_in"])
    total["goal_rows"] = _sum_goal_rows(parts)
    _derive(total, period)
    return total


def _plain(value):
    """defaultdicts to dicts with text keys (as JSON has them)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _typed(scratch: dict) -> Figures:
    """The scratch dicts above as the snapshot's typed figures (summaries.schema): every field named,
    so a figure renamed on one side fails here, in every test that computes a summary."""
    counts = _plain({k: v for k, v in scratch.items() if k != "cases"})
    records, completeness, reports = counts["records"], counts["completeness"], counts["reports"]
    own = counts.get("own")
    return Figures(
        records=schema.Records(
            total=records["total"],
            by_category=records["by_category"],
            by_status=records["by_status"],
            by_kind=records["by_kind"],
            by_bucket=records["by_bucket"],
            by_category_bucket=records["by_category_bucket"],
            by_category_status=records["by_category_status"],
        ),
        goals=counts["goals"],
        goal_rows=tuple(
            schema.GoalRow(
                category=g["category"],
                outcome=g["outcome"],
                group=g["group"],
                target=g["target"],
                achieved=g["achieved"],
            )
            for g in counts["goal_rows"]
        ),
        progress=schema.GoalProgress(
            returned_to_learning=_progress(counts["progress"][RETURNED]),
            kept_in_school=_progress(counts["progress"][KEPT]),
            overall=_progress(counts["progress"]["overall"]),
        ),
        help_by_type=counts["help_by_type"],
        changed_30d=counts["changed_30d"],
        completeness=schema.Completeness(
            missing_birth_date=completeness["missing_birth_date"],
            missing_sex=completeness["missing_sex"],
            missing_address=completeness["missing_address"],
            incomplete=completeness["incomplete"],
            last_upload=completeness["last_upload"],
            share_incomplete=completeness["share_incomplete"],
        ),
        reports=schema.Reports(
            by_status=reports["by_status"],
            current_period=reports["current_period"],
            current_period_in=reports["current_period_in"],
            provinces_in=reports.get("provinces_in"),
        ),
        activities_by_role=counts["activities_by_role"],
        requests=_typed_requests(counts["requests"]),
        meetings_held=counts["meetings_held"],
        action_items=schema.ActionItems(**counts["action_items"]),
        cases=scratch["cases"].typed(),
        one_record=schema.OneRecord(
            transfers_in=counts["one_record"]["transfers_in"],
            transfers_out=counts["one_record"]["transfers_out"],
            duplicates_open=counts["one_record"]["duplicates_open"],
        ),
        quality=schema.Quality(**counts["quality"]),
        provinces=tuple(counts["provinces"]) if "provinces" in counts else None,
        leads=tuple(counts["leads"]) if "leads" in counts else None,
        own=schema.OwnWork(
            activities_by_role=own["activities_by_role"],
            requests=_typed_requests(own["requests"]),
            meetings_held=own["meetings_held"],
            action_items=schema.ActionItems(**own["action_items"]),
        )
        if own is not None
        else None,
    )


def _progress(found: dict) -> schema.Progress:
    return schema.Progress(achieved=found["achieved"], target=found["target"])


def _typed_requests(found: dict) -> schema.Requests:
    return schema.Requests(
        open=found["open"],
        overdue=found["overdue"],
        delivered=found["delivered"],
        declined=found["declined"],
        total=found["total"],
        rating_sum=found["rating_sum"],
        rated=found["rated"],
        mean_rating=found["mean_rating"],
    )
