"""The cohort view (analysis/cohorts.py, README.md "Cohort view"): per entry quarter, the share of children who
reached each outcome within 3, 6 and 12 months and the median days to the first outcome, with windows not yet
observable left out ("–"); the university dashboard's section; its scope and its query count."""

import calendar
import datetime
import random
import statistics
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analysis.cohorts import (
    WINDOWS,
    OutcomeName,
    add_months,
    cache_key,
    cohorts_for,
    compute,
)
from conftest import PROVINCE_A, PROVINCE_B
from core.buddhist_dates import fiscal_year_of
from core.periods import quarter_of
from summaries.models import SummaryRun
from targets.models import Category, Outcome, StatusChange, TargetRecord
from tests.test_dashboards import KKU_PROVINCES, PAGES, summarize

BANGKOK = ZoneInfo("Asia/Bangkok")
FOLLOW, RETURNED, KEPT, NOT_FOUND = 1, 2, 5, 7
ACHIEVED = {
    RETURNED: OutcomeName("returned-to-school", "กลับเข้าสู่ระบบการศึกษา", "Returned to school"),
    KEPT: OutcomeName("kept-in-school", "ป้องกันการหลุด", "Kept in school"),
}
AS_OF = datetime.date(2025, 6, 30)


def months_later(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` calendar months later (or earlier), clamped to the month's end: the tests' own."""
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=BANGKOK)


def d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


class Plant:
    """Records and status changes as frames (the columns analysis.cohorts.read gives)."""

    def __init__(self) -> None:
        self.records: list[tuple] = []
        self.changes: list[tuple] = []

    def child(self, entered, status: int, *changes: tuple[str, int, int]) -> int:
        """A record entered on `entered` (a day: noon in Bangkok; or an aware datetime) whose status is now
        `status`, with changes (day, from, to)."""
        pk = len(self.records) + 1
        created = noon(d(entered)) if isinstance(entered, str) else entered
        self.records.append((pk, created, status))
        for day, before, after in changes:
            self.changes.append((len(self.changes) + 1, pk, before, after, noon(d(day))))
        return pk

    def compute(self, as_of: datetime.date = AS_OF):
        records = pd.DataFrame(self.records, columns=["record", "created_at", "status"])
        changes = pd.DataFrame(self.changes, columns=["pk", "record", "from_status", "to_status", "changed_at"])
        return compute(records=records, changes=changes, achieved=ACHIEVED, as_of=as_of)


def test_months_are_calendar_months_clamped_to_the_months_end():
    assert add_months(d("2024-01-31"), 1) == d("2024-02-29")
    assert add_months(d("2024-01-31"), 3) == d("2024-04-30")
    assert add_months(d("2024-11-15"), 3) == d("2025-02-15")
    assert add_months(d("2024-12-31"), 12) == d("2025-12-31")
    for day in (d("2023-01-31"), d("2024-08-31"), d("2024-02-29"), d("2024-10-01")):
        for months in WINDOWS:
            assert add_months(day, months) == (pd.Timestamp(day) + pd.DateOffset(months=months)).date()


@pytest.fixture
def planted() -> Plant:
    plant = Plant()
    # FY 2567 Q2 (January to March 2024): every window observable by 30 June 2025.
    plant.child("2024-01-31", RETURNED, ("2024-04-30", FOLLOW, RETURNED))  # 90 days: the last day of 3 months
    plant.child("2024-01-31", RETURNED, ("2024-05-01", FOLLOW, RETURNED))  # 91 days: a day past 3 months
    plant.child("2024-02-15", KEPT)  # kept in school from the start: 0 days
    # Returned after 328 days, then followed up again: reaching it is not undone.
    plant.child("2024-03-10", FOLLOW, ("2025-02-01", FOLLOW, RETURNED), ("2025-03-01", RETURNED, FOLLOW))
    plant.child("2024-03-20", RETURNED, ("2025-04-01", FOLLOW, RETURNED))  # past 12 months: not counted
    plant.child("2024-01-05", NOT_FOUND, ("2024-02-01", FOLLOW, NOT_FOUND))  # no outcome
    # The first status is the first change's from_status (returned), whatever the status now: 0 days.
    plant.child("2024-02-01", FOLLOW, ("2024-03-01", RETURNED, FOLLOW))
    # Kept after 31 days, returned within 12 months (not 6): the first outcome is at 31 days.
    plant.child("2024-01-10", RETURNED, ("2024-02-10", FOLLOW, KEPT), ("2024-08-01", KEPT, RETURNED))
    plant.child("2024-03-31", RETURNED, ("2024-03-30", FOLLOW, RETURNED))  # a change dated before entry: 0 days
    # FY 2568 Q1 (October to December 2024): 3 and 6 months observable by 30 June 2025, 12 not.
    plant.child("2024-12-31", RETURNED, ("2025-03-31", FOLLOW, RETURNED))
    plant.child("2024-10-01", RETURNED, ("2025-07-15", FOLLOW, RETURNED))  # after the "as of" day
    plant.child("2024-11-15", KEPT, ("2025-05-16", FOLLOW, KEPT))  # a day past 6 months
    # 30 September 2024 18:00 UTC is 1 October 01:00 in Bangkok: Q1 of FY 2568.
    plant.child(datetime.datetime(2024, 9, 30, 18, tzinfo=datetime.UTC), FOLLOW)
    # FY 2568 Q3 (April to June 2025): no window observable yet.
    plant.child("2025-05-01", RETURNED, ("2025-05-02", FOLLOW, RETURNED))
    plant.child("2025-07-01", FOLLOW)  # entered after the "as of" day: in no cohort
    return plant


def test_planted_cohorts_give_exact_shares_and_medians(planted):
    result = planted.compute()
    rows = {(row.fiscal_year, row.quarter): row for row in result.rows}
    assert list(rows) == [(2567, 2), (2568, 1), (2568, 3)]

    early = rows[2567, 2]
    assert (early.first_day, early.last_day, early.size) == (d("2024-01-01"), d("2024-03-31"), 9)
    assert early.reached_any == {3: 5, 6: 6, 12: 7}
    assert early.reached["returned-to-school"] == {3: 3, 6: 4, 12: 6}
    assert early.reached["kept-in-school"] == {3: 2, 6: 2, 12: 2}
    assert early.median_days == statistics.median([90, 91, 0, 328, 0, 31, 0]) == 31
    assert early.share(early.reached_any[3]) == 5 / 9

    late = rows[2568, 1]
    assert late.size == 4
    assert late.reached_any == {3: 1, 6: 1, 12: None}  # 31 December 2024 + 12 months is after the day
    assert late.reached["returned-to-school"] == {3: 1, 6: 1, 12: None}
    assert late.reached["kept-in-school"] == {3: 0, 6: 0, 12: None}
    assert late.median_days is None
    assert late.share(late.reached_any[12]) is None

    newest = rows[2568, 3]
    assert (newest.size, newest.reached_any, newest.median_days) == (1, {3: None, 6: None, 12: None}, None)


def test_a_later_day_opens_the_windows_and_counts_the_later_changes(planted):
    rows = {(row.fiscal_year, row.quarter): row for row in planted.compute(as_of=d("2026-01-31")).rows}
    late = rows[2568, 1]
    # Entered 1 October 2024, returned 15 July 2025: within 12 months, not 6.
    assert late.reached_any == {3: 1, 6: 1, 12: 3}
    assert late.median_days == statistics.median([90, 287, 182]) == 182
    assert rows[2568, 4].size == 1  # the child entered on 1 July 2025


def test_the_median_is_a_midpoint_between_two_children():
    plant = Plant()
    plant.child("2024-01-01", RETURNED, ("2024-01-11", FOLLOW, RETURNED))
    plant.child("2024-01-01", RETURNED, ("2024-01-26", FOLLOW, RETURNED))
    (row,) = plant.compute().rows
    assert row.median_days == 17.5


def test_children_without_any_outcome_or_change_count_in_their_cohort():
    plant = Plant()
    plant.child("2024-01-15", FOLLOW)
    plant.child("2024-02-15", NOT_FOUND, ("2024-03-01", FOLLOW, NOT_FOUND))
    (row,) = plant.compute().rows
    assert (row.size, row.reached_any, row.median_days) == (2, {3: 0, 6: 0, 12: 0}, None)
    assert row.reached["returned-to-school"] == {3: 0, 6: 0, 12: 0}
    only_records = Plant()
    only_records.child("2024-01-15", FOLLOW)
    (row,) = only_records.compute().rows
    assert (row.size, row.reached_any) == (1, {3: 0, 6: 0, 12: 0})


def test_no_records_no_cohorts():
    result = Plant().compute()
    assert result.rows == []
    assert [o.code for o in result.outcomes] == ["returned-to-school", "kept-in-school"]


def _by_hand(plant: Plant, as_of: datetime.date) -> dict:
    """The same figures, one child at a time in plain Python (the tests' own months), to check the pandas."""
    out: dict = {}
    for pk, created, status in plant.records:
        entered = created.astimezone(BANGKOK).date()
        if entered > as_of:
            continue
        own = sorted((c for c in plant.changes if c[1] == pk), key=lambda c: (c[4], c[0]))
        first = own[0][2] if own else status
        reached: dict[int, datetime.date] = {}
        if first in ACHIEVED:
            reached[first] = entered
        for _pk, _record, _before, after, when in own:
            day = when.astimezone(BANGKOK).date()
            if after in ACHIEVED and day <= as_of:
                reached[after] = min(reached.get(after, max(day, entered)), max(day, entered))
        key = (fiscal_year_of(entered), int(quarter_of(entered)[1]))  # the portal's quarters (core.periods)
        cohort = out.setdefault(key, {"size": 0, "any": dict.fromkeys(WINDOWS, 0), "days": [], "last": entered})
        cohort["size"] += 1
        first_any = min(reached.values(), default=None)
        for months in WINDOWS:
            if first_any is not None and first_any <= months_later(entered, months):
                cohort["any"][months] += 1
        if first_any is not None and first_any <= months_later(entered, 12):
            cohort["days"].append((first_any - entered).days)
    return out


def test_the_pandas_agree_with_a_child_by_child_count_on_random_histories():
    rng = random.Random(17)
    plant = Plant()
    start = d("2022-10-01")
    for _ in range(400):
        entered = start + datetime.timedelta(days=rng.randrange(900))
        status, changes, day = rng.choice([FOLLOW, FOLLOW, RETURNED, KEPT]), [], entered
        for _step in range(rng.randrange(4)):
            day += datetime.timedelta(days=rng.randrange(-5, 200))
            after = rng.choice([FOLLOW, RETURNED, KEPT, NOT_FOUND])
            changes.append((day.isoformat(), status, after))
            status = after
        plant.child(entered.isoformat(), status, *changes)
    as_of = d("2025-03-15")
    result = plant.compute(as_of=as_of)
    expected = _by_hand(plant, as_of)
    assert {(r.fiscal_year, r.quarter) for r in result.rows} == set(expected)
    for row in result.rows:
        hand = expected[row.fiscal_year, row.quarter]
        assert row.size == hand["size"]
        for months in WINDOWS:
            observable = add_months(row.last_day, months) <= as_of
            assert row.reached_any[months] == (hand["any"][months] if observable else None), (row, months)
        assert row.median_days == (statistics.median(hand["days"]) if observable and hand["days"] else None)


# --- through the database: scope, the page, the query count ---------------------------------------------------------


def _plant(province: int, entered: datetime.date, *changes: tuple[datetime.date, str], first: str = "in-follow-up"):
    """A record of `province` entered on `entered`, its status changed to each (day, code) in turn."""
    outcomes = {o.code: o for o in Outcome.objects.all()}
    number = TargetRecord.objects.count()
    status = outcomes[changes[-1][1]] if changes else outcomes[first]
    record = TargetRecord.objects.create(
        identifier=f"8{province:02d}{number:010d}",
        identifier_kind="national_id",
        first_name="ทดสอบ",
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=status,
    )
    TargetRecord.objects.filter(pk=record.pk).update(created_at=noon(entered))
    before = outcomes[first]
    for day, code in changes:
        change = StatusChange.objects.create(record=record, from_status=before, to_status=outcomes[code])
        StatusChange.objects.filter(pk=change.pk).update(changed_at=noon(day))
        before = outcomes[code]
    return record


def _a_year_ago() -> datetime.date:
    """The first day of the quarter that began 15 to 18 months ago: every window of it is observable."""
    day = months_later(timezone.localdate(), -18)
    return datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


@pytest.fixture
def histories(cast):
    """Province A (KKU's): two children entered a quarter more than 15 months ago, one returned to school after
    20 days, one kept in school after 100 days. Province B (UP's): three children of the same quarter, all
    returned to school after 10 days."""
    entered = _a_year_ago()
    _plant(PROVINCE_A, entered, (entered + datetime.timedelta(days=20), "returned-to-school"))
    _plant(PROVINCE_A, entered, (entered + datetime.timedelta(days=100), "kept-in-school"))
    for _ in range(3):
        _plant(PROVINCE_B, entered, (entered + datetime.timedelta(days=10), "returned-to-school"))
    return cast


def _only_row(result):
    (row,) = result.rows
    return row


def test_a_university_team_counts_only_its_provinces_children(histories):
    row = _only_row(cohorts_for(user=histories.university_member, provinces=[PROVINCE_A, PROVINCE_B]))
    # B is UP's: asked for, never counted.
    assert (row.size, row.reached_any) == (2, {3: 1, 6: 2, 12: 2})
    assert row.reached["returned-to-school"] == {3: 1, 6: 1, 12: 1}
    assert row.reached["kept-in-school"] == {3: 0, 6: 1, 12: 1}
    assert row.median_days == 60


def test_eef_counts_every_province_asked_for(histories):
    row = _only_row(cohorts_for(user=histories.eef_admin, provinces=[PROVINCE_A, PROVINCE_B]))
    assert (row.size, row.reached_any, row.median_days) == (5, {3: 4, 6: 5, 12: 5}, 10)


@pytest.mark.parametrize("member", ["coordinator_a", "viewer_a", "case_worker_a", "no_role"])
def test_no_one_else_gets_a_cohort(histories, member):
    result = cohorts_for(user=histories[member], provinces=[PROVINCE_A])
    assert (result.rows, result.provinces) == ([], ())


def test_the_result_is_cached_by_provinces_and_day(histories, django_assert_num_queries):
    user = histories.university_member
    cohorts_for(user=user, provinces=[PROVINCE_A])
    _plant(PROVINCE_A, _a_year_ago())
    with django_assert_num_queries(0):  # the scope is known; the cohorts come from the cache
        cached = cohorts_for(user=user, provinces=[PROVINCE_A])
    assert _only_row(cached).size == 2
    cache.clear()
    assert _only_row(cohorts_for(user=user, provinces=[PROVINCE_A])).size == 3


def test_the_dashboard_shows_the_cohort_section(histories, client_for):
    summarize()
    response = client_for(histories.university_member).get("/dashboards/university/KKU/")
    html = response.content.decode()
    assert 'data-testid="cohorts"' in html
    assert 'data-testid="cohort-table"' in html
    chart = response.context["cohort_chart"]
    (row,) = chart.rows
    # Entry quarter, children, any outcome within 3, 6 and 12 months, median days.
    assert [cell.text for cell in row[1:]] == ["2", "50.0% (1)", "100.0% (2)", "100.0% (2)", "60"]
    for text in ("50.0% (1)", "100.0% (2)", "ไตรมาส", "ภายใน 3 เดือน", "กลับเข้าสู่ระบบการศึกษา", "ป้องกันการหลุด"):
        assert text in html, text
    assert "<svg" in str(chart.svg)


def test_the_dashboard_as_of_a_day_counts_what_was_known_then(histories, client_for):
    entered = _a_year_ago()
    day = entered + datetime.timedelta(days=50)  # after the first child's return, before the second's outcome
    run = summarize()  # dated that day, as tests/test_figures_as_of.py dates its runs
    moment, fiscal_year = noon(day), fiscal_year_of(day)
    SummaryRun.objects.filter(pk=run.pk).update(as_of=moment, fiscal_year=fiscal_year)
    run.snapshots.update(as_of=moment, fiscal_year=fiscal_year)
    response = client_for(histories.eef_admin).get(f"/dashboards/university/KKU/?as_of={day.isoformat()}")
    cohorts = response.context["cohorts"]
    assert cohorts.as_of == day
    (row,) = cohorts.rows
    assert row.size == 2
    assert row.reached_any == {3: None, 6: None, 12: None}


@pytest.mark.parametrize("children", [1, 40])
def test_the_dashboard_query_count_is_fixed_whatever_the_records(cast, client_for, children):
    entered = _a_year_ago()
    for n in range(children):
        _plant(PROVINCE_A, entered, (entered + datetime.timedelta(days=n), "returned-to-school"))
    summarize()
    url = "/dashboards/university/KKU/"
    client = client_for(cast.university_member)
    client.get(url)  # warm the session (and the cache)
    cache.delete(cache_key(KKU_PROVINCES, timezone.localdate()))  # the cohorts' entry only
    with CaptureQueriesContext(connection) as cold:
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["cohorts"].rows[0].size == children
    # The page's queries (tests/test_dashboards.py, PAGES) and, on a cache miss, the cohorts': the achieved
    # outcomes, the records, their status changes.
    assert len(cold.captured_queries) == PAGES["university_member", url] + 3
    with CaptureQueriesContext(connection) as warm:
        client.get(url)
    assert len(warm.captured_queries) == PAGES["university_member", url]
