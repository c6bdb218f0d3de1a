"""The cohort view of the university dashboard: per entry quarter, the share of children who reached each outcome
within 3, 6 and 12 months, and the median days to the first outcome, computed with pandas from the status
history (README.md, "Cohort view").

Definitions (the page says them too):
- A child enters on the local day (Asia/Bangkok) their record was created; the entry quarter is the fiscal
  quarter of that day (core.periods: Q1 is October to December, the fiscal year named in พ.ศ.), as the rest of
  the portal counts quarters.
- The outcomes are the achieved outcomes (targets.Outcome, kind "achieved": returned to school, flexible
  learning, vocational training, kept in school, referred, and any an admin adds).
- A child reaches an outcome on the day their status first becomes it: the entry day when their first status
  is that outcome (the from_status of their first change, or their status while they have no change), else the
  day of the first change to it. A change dated before the entry counts as on the entry day. Leaving the
  outcome later does not undo it.
- Within n months: on or before the same day n calendar months after the entry (31 January + 1 month is
  28/29 February).
- Censoring: a window is shown for a quarter only once every child of the quarter has been observed for it,
  i.e. the quarter's last day + n months is on or before the "as of" day; otherwise "–" (a share of the
  children observed so far would undercount).
- Median days to the first outcome: among the children who reached any outcome within 12 months, shown once
  the 12-month window is observable.
- Only what was known on the "as of" day: records created and changes made after it are left out.

Scope: only provinces on which the user may run analyses ("analysis.province": EEF/IPSR, and a university
team for the provinces it reads), read through the door (visible_to); such a user reads every record of those
provinces, so the result depends on the provinces and the day only, and is cached under them.
"""

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import get_language

from accounts.access import Principal, can
from core.periods import period_bounds
from targets.models import Outcome, StatusChange, TargetRecord

from .build import read_table

WINDOWS = (3, 6, 12)
CACHE_SECONDS = 3600  # a change shows within the hour; the key also holds the day
CACHE_VERSION = 1


@dataclass(frozen=True)
class OutcomeName:
    code: str
    name_th: str
    name_en: str

    @property
    def name(self) -> str:
        if (get_language() or "th").startswith("en") and self.name_en:
            return self.name_en
        return self.name_th


@dataclass(frozen=True)
class CohortRow:
    fiscal_year: int  # พ.ศ.
    quarter: int  # 1 (Oct–Dec) .. 4 (Jul–Sep)
    first_day: datetime.date
    last_day: datetime.date
    size: int
    # window (months) → children who reached any outcome within it; None while the window is not observable.
    reached_any: dict[int, int | None]
    # outcome code → window → children who reached that outcome within it (None: not observable).
    reached: dict[str, dict[int, int | None]]
    median_days: float | None  # among those who reached an outcome within 12 months; None if not observable

    def share(self, count: int | None) -> float | None:
        """count as a share (0..1) of the cohort; None stays None."""
        return None if count is None or not self.size else count / self.size

    def observable(self, months: int) -> bool:
        return self.reached_any[months] is not None


@dataclass(frozen=True)
class Cohorts:
    as_of: datetime.date
    outcomes: list[OutcomeName]
    rows: list[CohortRow] = field(default_factory=list)
    provinces: tuple[int, ...] = ()


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` calendar months later, clamped to the month's last day (as pandas' DateOffset)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)).day
    return datetime.date(year, month, min(day.day, last))


# --- reading ---------------------------------------------------------------------------------------------------------


def _local_days(moments: pd.Series) -> pd.Series:
    """Aware datetimes as their local day (the portal's time zone), datetime64 at midnight."""
    zone = timezone.get_current_timezone()
    return pd.to_datetime(moments, utc=True).dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()


def read(*, user: Principal, provinces: list[int], as_of: datetime.date) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(records, changes, achieved outcomes {pk: OutcomeName}) of `provinces` through the door, in three
    queries: the achieved outcomes, the records created up to `as_of`, and their status changes (all of them:
    the first one's from_status is the record's first status, even when it was made after `as_of`)."""
    outcomes = Outcome.objects.visible_to(user).filter(kind=Outcome.Kind.ACHIEVED).order_by("sort_order", "code")
    achieved = {
        pk: OutcomeName(code, th, en) for pk, code, th, en in outcomes.values_list("pk", "code", "name_th", "name_en")
    }
    before = timezone.make_aware(datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time.min))
    records = (
        TargetRecord.objects.visible_to(user)
        .filter(province_id__in=provinces, created_at__lt=before)
        .order_by()
        .values_list("pk", "created_at", "status_id")
    )
    changes = (
        StatusChange.objects.visible_to(user)
        .filter(record__province_id__in=provinces, record__created_at__lt=before)
        .order_by()
        .values_list("pk", "record_id", "from_status_id", "to_status_id", "changed_at")
    )
    # Read as the analysis sets are (analysis.build.read_table: one COPY into pyarrow on PostgreSQL, no Python object a
    # row); a status that is NULL comes as NaN, which compute() turns into Int64's NA as before.
    moment, whole = pa.timestamp("us", tz="UTC"), pa.int64()
    record_names = ["record", "created_at", "status"]
    change_names = ["pk", "record", "from_status", "to_status", "changed_at"]
    record_types = {"record": whole, "created_at": moment, "status": whole}
    record_frame = read_table(records, record_names, record_types).to_pandas(self_destruct=True)
    change_types = {**dict.fromkeys(change_names[:4], whole), "changed_at": moment}
    change_frame = read_table(changes, change_names, change_types).to_pandas(self_destruct=True)
    return record_frame, change_frame, achieved


# --- computing -------------------------------------------------------------------------------------------------------


def compute(
    *, records: pd.DataFrame, changes: pd.DataFrame, achieved: dict[Any, OutcomeName], as_of: datetime.date
) -> Cohorts:
    """The cohorts of `records` (record, created_at, status) from their `changes` (pk, record, from_status,
    to_status, changed_at), counting the `achieved` statuses as outcomes, as known on `as_of`."""
    outcome_names = list(achieved.values())
    if records.empty:
        return Cohorts(as_of=as_of, outcomes=outcome_names)
    as_of_day = pd.Timestamp(as_of)
    record_ids = records["record"].astype("int64")
    entries = pd.DataFrame({"record": record_ids, "entered": _local_days(records["created_at"])})
    entries = entries[entries["entered"] <= as_of_day]

    # The first status: the from_status of the first change (by time, then pk), else the status now.
    changes = changes.assign(
        record=changes["record"].astype("int64"),
        from_status=changes["from_status"].astype("Int64"),
        to_status=changes["to_status"].astype("Int64"),
        day=_local_days(changes["changed_at"]),
    ).sort_values(["record", "changed_at", "pk"], kind="stable")
    first_status = pd.Series(records["status"].astype("Int64").to_numpy(), index=record_ids)
    first_change = changes.drop_duplicates("record", keep="first").set_index("record")["from_status"]
    known = first_change.index.intersection(first_status.index)
    first_status.loc[known] = first_change.loc[known]

    codes = {pk: name.code for pk, name in achieved.items()}
    at_entry = first_status[first_status.isin(list(codes))]
    moved = changes[changes["to_status"].isin(list(codes)) & (changes["day"] <= as_of_day)]
    events = pd.concat(
        [
            # An outcome at entry: reached on the entry day (the day is filled in below).
            pd.DataFrame({"record": at_entry.index.to_numpy(), "outcome": at_entry.map(codes).to_numpy()}),
            pd.DataFrame(
                {
                    "record": moved["record"].to_numpy(),
                    "outcome": moved["to_status"].map(codes).to_numpy(),
                    "day": moved["day"].to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    ).merge(entries, on="record", how="inner")
    # No day (an outcome at entry) or a change dated before the entry: reached on the entry day.
    events["day"] = events["day"].where(events["day"] > events["entered"], events["entered"])
    reached = events.groupby(["record", "outcome"], as_index=False)["day"].min()

    entries = entries.set_index("record")
    entries["fiscal_year"] = entries["entered"].dt.year + 543 + (entries["entered"].dt.month >= 10).astype("int64")
    entries["quarter"] = (entries["entered"].dt.month + 2) % 12 // 3 + 1
    for months in WINDOWS:
        entries[f"by_{months}"] = entries["entered"] + pd.DateOffset(months=months)
    entries["first_any"] = reached.groupby("record")["day"].min().reindex(entries.index)

    keys = ["fiscal_year", "quarter"]
    reached = reached.join(entries[[*keys, *(f"by_{m}" for m in WINDOWS)]], on="record")
    sizes = entries.groupby(keys).size()
    any_counts = {m: entries[entries["first_any"] <= entries[f"by_{m}"]].groupby(keys).size() for m in WINDOWS}
    outcome_counts = {
        m: reached[reached["day"] <= reached[f"by_{m}"]].groupby([*keys, "outcome"]).size() for m in WINDOWS
    }
    within_year = entries[entries["first_any"] <= entries["by_12"]]
    medians = (
        (within_year["first_any"] - within_year["entered"])
        .dt.days.groupby([within_year["fiscal_year"], within_year["quarter"]])
        .median()
    )

    rows = []
    for (fiscal_year, quarter), size in sizes.items():
        first_day, last_day = period_bounds(int(fiscal_year), f"Q{int(quarter)}")
        observable = {m: add_months(last_day, m) <= as_of for m in WINDOWS}
        key = (fiscal_year, quarter)
        rows.append(
            CohortRow(
                fiscal_year=int(fiscal_year),
                quarter=int(quarter),
                first_day=first_day,
                last_day=last_day,
                size=int(size),
                reached_any={m: int(any_counts[m].get(key, 0)) if observable[m] else None for m in WINDOWS},
                reached={
                    name.code: {
                        m: int(outcome_counts[m].get((*key, name.code), 0)) if observable[m] else None for m in WINDOWS
                    }
                    for name in outcome_names
                },
                median_days=float(medians[key]) if observable[12] and key in medians.index else None,
            )
        )
    rows.sort(key=lambda row: (row.fiscal_year, row.quarter))
    return Cohorts(as_of=as_of, outcomes=outcome_names, rows=rows)


# --- the one entry point ---------------------------------------------------------------------------------------------


def cache_key(provinces: Iterable[int], as_of: datetime.date) -> str:
    """The cache's key of the cohorts of `provinces` as known on `as_of`, computed today."""
    codes = ",".join(map(str, sorted(provinces)))
    digest = hashlib.sha256(codes.encode()).hexdigest()[:24]
    return f"analysis:cohorts:{CACHE_VERSION}:{digest}:{as_of.isoformat()}:{timezone.localdate().isoformat()}"


def cohorts_for(*, user: Principal, provinces: Iterable[int], as_of: datetime.date | None = None) -> Cohorts:
    """The cohorts of the provinces among `provinces` the user may analyse, as known on `as_of` (default
    today), from the cache when computed within the hour (keyed by the provinces, the day and today)."""
    codes = tuple(sorted({int(code) for code in provinces if can(user, "analysis.province", code)}))
    today = timezone.localdate()
    as_of = min(as_of or today, today)
    if not codes:
        return Cohorts(as_of=as_of, outcomes=[], provinces=codes)
    key = cache_key(codes, as_of)
    found = cache.get(key)
    if isinstance(found, Cohorts):
        return found
    records, changes, achieved = read(user=user, provinces=list(codes), as_of=as_of)
    result = compute(records=records, changes=changes, achieved=achieved, as_of=as_of)
    result = Cohorts(as_of=result.as_of, outcomes=result.outcomes, rows=result.rows, provinces=codes)
    cache.set(key, result, CACHE_SECONDS)
    return result
