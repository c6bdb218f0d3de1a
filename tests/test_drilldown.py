"""Drill-down (issue 17, summaries.drilldown): the province dashboard's district table and a district's page of
sub-districts; their exact figures over planted records (counts, outcomes, goals, quality issues), their links to
the filtered records list, who sees them, the past-day note and the query counts."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import PROVINCE_A, PROVINCE_B
from core.buddhist_dates import current_fiscal_year, file_date
from provinces.models import District, PlanGoal, ProvincialPlan, SubDistrict
from quality.models import RuleSetting
from quality.rules import years_before
from summaries.models import SummaryRun
from summaries.services import run_summary
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db

A_URL = f"/dashboards/province/{PROVINCE_A}/"


def summarize() -> SummaryRun:
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    return run_summary(run_id=run.pk)


def _record(n: int, *, province: int = PROVINCE_A, category: str, status: str, **fields) -> TargetRecord:
    """A record no quality rule finds, but for what `fields` change."""
    values = {
        "identifier": national_id(7000 + n),
        "identifier_kind": "national_id",
        "first_name": f"เด็ก{n}",
        "last_name": "ทดสอบ",
        "province_id": province,
        "birth_date": years_before(timezone.localdate(), 10),
        "category": Category.objects.get(code=category),
        "status": Outcome.objects.get(code=status),
        "phone": "0812345678",
        "consent": True,
    }
    return TargetRecord.objects.create(**(values | fields))


def _areas(province: int, districts: int = 2, subs: int = 2) -> list[tuple[District, list[SubDistrict]]]:
    found = []
    for district in District.objects.filter(province_id=province).order_by("code")[:districts]:
        found.append((district, list(SubDistrict.objects.filter(district=district).order_by("code")[:subs])))
    return found


@pytest.fixture
def planted(cast):
    """Province A: a plan goal (10 out-of-school children returned to school), and records in two districts:
    district 1, sub-district 1: r1 out-of-school returned (toward the goal), r2 the same without a phone (an
    issue), r3 at-risk being followed up; sub-district 2: r4 at-risk kept in school, with no consent and no last
    name (two issues, one record). District 2: r5 out-of-school being followed up, r6 out-of-school returned.
    No district: r7 not found without a failed contact (an issue). Province B: one record."""
    plan = ProvincialPlan.objects.create(province_id=PROVINCE_A, fiscal_year=current_fiscal_year())
    PlanGoal.objects.create(
        plan=plan,
        category=Category.objects.get(code="out-of-school"),
        outcome=Outcome.objects.get(code="returned-to-school"),
        target=10,
    )
    (d1, (s1, s2)), (d2, (s3, _)) = _areas(PROVINCE_A)
    records = {
        "r1": _record(1, category="out-of-school", status="returned-to-school", district=d1, sub_district=s1),
        "r2": _record(2, category="out-of-school", status="returned-to-school", district=d1, sub_district=s1, phone=""),
        "r3": _record(3, category="at-risk", status="in-follow-up", district=d1, sub_district=s1),
        "r4": _record(
            4, category="at-risk", status="kept-in-school", district=d1, sub_district=s2, consent=False, last_name=""
        ),
        "r5": _record(5, category="out-of-school", status="in-follow-up", district=d2, sub_district=s3),
        "r6": _record(6, category="out-of-school", status="returned-to-school", district=d2, sub_district=s3),
        "r7": _record(7, category="out-of-school", status="not-found"),
    }
    (b1, (b_sub, _)), *_ = _areas(PROVINCE_B, 1)
    records["b1"] = _record(8, province=PROVINCE_B, category="out-of-school", status="in-follow-up", district=b1,
                            sub_district=b_sub)  # fmt: skip
    summarize()
    cast.records = records
    cast.d1, cast.d2, cast.s1, cast.s2, cast.b1 = d1, d2, s1, s2, b1
    return cast


def _figures(row) -> tuple:
    return (row.records, row.in_progress, row.achieved, row.toward_goals, row.with_issue, row.share_with_issue)


def _listed(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    return {row["record"].first_name for row in response.context["rows"]}


def test_province_dashboard_lists_its_districts_with_exact_figures(planted, client_for):
    response = client_for(planted.coordinator_a).get(A_URL)
    assert response.status_code == 200
    table = response.context["districts"]
    by_area = {row.key: _figures(row) for row in table.rows}
    assert by_area == {
        planted.d1.pk: (4, 1, 3, 2, 2, 50.0),
        planted.d2.pk: (2, 1, 1, 1, 0, 0.0),
        None: (1, 0, 0, 0, 1, 100.0),  # no district recorded
    }
    assert [row.key for row in table.rows] == [planted.d1.pk, planted.d2.pk, None]  # DOPA order, unrecorded last
    assert _figures(table.total) == (7, 2, 4, 3, 3, round(300 / 7, 1))
    assert (table.goal.achieved, table.goal.target, table.goal.percent) == (3, 10, 30.0)
    page = response.content.decode()
    section = page.split('data-testid="districts"')[1].split("</section>")[0]
    # Thai, numbers as the dashboards write them, the goal only on the province's row.
    for text in ("อำเภอ", planted.d1.name_th, "มีปัญหาคุณภาพข้อมูล", "ไม่ได้ระบุอำเภอ", "ทั้งจังหวัด", "30.0% (3 / 10)"):
        assert text in section
    assert "50.0%" in section
    assert "ไม่ได้ตั้งเป้าหมายรายอำเภอ" in section


def test_district_rows_link_to_the_district_page_and_the_filtered_records(planted, client_for):
    client = client_for(planted.coordinator_a)
    table = client.get(A_URL).context["districts"]
    row = next(r for r in table.rows if r.key == planted.d1.pk)
    assert row.url == f"/dashboards/province/{PROVINCE_A}/district/{planted.d1.pk}/"
    assert _listed(client, row.records_url) == {"เด็ก1", "เด็ก2", "เด็ก3", "เด็ก4"}
    other = next(r for r in table.rows if r.key == planted.d2.pk)
    assert _listed(client, other.records_url) == {"เด็ก5", "เด็ก6"}
    unrecorded = next(r for r in table.rows if r.key is None)
    assert (unrecorded.url, unrecorded.records_url) == ("", "")  # the list has no "not recorded" filter
    page = client.get(A_URL).content.decode()
    assert f'href="{row.url}" data-testid="area-page"' in page
    assert row.records_url.replace("&", "&amp;") in page
    # A district's count of records with an issue opens the quality page narrowed to it (that count, found again).
    assert row.quality_url == f"/quality/{PROVINCE_A}/?district={planted.d1.pk}"
    assert f'href="{row.quality_url}" data-testid="area-quality"' in page
    quality = client.get(row.quality_url)
    assert quality.status_code == 200
    assert quality.context["district"] == planted.d1
    assert other.quality_url
    assert f'href="{other.quality_url}"' not in page  # no issue there: a plain 0
    assert unrecorded.quality_url == ""


def test_district_page_lists_its_sub_districts_with_exact_figures_and_links(planted, client_for):
    client = client_for(planted.coordinator_a)
    response = client.get(f"/dashboards/province/{PROVINCE_A}/district/{planted.d1.pk}/")
    assert response.status_code == 200
    table = response.context["table"]
    assert {row.key: _figures(row) for row in table.rows} == {
        planted.s1.pk: (3, 1, 2, 2, 1, round(100 / 3, 1)),
        planted.s2.pk: (1, 0, 1, 0, 1, 100.0),
    }
    assert (table.goal.achieved, table.goal.target) == (2, 10)  # the province's goal, from the plan
    s1 = next(r for r in table.rows if r.key == planted.s1.pk)
    assert _listed(client, s1.records_url) == {"เด็ก1", "เด็ก2", "เด็ก3"}
    s2 = next(r for r in table.rows if r.key == planted.s2.pk)
    assert _listed(client, s2.records_url) == {"เด็ก4"}
    page = response.content.decode()
    crumbs = page.split('data-testid="breadcrumb"')[1].split("</nav>")[0]
    # Breadcrumb: the province's dashboard, then the district (in Thai).
    assert f'href="{A_URL}"' in crumbs
    assert planted.d1.province.name_th in crumbs
    assert f"{planted.d1.name_th}</span>" in crumbs
    assert f"<h1>อำเภอ{planted.d1.name_th}</h1>" in page
    assert "ตำบล" in page
    assert "ทั้งอำเภอ" in page
    # A district has no goal: its total counts toward the province's, and says so (no percent of it).
    goal_cell = page.split('data-testid="area-total-goal">')[1].split("</td>")[0]
    assert goal_cell.startswith("2<br>")
    assert "จากเป้าหมายของจังหวัด 10" in goal_cell
    # Its quality counts lead to the province's quality page narrowed to the district.
    assert f'href="/quality/{PROVINCE_A}/?district={planted.d1.pk}" data-testid="area-quality-link"' in page
    assert f"คุณภาพข้อมูล: อำเภอ{planted.d1.name_th}" in page


def test_records_list_filters_by_sub_district_through_its_form(planted, client_for):
    client = client_for(planted.coordinator_a)
    base = f"/records/?province={PROVINCE_A}&district={planted.d1.pk}"
    response = client.get(base)
    form = response.context["form"]
    assert "sub_district" in form.fields  # offered once a district is chosen: its sub-districts
    assert {value for value, _ in form.fields["sub_district"].choices if value} == {
        s.pk for s in SubDistrict.objects.filter(district=planted.d1)
    }
    assert "sub_district" not in client.get(f"/records/?province={PROVINCE_A}").context["form"].fields
    # A sub-district of another district is dropped, as a district of another province is.
    elsewhere = f"/records/?province={PROVINCE_A}&district={planted.d2.pk}&sub_district={planted.s1.pk}"
    assert _listed(client, elsewhere) == {"เด็ก5", "เด็ก6"}


def test_a_rule_switched_off_no_longer_counts(planted, client_for):
    RuleSetting.objects.create(code="phone-missing-or-malformed", enabled=False)
    table = client_for(planted.coordinator_a).get(A_URL).context["districts"]
    assert {row.key: row.with_issue for row in table.rows}[planted.d1.pk] == 1  # r4 only; r2's phone no longer


@pytest.mark.parametrize("member", ["eef_admin", "coordinator_a", "viewer_a", "university_member"])
def test_who_reads_the_province_reads_its_district_page(planted, client_for, member):
    url = f"/dashboards/province/{PROVINCE_A}/district/{planted.d1.pk}/"
    assert client_for(getattr(planted, member)).get(url).status_code == 200


def test_coordinator_of_another_province_gets_404(planted, client_for):
    client = client_for(planted.coordinator_b)
    assert client.get(f"/dashboards/province/{PROVINCE_A}/district/{planted.d1.pk}/").status_code == 404
    assert client.get(f"/dashboards/province/{PROVINCE_B}/district/{planted.b1.pk}/").status_code == 200


def test_university_team_sees_only_its_provinces_districts(planted, client_for):
    client = client_for(planted.university_member)  # KKU: provinces 32 and A, not B
    assert client.get(f"/dashboards/province/{PROVINCE_B}/district/{planted.b1.pk}/").status_code == 404
    table = client.get(f"/dashboards/province/{PROVINCE_A}/district/{planted.d1.pk}/").context["table"]
    assert table.total.records == 4


def test_a_district_of_another_province_is_404_even_for_eef(planted, client_for):
    client = client_for(planted.eef_admin)
    assert client.get(f"/dashboards/province/{PROVINCE_A}/district/{planted.b1.pk}/").status_code == 404
    assert client.get(f"/dashboards/province/{PROVINCE_A}/district/9999/").status_code == 404


def test_case_workers_and_outsiders_get_no_district_page(planted, client_for):
    url = f"/dashboards/province/{PROVINCE_A}/district/{planted.d1.pk}/"
    for member in ("case_worker_a", "agency_user_a", "no_role"):
        assert client_for(getattr(planted, member)).get(url).status_code == 404


def test_a_past_day_shows_no_district_figures_but_says_they_are_todays(planted, client_for):
    # An older summary, ten days ago; the latest is today's.
    old = SummaryRun.objects.order_by("pk").last()
    old.snapshots.update(as_of=timezone.now() - datetime.timedelta(days=10))
    summarize()
    client = client_for(planted.coordinator_a)
    past = timezone.localdate() - datetime.timedelta(days=5)
    response = client.get(A_URL, {"as_of": file_date(past)})
    assert response.status_code == 200
    assert "districts" not in response.context
    page = response.content.decode()
    assert 'data-testid="districts-today-only"' in page
    assert "ตัวเลขรายอำเภอเป็นของวันนี้" in page
    assert 'data-testid="area-table"' not in page
    # Today, or no day asked: the table.
    assert "districts" in client.get(A_URL, {"as_of": file_date(timezone.localdate())}).context
    # A past fiscal year: the same note (its figures are not today's).
    response = client.get(A_URL, {"fiscal_year": current_fiscal_year() - 1})
    assert "districts" not in response.context


def _more_areas(start: int) -> None:
    """Records in every district of province A (and up to six sub-districts of each), one issue each."""
    n = start
    for district, subs in _areas(PROVINCE_A, districts=30, subs=6):
        for sub in subs:
            _record(n, category="at-risk", status="in-follow-up", district=district, sub_district=sub, phone="")
            n += 1


def _queries(client, url: str) -> int:
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_district_page_costs_a_fixed_number_of_queries(planted, client_for, django_assert_num_queries):
    client = client_for(planted.coordinator_a)
    url = f"/dashboards/province/{PROVINCE_A}/district/{planted.d1.pk}/"
    client.get(url)
    # 1 session, 2 user, 3 memberships (the scope), 4 the district with its province (through the door), 5 the
    # quality rules' settings, 6 the plan's goals, 7 the table: every sub-district's figures in one aggregate
    with django_assert_num_queries(7):
        client.get(url)
    _more_areas(100)
    with django_assert_num_queries(7):
        response = client.get(url)
    assert len(response.context["table"].rows) > 2


def test_dashboard_district_table_costs_the_same_queries_whatever_the_districts(planted, client_for):
    client = client_for(planted.coordinator_a)
    before = _queries(client, A_URL)
    _more_areas(100)
    summarize()
    after = _queries(client, A_URL)
    assert after == before
    assert len(client.get(A_URL).context["districts"].rows) > 10
