"""Progress summaries: the stored figures equal counts made independently, for every province and
university; a constant number of queries; debounced after uploads; visible only within scope."""

import datetime
import random
from collections import Counter

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from conftest import PROVINCE_A, PROVINCE_B
from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from core.thai_id import check_digit
from portal.demo.provinces import DEMO_LEADS
from portal.plans import save_plan
from provinces.models import PlanGoal, Province, ProvincialPlan
from reports.models import ProgressReport
from summaries.compute import compute, current_period
from summaries.models import Level, Snapshot, SummaryRun
from summaries.services import DEBOUNCE_KEY, request_summary_after_upload, run_summary
from targets.models import Assistance, AssistanceType, Category, Outcome, TargetRecord
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
                if outcome.is_achieved:
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
        # Toward a goal: only records of a category the plan has a goal for, at that goal's outcome.
        goals = set(
            PlanGoal.objects.filter(plan__province_id=code, plan__fiscal_year=YEAR).values_list(
                "category__code", "outcome__code"
            )
        )
        returned = sum(
            1
            for r in mine
            if r.status.group == Outcome.Group.RETURNED_TO_LEARNING and (r.category.code, r.status.code) in goals
        )
        assert data["progress"]["returned_to_learning"]["achieved"] == returned
        assert data["records"]["by_kind"] == dict(Counter(r.status.kind for r in mine))
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
    # cases by close reason, days to first contact, referrals by state, days to complete (summaries.follow_up),
    # transfers by quarter, open duplicate pairs, the quality rules' settings, records flagged by any of them
    # (quality.score), universities: 24, whatever the number of records, provinces or
    # universities.
    with django_assert_num_queries(24):
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
    with django_assert_num_queries(24):
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


# --- The figures mean what they say (issue 12): planted records of every kind, every figure checked ----------------

# (province, category, status) -> how many records. Goals (below) aim at some pairs only: every other
# pair is planted to make sure it does NOT count toward any goal.
PLANTED = {
    (PROVINCE_A, "out-of-school", "returned-to-school"): 3,  # goal 10
    (PROVINCE_A, "out-of-school", "flexible-learning"): 2,  # goal 5
    (PROVINCE_A, "out-of-school", "vocational"): 4,  # achieved, but the plan has no such goal
    (PROVINCE_A, "out-of-school", "in-follow-up"): 5,  # in progress
    (PROVINCE_A, "out-of-school", "not-found"): 2,  # exit without outcome
    (PROVINCE_A, "out-of-school", "referred"): 1,  # a goal of another category only
    (PROVINCE_A, "at-risk", "kept-in-school"): 6,  # goal 8
    (PROVINCE_A, "at-risk", "in-follow-up"): 3,
    (PROVINCE_A, "at-risk", "not-found"): 1,
    (PROVINCE_A, "disability", "referred"): 2,  # goal 4
    (PROVINCE_A, "disability", "in-follow-up"): 7,  # the old dashboard counted these ("อื่น ๆ")
    (PROVINCE_A, "disability", "not-found"): 3,  # and these
    (PROVINCE_A, "disability", "returned-to-school"): 1,  # returned, in a category with no return goal
    (PROVINCE_A, "working-age-youth", "vocational"): 5,  # returned, no goal for this category at all
    (PROVINCE_B, "out-of-school", "returned-to-school"): 4,  # goal 6
    (PROVINCE_B, "out-of-school", "in-follow-up"): 2,
    (PROVINCE_B, "early-childhood", "returned-to-school"): 3,  # no goal
    (32, "out-of-school", "returned-to-school"): 2,  # a programme province without a plan
}
GOALS = {
    (PROVINCE_A, "out-of-school", "returned-to-school"): 10,
    (PROVINCE_A, "out-of-school", "flexible-learning"): 5,
    (PROVINCE_A, "at-risk", "kept-in-school"): 8,
    (PROVINCE_A, "disability", "referred"): 4,
    (PROVINCE_B, "out-of-school", "returned-to-school"): 6,
}


@pytest.fixture
def planted(cast):
    """PLANTED records and GOALS, the goals through the plan's one write path."""
    categories = {c.code: c for c in Category.objects.all()}
    outcomes = {o.code: o for o in Outcome.objects.all()}
    rows = []
    for (code, category, status), count in PLANTED.items():
        rows += [
            TargetRecord(
                identifier=_identifier(5000 + len(rows) + n), identifier_kind="national_id", first_name="ปลูก",
                province_id=code, category=categories[category], status=outcomes[status],
            )
            for n in range(count)
        ]  # fmt: skip
    TargetRecord.objects.bulk_create(rows)
    for code in (PROVINCE_A, PROVINCE_B):
        goals = {(categories[c].pk, outcomes[o].pk): target for (p, c, o), target in GOALS.items() if p == code}
        province = Province.objects.get(pk=code)
        save_plan(user=cast.eef_admin, province=province, fiscal_year=YEAR, strategy="", goals=goals)
    return cast


def _expected_goal_rows(province: int | None) -> dict[tuple[str, str], tuple[int, int]]:
    """(category, outcome) -> (achieved, target): records of that province's category at that outcome."""
    rows: dict[tuple[str, str], list[int]] = {}
    for (code, category, outcome), target in GOALS.items():
        if province is not None and code != province:
            continue
        row = rows.setdefault((category, outcome), [0, 0])
        row[0] += PLANTED.get((code, category, outcome), 0)
        row[1] += target
    return {key: (value[0], value[1]) for key, value in rows.items()}


def _headline(rows: dict, outcomes: set[str] | None = None) -> dict:
    picked = [v for (_c, o), v in rows.items() if outcomes is None or o in outcomes]
    achieved, target = sum(a for a, _t in picked), sum(t for _a, t in picked)
    return {"achieved": achieved, "target": target, "percent": round(100 * achieved / target, 1) if target else None}


RETURNED_CODES = {"returned-to-school", "flexible-learning", "vocational"}


@pytest.mark.parametrize("subject", [PROVINCE_A, PROVINCE_B, 32, None], ids=["A", "B", "no plan", "national"])
def test_planted_figures_count_only_records_that_reached_their_goal(planted, subject):
    run = _run()
    if subject is None:
        data = _snapshot(run, level=Level.NATIONAL)
        mine = {k: n for k, n in PLANTED.items() if k[0] in DEMO_LEADS}
    else:
        data = _snapshot(run, level=Level.PROVINCE, province_id=subject)
        mine = {k: n for k, n in PLANTED.items() if k[0] == subject}
    expected = _expected_goal_rows(subject)
    # Each goal: its category's records at its outcome, nothing else; named by its outcome, never a group.
    got = {(g["category"], g["outcome"]): (g["achieved"], g["target"]) for g in data["goal_rows"]}
    assert got == expected
    # The headline figures are exactly the sums of their goal rows.
    assert data["progress"]["overall"] == _headline(expected)
    assert data["progress"]["returned_to_learning"] == _headline(expected, RETURNED_CODES)
    assert data["progress"]["kept_in_school"] == _headline(expected, {"kept-in-school"})
    parts = data["goal_rows"]
    assert data["progress"]["overall"]["achieved"] == sum(g["achieved"] for g in parts)
    assert data["progress"]["overall"]["target"] == sum(g["target"] for g in parts)
    # Counted apart: where all records stand, whatever the goals.
    kinds = {o.code: o.kind for o in Outcome.objects.all()}
    by_kind = Counter()
    for (_p, _c, status), n in mine.items():
        by_kind[kinds[status]] += n
    assert data["records"]["by_kind"] == dict(by_kind)
    assert data["records"]["total"] == sum(mine.values())


def test_planted_national_headline_is_the_sum_of_its_parts(planted):
    run = _run()
    national = _snapshot(run, level=Level.NATIONAL)
    provinces = [_snapshot(run, level=Level.PROVINCE, province_id=code) for code in DEMO_LEADS]
    for key in ("overall", "returned_to_learning", "kept_in_school"):
        for part in ("achieved", "target"):
            assert national["progress"][key][part] == sum(p["progress"][key][part] for p in provinces), (key, part)
    # The numbers themselves: 3 + 2 + 6 + 2 (A) + 4 (B) of 10 + 5 + 8 + 4 + 6 goals. Returns outside a
    # return goal (vocational, disability, working-age youth, early childhood, province 32) do not count.
    assert national["progress"]["overall"] == {"achieved": 17, "target": 33, "percent": 51.5}
    assert national["progress"]["returned_to_learning"] == {"achieved": 9, "target": 21, "percent": 42.9}
    assert national["records"]["by_bucket"]["returned_to_learning"] == 3 + 2 + 4 + 1 + 5 + 4 + 3 + 2
    # Children still followed up or not found never show as progress, in any goal.
    assert {g["outcome"] for g in national["goal_rows"]} <= {
        o.code for o in Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED)
    }


def test_a_goal_on_a_non_achieved_outcome_is_refused_and_never_counted(planted):
    following = Outcome.objects.get(code="in-follow-up")
    disability = Category.objects.get(code="disability")
    with pytest.raises(ValidationError):
        save_plan(
            user=planted.eef_admin, province=Province.objects.get(pk=PROVINCE_A), fiscal_year=YEAR, strategy="",
            goals={(disability.pk, following.pk): 50},
        )  # fmt: skip
    goal = PlanGoal(plan=ProvincialPlan.objects.get(province_id=PROVINCE_A), category=disability, outcome=following)
    goal.target = 50
    with pytest.raises(ValidationError):
        goal.full_clean()
    # Written past every door (as before the fix): the summary still does not count it.
    goal.save()
    run = _run()
    data = _snapshot(run, level=Level.PROVINCE, province_id=PROVINCE_A)
    assert ("disability", "in-follow-up") not in {(g["category"], g["outcome"]) for g in data["goal_rows"]}
    assert data["progress"]["overall"] == _headline(_expected_goal_rows(PROVINCE_A))


def test_default_outcomes_carry_their_kind():
    kinds = dict(Outcome.objects.values_list("code", "kind"))
    assert kinds["in-follow-up"] == Outcome.Kind.IN_PROGRESS
    assert kinds["not-found"] == Outcome.Kind.EXITED
    assert {code for code, kind in kinds.items() if kind == Outcome.Kind.ACHIEVED} == {
        "returned-to-school", "flexible-learning", "vocational", "kept-in-school", "referred",
    }  # fmt: skip


def test_snapshots_of_an_older_schema_are_not_read(world):
    run = _run()
    assert set(Snapshot.objects.latest_run(YEAR).values_list("run", flat=True)) == {run.pk}
    Snapshot.objects.filter(run=run).update(schema=1)
    assert not Snapshot.objects.latest_run(YEAR).exists()
    assert not Snapshot.objects.current().exists()


def test_an_applied_upload_asks_for_a_summary_through_targets_signal(cast, django_capture_on_commit_callbacks):
    """targets does not import summaries: an applied upload sends records_written after its commit, and
    summaries (connected in its AppConfig.ready) asks for the debounced run."""
    from targets.signals import records_written
    from tests.builders import national_id, upload, upload_and_apply, xlsx

    assert any(key[0] == "summaries.after_records_written" for key, _receiver, *_rest in records_written.receivers)
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"]
    rows = [[national_id(7001), "สมชาย", "ใจดี", "out-of-school"]]
    cache.delete(DEBOUNCE_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        upload(cast.coordinator_a, xlsx(header, rows))  # checked only: nothing written, nothing asked
    assert cache.get(DEBOUNCE_KEY) is None
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload_and_apply(cast.coordinator_a, xlsx(header, rows))
    assert (batch.status, batch.created) == ("applied", 1)
    assert cache.get(DEBOUNCE_KEY) is not None  # the run is due
    cache.delete(DEBOUNCE_KEY)
