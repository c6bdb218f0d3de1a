"""The province pages, the working group (pages, spreadsheet import and export, admin) and plans."""

import datetime
import io

import pytest
import tablib
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from openpyxl import load_workbook

from conftest import PROVINCE_A, PROVINCE_B
from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from portal.demo.provincial_work import load_demo_provincial_work
from portal.plans import save_plan
from provinces.models import PlanGoal, ProvincialPlan, WorkingGroupMember
from provinces.resources import WorkingGroupMemberResource, parse_sheet_date
from provinces.services import import_working_group
from reports.models import ProgressReport
from targets.models import Category, Outcome
from tests.builders import workbook_file
from universities.models import CapacityRequest, SupportActivity, SupportRole, University

pytestmark = pytest.mark.django_db

CHAIR = WorkingGroupMember.GroupRole.CHAIR
SECRETARY = WorkingGroupMember.GroupRole.SECRETARY
MEMBER = WorkingGroupMember.GroupRole.MEMBER


def _member(province: int, name: str, role=MEMBER, **fields) -> WorkingGroupMember:
    return WorkingGroupMember.objects.create(province_id=province, name=name, group_role=role, **fields)


def _pairs(n: int = 2) -> list[tuple[int, int]]:
    categories = list(Category.objects.order_by("sort_order")[:n])
    outcomes = list(Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED).order_by("sort_order")[:n])
    return [(c.pk, o.pk) for c in categories for o in outcomes]


def _en(client):
    """The client, reading the portal in English (the language switch sets this cookie)."""
    client.cookies["django_language"] = "en"
    return client


# --- the list of provinces -----------------------------------------------------------------------


def _listed(client, query: str = "") -> list[int]:
    response = client.get(f"/provinces/{query}")
    assert response.status_code == 200
    return sorted(row["province"].pk for row in response.context["rows"])


def test_province_list_shows_each_member_of_the_cast_their_provinces(cast, client_for):
    listed = {name: _listed(client_for(cast[name])) for name in ("eef_admin", "university_member", "coordinator_a")}
    listed["coordinator_b"] = _listed(client_for(cast.coordinator_b))
    listed["viewer_a"] = _listed(client_for(cast.viewer_a))
    listed["no_role"] = _listed(client_for(cast.no_role))
    assert len(listed.pop("eef_admin")) == 12
    assert listed == {
        "university_member": [32, PROVINCE_A],  # KKU leads ขอนแก่น and สุรินทร์ this fiscal year
        "coordinator_a": [PROVINCE_A],
        "coordinator_b": [PROVINCE_B],
        "viewer_a": [PROVINCE_A],
        "no_role": [],
    }
    assert client_for(None).get("/provinces/").status_code == 302


def test_province_list_filters_by_fiscal_year_and_ignores_nonsense(cast, client_for):
    from universities.models import SupportAssignment

    SupportAssignment.objects.create(
        university=University.objects.get(code="NU"), province_id=11, fiscal_year=2567, is_lead=True
    )
    client = client_for(cast.eef_admin)
    assert 11 in _listed(client, "?fiscal_year=2567")
    assert 11 not in _listed(client)
    response = client.get("/provinces/?fiscal_year=abc")
    assert response.context["fiscal_year"] == current_fiscal_year()
    # A coordinator's filter offers only years their province was in the programme.
    years = client_for(cast.coordinator_a).get("/provinces/").context["years"]
    assert 2567 in years
    assert all(2566 <= y <= current_fiscal_year() for y in years)


def test_province_list_counts_plans_reports_requests_and_activities_of_the_year(cast, client_for):
    year = current_fiscal_year()
    start, _end = fiscal_year_bounds(year)
    kku = University.objects.get(code="KKU")
    save_plan(
        user=cast.eef_admin,
        province=_province(PROVINCE_A),
        fiscal_year=year,
        strategy="",
        goals=dict.fromkeys(_pairs(), 10),
    )
    ProgressReport.objects.create(
        province_id=PROVINCE_A, fiscal_year=year, period="Q1", status="accepted", created_by=cast.coordinator_a
    )
    ProgressReport.objects.create(
        province_id=PROVINCE_A, fiscal_year=year, period="H1", status="submitted", created_by=cast.coordinator_a
    )
    ProgressReport.objects.create(
        province_id=PROVINCE_A, fiscal_year=year - 1, period="Q4", created_by=cast.coordinator_a
    )
    today = timezone.localdate()
    _request(PROVINCE_A, kku, desired=today - datetime.timedelta(days=3))  # overdue
    _request(PROVINCE_A, kku, desired=today + datetime.timedelta(days=30))
    _request(PROVINCE_A, kku, desired=today - datetime.timedelta(days=3), status="delivered")  # not open
    _activity(PROVINCE_A, kku, start)
    _activity(PROVINCE_A, kku, start - datetime.timedelta(days=1))  # last fiscal year
    response = client_for(cast.coordinator_a).get("/provinces/")
    (row,) = response.context["rows"]
    province = row["province"]
    assert row["lead"].code == "KKU"
    assert (province.plan_id is not None, province.goal_count) == (True, 4)
    assert (province.report_period, province.report_status) == ("H1", "submitted")
    assert (province.open_requests, province.overdue_requests, province.activity_count) == (2, 1, 1)


# --- one province --------------------------------------------------------------------------------


def _province(code: int):
    from provinces.models import Province

    return Province.objects.get(pk=code)


def _request(province: int, university, *, desired: datetime.date, status="open") -> CapacityRequest:
    return CapacityRequest.objects.create(
        province_id=province,
        university=university,
        topic=f"หัวข้อ {desired}",
        need="อบรม",
        desired_date=desired,
        status=status,
    )


def _activity(province: int, university, day: datetime.date, role=SupportRole.COORDINATION) -> SupportActivity:
    return SupportActivity.objects.create(
        university=university, province_id=province, role=role, date=day, title=f"กิจกรรม {day}"
    )


def test_coordinator_of_other_province_gets_404_on_every_page_of_it(cast, client_for):
    member = _member(PROVINCE_B, "นายสมชาย ใจดี", CHAIR)
    client = client_for(cast.coordinator_a)
    for url in (
        f"/provinces/{PROVINCE_B}/",
        f"/provinces/{PROVINCE_B}/working-group/new/",
        f"/provinces/{PROVINCE_B}/working-group/{member.pk}/edit/",
        f"/provinces/{PROVINCE_B}/working-group/import/",
        f"/provinces/{PROVINCE_B}/working-group/export/",
        f"/provinces/{PROVINCE_B}/plans/2567/",
        f"/provinces/{PROVINCE_A}/working-group/{member.pk}/edit/",  # B's member through A's address
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(f"/provinces/{PROVINCE_B}/working-group/{member.pk}/edit/", {"name": "x"})
    assert response.status_code == 404
    response = client.post(f"/provinces/{PROVINCE_B}/plans/2567/", {"strategy": "x"})
    assert response.status_code == 404
    member.refresh_from_db()
    assert member.name == "นายสมชาย ใจดี"
    assert not ProvincialPlan.objects.filter(province_id=PROVINCE_B).exists()


def test_university_member_reads_the_provinces_it_supports_but_not_others(cast, client_for):
    client = client_for(cast.university_member)
    assert client.get(f"/provinces/{PROVINCE_A}/").status_code == 200
    assert client.get(f"/provinces/{PROVINCE_A}/working-group/export/").status_code == 200
    assert client.get(f"/provinces/{PROVINCE_B}/").status_code == 404


def test_province_page_shows_its_work(cast, client_for):
    year = current_fiscal_year()
    today = timezone.localdate()
    kku = University.objects.get(code="KKU")
    _member(PROVINCE_A, "นางมาลี ศรีสุข", MEMBER)
    _member(PROVINCE_A, "นายวิชัย ทองดี", SECRETARY)
    _member(PROVINCE_A, "นายประเสริฐ บุญมา", CHAIR)
    _member(PROVINCE_A, "นายอดีต กรรมการ", MEMBER, active_until=today - datetime.timedelta(days=1))
    _member(PROVINCE_B, "นายพะเยา ใจดี", CHAIR)
    (pair,) = _pairs(1)
    save_plan(
        user=cast.eef_admin,
        province=_province(PROVINCE_A),
        fiscal_year=year,
        strategy="ค้นหาเด็กนอกระบบ",
        goals={pair: 300},
    )
    report = ProgressReport.objects.create(
        province_id=PROVINCE_A, fiscal_year=year, period="Q1", created_by=cast.coordinator_a
    )
    ProgressReport.objects.create(province_id=PROVINCE_B, fiscal_year=year, period="Q1", created_by=cast.coordinator_b)
    _activity(PROVINCE_A, kku, today, SupportRole.DATA)
    overdue = _request(PROVINCE_A, kku, desired=today - datetime.timedelta(days=1))
    _request(PROVINCE_A, kku, desired=today, status="closed")

    response = client_for(cast.viewer_a).get(f"/provinces/{PROVINCE_A}/")
    assert response.status_code == 200
    context = response.context
    assert [m.name for m in context["members"]] == ["นายประเสริฐ บุญมา", "นายวิชัย ทองดี", "นางมาลี ศรีสุข"]
    assert [m.name for m in context["former_members"]] == ["นายอดีต กรรมการ"]
    assert [a.university.code for a in context["lead_assignments"]] == ["KKU"]
    assert [a.university.code for a in context["supporting_assignments"]] == ["MU-IPSR"]
    assert context["plan"].strategy == "ค้นหาเด็กนอกระบบ"
    assert [list(targets) for _category, targets in context["goal_rows"]] == [[300]]
    assert list(context["reports"]) == [report]
    assert [a.role for a in context["activities"]] == [SupportRole.DATA]
    assert list(context["open_requests"]) == [overdue]
    html = response.content.decode()
    assert "นายพะเยา" not in html
    # A viewer reads: no links to change the working group or the plan.
    assert f"/provinces/{PROVINCE_A}/working-group/new/" not in html
    assert f"/provinces/{PROVINCE_A}/plans/" not in html
    assert not context["can_manage"]

    coordinator_page = client_for(cast.coordinator_a).get(f"/provinces/{PROVINCE_A}/").content.decode()
    assert f"/provinces/{PROVINCE_A}/working-group/new/" in coordinator_page
    assert f"/provinces/{PROVINCE_A}/plans/{year}/" in coordinator_page


def test_province_page_shows_the_plan_of_the_fiscal_year_asked_for(cast, client_for):
    province = _province(PROVINCE_A)
    save_plan(user=cast.eef_admin, province=province, fiscal_year=2567, strategy="แผนปี 2567", goals={})
    save_plan(user=cast.eef_admin, province=province, fiscal_year=current_fiscal_year(), strategy="แผนปีนี้", goals={})
    client = client_for(cast.coordinator_a)
    assert client.get(f"/provinces/{PROVINCE_A}/").context["plan"].strategy == "แผนปีนี้"
    response = client.get(f"/provinces/{PROVINCE_A}/?fiscal_year=2567")
    assert response.context["plan"].strategy == "แผนปี 2567"
    assert response.context["other_plan_years"] == [current_fiscal_year()]
    assert [a.university.code for a in response.context["lead_assignments"]] == ["KKU"]


# --- writing the working group -------------------------------------------------------------------


MEMBER_FORM = {
    "name": "  นางสาวกาญจนา   บุญมา ",
    "position": "ผู้อำนวยการ",
    "organisation": "สำนักงาน กศน. จังหวัดขอนแก่น",
    "group_role": "secretary",
    "phone": "0812345678",
    "email": "kanjana@example.org",
    "active_from": "2024-10-01",
    "active_until": "",
}


def test_coordinator_adds_and_edits_a_member_of_their_province(cast, client_for):
    client = client_for(cast.coordinator_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the assertion below reads the English message
    response = client.post(f"/provinces/{PROVINCE_A}/working-group/new/", MEMBER_FORM)
    assert response.status_code == 302
    member = WorkingGroupMember.objects.get(province_id=PROVINCE_A)
    assert (member.name, member.group_role, member.active_from) == (
        "นางสาวกาญจนา บุญมา",
        SECRETARY,
        datetime.date(2024, 10, 1),
    )
    response = client.post(
        f"/provinces/{PROVINCE_A}/working-group/{member.pk}/edit/", {**MEMBER_FORM, "group_role": "chair"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.group_role == CHAIR


def test_a_second_member_of_the_same_name_is_refused(cast, client_for):
    _member(PROVINCE_A, "นางสาวกาญจนา บุญมา")
    response = client_for(cast.coordinator_a).post(f"/provinces/{PROVINCE_A}/working-group/new/", MEMBER_FORM)
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert WorkingGroupMember.objects.filter(province_id=PROVINCE_A).count() == 1


def test_member_period_must_be_in_order(cast, client_for):
    data = {**MEMBER_FORM, "active_from": "2025-01-01", "active_until": "2024-01-01"}
    response = client_for(cast.coordinator_a).post(f"/provinces/{PROVINCE_A}/working-group/new/", data)
    assert response.status_code == 200
    assert not WorkingGroupMember.objects.exists()


@pytest.mark.parametrize("reader", ["viewer_a", "university_member"])
def test_readers_of_a_province_may_not_change_its_working_group_or_plan(cast, client_for, reader):
    member = _member(PROVINCE_A, "นายวิชัย ทองดี")
    client = client_for(cast[reader])
    year = current_fiscal_year()
    for url in (
        f"/provinces/{PROVINCE_A}/working-group/new/",
        f"/provinces/{PROVINCE_A}/working-group/{member.pk}/edit/",
        f"/provinces/{PROVINCE_A}/working-group/import/",
        f"/provinces/{PROVINCE_A}/plans/{year}/",
    ):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {**MEMBER_FORM, "strategy": "x"}).status_code == 403, url
    assert WorkingGroupMember.objects.count() == 1
    assert not ProvincialPlan.objects.exists()


# --- plans ---------------------------------------------------------------------------------------


def test_save_plan_creates_updates_and_removes_goals(cast):
    province = _province(PROVINCE_A)
    p1, p2, p3, p4 = _pairs()
    plan = save_plan(
        user=cast.coordinator_a, province=province, fiscal_year=2568, strategy="ก", goals={p1: 10, p2: 20, p3: None}
    )
    assert {(g.category_id, g.outcome_id): g.target for g in plan.goals.all()} == {p1: 10, p2: 20}
    # Blank removes, a number changes or adds, a pair left out keeps its goal.
    again = save_plan(
        user=cast.coordinator_a, province=province, fiscal_year=2568, strategy="ข", goals={p1: None, p3: 0, p4: 40}
    )
    assert again.pk == plan.pk
    assert again.strategy == "ข"
    assert {(g.category_id, g.outcome_id): g.target for g in again.goals.all()} == {p2: 20, p3: 0, p4: 40}
    assert ProvincialPlan.objects.count() == 1


@pytest.mark.parametrize("who", ["viewer_a", "university_member", "coordinator_b", "no_role"])
def test_save_plan_refuses_those_who_may_not_write_the_province(cast, who):
    with pytest.raises(PermissionDenied):
        save_plan(user=cast[who], province=_province(PROVINCE_A), fiscal_year=2568, strategy="", goals={})
    assert not ProvincialPlan.objects.exists()


@pytest.mark.parametrize(
    ("fiscal_year", "target"),
    [(2024, 1), (2568, -1), (2568, 2.5), (2568, True), (2568, 10_000_001)],
)
def test_save_plan_refuses_bad_input_and_saves_nothing(cast, fiscal_year, target):
    (pair,) = _pairs(1)
    with pytest.raises(ValidationError):
        save_plan(
            user=cast.eef_admin,
            province=_province(PROVINCE_A),
            fiscal_year=fiscal_year,
            strategy="",
            goals={pair: target},
        )
    assert not ProvincialPlan.objects.exists()


def test_coordinator_writes_the_plan_on_its_page(cast, client_for):
    year = current_fiscal_year()
    p1, p2, _p3, _p4 = _pairs()
    client = client_for(cast.coordinator_a)
    url = f"/provinces/{PROVINCE_A}/plans/{year}/"
    form = client.get(url).context["form"]
    data = dict.fromkeys(form.fields, "")
    data.update({"strategy": "ค้นหา ติดตาม ส่งต่อ", f"goal_{p1[0]}_{p1[1]}": "300", f"goal_{p2[0]}_{p2[1]}": "25"})
    data["seen_version"] = "0"  # the form's hidden version: no plan yet (tests/test_stale_edits.py)
    response = client.post(url, data)
    assert response.status_code == 302
    assert response["Location"] == f"/provinces/{PROVINCE_A}/#plan"
    plan = ProvincialPlan.objects.get(province_id=PROVINCE_A, fiscal_year=year)
    assert sorted(plan.goals.values_list("target", flat=True)) == [25, 300]
    # Clearing a cell removes its goal.
    data[f"goal_{p2[0]}_{p2[1]}"] = ""
    data["seen_version"] = plan.version
    assert client.post(url, data).status_code == 302
    assert list(plan.goals.values_list("target", flat=True)) == [300]


def test_plan_page_refuses_negative_and_fractional_goals(cast, client_for):
    (pair,) = _pairs(1)
    url = f"/provinces/{PROVINCE_A}/plans/{current_fiscal_year()}/"
    client = client_for(cast.coordinator_a)
    for bad in ("-5", "2.5", "many"):
        response = client.post(url, {"strategy": "x", f"goal_{pair[0]}_{pair[1]}": bad})
        assert response.status_code == 200
        assert response.context["form"].errors[f"goal_{pair[0]}_{pair[1]}"]
    assert not ProvincialPlan.objects.exists()


def test_plan_page_answers_404_for_a_year_that_is_not_buddhist_era(cast, client_for):
    client = client_for(cast.coordinator_a)
    assert client.get(f"/provinces/{PROVINCE_A}/plans/2024/").status_code == 404
    assert client.get(f"/provinces/{PROVINCE_A}/plans/2567/").status_code == 200


def test_plan_admin_saves_goals_through_the_service_within_the_coordinators_province(cast, client_for):
    p1, p2, _p3, _p4 = _pairs()
    client = client_for(cast.coordinator_a)
    data = {
        "province": PROVINCE_A,
        "fiscal_year": 2568,
        "strategy": "แผน",
        "goals-TOTAL_FORMS": "2",
        "goals-INITIAL_FORMS": "0",
        "goals-0-category": p1[0],
        "goals-0-outcome": p1[1],
        "goals-0-target": "120",
        "goals-1-category": p2[0],
        "goals-1-outcome": p2[1],
        "goals-1-target": "30",
    }
    response = client.post("/admin/provinces/provincialplan/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = ProvincialPlan.objects.get(province_id=PROVINCE_A, fiscal_year=2568)
    assert {(g.category_id, g.outcome_id): g.target for g in plan.goals.all()} == {p1: 120, p2: 30}

    # Change one goal, delete the other.
    goals = {(g.category_id, g.outcome_id): g for g in plan.goals.all()}
    change = {
        "strategy": "แผนใหม่",
        "goals-TOTAL_FORMS": "2",
        "goals-INITIAL_FORMS": "2",
        "goals-0-id": goals[p1].pk,
        "goals-0-plan": plan.pk,
        "goals-0-category": p1[0],
        "goals-0-outcome": p1[1],
        "goals-0-target": "150",
        "goals-1-id": goals[p2].pk,
        "goals-1-plan": plan.pk,
        "goals-1-category": p2[0],
        "goals-1-outcome": p2[1],
        "goals-1-target": "30",
        "goals-1-DELETE": "on",
        "seen_version": plan.version,  # the form's hidden version (tests/test_stale_edits.py)
    }
    response = client.post(f"/admin/provinces/provincialplan/{plan.pk}/change/", change)
    assert response.status_code == 302, response.content.decode()[:2000]
    plan.refresh_from_db()
    assert plan.strategy == "แผนใหม่"
    assert {(g.category_id, g.outcome_id): g.target for g in plan.goals.all()} == {p1: 150}

    # Province B is not coordinator A's: not offered, and B's plan is not found.
    response = client.post("/admin/provinces/provincialplan/add/", {**data, "province": PROVINCE_B})
    assert response.status_code == 200
    assert not ProvincialPlan.objects.filter(province_id=PROVINCE_B).exists()
    plan_b = ProvincialPlan.objects.create(province_id=PROVINCE_B, fiscal_year=2568)
    assert client.get(f"/admin/provinces/provincialplan/{plan_b.pk}/change/").status_code == 404


def test_target_tables_are_read_by_role_holders_and_written_by_eef(cast, client_for):
    category = Category.objects.first()
    coordinator = client_for(cast.coordinator_a)
    assert coordinator.get("/admin/targets/category/").status_code == 200
    assert coordinator.get("/admin/targets/category/add/").status_code == 403
    response = coordinator.post(
        f"/admin/targets/category/{category.pk}/change/",
        {"code": category.code, "name_th": "เปลี่ยน", "name_en": "x", "sort_order": 1, "is_active": "on"},
    )
    assert response.status_code == 403
    category.refresh_from_db()
    assert category.name_th != "เปลี่ยน"
    response = client_for(cast.eef_admin).post(
        "/admin/targets/category/add/",
        {"code": "orphan", "name_th": "เด็กกำพร้า", "name_en": "Orphan", "sort_order": 70, "is_active": "on"},
    )
    assert response.status_code == 302
    assert Category.objects.filter(code="orphan").exists()


# --- the working-group spreadsheet ---------------------------------------------------------------


def _xlsx(rows: list[list], name: str = "คณะทำงาน.xlsx"):
    return workbook_file(rows, name)


def _messy_sheet():
    """As a coordinator keeps it: a title line, Thai headers in their own order, พ.ศ. dates typed as
    text and one real date, a phone Excel made a number, a column the import does not use, an empty
    row, and one row with three mistakes."""
    return _xlsx(
        [
            ["รายชื่อคณะทำงานระดับจังหวัดขอนแก่น"],
            ["บทบาท", "ชื่อ - สกุล", "หน่วยงาน", "ตำแหน่ง", "เบอร์โทร", "อีเมล", "เริ่ม", "สิ้นสุด", "หมายเหตุ"],
            ["ประธาน", "นายสมชาย ใจดี", "ศาลากลางจังหวัดขอนแก่น", "ผู้ว่าราชการจังหวัด", 812345678, "", "1/10/2566", "", ""],
            [
                "กรรมการและเลขานุการ",
                "นางมาลี ศรีสุข",
                "สำนักงานศึกษาธิการจังหวัดขอนแก่น",
                "ศึกษาธิการจังหวัด",
                "043-123456",
                "malee@example.org",
                datetime.datetime(2023, 10, 1),  # noqa: DTZ001 - a spreadsheet's date has no zone
                "30 ก.ย. 2568",
                "",
            ],
            [],
            ["กรรมการ", "  นายวิชัย   ทองดี ", "อบจ.ขอนแก่น", "นายก อบจ.", "", "", "15/03/2567", "", "ย้ายมาแทน"],
            ["หัวหน้า", "นางสาวกาญจนา บุญมา", "กศน.", "ผอ.", "", "not-an-email", "31/02/2567", "", ""],
        ]
    )


def _import_page(client, upload):
    return client.post(f"/provinces/{PROVINCE_A}/working-group/import/", {"sheet": upload})


def _preview(response) -> list[tuple]:
    outcome = response.context["outcome"]
    return [(r.number, r.action, r.name, [column for column, _reason in r.errors]) for r in outcome.rows]


def _snapshot():
    return sorted(
        WorkingGroupMember.objects.values_list(
            "province_id",
            "name",
            "position",
            "organisation",
            "group_role",
            "phone",
            "email",
            "active_from",
            "active_until",
        )
    )


def test_messy_sheet_previews_applies_and_imports_idempotently(cast, client_for):
    _member(PROVINCE_A, "นายวิชัย ทองดี", position="รองนายก อบจ.")
    _member(PROVINCE_B, "นายสมชาย ใจดี", CHAIR)  # the same name in another province is another person
    before = _snapshot()
    client = _en(client_for(cast.coordinator_a))

    response = _import_page(client, _messy_sheet())
    assert response.status_code == 200
    assert _preview(response) == [
        (3, "create", "นายสมชาย ใจดี", []),
        (4, "create", "นางมาลี ศรีสุข", []),
        (6, "update", "นายวิชัย ทองดี", []),
        (7, "error", "นางสาวกาญจนา บุญมา", ["บทบาท", "เริ่ม", "อีเมล"]),
    ]
    outcome = response.context["outcome"]
    reasons = dict(outcome.rows[3].errors)
    assert "Unknown role “หัวหน้า”" in reasons["บทบาท"]
    assert "No such day" in reasons["เริ่ม"]
    assert "email" in reasons["อีเมล"]
    assert outcome.ignored_columns == ["หมายเหตุ"]
    assert _snapshot() == before, "the preview saves nothing"
    html = response.content.decode()
    assert "Every valid row is applied; rows with errors are left out" in html

    response = client.post(
        f"/provinces/{PROVINCE_A}/working-group/import/",
        {"payload": response.context["confirm_form"]["payload"].value()},
    )
    assert response.status_code == 302
    members = {m.name: m for m in WorkingGroupMember.objects.filter(province_id=PROVINCE_A)}
    assert set(members) == {"นายสมชาย ใจดี", "นางมาลี ศรีสุข", "นายวิชัย ทองดี"}
    chair, secretary, mayor = members["นายสมชาย ใจดี"], members["นางมาลี ศรีสุข"], members["นายวิชัย ทองดี"]
    assert (chair.group_role, chair.phone, chair.active_from) == (CHAIR, "0812345678", datetime.date(2023, 10, 1))
    assert (secretary.group_role, secretary.active_from, secretary.active_until) == (
        SECRETARY,
        datetime.date(2023, 10, 1),
        datetime.date(2025, 9, 30),
    )
    assert (mayor.position, mayor.active_from) == ("นายก อบจ.", datetime.date(2024, 3, 15))
    after = _snapshot()

    # The same sheet again: nothing to create or change, and nothing changes.
    response = _import_page(client, _messy_sheet())
    assert [(n, action) for n, action, _name, _e in _preview(response)] == [
        (3, "unchanged"),
        (4, "unchanged"),
        (6, "unchanged"),
        (7, "error"),
    ]
    assert "confirm_form" not in response.context
    assert _snapshot() == after


def test_import_errors_are_in_the_users_language(cast, client_for):
    thai = _import_page(client_for(cast.coordinator_a), _messy_sheet())  # Thai, the default
    english = _import_page(_en(client_for(cast.coordinator_a)), _messy_sheet())
    assert dict(thai.context["outcome"].rows[3].errors)["อีเมล"] == "กรอกอีเมลให้ถูกต้อง"
    assert dict(english.context["outcome"].rows[3].errors)["อีเมล"] == "Enter a valid email address."


def test_import_reads_english_csv_with_christian_era_dates(cast, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = "Role,Name,Position,Organisation,Phone,Email,Active from,Active until\n"
    body += "chair,Somchai Jaidee,Governor,Provincial Hall,0812345678,s@example.org,2024-10-01,30/09/2025\n"
    upload = SimpleUploadedFile("wg.csv", body.encode("utf-8-sig"))
    outcome = import_working_group(
        user=cast.coordinator_a, province=_province(PROVINCE_A), sheet=_read(upload), dry_run=False
    )
    assert outcome.applied
    member = WorkingGroupMember.objects.get()
    assert (member.group_role, member.active_from, member.active_until) == (
        CHAIR,
        datetime.date(2024, 10, 1),
        datetime.date(2025, 9, 30),
    )


def _read(upload):
    from provinces.resources import read_sheet

    return read_sheet(upload)


def test_import_refuses_a_sheet_without_a_name_column_and_a_changed_preview(cast, client_for):
    client = _en(client_for(cast.coordinator_a))
    response = _import_page(client, _xlsx([["ตำแหน่ง", "หน่วยงาน"], ["ผู้ว่า", "ศาลากลาง"]]))
    assert response.context["form"].errors["sheet"]
    response = client.post(f"/provinces/{PROVINCE_A}/working-group/import/", {"payload": "forged:payload"})
    assert response.status_code == 302
    assert not WorkingGroupMember.objects.exists()


def test_a_preview_cannot_be_confirmed_for_another_province(cast, client_for):
    """The signed sheet is bound to its province and user: B's coordinator cannot replay A's preview."""
    client = client_for(cast.coordinator_a)
    payload = _import_page(client, _messy_sheet()).context["confirm_form"]["payload"].value()
    response = client_for(cast.coordinator_b).post(
        f"/provinces/{PROVINCE_B}/working-group/import/", {"payload": payload}
    )
    assert response.status_code == 302
    assert not WorkingGroupMember.objects.exists()


def test_import_saves_nothing_when_saving_a_row_fails(cast, monkeypatch):
    """The rule stated on the page: valid rows are applied together, or nothing is."""
    original = WorkingGroupMemberResource.before_save_instance

    def fail_on_malee(self, instance, row, **kwargs):
        if instance.name == "นางมาลี ศรีสุข":
            raise RuntimeError("the database went away")
        return original(self, instance, row, **kwargs)

    monkeypatch.setattr(WorkingGroupMemberResource, "before_save_instance", fail_on_malee)
    outcome = import_working_group(
        user=cast.coordinator_a, province=_province(PROVINCE_A), sheet=_read(_messy_sheet()), dry_run=False
    )
    assert not outcome.applied
    assert [r.action for r in outcome.rows] == ["create", "error", "create", "error"]
    assert not WorkingGroupMember.objects.exists()


def test_page_import_refuses_rows_naming_another_province(cast):
    dataset = tablib.Dataset(("นายสมชาย ใจดี", "56"), headers=["ชื่อ-สกุล", "จังหวัด"])
    sheet = {"headers": dataset.headers, "rows": [[2, list(dataset[0])]]}
    outcome = import_working_group(user=cast.coordinator_a, province=_province(PROVINCE_A), sheet=sheet, dry_run=False)
    assert [(r.action, [c for c, _ in r.errors]) for r in outcome.rows] == [("error", ["จังหวัด"])]
    assert not WorkingGroupMember.objects.exists()


def test_coordinator_cannot_import_members_of_another_province_through_admin(cast, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = "province,name,group_role\n56,นายพะเยา ใจดี,chair\n40,นายขอนแก่น ใจดี,member\n"
    client = client_for(cast.coordinator_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the assertion below reads the English message
    response = client.post(
        "/admin/provinces/workinggroupmember/import/",
        {"import_file": SimpleUploadedFile("wg.csv", body.encode()), "format": "0", "resource": "0"},
    )
    assert response.status_code == 200
    assert response.context["result"].has_validation_errors()
    assert response.context.get("confirm_form") is None  # nothing to confirm
    assert "You may not change the working group of" in response.content.decode()
    assert not WorkingGroupMember.objects.exists()

    # Straight through the resource (what admin's confirmation runs), too: B's row is refused.
    dataset = tablib.Dataset(("56", "นายพะเยา ใจดี", "chair"), ("40", "นายขอนแก่น ใจดี", "member"))
    dataset.headers = ["province", "name", "group_role"]
    result = WorkingGroupMemberResource(user=cast.coordinator_a).import_data(dataset, dry_run=False)
    assert [row.import_type for row in result.rows] == ["invalid", "new"]
    assert list(WorkingGroupMember.objects.values_list("province_id", "name")) == [(PROVINCE_A, "นายขอนแก่น ใจดี")]

    # And the last guard, whatever calls the resource: no save outside the user's provinces.
    resource = WorkingGroupMemberResource(user=cast.coordinator_a)
    with pytest.raises(PermissionDenied):
        resource.before_save_instance(WorkingGroupMember(province_id=PROVINCE_B, name="x"), {})


def test_eef_imports_any_province_through_admin(cast, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = "จังหวัด,ชื่อ-สกุล,บทบาท\nพะเยา,นายพะเยา ใจดี,ประธาน\n"
    client = client_for(cast.eef_admin)
    response = client.post(
        "/admin/provinces/workinggroupmember/import/",
        {"import_file": SimpleUploadedFile("wg.csv", body.encode()), "format": "0", "resource": "0"},
    )
    confirm = response.context["confirm_form"]
    response = client.post("/admin/provinces/workinggroupmember/process_import/", confirm.initial)
    assert response.status_code == 302
    member = WorkingGroupMember.objects.get()
    assert (member.province_id, member.group_role) == (PROVINCE_B, CHAIR)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("15/03/2567", datetime.date(2024, 3, 15)),
        ("15/03/2024", datetime.date(2024, 3, 15)),
        ("15-3-2567", datetime.date(2024, 3, 15)),
        ("2567-03-15", datetime.date(2024, 3, 15)),
        ("15 มี.ค. 2567", datetime.date(2024, 3, 15)),
        ("15 มีนาคม 2567", datetime.date(2024, 3, 15)),
        ("15 Mar 2024", datetime.date(2024, 3, 15)),
        (datetime.datetime(2024, 3, 15, 0, 0), datetime.date(2024, 3, 15)),  # noqa: DTZ001
        ("", None),
    ],
)
def test_sheet_dates_in_either_era(text, day):
    assert parse_sheet_date(text) == day


@pytest.mark.parametrize("text", ["15/03/67", "31/02/2567", "เมื่อวาน"])
def test_sheet_dates_that_cannot_be_read(text):
    with pytest.raises(ValueError, match=r"\S"):
        parse_sheet_date(text)


def test_export_is_xlsx_with_neutralised_formulas_and_imports_back_unchanged(cast, client_for):
    _member(
        PROVINCE_A, '=HYPERLINK("http://evil")', CHAIR, phone="+66812345678", active_from=datetime.date(2024, 10, 1)
    )
    _member(PROVINCE_A, "นางมาลี ศรีสุข", SECRETARY, organisation="@สำนักงาน")
    _member(PROVINCE_B, "นายพะเยา ใจดี", CHAIR)
    client = client_for(cast.coordinator_a)
    response = client.get(f"/provinces/{PROVINCE_A}/working-group/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("ชื่อ-สกุล", "ตำแหน่ง", "หน่วยงาน", "บทบาท")
    assert len(rows) == 3  # header and A's two members; B's is not there
    assert rows[1][0] == '\'=HYPERLINK("http://evil")'
    assert rows[1][4] == "'+66812345678"
    assert rows[2][2] == "'@สำนักงาน"
    assert rows[1][6] == datetime.datetime(2024, 10, 1)  # noqa: DTZ001 - a real Excel date
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    before = _snapshot()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("export.xlsx", response.content)
    response = _import_page(client, upload)
    assert [action for _n, action, _name, _e in _preview(response)] == ["unchanged", "unchanged"]
    assert _snapshot() == before


def test_admin_export_neutralises_formulas_too(cast):
    _member(PROVINCE_A, "=1+1", CHAIR, phone="-5")
    dataset = WorkingGroupMemberResource(user=cast.coordinator_a).export()
    row = dict(zip(dataset.headers, dataset[0], strict=True))
    assert (row["name"], row["phone"], row["province"]) == ("'=1+1", "'-5", PROVINCE_A)


# --- demo data -----------------------------------------------------------------------------------


def test_demo_working_groups_and_plans_load_once(cast):
    from portal.demo.provinces import DEMO_LEADS

    created = load_demo_provincial_work()
    assert created["members"] > 0
    assert created["plans"] == 12
    assert created["goals"] > 12
    assert load_demo_provincial_work() == {"members": 0, "plans": 0, "goals": 0}
    for code in DEMO_LEADS:
        group = WorkingGroupMember.objects.filter(province_id=code)
        assert 6 <= group.count() <= 9
        assert group.filter(group_role=CHAIR).count() == 1
        assert group.values("name").distinct().count() == group.count()
        plan = ProvincialPlan.objects.get(province_id=code, fiscal_year=current_fiscal_year())
        assert plan.strategy
        assert plan.goals.count() >= 5
    assert not WorkingGroupMember.objects.filter(is_demo=False).exists()
    assert not ProvincialPlan.objects.filter(is_demo=False).exists()


def test_demo_leaves_a_province_with_real_members_alone():
    from portal.demo.provinces import load_demo_assignments

    load_demo_assignments()
    _member(PROVINCE_A, "นายจริง ใจดี", CHAIR)
    load_demo_provincial_work()
    assert list(WorkingGroupMember.objects.filter(province_id=PROVINCE_A).values_list("name", flat=True)) == [
        "นายจริง ใจดี"
    ]


# --- query counts --------------------------------------------------------------------------------


def _grow(cast, factor: int) -> None:
    """`factor` reports, activities, capacity requests and members in each of the 12 provinces, and
    a plan with goals for each."""
    from universities.models import SupportAssignment

    year = current_fiscal_year()
    start, _end = fiscal_year_bounds(year)
    leads = SupportAssignment.objects.current().leads()
    pairs = _pairs(3)
    periods = ("Q1", "Q2", "Q3", "Q4", "H1", "H2")
    reports, activities, requests, members, goals = [], [], [], [], []
    for lead in leads:
        province = lead.province_id
        plan = ProvincialPlan.objects.create(province_id=province, fiscal_year=year, strategy="แผน")
        goals += [PlanGoal(plan=plan, category_id=c, outcome_id=o, target=10) for c, o in pairs]
        for i in range(factor):
            reports.append(
                ProgressReport(
                    province_id=province,
                    fiscal_year=year - i // len(periods),
                    period=periods[i % len(periods)],
                    created_by=cast.coordinator_a,
                )
            )
            activities.append(
                SupportActivity(
                    university_id=lead.university_id,
                    province_id=province,
                    role=i % 4 + 1,
                    date=start + datetime.timedelta(days=i),
                    title=f"กิจกรรม {i}",
                )
            )
            requests.append(
                CapacityRequest(
                    province_id=province,
                    university_id=lead.university_id,
                    topic=f"คำขอ {i}",
                    need="อบรม",
                    desired_date=start + datetime.timedelta(days=i * 20),
                )
            )
            members.append(WorkingGroupMember(province_id=province, name=f"สมาชิก {i}", group_role=MEMBER))
    ProgressReport.objects.bulk_create(reports)
    SupportActivity.objects.bulk_create(activities)
    CapacityRequest.objects.bulk_create(requests)
    WorkingGroupMember.objects.bulk_create(members)
    PlanGoal.objects.bulk_create(goals)


@pytest.mark.parametrize("factor", [1, 10])
def test_province_list_query_count_does_not_grow_with_the_data(cast, client_for, django_assert_num_queries, factor):
    _grow(cast, factor)
    client = client_for(cast.university_member)
    client.get("/provinces/")  # warm the session
    # 1 session, 2 user, 3 memberships and 4 this year's assignments (the scope),
    # 5 fiscal years for the filter, 6 provinces with plan, goals, latest report, request and
    # activity counts as subqueries, 7 the year's assignments with their universities (prefetch).
    with django_assert_num_queries(7):
        response = client.get("/provinces/")
    assert len(response.context["rows"]) == 2


@pytest.mark.parametrize("factor", [1, 10])
def test_province_list_query_count_for_eef_does_not_grow_with_the_data(
    cast, client_for, django_assert_num_queries, factor
):
    _grow(cast, factor)
    client = client_for(cast.eef_admin)
    client.get("/provinces/")
    # session, user, memberships (national: no assignments), fiscal years, provinces, the year's
    # assignments.
    with django_assert_num_queries(6):
        response = client.get("/provinces/")
    assert len(response.context["rows"]) == 12
    assert {row["province"].open_requests for row in response.context["rows"]} == {factor}


@pytest.mark.parametrize("factor", [1, 10])
def test_province_page_query_count_does_not_grow_with_the_data(cast, client_for, django_assert_num_queries, factor):
    _grow(cast, factor)
    client = client_for(cast.coordinator_a)
    client.get(f"/provinces/{PROVINCE_A}/")
    # 1 session, 2 user, 3 memberships (scope), 4 the province with its region, 5 working group,
    # 6 the year's assignments with universities, 7 plans, 8 the plan's goals with categories and
    # outcomes (prefetch), 9 the access log's row (the working group's names, phones and emails),
    # 10 reports, 11 recent activities with universities, 12 open requests with universities,
    # 13 the universities supporting the user's provinces (the meetings' door), 14 upcoming meetings,
    # 15 meetings held this fiscal year, 16 the latest summary of the province.
    with django_assert_num_queries(16):
        response = client.get(f"/provinces/{PROVINCE_A}/")
    assert len(response.context["members"]) == factor
    assert len(response.context["reports"]) == factor


def test_province_page_shows_its_meetings_and_latest_figures_not_a_placeholder(cast, client_for):
    from meetings.models import Kind, Meeting
    from summaries.models import SummaryRun
    from summaries.services import run_summary

    year = current_fiscal_year()
    today = timezone.localdate()
    (pair,) = _pairs(1)
    save_plan(user=cast.eef_admin, province=_province(PROVINCE_A), fiscal_year=year, strategy="", goals={pair: 40})
    held = Meeting.objects.create(
        title="ประชุมคณะทำงาน", kind=Kind.PROVINCIAL, status=Meeting.Status.HELD, starts_on=today, ends_on=today
    )
    held.provinces.add(PROVINCE_A)
    coming = Meeting.objects.create(
        title="ประชุมครั้งถัดไป", kind=Kind.PROVINCIAL, starts_on=today + datetime.timedelta(days=7),
        ends_on=today + datetime.timedelta(days=7),
    )  # fmt: skip
    coming.provinces.add(PROVINCE_A)
    client = client_for(cast.coordinator_a)
    html = client.get(f"/provinces/{PROVINCE_A}/").content.decode()
    assert "will appear here" not in html
    assert "จะแสดงที่นี่" not in html
    assert "ประชุมครั้งถัดไป" in html
    assert client.get(f"/provinces/{PROVINCE_A}/").context["meetings_held"] == 1
    assert "ยังไม่มีการคำนวณสรุป" in html  # no summary yet: said so, with a way to the records

    run = SummaryRun.objects.create(fiscal_year=year, trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)
    response = client.get(f"/provinces/{PROVINCE_A}/")
    assert response.context["progress"].target == 40
    html = response.content.decode()
    assert "ความก้าวหน้าตามเป้าหมายของแผน" in html
    assert f"/dashboards/province/{PROVINCE_A}/" in html


# --- goals only on achieved outcomes (issue 12) ----------------------------------------------------------------------


def test_admin_offers_only_achieved_outcomes_for_a_goal(cast, rf):
    from django.contrib import admin

    from portal.admin import PlanGoalInline

    request = rf.get("/admin/")
    request.user = cast.eef_admin
    inline = PlanGoalInline(ProvincialPlan, admin.site)
    field = inline.formfield_for_foreignkey(PlanGoal._meta.get_field("outcome"), request)
    assert set(field.queryset.values_list("code", flat=True)) == set(
        Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED).values_list("code", flat=True)
    )
    assert not field.queryset.filter(code__in=["in-follow-up", "not-found"]).exists()


def test_an_outcome_plans_aim_at_stays_achieved_and_only_achieved_outcomes_head_a_figure(cast):
    from django.db import IntegrityError, transaction

    (pair,) = _pairs(1)
    save_plan(user=cast.eef_admin, province=_province(PROVINCE_A), fiscal_year=current_fiscal_year(), strategy="",
              goals={pair: 10})  # fmt: skip
    outcome = Outcome.objects.get(pk=pair[1])
    outcome.kind = Outcome.Kind.IN_PROGRESS
    outcome.group = Outcome.Group.OTHER
    with pytest.raises(ValidationError) as error:
        outcome.full_clean()
    assert "kind" in error.value.message_dict
    following = Outcome.objects.get(code="in-follow-up")
    following.group = Outcome.Group.RETURNED_TO_LEARNING
    with pytest.raises(ValidationError):
        following.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        following.save(update_fields=["group"])


@pytest.mark.parametrize("given", ["abc", "9999", "2024", ""])
def test_a_fiscal_year_that_is_not_one_shows_the_current_year(cast, client_for, given):
    client = client_for(cast.eef_admin)
    for url in ("/provinces/", f"/provinces/{PROVINCE_A}/"):
        response = client.get(f"{url}?fiscal_year={given}")
        assert response.status_code == 200, url
        assert response.context["fiscal_year"] == current_fiscal_year(), url


def test_a_member_is_saved_through_the_service_by_the_province_writers_only(cast):
    from django.contrib.auth.models import AnonymousUser

    from provinces.models import Province
    from provinces.services import save_member

    province_a, province_b = Province.objects.get(pk=PROVINCE_A), Province.objects.get(pk=PROVINCE_B)
    member = save_member(
        user=cast.coordinator_a, province=province_a, member=WorkingGroupMember(province=province_a, name="ก")
    )
    assert WorkingGroupMember.objects.get(pk=member.pk).province_id == PROVINCE_A
    for user in (cast.viewer_a, cast.coordinator_b, cast.university_member, AnonymousUser()):
        with pytest.raises(PermissionDenied):
            save_member(user=user, province=province_a, member=WorkingGroupMember(province=province_a, name="ข"))
    with pytest.raises(PermissionDenied):  # the page's province, not one the member was moved to
        save_member(
            user=cast.coordinator_a, province=province_a, member=WorkingGroupMember(province=province_b, name="ค")
        )
    assert list(WorkingGroupMember.objects.filter(name__in=["ข", "ค"])) == []
