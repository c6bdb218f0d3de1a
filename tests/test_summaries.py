"""Progress summaries: the stored figures equal counts made independently, for every province and
university; a constant number of queries; debounced after uploads; visible only within scope."""

import datetime
import random
from collections import Counter

import pytest
from django.core.cache import cache
from django.utils import timezone

from abe_portal.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from conftest import PROVINCE_A, PROVINCE_B
from provinces.demo_data import DEMO_LEADS
from provinces.models import PlanGoal, ProvincialPlan
from reports.models import ProgressReport
from summaries.compute import compute, current_period
from summaries.models import Level, Snapshot, SummaryRun
from summaries.services import DEBOUNCE_KEY, request_summary_after_upload, run_summary
from targets.models import Assistance, AssistanceType, Category, Outcome, TargetRecord
from targets.thai_id import check_digit
from universities.models import CapacityRequest, SupportActivity, SupportAssignment, University

pytestmark = pytest.mark.django_db

YEAR = current_fiscal_year()


def _identifier(n: int) -> str:
    first = f"3{n:011d}"
    return first + str(check_digit(first))


@pytest.fixture
def world(cast):
    """A hand-built programme: records in several provinces with every category and status, help
    given, goals, reports, activities and capacity requests (seeded, so the same every run)."""
    rng = random.Random(7)
    categories = list(Category.objects.all())
    statuses = list(Outcome.objects.all())
    types = list(AssistanceType.objects.all())
    provinces = [PROVINCE_A, PROVINCE_B, 32, 94]
    records = []
    for n in range(400):
        code = rng.choice(provinces)
        records.append(
            TargetRecord(
                identifier=_identifier(n),
                identifier_kind="national_id",
                first_name=f"ทดสอบ{n}",
                province_id=code,
                sub_district_id=400101 if code == PROVINCE_A and n % 2 else None,
                category=rng.choice(categories),
                status=rng.choice(statuses),
                sex=rng.choice(["M", "F", ""]),
                birth_date=None if n % 9 == 0 else datetime.date(2010, 1, 1),
            )
        )
    TargetRecord.objects.bulk_create(records)
    saved = list(TargetRecord.objects.all())
    Assistance.objects.bulk_create(
        [
            Assistance(record=r, type=rng.choice(types), date=datetime.date(2024, 1, 1), given_by="อบต.")
            for r in saved
            if r.pk % 3 == 0
        ]
    )
    for code in (PROVINCE_A, PROVINCE_B):
        plan = ProvincialPlan.objects.create(province_id=code, fiscal_year=YEAR)
        for category in categories[:3]:
            for outcome in statuses:
                if outcome.group != Outcome.Group.OTHER:
                    PlanGoal.objects.create(plan=plan, category=category, outcome=outcome, target=10 + category.pk)
    ProgressReport.objects.create(
        province_id=PROVINCE_A, fiscal_year=YEAR, period=current_period(timezone.localdate()), status="submitted",
        created_by=cast.coordinator_a,
    )  # fmt: skip
    start, _end = fiscal_year_bounds(YEAR)
    kku = University.objects.get(code="KKU")
    for role in (1, 2, 2, 3):
        SupportActivity.objects.create(university=kku, province_id=PROVINCE_A, role=role, date=start, title="ก")
    CapacityRequest.objects.create(
        province_id=PROVINCE_A, university=kku, topic="ข้อมูล", need="อบรม", desired_date=start, status="open"
    )
    CapacityRequest.objects.create(
        province_id=PROVINCE_A, university=kku, topic="ข้อมูล", need="อบรม", desired_date=start, status="delivered",
        rating=4,
    )  # fmt: skip
    return saved


def _run() -> SummaryRun:
    run = SummaryRun.objects.create(fiscal_year=YEAR, trigger=SummaryRun.Trigger.COMMAND)
    return run_summary(run_id=run.pk)


def _snapshot(run, **subject) -> dict:
    return Snapshot.objects.get(run=run, **subject).data


def test_province_figures_equal_independent_counts(world):
    run = _run()
    for code in (PROVINCE_A, PROVINCE_B, 32, 94):
        mine = [r for r in world if r.province_id == code]
        data = _snapshot(run, level=Level.PROVINCE, province_id=code)
        assert data["records"]["total"] == len(mine)
        assert data["records"]["by_category"] == dict(Counter(r.category.code for r in mine))
        assert data["records"]["by_status"] == dict(Counter(r.status.code for r in mine))
        returned = sum(1 for r in mine if r.status.group == Outcome.Group.RETURNED_TO_LEARNING)
        assert data["progress"]["returned_to_learning"]["achieved"] == returned
        missing = sum(1 for r in mine if r.birth_date is None or r.sex == "" or r.sub_district_id is None)
        assert data["completeness"]["incomplete"] == missing
        help_given = Counter(a.type.code for a in Assistance.objects.filter(record__province_id=code))
        assert data["help_by_type"] == dict(help_given)
    a = _snapshot(run, level=Level.PROVINCE, province_id=PROVINCE_A)
    goals = PlanGoal.objects.filter(plan__province_id=PROVINCE_A, outcome__group=Outcome.Group.KEPT_IN_SCHOOL)
    assert a["progress"]["kept_in_school"]["target"] == sum(g.target for g in goals)
    assert a["activities_by_role"] == {"1": 1, "2": 2, "3": 1}
    assert (a["requests"]["open"], a["requests"]["delivered"], a["requests"]["mean_rating"]) == (1, 1, 4.0)
    assert a["requests"]["overdue"] == (1 if timezone.localdate() > fiscal_year_bounds(YEAR)[0] else 0)
    assert a["reports"]["current_period_in"] is True
    assert _snapshot(run, level=Level.PROVINCE, province_id=PROVINCE_B)["reports"]["current_period_in"] is False


def test_university_and_national_figures_roll_up_their_provinces(world):
    run = _run()
    for university in University.objects.all():
        supported = set(
            SupportAssignment.objects.for_fiscal_year(YEAR)
            .filter(university=university)
            .values_list("province_id", flat=True)
        )
        data = _snapshot(run, level=Level.UNIVERSITY, university=university)
        assert data["records"]["total"] == sum(1 for r in world if r.province_id in supported), university.code
        assert sorted(data["provinces"]) == sorted(supported)
    national = _snapshot(run, level=Level.NATIONAL)
    programme = set(DEMO_LEADS)
    assert national["records"]["total"] == sum(1 for r in world if r.province_id in programme)
    kku = _snapshot(run, level=Level.UNIVERSITY, university=University.objects.get(code="KKU"))
    assert kku["own"]["activities_by_role"] == {"1": 1, "2": 2, "3": 1}


def test_compute_takes_the_same_number_of_queries_whatever_the_data(world, django_assert_num_queries):
    # categories, outcomes, assistance types, assignments, records by group, completeness, uploads,
    # help, goals, reports, activities, requests, meetings by province, by university, action items,
    # universities: 16, whatever the number of records, provinces or universities.
    with django_assert_num_queries(16):
        compute(fiscal_year=YEAR)
    TargetRecord.objects.bulk_create(
        [
            TargetRecord(
                identifier=_identifier(1000 + n), identifier_kind="national_id", first_name="เพิ่ม",
                province_id=95, category=Category.objects.first(), status=Outcome.objects.first(),
            )
            for n in range(500)
        ]
    )  # fmt: skip
    with django_assert_num_queries(16):
        compute(fiscal_year=YEAR)


def test_running_a_run_twice_changes_nothing(world):
    run = _run()
    count = run.snapshots.count()
    assert count == 1 + 8 + len(DEMO_LEADS)
    run_summary(run_id=run.pk)
    assert run.snapshots.count() == count


def test_each_run_is_kept_for_the_trend(world):
    first = _run()
    second = _run()
    assert first.pk != second.pk
    assert Snapshot.objects.filter(level=Level.PROVINCE, province_id=PROVINCE_A).count() == 2
    latest = Snapshot.objects.latest_run(YEAR)
    assert set(latest.values_list("run", flat=True)) == {second.pk}


def test_snapshots_are_visible_within_scope(world, cast):
    run = _run()
    mine = Snapshot.objects.filter(run=run)
    assert mine.visible_to(cast.eef_admin).count() == mine.count()
    coordinator = set(mine.visible_to(cast.coordinator_a).values_list("level", "province_id", "university_id"))
    assert coordinator == {("province", PROVINCE_A, None)}
    kku = University.objects.get(code="KKU").pk
    member = set(mine.visible_to(cast.university_member).values_list("level", "province_id", "university_id"))
    assert member == {("province", PROVINCE_A, None), ("province", 32, None), ("university", None, kku)}
    assert not mine.visible_to(cast.no_role).exists()


def test_summary_after_uploads_is_debounced(settings):
    cache.delete(DEBOUNCE_KEY)
    assert request_summary_after_upload() is True
    assert request_summary_after_upload() is False  # the second upload joins the run already due
    cache.delete(DEBOUNCE_KEY)
