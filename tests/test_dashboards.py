"""The dashboards (summaries/views.py): who sees which, that they show the stored figures, their charts and
map (server-rendered SVG with a table beside each), the exports (Excel, the Thai PDF meeting pack), the
"compute now" button and admin action, the figures beside a meeting's presentations, and the query counts.

The PDF checks use poppler-utils (pdftotext): a missing tool skips them, except in CI
(REQUIRE_REAL_SERVICES=1), where it fails.
"""

import dataclasses
import datetime
import io
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.buddhist_dates import current_fiscal_year
from exports.models import ExportJob
from meetings.models import Kind, Meeting, Presentation
from provinces.models import PlanGoal, ProvincialPlan
from summaries import charts, exports, figures
from summaries.figures import Progress, Row, sort_rows
from summaries.map import map_svg, province_paths
from summaries.models import Level, Snapshot, SummaryRun
from summaries.schema import GoalProgress, parse
from summaries.services import run_summary
from targets.models import Category, Outcome, TargetRecord
from tests.builders import download_export

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
STORED = Path(__file__).parent / "data" / "snapshot_v2.json"  # figures stored by a run of schema 2
KKU_PROVINCES = {32, PROVINCE_A}  # the demo assignments: KKU leads สุรินทร์ and ขอนแก่น


def summarize(times: int = 1) -> SummaryRun:
    """Compute the summary `times` times (each run stores its own snapshots); the last run."""
    for _ in range(times):
        run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
        run = run_summary(run_id=run.pk)
    return run


def _records(province: int, statuses: dict[tuple[str, str], int]) -> None:
    """{(category code, status code): how many} records of a province."""
    categories = {c.code: c for c in Category.objects.all()}
    outcomes = {o.code: o for o in Outcome.objects.all()}
    rows: list[TargetRecord] = []
    for (category, status), count in statuses.items():
        for _ in range(count):
            number = TargetRecord.objects.count() + len(rows)
            rows.append(
                TargetRecord(
                    identifier=f"9{province:02d}{number:010d}",
                    identifier_kind="national_id",
                    first_name="ทดสอบ",
                    province_id=province,
                    category=categories[category],
                    status=outcomes[status],
                )
            )
    TargetRecord.objects.bulk_create(rows)


@pytest.fixture
def data(cast):
    """Province A: 8 records (3 returned to school, 2 kept in school, 3 being followed up, one of them
    without sex or birth date counted as incomplete), goals of 10 returned and 4 kept. Province B: 2
    records, no plan."""
    plan = ProvincialPlan.objects.create(province_id=PROVINCE_A, fiscal_year=current_fiscal_year())
    PlanGoal.objects.create(
        plan=plan,
        category=Category.objects.get(code="out-of-school"),
        outcome=Outcome.objects.get(code="returned-to-school"),
        target=10,
    )
    PlanGoal.objects.create(
        plan=plan,
        category=Category.objects.get(code="at-risk"),
        outcome=Outcome.objects.get(code="kept-in-school"),
        target=4,
    )
    _records(
        PROVINCE_A,
        {("out-of-school", "returned-to-school"): 3, ("at-risk", "kept-in-school"): 2, ("at-risk", "in-follow-up"): 3},
    )
    _records(PROVINCE_B, {("out-of-school", "in-follow-up"): 2})
    return cast


@pytest.fixture
def summary(data):
    """The cast, once a summary of `data` is computed."""
    summarize()
    return data


def english(client):
    """The client reads English pages (the language cookie decides; Thai without it)."""
    client.cookies["django_language"] = "en"
    return client


def _snapshot(level: str, **subject) -> Snapshot | None:
    return Snapshot.objects.filter(level=level, **subject).order_by("-as_of").first()


@pytest.fixture
def poppler():
    missing = [tool for tool in ("pdftotext",) if shutil.which(tool) is None]
    if missing:
        reason = "pdftotext missing (Debian: apt-get install poppler-utils)"
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)


def pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "pack.pdf"
    path.write_bytes(content)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()


# --- who sees which dashboard ----------------------------------------------------------------------------------------

A_URL = f"/dashboards/province/{PROVINCE_A}/"
B_URL = f"/dashboards/province/{PROVINCE_B}/"


@pytest.mark.parametrize(
    ("member", "url", "expected"),
    [
        ("coordinator_a", A_URL, 200),
        ("coordinator_a", B_URL, 404),
        ("coordinator_a", "/dashboards/university/KKU/", 404),
        ("coordinator_a", "/dashboards/university/UP/", 404),
        ("university_member", "/dashboards/university/KKU/", 200),
        ("university_member", "/dashboards/university/UP/", 404),
        ("university_member", A_URL, 200),
        ("university_member", "/dashboards/province/32/", 200),
        ("university_member", B_URL, 404),
        ("viewer_a", A_URL, 200),
        ("viewer_a", B_URL, 404),
        ("viewer_a", "/dashboards/university/KKU/", 404),
        ("no_role", A_URL, 404),
        ("no_role", "/dashboards/university/KKU/", 404),
        ("no_role", "/dashboards/", 403),
        ("eef_admin", "/dashboards/", 200),
        ("eef_admin", A_URL, 200),
        ("eef_admin", B_URL, 200),
        ("eef_admin", "/dashboards/university/UP/", 200),
        ("eef_admin", "/dashboards/province/99/", 404),
        ("eef_admin", "/dashboards/university/NOPE/", 404),
    ],
)
def test_each_role_sees_only_its_dashboards(summary, client_for, member, url, expected):
    assert client_for(summary[member]).get(url).status_code == expected


@pytest.mark.parametrize(
    ("member", "target"),
    [
        ("coordinator_a", A_URL),
        ("viewer_a", A_URL),
        ("coordinator_b", B_URL),
        ("university_member", "/dashboards/university/KKU/"),
    ],
)
def test_national_dashboard_sends_others_to_their_own(summary, client_for, member, target):
    response = client_for(summary[member]).get("/dashboards/")
    assert response.status_code == 302
    assert response["Location"] == target


def test_coordinator_of_other_province_gets_404_even_without_figures(cast, client_for):
    # No summary at all: the province's door still decides.
    assert client_for(cast.coordinator_a).get(B_URL).status_code == 404
    assert client_for(cast.coordinator_b).get(B_URL).status_code == 200


@pytest.mark.parametrize(
    ("member", "query", "expected"),
    [
        ("coordinator_a", f"level=province&code={PROVINCE_A}", 200),
        ("coordinator_a", f"level=province&code={PROVINCE_B}", 404),
        ("coordinator_a", "level=university&code=KKU", 404),
        ("coordinator_a", "level=national", 404),
        ("university_member", "level=university&code=KKU", 200),
        ("university_member", "level=university&code=UP", 404),
        ("university_member", f"level=province&code={PROVINCE_A}", 200),
        ("university_member", f"level=province&code={PROVINCE_B}", 404),
        ("viewer_a", f"level=province&code={PROVINCE_A}", 200),
        ("no_role", f"level=province&code={PROVINCE_A}", 404),
        ("no_role", "level=national", 404),
        ("eef_admin", "level=national", 200),
        ("eef_admin", "level=university&code=UP", 200),
        ("eef_admin", "level=district&code=1", 404),
        ("eef_admin", "level=province&code=abc", 404),
    ],
)
def test_exports_follow_the_dashboards_door(summary, client_for, member, query, expected):
    response = client_for(summary[member]).get(f"/dashboards/export.xlsx?{query}")
    assert response.status_code == expected


def test_export_before_any_summary_goes_back_to_the_dashboard(cast, client_for):
    for ask in (client_for(cast.coordinator_a).get, client_for(cast.coordinator_a).post):
        response = ask(f"/dashboards/export.xlsx?level=province&code={PROVINCE_A}")
        assert response.status_code == 302
        assert response["Location"] == A_URL
    assert not ExportJob.objects.exists()


# --- the figures shown are the stored ones ---------------------------------------------------------------------------


def test_province_dashboard_shows_the_latest_snapshot(summary, client_for):
    stored = _snapshot(Level.PROVINCE, province_id=PROVINCE_A)
    TargetRecord.objects.filter(province_id=PROVINCE_A).delete()  # pages read snapshots, not records
    response = client_for(summary.coordinator_a).get(A_URL)
    assert response.status_code == 200
    assert response.context["snapshot"].pk == stored.pk
    cards = {card["key"]: card for card in response.context["cards"]}
    assert cards["records"]["value"] == "8" == f"{stored.data['records']['total']}"
    assert cards["returned_to_learning"]["value"] == "30.0%"  # 3 of a goal of 10
    assert cards["kept_in_school"]["value"] == "50.0%"  # 2 of a goal of 4
    assert stored.data["progress"]["returned_to_learning"] == {"achieved": 3, "target": 10, "percent": 30.0}
    html = response.content.decode()
    assert "30.0%" in html
    assert "50.0%" in html
    # Each figure links to the records behind it, narrowed to the province (and its category or status).
    out_of_school = Category.objects.get(code="out-of-school").pk
    assert f"/records/?province={PROVINCE_A}&amp;category={out_of_school}" in html
    kept = Outcome.objects.get(code="kept-in-school").pk
    assert f"/records/?province={PROVINCE_A}&amp;status={kept}" in html
    assert f'action="/dashboards/export.xlsx?level=province&amp;code={PROVINCE_A}"' in html
    assert f'action="/dashboards/export.pdf?level=province&amp;code={PROVINCE_A}"' in html


def test_dashboard_says_how_old_the_figures_are_and_what_they_cost(summary, client_for):
    SummaryRun.objects.update(duration_ms=1234)
    as_of = timezone.now() - datetime.timedelta(hours=6, minutes=5)
    Snapshot.objects.update(as_of=as_of)
    response = english(client_for(summary.coordinator_a)).get(A_URL)
    fresh = response.context["fresh"]
    assert fresh.age == "6 hours ago"
    assert fresh.duration_ms == 1234
    assert not fresh.stale
    html = response.content.decode()
    assert "6 hours ago" in html
    assert "1234 ms" in html
    Snapshot.objects.update(as_of=timezone.now() - datetime.timedelta(days=3))
    response = client_for(summary.coordinator_a).get(A_URL)
    assert response.context["fresh"].stale
    assert 'data-testid="stale"' in response.content.decode()


def test_thai_reader_sees_the_buddhist_era_date_of_the_figures(summary, client_for):
    when = datetime.datetime(2026, 11, 24, 2, 0, tzinfo=timezone.get_current_timezone())
    Snapshot.objects.update(as_of=when)
    response = client_for(summary.coordinator_a).get(A_URL)
    assert "24 พ.ย. 2569 02:00 น." in response.content.decode()


def test_province_dashboard_warns_about_what_to_follow_up(summary, client_for):
    response = english(client_for(summary.coordinator_b)).get(B_URL)
    texts = [w.text for w in response.context["warnings"]]
    # B has records but no plan, and its records miss sex, birth date and address.
    assert any("sets no goal" in text for text in texts)
    assert any("miss a field needed for reporting" in text for text in texts)
    assert any("current period" in text for text in texts)  # no report of the current quarter


def test_national_dashboard_lists_every_programme_province_side_by_side(summary, client_for):
    response = client_for(summary.eef_admin).get("/dashboards/?sort=records&order=desc")
    rows = response.context["rows"]
    assert len(rows) == 12
    assert [rows[0].key, rows[1].key] == [PROVINCE_A, PROVINCE_B]
    assert rows[0].figures == _snapshot(Level.PROVINCE, province_id=PROVINCE_A).figures
    assert [rows[0].lead, rows[1].lead] == ["มข.", "มพ."]  # the lead universities by their Thai short names
    # The other order, and the link in the heading sorts back.
    rows = client_for(summary.eef_admin).get("/dashboards/?sort=records&order=asc").context["rows"]
    assert rows[-1].key == PROVINCE_A
    assert response.context["sort"]["links"]["records"]["state"] == "descending"
    assert "order=asc" in response.context["sort"]["links"]["records"]["url"]


def test_university_dashboard_rolls_up_its_provinces(summary, client_for):
    response = client_for(summary.university_member).get("/dashboards/university/KKU/")
    assert {row.key for row in response.context["rows"]} == KKU_PROVINCES
    assert response.context["figures"].records.total == 8  # A's 8, สุรินทร์'s none
    assert response.context["snapshot"].university.code == "KKU"


def test_dashboards_without_a_summary_say_so(cast, client_for):
    response = client_for(cast.eef_admin).get("/dashboards/")
    assert response.status_code == 200
    assert 'data-testid="no-figures"' in response.content.decode()
    response = client_for(cast.university_member).get("/dashboards/university/KKU/")
    assert response.status_code == 200
    assert 'data-testid="no-figures"' in response.content.decode()


def test_dashboards_of_another_fiscal_year_show_its_own_figures(summary, client_for):
    earlier = current_fiscal_year() - 1
    response = client_for(summary.eef_admin).get(f"/dashboards/?fiscal_year={earlier}")
    assert response.context["fiscal_year"] == earlier
    assert 'data-testid="no-figures"' in response.content.decode()
    # Nonsense falls back to the current year.
    response = client_for(summary.eef_admin).get("/dashboards/?fiscal_year=2024")
    assert response.context["fiscal_year"] == current_fiscal_year()
    assert response.context["snapshot"] is not None
    # The downloads of a past year's dashboard are that year's.
    response = client_for(summary.coordinator_a).get(f"{A_URL}?fiscal_year={earlier}")
    assert f"fiscal_year={earlier}" in response.context["exports"]["xlsx"]


def test_trend_reads_every_run_of_the_fiscal_year_oldest_first(summary, client_for):
    _records(PROVINCE_A, {("out-of-school", "returned-to-school"): 2})
    summarize()
    points = client_for(summary.coordinator_a).get(A_URL).context["trend_chart"].rows
    # The table, newest first: all goals (10 returned + 4 kept), then the return goals alone.
    assert [row[1].text for row in points] == ["50.0% (7 / 14)", "35.7% (5 / 14)"]
    assert [row[2].text for row in points] == ["50.0% (5 / 10)", "30.0% (3 / 10)"]


# --- charts, map ---------------------------------------------------------------------------------------------------


CHARTS = ("goals_chart", "categories_chart", "statuses_chart", "help_chart", "activities_chart", "trend_chart")


def _parse(svg) -> ET.Element:
    root = ET.fromstring(str(svg))  # noqa: S314 - the portal's own SVG
    assert root.tag == f"{SVG}svg"
    return root


@pytest.mark.parametrize("url", ["/dashboards/", A_URL, "/dashboards/university/KKU/"])
def test_charts_are_valid_accessible_svg_with_a_table_beside(summary, client_for, url):
    response = client_for(summary.eef_admin).get(url)
    html = response.content.decode()
    names = CHARTS + (("progress_chart",) if url != A_URL else ())
    for name in names:
        chart = response.context[name]
        root = _parse(chart.svg)
        assert root.get("role") == "img"
        assert root.find(f"{SVG}title").text == chart.title
        assert root.find(f"{SVG}desc").text == chart.description
        assert root.get("aria-labelledby") == f"{chart.id}-title {chart.id}-desc"
        section = html.split(f'id="{chart.id}"', 1)[1].split("</section>", 1)[0]
        if chart.empty:  # no help given yet in this data: no chart, a sentence
            assert "<svg" not in section
            continue
        assert chart.svg in section
        # The table beside it: as many rows as the chart has figures, and its header.
        assert section.count("<tr>") == len(chart.rows) + 1
    if url == A_URL:  # the goals in the categories' order: achieved, goal, % of goal
        goals = response.context["goals_chart"].rows
        assert [[cell.text for cell in row[2:]] for row in goals] == [["3", "10", "30.0%"], ["2", "4", "50.0%"]]


def test_bar_chart_draws_one_bar_per_figure_and_the_goal_line():
    rows = [
        charts.BarRow("ขอนแก่น", "/x/", [30.0, 50.0], ["30%", "50%"]),
        charts.BarRow("พะเยา", "", [None, 120.0], ["–", "120%"]),
    ]
    root = _parse(charts.bar_svg("t", "title", "desc", rows, [charts.Series("a", "#000"), charts.Series("b", "#111")]))
    assert root.get("viewBox") == f"0 0 {charts.WIDTH} {root.get('height')}"
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 4
    widths = [float(r.get("width")) for r in bars]
    assert widths[2] == 0  # no figure, no bar
    assert widths[1] > widths[0] > 0
    assert widths[3] > widths[1]  # 120% reaches past the goal
    assert any(line.get("stroke-dasharray") for line in root.iter(f"{SVG}line"))  # the goal
    assert root.find(f"{SVG}a").get("href") == "/x/"


def test_long_labels_are_shortened_and_keep_their_full_text():
    long = "เด็กและเยาวชนนอกระบบการศึกษา · กลับเข้าสู่การเรียนรู้ และอื่น ๆ อีกมากมายหลายอย่าง"
    root = _parse(
        charts.bar_svg("t", "title", "desc", [charts.BarRow(long, "", [10.0], ["10%"])], [charts.Series("a", "#000")])
    )
    group = next(g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}title") is not None)
    assert group.find(f"{SVG}title").text == long
    assert group.find(f"{SVG}text").text.endswith("…")


def test_count_axes_have_round_ticks():
    assert charts._count_axis([234]) == (300, 3)
    assert charts._count_axis([5]) == (6, 3)
    assert charts._count_axis([]) == (1, 1)
    assert charts._nice_step(1317) == 500


def test_map_has_every_province_and_outlines_the_programme(summary, client_for):
    response = client_for(summary.eef_admin).get("/dashboards/")
    root = _parse(response.context["map_svg"])
    paths = [p for p in root.iter(f"{SVG}path") if p.get("data-province")]
    assert len(paths) == 77
    programme = [p for p in paths if p.get("class") == "programme"]
    assert len(programme) == 12
    assert {int(p.get("data-province")) for p in programme} >= {PROVINCE_A, PROVINCE_B}
    # Each programme province links to its dashboard and names its figure; A has 5 of 14 (35.7%).
    a = next(p for p in programme if p.get("data-province") == str(PROVINCE_A))
    assert "35.7%" in a.find(f"{SVG}title").text
    links = {link.get("href") for link in root.iter(f"{SVG}a")}
    assert A_URL in links
    assert len(response.context["map_rows"]) == 12


def test_map_geometry_is_read_once_per_process():
    assert province_paths() is province_paths()
    assert len(province_paths().shapes) == 77


def test_map_shades_by_percent_of_goals():
    svg = map_svg(percents={PROVINCE_A: 120.0, PROVINCE_B: None}, programme={PROVINCE_A, PROVINCE_B})
    root = _parse(svg)
    fills = {p.get("data-province"): p.get("fill") for p in root.iter(f"{SVG}path")}
    assert fills[str(PROVINCE_A)] == "#08513a"  # goals reached
    assert fills[str(PROVINCE_B)] == "#eef1f5"  # no goals
    assert fills["10"] == "#f7f8fa"  # outside the programme


# --- exports -------------------------------------------------------------------------------------------------------


def _workbook(response):
    from openpyxl import load_workbook

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    return load_workbook(io.BytesIO(response.content))


def test_national_workbook_has_one_sheet_per_level(summary, client_for):
    workbook = _workbook(
        download_export(english(client_for(summary.eef_admin)), "/dashboards/export.xlsx?level=national")
    )
    assert workbook.sheetnames == ["National", "Universities", "Provinces"]
    provinces = workbook["Provinces"]
    header = [cell.value for cell in provinces[1]]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in provinces.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 12
    assert rows[PROVINCE_A]["Target-group records"] == 8
    assert rows[PROVINCE_A]["Returned to learning (toward goals): % of goal"] == 30.0
    assert rows[PROVINCE_A]["Progress toward the plan's goals: achieved"] == 5  # 3 returned + 2 kept
    assert rows[PROVINCE_A]["Still being followed up"] == 3
    assert rows[PROVINCE_A]["Lead university"] == "KKU"
    assert len(list(workbook["Universities"].iter_rows(min_row=2))) == 8
    header = [cell.value for cell in workbook["National"][1]]
    national = dict(zip(header, [cell.value for cell in workbook["National"][2]], strict=True))
    assert national["Target-group records"] == 10  # A's 8 and B's 2


def test_coordinator_workbook_holds_only_their_province(summary, client_for):
    workbook = _workbook(
        download_export(client_for(summary.coordinator_a), f"/dashboards/export.xlsx?level=province&code={PROVINCE_A}")
    )
    assert workbook.sheetnames == ["จังหวัด"]
    assert [row[0] for row in workbook.active.iter_rows(min_row=2, values_only=True)] == [PROVINCE_A]


def test_university_workbook_holds_the_university_and_its_provinces(summary, client_for):
    workbook = _workbook(
        download_export(client_for(summary.university_member), "/dashboards/export.xlsx?level=university&code=KKU")
    )
    universities, provinces = workbook.worksheets
    assert [row[0] for row in universities.iter_rows(min_row=2, values_only=True)] == ["KKU"]
    assert {row[0] for row in provinces.iter_rows(min_row=2, values_only=True)} == KKU_PROVINCES


def test_pdf_pack_renders_thai(summary, client_for, poppler, tmp_path):
    response = download_export(
        client_for(summary.coordinator_a), f"/dashboards/export.pdf?level=province&code={PROVINCE_A}"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content, tmp_path)
    assert "ขอนแก่น" in text
    assert "เด็กและเยาวชนนอกระบบการศึกษา" in text  # a category, in the charts and their tables
    assert "สรุปความก้าวหน้า" in text or "ข้อมูล ณ" in text or "ปีงบประมาณ" in text
    assert "\u25cc" not in text  # no Thai mark drawn alone on a dotted circle


def test_national_pdf_pack_has_a_page_per_province(summary, client_for, poppler, tmp_path):
    response = download_export(client_for(summary.eef_admin), "/dashboards/export.pdf?level=national")
    text = pdf_text(response.content, tmp_path)
    for name in ("ขอนแก่น", "พะเยา", "สุรินทร์", "ยะลา"):
        assert name in text
    assert text.count("\f") >= 12


def test_svg_labels_are_laid_out_whole_in_the_pdf(monkeypatch):
    """WeasyPrint draws SVG text one code point at a time (its issue #2249): with the pack's patch, a
    chart's Thai label reaches the text layout in one piece, so its marks stay on their consonants."""
    pytest.importorskip("weasyprint")
    from weasyprint import HTML
    from weasyprint.text import line_break

    exports._install_svg_text_runs()
    laid_out = []
    original = line_break.split_first_line

    def spy(text, *args, **kwargs):
        laid_out.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(line_break, "split_first_line", spy)
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="20">ขอนแก่น</text></svg>'
    HTML(string=f"<html><body>{svg}</body></html>").write_pdf()
    assert "ขอนแก่น" in laid_out
    assert "่" not in laid_out  # the tone mark was never laid out alone


# --- computing now ---------------------------------------------------------------------------------------------------


def test_eef_admin_starts_a_run_on_demand(cast, client_for):
    response = client_for(cast.eef_admin).post("/dashboards/run/", {"next": A_URL})
    assert response.status_code == 302
    assert response["Location"] == A_URL
    run = SummaryRun.objects.get()
    assert (run.trigger, run.requested_by, run.status) == (SummaryRun.Trigger.ON_DEMAND, cast.eef_admin, "running")
    # A second click while it runs starts nothing more.
    client_for(cast.eef_admin).post("/dashboards/run/")
    assert SummaryRun.objects.count() == 1


def test_run_goes_back_only_to_the_portal(cast, client_for):
    response = client_for(cast.eef_admin).post("/dashboards/run/", {"next": "https://evil.example/"})
    assert response["Location"] == "/dashboards/"


@pytest.mark.parametrize("member", ["coordinator_a", "university_member", "viewer_a", "no_role"])
def test_others_cannot_start_a_run(cast, client_for, member):
    assert client_for(cast[member]).post("/dashboards/run/").status_code == 403
    assert not SummaryRun.objects.exists()


def test_admin_action_computes_a_summary_without_selecting_runs(cast, client_for):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    summarize()
    client = client_for(cast.eef_admin)
    response = client.post("/admin/summaries/summaryrun/", {"action": "compute_now", "index": 0})
    assert response.status_code == 302
    assert SummaryRun.objects.filter(trigger=SummaryRun.Trigger.ON_DEMAND, requested_by=cast.eef_admin).count() == 1
    # With runs selected it starts one new run too (the selection does not matter).
    first = SummaryRun.objects.order_by("pk").first()
    client.post("/admin/summaries/summaryrun/", {"action": "compute_now", "index": 0, ACTION_CHECKBOX_NAME: [first.pk]})
    assert SummaryRun.objects.filter(trigger=SummaryRun.Trigger.ON_DEMAND).count() == 2
    assert client.get("/admin/summaries/summaryrun/").status_code == 200


def test_admin_snapshots_are_scoped_like_the_dashboards(summary, client_for):
    response = client_for(summary.coordinator_a).get("/admin/summaries/snapshot/")
    assert response.status_code == 200
    shown = set(response.context["cl"].result_list)
    assert shown == set(Snapshot.objects.filter(level=Level.PROVINCE, province_id=PROVINCE_A))
    assert client_for(summary.coordinator_a).get("/admin/summaries/summaryrun/").status_code == 403


# --- the meeting page: the latest figures beside each presentation ------------------------------------------------


def test_meeting_presentations_show_the_latest_figures_the_reader_may_see(summary, client_for):
    meeting = Meeting.objects.create(
        title="ประชุมระดับประเทศ",
        kind=Kind.NATIONAL,
        # Today's meeting: the latest figures (a past one shows those of its day: tests/test_figures_as_of.py).
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
    )
    for order, province in enumerate((PROVINCE_A, PROVINCE_B), start=1):
        Presentation.objects.create(meeting=meeting, province_id=province, order=order)
    summarize()  # a newer run: its figures are the ones shown
    latest = {s.province_id: s for s in Snapshot.objects.filter(run=SummaryRun.objects.latest("as_of"))}

    response = client_for(summary.eef_admin).get(f"/meetings/{meeting.pk}/")
    shown = {p.province_id: p.latest_figures for p in response.context["presentations"]}
    assert shown == {PROVINCE_A: latest[PROVINCE_A], PROVINCE_B: latest[PROVINCE_B]}
    assert response.content.decode().count('data-testid="presentation-figures"') == 2

    # Coordinator A sees the national meeting, B's presentation, but not B's figures.
    response = client_for(summary.coordinator_a).get(f"/meetings/{meeting.pk}/")
    shown = {p.province_id: p.latest_figures for p in response.context["presentations"]}
    assert shown == {PROVINCE_A: latest[PROVINCE_A], PROVINCE_B: None}
    assert response.content.decode().count('data-testid="presentation-figures"') == 1


def test_meeting_page_costs_one_query_more_with_figures_whatever_their_number(summary, client_for):
    meeting = Meeting.objects.create(
        title="ประชุม", kind=Kind.NATIONAL, starts_on=datetime.date(2026, 3, 1), ends_on=datetime.date(2026, 3, 1)
    )
    Presentation.objects.create(meeting=meeting, province_id=PROVINCE_A, order=1)
    client = client_for(summary.eef_admin)
    url = f"/meetings/{meeting.pk}/"
    client.get(url)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            client.get(url)
        return len(context.captured_queries)

    once = queries()
    summarize(3)
    Presentation.objects.create(meeting=meeting, province_id=PROVINCE_B, order=2)
    assert queries() == once


# --- query counts ----------------------------------------------------------------------------------------------------

# Every page: 1 session, 2 user, 3 memberships (the scope); a university member also 4 this year's
# assignments of their university (the session is not written again within SESSION_REFRESH_SECONDS).
PAGES = {
    # (member, url): queries
    # the national trend (a few JSON keys of each run's national snapshot), the latest run's
    # snapshots with their run, provinces and universities, the reference labels (one UNION)
    ("eef_admin", "/dashboards/"): 6,
    # the university's trend, its latest snapshot and its provinces' in the same run, the labels
    ("university_member", "/dashboards/university/KKU/"): 7,
    # the province's trend, its latest snapshot with run, province and region, the labels, then the live district
    # table (summaries.drilldown): the quality rules' settings and one aggregate of every district
    ("university_member", A_URL): 9,
    ("coordinator_a", A_URL): 8,
    ("eef_admin", A_URL): 8,
}


@pytest.mark.parametrize("runs", [1, 10])
@pytest.mark.parametrize(("member", "url"), list(PAGES))
def test_dashboard_query_count_does_not_grow_with_the_runs(
    data, client_for, django_assert_num_queries, runs, member, url
):
    summarize(runs)
    assert Snapshot.objects.filter(level=Level.PROVINCE).count() == 12 * runs
    client = client_for(data[member])
    client.get(url)  # warm the session
    with django_assert_num_queries(PAGES[member, url]):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["trend_chart"].rows) == runs


def test_dashboards_answer_in_at_most_ten_queries():
    assert max(PAGES.values()) <= 10


# --- the figures' helpers ------------------------------------------------------------------------------------------


def _figures(achieved: int = 0, target: int = 0):
    """A province's figures (the stored snapshot of tests/data) with this progress toward its goals."""
    stored = json.loads(STORED.read_text(encoding="utf-8"))["snapshots"]
    figures = parse(next(s["data"] for s in stored if s["level"] == Level.PROVINCE), 2)
    progress = Progress(achieved, target)
    return dataclasses.replace(
        figures, progress=GoalProgress(returned_to_learning=progress, kept_in_school=Progress(0, 0), overall=progress)
    )


def test_rows_sort_with_missing_figures_last_either_way():
    def row(key, name, achieved, target):
        return Row(key, name, "", _figures(achieved, target))

    rows = [row(1, "ก", 1, 10), row(2, "ข", 0, 0), row(3, "ค", 5, 10)]
    assert [r.key for r in sort_rows(rows, "returned", descending=True)] == [3, 1, 2]
    assert [r.key for r in sort_rows(rows, "returned", descending=False)] == [1, 3, 2]
    assert [r.key for r in sort_rows(rows, "unknown", descending=True)] == [3, 1, 2]


def test_thai_names_sort_by_their_consonant_not_their_leading_vowel():
    def row(name):
        return Row(0, name, "", _figures())

    names = [r.name for r in sort_rows([row("เชียงใหม่"), row("กาญจนบุรี"), row("ขอนแก่น")], "name", descending=False)]
    assert names == ["กาญจนบุรี", "ขอนแก่น", "เชียงใหม่"]


def test_age_of_the_figures_in_words():
    now = timezone.now()
    with translation.override("en"):
        assert figures.age_text(now - datetime.timedelta(seconds=20), now) == "just now"
        assert figures.age_text(now - datetime.timedelta(minutes=1), now) == "1 minute ago"
        assert figures.age_text(now - datetime.timedelta(hours=47), now) == "47 hours ago"
        assert figures.age_text(now - datetime.timedelta(days=3), now) == "3 days ago"
    with translation.override("th"):
        assert figures.age_text(now - datetime.timedelta(hours=6), now).startswith("6 ")


def test_progress_without_a_goal_has_no_percent():
    assert Progress(5, 0).percent is None
    assert figures.progress_note(Progress(3, 10)) == "30.0% (3 / 10)"


def test_a_user_with_a_role_in_a_province_and_a_university_is_sent_to_the_university(cast, client_for):
    from accounts.models import Membership, Role
    from universities.models import University

    user = make_user("both@example.org", role=Role.PROVINCE_VIEWER, province=PROVINCE_B)
    Membership.objects.create(user=user, role=Role.UNIVERSITY_MEMBER, university=University.objects.get(code="UP"))
    response = client_for(user).get("/dashboards/")
    assert response["Location"] == "/dashboards/university/UP/"


# --- the figures mean what they say (issue 12) -------------------------------------------------------------------


def test_each_goal_is_shown_by_its_outcome_and_children_without_a_result_never_count(data, client_for):
    """The old page showed "เด็กพิการ · อื่น ๆ 12.0% (6/50)", counting children being followed up and not
    found; now a goal is a target group and one achieved outcome, and only those records count."""
    plan = ProvincialPlan.objects.get(province_id=PROVINCE_A)
    PlanGoal.objects.create(
        plan=plan,
        category=Category.objects.get(code="disability"),
        outcome=Outcome.objects.get(code="referred"),
        target=50,
    )
    _records(
        PROVINCE_A,
        {("disability", "referred"): 2, ("disability", "in-follow-up"): 3, ("disability", "not-found"): 1},
    )
    summarize()
    response = client_for(data.coordinator_a).get(A_URL)
    chart = response.context["goals_chart"]
    rows = {(row[0].text, row[1].text): (row[2].text, row[3].text) for row in chart.rows}
    assert rows[("เด็กพิการ", "ส่งต่อหน่วยงาน")] == ("2", "50")
    assert rows[("เด็กและเยาวชนนอกระบบการศึกษา", "กลับเข้าสู่ระบบการศึกษา")] == ("3", "10")
    assert "อื่น ๆ" not in str(chart.svg)
    assert all(outcome != "อื่น ๆ" for _category, outcome in rows)
    # The goals' records link lists exactly the records each goal counts (its category and status).
    referred = Outcome.objects.get(code="referred").pk
    assert any(f"status={referred}" in row[0].href for row in chart.rows)
    cards = {card["key"]: card for card in response.context["cards"]}
    assert cards["overall"]["label"] == "ความก้าวหน้าตามเป้าหมายของแผน"
    assert cards["overall"]["value"] == "10.9%"  # (3 + 2 + 2) / (10 + 4 + 50)
    assert "64" in cards["overall"]["note"]
    assert cards["achieved"]["value"] == "7"  # 3 returned, 2 kept, 2 referred: counted apart, said so
    html = response.content.decode()
    for key in ("records", "overall", "returned_to_learning", "kept_in_school", "achieved"):
        assert f'title="{cards[key]["tooltip"]}"' in html, key
    snapshot = _snapshot(Level.PROVINCE, province_id=PROVINCE_A)
    assert snapshot.data["progress"]["overall"] == {"achieved": 7, "target": 64, "percent": 10.9}


def test_plan_editor_offers_only_achieved_outcomes(cast, client_for):
    response = client_for(cast.coordinator_a).get(f"/provinces/{PROVINCE_A}/plans/{current_fiscal_year()}/")
    offered = {o.code for o in response.context["form"].outcomes}
    assert offered == set(Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED).values_list("code", flat=True))
    assert not offered & {"in-follow-up", "not-found"}


@pytest.mark.parametrize(
    "url", ["/dashboards/", A_URL, "/dashboards/university/KKU/", f"/provinces/{PROVINCE_A}/", "/meetings/"]
)
def test_snapshots_stored_by_older_runs_do_not_break_the_pages(summary, client_for, url):
    # An older run's figures: schema 1, goals by outcome group (no "outcome"), no "overall".
    for snapshot in Snapshot.objects.all():
        for goal in snapshot.data.get("goal_rows", []):
            goal.pop("outcome", None)
            goal["group"] = "other"
        snapshot.data["progress"].pop("overall", None)
        snapshot.schema = 1
        snapshot.save(update_fields=["data", "schema"])
    response = client_for(summary.eef_admin).get(url)
    assert response.status_code == 200
    if url.startswith("/dashboards/"):
        assert "snapshot" not in response.context or response.context["snapshot"] is None
        assert 'data-testid="no-figures"' in response.content.decode()
    export = client_for(summary.eef_admin).get("/dashboards/export.xlsx?level=national")
    assert export.status_code == 302  # "no figures to download yet", not a crash


def test_demo_dashboards_show_each_goal_by_its_outcome_and_no_other_group(cast, client_for):
    from portal.demo.provincial_work import load_demo_provincial_work
    from portal.demo.records import load_demo_records

    load_demo_provincial_work()
    load_demo_records(600)
    summarize()
    achieved = set(Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED).values_list("code", flat=True))
    for url in ("/dashboards/", A_URL):
        response = client_for(cast.eef_admin).get(url)
        chart = response.context["goals_chart"]
        assert chart.rows
        assert "อื่น ๆ" not in str(chart.svg)
        assert {row[1].text for row in chart.rows} <= {o.name_th for o in Outcome.objects.filter(code__in=achieved)}
    national = _snapshot(Level.NATIONAL)
    assert {g["outcome"] for g in national.data["goal_rows"]} <= achieved
    assert national.data["progress"]["overall"]["achieved"] == sum(g["achieved"] for g in national.data["goal_rows"])


@pytest.mark.parametrize("given", ["abc", "9999", "2024", ""])
def test_a_fiscal_year_that_is_not_one_shows_the_current_year_on_dashboards(cast, client_for, given):
    client = client_for(cast.eef_admin)
    for url in ("/dashboards/", A_URL, "/dashboards/university/KKU/"):
        response = client.get(f"{url}?fiscal_year={given}")
        assert response.status_code == 200, url
        assert response.context["fiscal_year"] == current_fiscal_year(), url
