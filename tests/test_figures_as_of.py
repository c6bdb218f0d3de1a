"""Figures as of a date (issue 17): a meeting shows each presenting province's figures of the last summary on
or before its day, labelled with that day; a dashboard ?as_of= a day shows the last summary on or before it,
marks it on the trend chart, says so in Thai when there is none or the date cannot be read, and costs the same
queries as today's; the demo's 2566 meeting shows figures of 2566 that differ from today's."""

import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import PROVINCE_A, PROVINCE_B
from exports.models import ExportJob
from meetings.models import Kind, Meeting, Presentation
from summaries.figures import latest_province_snapshots, province_snapshots_on
from summaries.models import Level, Snapshot, SummaryRun
from tests.builders import download_export
from tests.test_dashboards import _records, english, pdf_text, poppler, summarize  # noqa: F401 - poppler: a fixture

pytestmark = pytest.mark.django_db

A_URL = f"/dashboards/province/{PROVINCE_A}/"


def _moment(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(22, 0)))


def _move(run: SummaryRun, day: datetime.date) -> SummaryRun:
    """The run and its snapshots as if computed on `day` (in the fiscal year of that day)."""
    from core.buddhist_dates import fiscal_year_of

    moment, fiscal_year = _moment(day), fiscal_year_of(day)
    SummaryRun.objects.filter(pk=run.pk).update(as_of=moment, fiscal_year=fiscal_year)
    run.snapshots.update(as_of=moment, fiscal_year=fiscal_year)
    return run


@pytest.fixture
def history(cast):
    """Province A's records counted three times: 2 records on 15 Mar 2023, 5 on 30 Jun 2023 (both fiscal year
    2566), 9 today."""
    _records(PROVINCE_A, {("out-of-school", "in-follow-up"): 2})
    _move(summarize(), datetime.date(2023, 3, 15))
    _records(PROVINCE_A, {("out-of-school", "in-follow-up"): 3})
    _move(summarize(), datetime.date(2023, 6, 30))
    _records(PROVINCE_A, {("out-of-school", "in-follow-up"): 4})
    summarize()
    return cast


def _records_of(snapshot: Snapshot | None) -> int | None:
    return None if snapshot is None else snapshot.figures.records.total


# --- the meeting's figures -----------------------------------------------------------------------------------------


def _meeting(day: datetime.date, *codes: int) -> Meeting:
    meeting = Meeting.objects.create(title="ประชุมติดตาม", kind=Kind.NATIONAL, starts_on=day, ends_on=day)
    for order, code in enumerate(codes, start=1):
        Presentation.objects.create(meeting=meeting, province_id=code, order=order)
    return meeting


@pytest.mark.parametrize(
    ("day", "records"),
    [
        (datetime.date(2023, 3, 14), None),  # before any summary: none
        (datetime.date(2023, 3, 15), 2),  # the summary of its own day counts
        (datetime.date(2023, 5, 1), 2),
        (datetime.date(2023, 6, 30), 5),
        (datetime.date(2024, 1, 10), 5),  # a later fiscal year without a summary of its own: the last before
    ],
)
def test_a_past_meeting_shows_the_last_summary_on_or_before_its_day(history, client_for, day, records):
    meeting = _meeting(day, PROVINCE_A)
    response = client_for(history.eef_admin).get(f"/meetings/{meeting.pk}/")
    assert response.status_code == 200
    shown = response.context["presentations"][0].latest_figures
    assert _records_of(shown) == records
    page = response.content.decode()
    if records is None:
        assert 'data-testid="presentation-figures"' not in page
    else:
        # Labelled with the summary's day, in the Buddhist calendar.
        label = {2: "15 มี.ค. 2566", 5: "30 มิ.ย. 2566"}[records]
        assert f'<strong data-testid="figures-as-of">ตัวเลข ณ วันที่ {label}</strong>' in page
        assert "ตัวเลขล่าสุด" not in page
        # Its dashboard link opens the province's dashboard as of the meeting's day.
        assert f'href="/dashboards/province/{PROVINCE_A}/?as_of={day.isoformat()}"' in page


@pytest.mark.parametrize("offset", [0, 30])
def test_a_meeting_of_today_or_later_shows_the_latest(history, client_for, offset):
    meeting = _meeting(timezone.localdate() + datetime.timedelta(days=offset), PROVINCE_A)
    response = client_for(history.eef_admin).get(f"/meetings/{meeting.pk}/")
    assert _records_of(response.context["presentations"][0].latest_figures) == 9
    page = response.content.decode()
    assert "ตัวเลขล่าสุด" in page
    assert 'data-testid="figures-as-of"' not in page


def test_a_past_meetings_figures_keep_to_what_the_reader_may_see(history, client_for):
    meeting = _meeting(datetime.date(2023, 7, 1), PROVINCE_A, PROVINCE_B)
    Meeting.provinces.through.objects.create(meeting=meeting, province_id=PROVINCE_B)
    shown = province_snapshots_on(user=history.coordinator_b, codes=[PROVINCE_A, PROVINCE_B], on=meeting.starts_on)
    assert PROVINCE_A not in shown  # another province's figures
    assert _records_of(shown[PROVINCE_B]) == 0
    everyone = province_snapshots_on(user=history.eef_admin, codes=[PROVINCE_A, PROVINCE_B], on=meeting.starts_on)
    assert _records_of(everyone[PROVINCE_A]) == 5


def test_figures_as_of_a_day_cost_one_query_as_the_latest_do(history, django_assert_num_queries):
    latest_province_snapshots(user=history.eef_admin, codes=[PROVINCE_A])  # the user's scope, read once
    # One query: the provinces' snapshots, each the newest on or before the day (a subquery), with their run.
    with django_assert_num_queries(1):
        past = province_snapshots_on(user=history.eef_admin, codes=[PROVINCE_A], on=datetime.date(2023, 4, 1))
    with django_assert_num_queries(1):
        latest = latest_province_snapshots(user=history.eef_admin, codes=[PROVINCE_A])
    assert _records_of(past[PROVINCE_A]) == 2
    assert _records_of(latest[PROVINCE_A]) == 9


# --- the dashboards "as of" a day ----------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2566-06-30", "30/06/2566", "2023-06-30", "2566-08-01"])
def test_a_dashboard_as_of_a_day_shows_the_last_summary_on_or_before_it(history, client_for, as_of):
    response = client_for(history.coordinator_a).get(A_URL, {"as_of": as_of})
    assert response.status_code == 200
    assert response.context["fiscal_year"] == 2566  # the fiscal year of that day
    assert _records_of(response.context["snapshot"]) == 5
    page = response.content.decode()
    assert 'data-testid="as-of-note"' in page
    assert "30 มิ.ย. 2566" in page
    # The trend chart marks it, and its table says which row it is.
    chart = response.context["trend_chart"]
    assert 'data-testid="as-of-marker"' in chart.svg
    assert "ตัวเลข ณ วันที่ 30 มิ.ย. 2566" in chart.svg
    assert [row[0].text.endswith("◀") for row in chart.rows] == [True, False]
    # The control offers the days of the fiscal year's summaries, the shown one selected.
    assert response.context["as_of_choices"] == [
        ("2566-06-30", datetime.date(2023, 6, 30), True),
        ("2566-03-15", datetime.date(2023, 3, 15), False),
    ]
    assert not response.context["fresh"].stale  # old on purpose
    # No card or chart links to a list (the lists show today's records, which would not add up to these), and
    # the note says why.
    assert response.context["as_of_past"]
    assert "/records/?" not in page
    assert [card["href"] for card in response.context["cards"] if card.get("href", "").startswith("/")] == []
    assert "ตัวเลขของวันที่ผ่านมาจึงไม่ลิงก์ไปยังรายการใด" in page
    # The exports are of the figures shown: that day's, the day asked for in their address.
    day = response.context["as_of"].isoformat()
    query = f"level=province&code={PROVINCE_A}&fiscal_year=2566&as_of={day}"
    assert response.context["exports"]["xlsx"] == f"/dashboards/export.xlsx?{query}"
    assert 'data-testid="export-xlsx"' in page
    assert f'action="/dashboards/export.pdf?{query.replace("&", "&amp;")}"' in page


def test_the_dashboard_without_as_of_is_todays_and_unmarked(history, client_for):
    response = client_for(history.coordinator_a).get(A_URL)
    assert _records_of(response.context["snapshot"]) == 9
    assert 'data-testid="as-of-marker"' not in response.context["trend_chart"].svg
    assert response.context["as_of"] is None
    assert f"/records/?province={PROVINCE_A}" in response.content.decode()  # today's figures link to their lists
    assert [card["href"] for card in response.context["cards"] if card.get("href", "").startswith("/records/")]


def test_an_as_of_before_any_summary_says_so_in_thai(history, client_for):
    response = client_for(history.coordinator_a).get(A_URL, {"as_of": "01/01/2566"})
    assert response.status_code == 200
    assert response.context["as_of_before_any"]
    assert "snapshot" not in response.context
    page = response.content.decode()
    assert "ไม่มีตัวเลข ณ วันที่หรือก่อนวันที่ 1 ม.ค. 2566" in page


@pytest.mark.parametrize("value", ["not a date", "31/02/2566", "2566-13-01", "<script>", "31/12/10542", "1/1/1800"])
def test_an_unreadable_as_of_says_so_in_thai_and_shows_the_latest(history, client_for, value):
    response = client_for(history.coordinator_a).get(A_URL, {"as_of": value})
    assert response.status_code == 200
    assert _records_of(response.context["snapshot"]) == 9
    page = response.content.decode()
    assert 'data-testid="as-of-error"' in page
    assert "อ่านวันที่" in page
    assert "<script>" not in page


@pytest.mark.parametrize(
    ("member", "url"),
    [
        ("eef_admin", "/dashboards/"),
        ("university_member", "/dashboards/university/KKU/"),
        ("coordinator_a", A_URL),
    ],
)
def test_a_dashboard_as_of_a_day_costs_the_queries_of_todays(
    history, client_for, django_assert_num_queries, member, url
):
    # Both: 1 session, 2 user, 3 memberships (a university member: 4 its assignments), then the trend (one
    # point per summary of the fiscal year), the shown summary's snapshots with their run and subjects, and
    # the reference labels (one UNION). "As of" picks among the trend's points: no query of its own. Only the
    # province dashboard's live district table (summaries.drilldown: the quality rules' settings and one aggregate)
    # is today's alone: as of a past day the page says so and spends neither query.
    live = 2 if "/province/" in url else 0
    client = client_for(getattr(history, member))
    client.get(url)  # warm the session
    # and the university dashboard's cohort view, cached per "as of" day (analysis.cohorts): both pages warm.
    client.get(url, {"as_of": "2566-06-30"})
    with CaptureQueriesContext(connection) as today:
        response = client.get(url)
    assert response.status_code == 200
    assert "snapshot" in response.context
    with django_assert_num_queries(len(today.captured_queries) - live):
        response = client.get(url, {"as_of": "2566-06-30"})
    assert response.status_code == 200
    assert timezone.localdate(response.context["snapshot"].as_of) == datetime.date(2023, 6, 30)


def test_another_provinces_dashboard_as_of_a_day_is_still_404(history, client_for):
    response = client_for(history.coordinator_b).get(A_URL, {"as_of": "2566-06-30"})
    assert response.status_code == 404
    response = client_for(history.coordinator_b).get(A_URL, {"as_of": "garbage"})
    assert response.status_code == 404


# --- the exports of a past day --------------------------------------------------------------------------------------


def _sheet(response) -> list[tuple]:
    from openpyxl import load_workbook

    assert response.status_code == 200, response
    workbook = load_workbook(io.BytesIO(response.content))
    assert len(workbook.worksheets) == 1  # a coordinator's: their province only
    return list(workbook.active.iter_rows(values_only=True))


def _filename(response) -> str:
    return response["Content-Disposition"]


def test_an_export_as_of_a_past_day_holds_that_days_figures_labelled(history, client_for):
    url = f"/dashboards/export.xlsx?level=province&code={PROVINCE_A}"
    today = _sheet(download_export(english(client_for(history.coordinator_a)), url))
    header, row = today[0], today[1]
    assert dict(zip(header, row, strict=True))["Target-group records"] == 9
    past = download_export(english(client_for(history.coordinator_a)), f"{url}&fiscal_year=2566&as_of=2023-06-30")
    label, header, *rows = _sheet(past)
    assert label[0].startswith("Figures as of ")
    assert [dict(zip(header, r, strict=True))["Target-group records"] for r in rows] == [5]
    assert dict(zip(header, rows[0], strict=True))["Code"] == PROVINCE_A
    assert "as-of-2566-06-30" in _filename(past)
    assert "as-of" not in _filename(download_export(client_for(history.coordinator_a), url))
    # A day between two summaries: the earlier one's figures, labelled with the day asked for (in Thai here).
    between = f"{url}&fiscal_year=2566&as_of=2023-05-01"
    label, header, *rows = _sheet(download_export(english(client_for(history.coordinator_a)), between))
    assert [dict(zip(header, r, strict=True))["Target-group records"] for r in rows] == [2]
    assert _sheet(download_export(client_for(history.coordinator_a), between))[0][0] == "ตัวเลข ณ วันที่ 1 พ.ค. 2566"


@pytest.mark.usefixtures("poppler")
def test_a_past_days_pdf_pack_is_labelled_with_the_day(history, client_for, tmp_path):
    response = download_export(
        client_for(history.coordinator_a),
        f"/dashboards/export.pdf?level=province&code={PROVINCE_A}&fiscal_year=2566&as_of=2023-06-30",
    )
    assert response.status_code == 200
    assert "as-of-2566-06-30" in _filename(response)
    assert "ตัวเลข ณ วันที่ 30 มิ.ย. 2566" in pdf_text(response.content, tmp_path)


def test_a_past_days_export_keeps_to_the_dashboards_door(history, client_for):
    # Another province's figures of a past day: 404, as its dashboard.
    response = download_export(
        client_for(history.coordinator_b),
        f"/dashboards/export.xlsx?level=province&code={PROVINCE_A}&fiscal_year=2566&as_of=2023-06-30",
    )
    assert response.status_code == 404
    # A date the dashboard never links: 404; a day before any summary: back to the dashboard, saying so.
    client = client_for(history.coordinator_a)
    assert client.post(f"/dashboards/export.xlsx?level=province&code={PROVINCE_A}&as_of=garbage").status_code == 404
    response = download_export(
        client, f"/dashboards/export.xlsx?level=province&code={PROVINCE_A}&fiscal_year=2566&as_of=2022-12-01"
    )
    assert response.status_code == 302
    assert response["Location"] == f"/dashboards/province/{PROVINCE_A}/"
    assert ExportJob.objects.count() == 0


# --- the demo ------------------------------------------------------------------------------------------------------


def test_the_demo_2566_meeting_shows_figures_of_its_day_that_differ_from_todays(cast, client_for):
    from portal.demo.meetings import SEED_STARTS_ON, SEED_TITLE, load_demo_meetings
    from portal.demo.provincial_work import load_demo_provincial_work
    from portal.demo.records import load_demo_records
    from portal.demo.summaries import load_demo_summary_history

    load_demo_provincial_work()
    load_demo_meetings()
    load_demo_records(count=300)
    summarize()
    created = load_demo_summary_history()
    assert created > 0
    assert load_demo_summary_history() == 0  # a second load creates none
    meeting = Meeting.objects.get(title=SEED_TITLE, is_demo=True)
    assert SEED_STARTS_ON.year == 2023  # 2566
    response = client_for(cast.eef_admin).get(f"/meetings/{meeting.pk}/")
    assert response.status_code == 200
    shown = {p.province_id: p.latest_figures for p in response.context["presentations"]}
    latest = latest_province_snapshots(user=cast.eef_admin, codes=list(shown))
    assert shown
    assert all(shown.values())
    for snapshot in shown.values():
        assert timezone.localdate(snapshot.as_of) <= SEED_STARTS_ON
        assert snapshot.fiscal_year == 2566
    # Today's demo has records; on the day of the meeting there were fewer.
    differ = [code for code in shown if shown[code].figures.records.total != latest[code].figures.records.total]
    assert differ
    assert sum(s.figures.records.total for s in shown.values()) < sum(s.figures.records.total for s in latest.values())
    assert "ตัวเลข ณ วันที่ 15 มี.ค. 2566" in response.content.decode()
    # The national dashboard as of the meeting's day shows that run, marked on its trend.
    response = client_for(cast.eef_admin).get("/dashboards/", {"as_of": "30/03/2566"})
    assert timezone.localdate(response.context["snapshot"].as_of) == datetime.date(2023, 3, 15)
    assert 'data-testid="as-of-marker"' in response.context["trend_chart"].svg
    assert Snapshot.objects.filter(level=Level.NATIONAL, fiscal_year=2566).count() >= 3
