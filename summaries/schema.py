"""The figures of one summary snapshot, typed: what Snapshot.data holds and how to read and write it.

Readers get the figures through `parse()` and read attributes, never string keys, so a renamed figure
fails here, once, when a snapshot is read, not in a template when a page renders. Imports no model.
Versions (Snapshot.schema): 1 (before issue 12) counted something else, so it is never read or
upgraded: pages read only current snapshots until the next run replaces them. 2: goals per target
group and achieved outcome. 3 (issue 14): 2 and the case follow-up figures (`cases`); a snapshot of 2 reads
as 3 with empty case figures. 4 (issue 16): 3 and one child, one record (`one_record`: moves between
provinces, probable duplicates); a snapshot of 3 reads as 4 with none. 5 (issue 17) is today's: 4 and the
data-quality score (`quality`); a snapshot of 4 reads as 5 with the score unknown (None), never made up. When a
figure changes, bump
SCHEMA_VERSION and teach `parse()` to upgrade the previous version (tests/test_snapshot_schema.py reads
tests/data/snapshot_v<N>.json).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 5
# The oldest version `parse()` can read (upgrading it if older than SCHEMA_VERSION).
OLDEST_READABLE = 2

Counts = Mapping[str, int]  # code (category, status, kind, bucket, help type, role, report status) -> count


class UnreadableSnapshot(ValueError):
    """A snapshot of a version that cannot be read as today's figures (see the versions above)."""


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class Progress:
    """Achieved against a target; the percent is derived (stored too, for the API's readers)."""

    achieved: int
    target: int

    @property
    def percent(self) -> float | None:
        return _percent(self.achieved, self.target)

    def to_json(self) -> dict:
        return {"achieved": self.achieved, "target": self.target, "percent": self.percent}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Progress":
        return cls(achieved=data["achieved"], target=data["target"])


@dataclass(frozen=True)
class GoalProgress:
    """Progress toward the plan's goals: those whose outcome returns to learning, keeps in school,
    and all of them. Each is the sum of its goal rows. Field names are Outcome.Group's values."""

    returned_to_learning: Progress
    kept_in_school: Progress
    overall: Progress

    def to_json(self) -> dict:
        return {
            "returned_to_learning": self.returned_to_learning.to_json(),
            "kept_in_school": self.kept_in_school.to_json(),
            "overall": self.overall.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "GoalProgress":
        return cls(
            returned_to_learning=Progress.from_json(data["returned_to_learning"]),
            kept_in_school=Progress.from_json(data["kept_in_school"]),
            overall=Progress.from_json(data["overall"]),
        )


@dataclass(frozen=True)
class GoalRow:
    """One goal of a plan (summed over provinces in a rollup): a target group and an achieved outcome,
    and the records of that group at that outcome."""

    category: str
    outcome: str
    group: str  # the outcome's headline group (Outcome.Group)
    target: int
    achieved: int

    @property
    def progress(self) -> Progress:
        return Progress(self.achieved, self.target)

    @property
    def percent(self) -> float | None:
        return self.progress.percent

    def to_json(self) -> dict:
        return {
            "category": self.category,
            "outcome": self.outcome,
            "group": self.group,
            "target": self.target,
            "achieved": self.achieved,
            "percent": self.percent,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "GoalRow":
        return cls(
            category=data["category"],
            outcome=data["outcome"],
            group=data["group"],
            target=data["target"],
            achieved=data["achieved"],
        )


@dataclass(frozen=True)
class Records:
    """Target-group records, whatever the goals: by category, status, outcome kind and where they
    stand (summaries.compute.BUCKETS), and by category and bucket or status."""

    total: int
    by_category: Counts
    by_status: Counts
    by_kind: Counts
    by_bucket: Counts
    by_category_bucket: Mapping[str, Counts]
    by_category_status: Mapping[str, Counts]

    def to_json(self) -> dict:
        return {
            "total": self.total,
            "by_category": dict(self.by_category),
            "by_status": dict(self.by_status),
            "by_kind": dict(self.by_kind),
            "by_bucket": dict(self.by_bucket),
            "by_category_bucket": _nested(self.by_category_bucket),
            "by_category_status": _nested(self.by_category_status),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Records":
        return cls(
            total=data["total"],
            by_category=dict(data["by_category"]),
            by_status=dict(data["by_status"]),
            by_kind=dict(data["by_kind"]),
            by_bucket=dict(data["by_bucket"]),
            by_category_bucket=_nested(data["by_category_bucket"]),
            by_category_status=_nested(data["by_category_status"]),
        )


@dataclass(frozen=True)
class Completeness:
    """Records missing a field needed for reporting, and the last applied upload."""

    missing_birth_date: int
    missing_sex: int
    missing_address: int
    incomplete: int
    last_upload: str | None  # ISO 8601, as stored; figures.parse_datetime reads it
    share_incomplete: float | None

    def to_json(self) -> dict:
        return {
            "missing_birth_date": self.missing_birth_date,
            "missing_sex": self.missing_sex,
            "missing_address": self.missing_address,
            "incomplete": self.incomplete,
            "last_upload": self.last_upload,
            "share_incomplete": self.share_incomplete,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Completeness":
        return cls(
            missing_birth_date=data["missing_birth_date"],
            missing_sex=data["missing_sex"],
            missing_address=data["missing_address"],
            incomplete=data["incomplete"],
            last_upload=data["last_upload"],
            share_incomplete=data["share_incomplete"],
        )


@dataclass(frozen=True)
class Reports:
    """Progress reports of the fiscal year by status, and the current period's."""

    by_status: Counts
    current_period: str
    current_period_in: bool  # a province: its report of the current period is in (always False in a rollup)
    provinces_in: int | None = None  # a rollup: how many of its provinces' reports are in; None for a province

    def to_json(self) -> dict:
        found = {
            "by_status": dict(self.by_status),
            "current_period": self.current_period,
            "current_period_in": self.current_period_in,
        }
        if self.provinces_in is not None:
            found["provinces_in"] = self.provinces_in
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Reports":
        return cls(
            by_status=dict(data["by_status"]),
            current_period=data["current_period"],
            current_period_in=data["current_period_in"],
            provinces_in=data.get("provinces_in"),
        )


@dataclass(frozen=True)
class Requests:
    """Capacity requests by where they stand, with their ratings."""

    open: int
    overdue: int
    delivered: int
    declined: int
    total: int
    rating_sum: int
    rated: int
    mean_rating: float | None

    def to_json(self) -> dict:
        return {
            "open": self.open,
            "overdue": self.overdue,
            "delivered": self.delivered,
            "declined": self.declined,
            "total": self.total,
            "rating_sum": self.rating_sum,
            "rated": self.rated,
            "mean_rating": self.mean_rating,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Requests":
        return cls(
            open=data["open"],
            overdue=data["overdue"],
            delivered=data["delivered"],
            declined=data["declined"],
            total=data["total"],
            rating_sum=data["rating_sum"],
            rated=data["rated"],
            mean_rating=data["mean_rating"],
        )


@dataclass(frozen=True)
class ActionItems:
    open: int
    overdue: int

    def to_json(self) -> dict:
        return {"open": self.open, "overdue": self.overdue}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ActionItems":
        return cls(open=data["open"], overdue=data["overdue"])


@dataclass(frozen=True)
class OwnWork:
    """A university's own work, apart from the rollup of the provinces it supports (whose activities
    and requests include other teams')."""

    activities_by_role: Counts  # SupportRole value as text -> activities
    requests: Requests
    meetings_held: int
    action_items: ActionItems

    def to_json(self) -> dict:
        return {
            "activities_by_role": dict(self.activities_by_role),
            "requests": self.requests.to_json(),
            "meetings_held": self.meetings_held,
            "action_items": self.action_items.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "OwnWork":
        return cls(
            activities_by_role=dict(data["activities_by_role"]),
            requests=Requests.from_json(data["requests"]),
            meetings_held=data["meetings_held"],
            action_items=ActionItems.from_json(data["action_items"]),
        )


@dataclass(frozen=True)
class ReferralCounts:
    """Referrals of one agency type (or of all): open (sent, accepted, in progress), overdue (open past
    their deadline), completed, ended without a result (declined or closed unresolved), and the median
    days from sent to completed (None before any is completed)."""

    open: int
    overdue: int
    completed: int
    unresolved: int
    median_days_to_complete: float | None

    @property
    def total(self) -> int:
        return self.open + self.completed + self.unresolved

    def to_json(self) -> dict:
        return {
            "open": self.open,
            "overdue": self.overdue,
            "completed": self.completed,
            "unresolved": self.unresolved,
            "median_days_to_complete": self.median_days_to_complete,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ReferralCounts":
        return cls(
            open=data["open"],
            overdue=data["overdue"],
            completed=data["completed"],
            unresolved=data["unresolved"],
            median_days_to_complete=data["median_days_to_complete"],
        )


@dataclass(frozen=True)
class CaseFigures:
    """Case follow-up (README.md, "What the figures count"): children in follow-up (a case worker
    assigned, the case open), how soon records get a first contact, how many were contacted in the
    last 30 days, referrals by agency type, and closures by reason (cases.models.CloseReason)."""

    in_follow_up: int
    contacted_30d: int
    waiting_first_contact: int  # in follow-up, never contacted
    with_first_contact: int  # records (any case, open or closed) with a first contact
    median_days_to_first_contact: float | None
    closed_by_reason: Counts
    referrals: ReferralCounts
    referrals_by_agency_type: Mapping[str, ReferralCounts]  # AgencyType.code -> counts

    @property
    def share_contacted_30d(self) -> float | None:
        return _percent(self.contacted_30d, self.in_follow_up)

    @property
    def closed(self) -> int:
        return sum(self.closed_by_reason.values())

    @property
    def any(self) -> bool:
        """Whether there is anything to show: a case opened, contacted, referred or closed."""
        return bool(self.in_follow_up or self.with_first_contact or self.referrals.total or self.closed)

    def to_json(self) -> dict:
        return {
            "in_follow_up": self.in_follow_up,
            "contacted_30d": self.contacted_30d,
            "share_contacted_30d": self.share_contacted_30d,
            "waiting_first_contact": self.waiting_first_contact,
            "with_first_contact": self.with_first_contact,
            "median_days_to_first_contact": self.median_days_to_first_contact,
            "closed_by_reason": dict(self.closed_by_reason),
            "referrals": self.referrals.to_json(),
            "referrals_by_agency_type": {code: r.to_json() for code, r in self.referrals_by_agency_type.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CaseFigures":
        return cls(
            in_follow_up=data["in_follow_up"],
            contacted_30d=data["contacted_30d"],
            waiting_first_contact=data["waiting_first_contact"],
            with_first_contact=data["with_first_contact"],
            median_days_to_first_contact=data["median_days_to_first_contact"],
            closed_by_reason=dict(data["closed_by_reason"]),
            referrals=ReferralCounts.from_json(data["referrals"]),
            referrals_by_agency_type={
                code: ReferralCounts.from_json(r) for code, r in data["referrals_by_agency_type"].items()
            },
        )

    @classmethod
    def empty(cls) -> "CaseFigures":
        return cls(
            in_follow_up=0,
            contacted_30d=0,
            waiting_first_contact=0,
            with_first_contact=0,
            median_days_to_first_contact=None,
            closed_by_reason={},
            referrals=ReferralCounts(open=0, overdue=0, completed=0, unresolved=0, median_days_to_complete=None),
            referrals_by_agency_type={},
        )


@dataclass(frozen=True)
class OneRecord:
    """One child, one record (issue 16), shown with the data-quality figures: records moved in from and out to
    other provinces in the fiscal year, by fiscal quarter ("Q1" is October to December), and probable duplicate
    pairs waiting for review when the run was made."""

    transfers_in: Counts  # "Q1".."Q4" -> records moved in (quarters without any are absent)
    transfers_out: Counts
    duplicates_open: int

    @property
    def moved_in(self) -> int:
        return sum(self.transfers_in.values())

    @property
    def moved_out(self) -> int:
        return sum(self.transfers_out.values())

    def to_json(self) -> dict:
        return {
            "transfers_in": dict(self.transfers_in),
            "transfers_out": dict(self.transfers_out),
            "duplicates_open": self.duplicates_open,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "OneRecord":
        return cls(
            transfers_in=dict(data["transfers_in"]),
            transfers_out=dict(data["transfers_out"]),
            duplicates_open=data["duplicates_open"],
        )

    @classmethod
    def empty(cls) -> "OneRecord":
        return cls(transfers_in={}, transfers_out={}, duplicates_open=0)


@dataclass(frozen=True)
class Quality:
    """The data-quality score (README.md, "The quality score"): of the records the rules looked at (all of the
    subject's), those that at least one rule switched on found, counted once whatever the number of rules; the score
    is the share (%) that none found (quality.score.score, stored as Completeness stores its share)."""

    checked: int
    flagged: int
    rules: int  # the rules switched on when the run was made
    score: float | None  # None without records

    def to_json(self) -> dict:
        return {"checked": self.checked, "flagged": self.flagged, "rules": self.rules, "score": self.score}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Quality":
        return cls(checked=data["checked"], flagged=data["flagged"], rules=data["rules"], score=data["score"])


@dataclass(frozen=True)
class Figures:
    """Every figure of one subject (a province, a university or the nation) in one run. A rollup (a
    university, the nation) is the sum of its provinces' figures and names them (`provinces`); a
    university also names the provinces it leads and its own work."""

    records: Records
    goals: Mapping[str, Counts]  # category -> achieved outcome -> target
    goal_rows: tuple[GoalRow, ...]
    progress: GoalProgress
    help_by_type: Counts
    changed_30d: int
    completeness: Completeness
    reports: Reports
    activities_by_role: Counts
    requests: Requests
    meetings_held: int
    action_items: ActionItems
    cases: CaseFigures
    one_record: OneRecord
    provinces: tuple[int, ...] | None = None  # rollups: the provinces summed
    leads: tuple[int, ...] | None = None  # universities: the provinces they lead
    own: OwnWork | None = None  # universities
    quality: Quality | None = None  # None: unknown (a run before schema 5 did not count it)

    @property
    def rollup(self) -> bool:
        return self.provinces is not None

    @property
    def own_activities(self) -> Counts:
        """The support activities the subject is answerable for: a university's own (its rollup sums
        its provinces' activities with other teams'), else all of them."""
        return self.own.activities_by_role if self.own else self.activities_by_role

    @property
    def own_requests(self) -> Requests:
        return self.own.requests if self.own else self.requests

    def to_json(self) -> dict:
        found = {
            "records": self.records.to_json(),
            "goals": _nested(self.goals),
            "goal_rows": [goal.to_json() for goal in self.goal_rows],
            "progress": self.progress.to_json(),
            "help_by_type": dict(self.help_by_type),
            "changed_30d": self.changed_30d,
            "completeness": self.completeness.to_json(),
            "reports": self.reports.to_json(),
            "activities_by_role": dict(self.activities_by_role),
            "requests": self.requests.to_json(),
            "meetings_held": self.meetings_held,
            "action_items": self.action_items.to_json(),
            "cases": self.cases.to_json(),
            "one_record": self.one_record.to_json(),
            "quality": self.quality.to_json() if self.quality is not None else None,
        }
        if self.provinces is not None:
            found["provinces"] = list(self.provinces)
        if self.leads is not None:
            found["leads"] = list(self.leads)
        if self.own is not None:
            found["own"] = self.own.to_json()
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Figures":
        return cls(
            records=Records.from_json(data["records"]),
            goals=_nested(data["goals"]),
            goal_rows=tuple(GoalRow.from_json(goal) for goal in data["goal_rows"]),
            progress=GoalProgress.from_json(data["progress"]),
            help_by_type=dict(data["help_by_type"]),
            changed_30d=data["changed_30d"],
            completeness=Completeness.from_json(data["completeness"]),
            reports=Reports.from_json(data["reports"]),
            activities_by_role=dict(data["activities_by_role"]),
            requests=Requests.from_json(data["requests"]),
            meetings_held=data["meetings_held"],
            action_items=ActionItems.from_json(data["action_items"]),
            cases=CaseFigures.from_json(data["cases"]),
            one_record=OneRecord.from_json(data["one_record"]),
            provinces=tuple(data["provinces"]) if "provinces" in data else None,
            leads=tuple(data["leads"]) if "leads" in data else None,
            own=OwnWork.from_json(data["own"]) if "own" in data else None,
            quality=Quality.from_json(data["quality"]) if data["quality"] is not None else None,
        )


def _nested(value: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {key: dict(inner) for key, inner in value.items()}


def readable(version: int) -> bool:
    """Whether `parse()` reads figures of this version (an older run's may be unreadable, and a newer
    code's, after a rollback, are)."""
    return OLDEST_READABLE <= version <= SCHEMA_VERSION


def parse(data: Mapping[str, Any], version: int) -> Figures:
    """A stored snapshot's figures, upgraded from `version` to today's; UnreadableSnapshot if they
    cannot be (an older version that counted something else, a newer one, a missing figure)."""
    if not readable(version):
        raise UnreadableSnapshot(f"figures of schema {version}; this code reads {OLDEST_READABLE}–{SCHEMA_VERSION}")
    # Upgrades go here, one version at a time, before reading.
    if version == 2:
        data = _upgrade_2_to_3(data)
    if version <= 3:
        data = _upgrade_3_to_4(data)
    if version <= 4:
        data = _upgrade_4_to_5(data)
    try:
        return Figures.from_json(data)
    except (KeyError, TypeError) as exc:
        raise UnreadableSnapshot(f"figures of schema {version} lack {exc}") from exc


def _upgrade_2_to_3(data: Mapping[str, Any]) -> dict:
    """3 added the case follow-up figures: a run of 2 counted none."""
    return {**data, "cases": CaseFigures.empty().to_json()}


def _upgrade_3_to_4(data: Mapping[str, Any]) -> dict:
    """4 added one child, one record (moves between provinces, probable duplicates): a run of 3 counted none."""
    return {**data, "one_record": OneRecord.empty().to_json()}


def _upgrade_4_to_5(data: Mapping[str, Any]) -> dict:
    """5 added the data-quality score: a run of 4 did not count it, so it is unknown (shown "–"), not 100%."""
    return {**data, "quality": None}


def dump(figures: Figures) -> dict:
    """The figures as stored in Snapshot.data (JSON) and as the API gives them, of SCHEMA_VERSION."""
    return figures.to_json()
