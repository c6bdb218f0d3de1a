"""The typed snapshot (summaries/schema.py): figures stored by an earlier run stay readable.

tests/data/snapshot_v2.json holds a run's snapshots as the code of schema 2 stored them (compute on
the planted `world` of tests/test_summaries.py, before the schema was typed); schema 3 only added the
case follow-up figures, so they read as 3 with those empty. Loaded as Snapshot rows they render on every
dashboard, the province page, the Excel export and the API, with their figures.
"""

import io
import json
from pathlib import Path

import pytest
from django.utils import timezone

from conftest import PROVINCE_A
from core.buddhist_dates import current_fiscal_year
from summaries.compute import compute
from summaries.figures import _TREND_KEYS
from summaries.models import Level, Snapshot, SummaryRun
from summaries.schema import (
    SCHEMA_VERSION,
    CaseFigures,
    Figures,
    OneRecord,
    Quality,
    UnreadableSnapshot,
    dump,
    parse,
    readable,
)
from tests.api_support import key_client, make_key
from tests.builders import download_export
from universities.models import University

pytestmark = pytest.mark.django_db

STORED = Path(__file__).parent / "data" / "snapshot_v2.json"
API = "/api/v1"


def _stored() -> dict:
    return json.loads(STORED.read_text(encoding="utf-8"))


def _data(level: str, *, province: int | None = None, university: str | None = None) -> dict:
    return next(
        s["data"]
        for s in _stored()["snapshots"]
        if s["level"] == level and s["province"] == province and s["university"] == university
    )


@pytest.fixture
def stored(cast):
    """The cast, once the stored run is loaded as rows of this fiscal year (the dashboards open on it)."""
    found = _stored()
    year = current_fiscal_year()
    now = timezone.now()
    run = SummaryRun.objects.create(
        fiscal_year=year, trigger=SummaryRun.Trigger.COMMAND, status=SummaryRun.Status.DONE, as_of=now
    )
    universities = dict(University.objects.values_list("code", "pk"))
    Snapshot.objects.bulk_create(
        Snapshot(
            run=run,
            level=row["level"],
            province_id=row["province"],
            university_id=universities[row["university"]] if row["university"] else None,
            fiscal_year=year,
            as_of=now,
            data=row["data"],
            schema=found["schema"],
        )
        for row in found["snapshots"]
    )
    return cast


# --- the schema itself ---------------------------------------------------------------------------------------------


def _as_today(data: dict) -> dict:
    """A stored figures' JSON as today's schema writes it: 3 added the (empty) case figures, 4 one child, one
    record (no moves, no duplicates), 5 the data-quality score (unknown: null)."""
    return {
        **data,
        "cases": CaseFigures.empty().to_json(),
        "one_record": OneRecord.empty().to_json(),
        "quality": None,
    }


def _stored_version(version: int) -> dict:
    """tests/data/snapshot_v<version>.json: a run of the `world` of tests/test_summaries.py as the code of that
    schema stored it (4: before the data-quality score; 5: with it)."""
    found = json.loads((STORED.parent / f"snapshot_v{version}.json").read_text(encoding="utf-8"))
    assert found["schema"] == version
    return found


def test_figures_of_schema_4_read_with_the_quality_score_unknown():
    for row in _stored_version(4)["snapshots"]:
        assert "quality" not in row["data"]
        figures = parse(row["data"], 4)
        assert figures.quality is None  # never a made-up number
        assert dump(figures) == {**row["data"], "quality": None}


def test_figures_of_schema_5_hold_the_quality_score_and_write_back_the_same_json():
    assert SCHEMA_VERSION == 5
    snapshots = _stored_version(5)["snapshots"]
    for row in snapshots:
        figures = parse(row["data"], 5)
        assert isinstance(figures.quality, Quality)
        assert dump(figures) == row["data"]
    national = next(parse(r["data"], 5) for r in snapshots if r["level"] == Level.NATIONAL)
    provinces = [parse(r["data"], 5) for r in snapshots if r["level"] == Level.PROVINCE]
    assert national.quality is not None
    assert national.quality.checked == sum(p.quality.checked for p in provinces if p.quality) == national.records.total


def test_every_stored_snapshot_reads_and_writes_back_the_same_json():
    found = _stored()
    assert found["schema"] == 2
    for row in found["snapshots"]:
        figures = parse(row["data"], found["schema"])
        assert isinstance(figures, Figures)
        assert dump(figures) == _as_today(row["data"])


def test_the_stored_figures_read_as_attributes():
    national = parse(_data(Level.NATIONAL), 2)
    assert national.rollup
    assert national.own is None
    assert national.leads is None
    assert national.progress.overall.achieved == sum(g.achieved for g in national.goal_rows) == 65
    assert national.progress.overall.percent == 18.1
    kku = parse(_data(Level.UNIVERSITY, university="KKU"), 2)
    assert kku.own is not None
    assert kku.own_requests.mean_rating == 4.0
    assert kku.own_activities == {"1": 1, "2": 2, "3": 1}
    province = parse(_data(Level.PROVINCE, province=PROVINCE_A), 2)
    assert not province.rollup
    assert province.reports.provinces_in is None
    assert province.reports.current_period_in is True


def test_figures_of_schema_1_or_of_a_newer_code_are_refused():
    data = _data(Level.NATIONAL)
    assert not readable(1)
    assert not readable(SCHEMA_VERSION + 1)
    with pytest.raises(UnreadableSnapshot):
        parse(data, 1)
    with pytest.raises(UnreadableSnapshot):
        parse(data, SCHEMA_VERSION + 1)


def test_a_renamed_figure_fails_when_read_not_when_a_page_renders():
    data = _data(Level.PROVINCE, province=PROVINCE_A)
    data["completeness"]["no_birth_date"] = data["completeness"].pop("missing_birth_date")
    with pytest.raises(UnreadableSnapshot, match="missing_birth_date"):
        parse(data, 2)


def test_the_trend_reads_json_paths_that_the_schema_writes():
    data = _data(Level.NATIONAL)
    for path in _TREND_KEYS.values():
        value = data
        for key in path.split("__")[1:]:
            value = value[key]
        assert isinstance(value, int)


def test_compute_writes_todays_schema(cast):
    summary = compute(fiscal_year=current_fiscal_year())
    assert summary.version == SCHEMA_VERSION
    assert parse(dump(summary.national), SCHEMA_VERSION) == summary.national


# --- a stored snapshot on every page -------------------------------------------------------------------------------


def test_stored_snapshot_renders_the_national_dashboard(stored, client_for):
    national = _data(Level.NATIONAL)
    response = client_for(stored.eef_admin).get("/dashboards/")
    assert response.status_code == 200
    assert response.context["figures"].records.total == national["records"]["total"]
    cards = {card["key"]: card for card in response.context["cards"]}
    assert cards["overall"]["value"] == f"{national['progress']['overall']['percent']:,.1f}%"
    assert cards["reports"]["value"] == f"{national['reports']['provinces_in']} / {len(national['provinces'])}"
    rows = {row.key: row for row in response.context["rows"]}
    assert rows[PROVINCE_A].records == _data(Level.PROVINCE, province=PROVINCE_A)["records"]["total"]
    assert "KKU" in {row.key for row in response.context["university_rows"]}
    assert response.context["goals_chart"].rows


def test_stored_snapshot_renders_the_university_dashboard(stored, client_for):
    kku = _data(Level.UNIVERSITY, university="KKU")
    response = client_for(stored.university_member).get("/dashboards/university/KKU/")
    assert response.status_code == 200
    assert response.context["figures"].records.total == kku["records"]["total"]
    assert response.context["own"].requests.open == kku["own"]["requests"]["open"]
    assert {row.key for row in response.context["rows"]} == set(kku["provinces"])
    assert 'data-testid="own-work"' in response.content.decode()


def test_a_stored_snapshot_without_the_score_shows_it_unknown(stored, client_for):
    client = client_for(stored.eef_admin)
    for url in (f"/dashboards/province/{PROVINCE_A}/", "/dashboards/university/KKU/", "/dashboards/"):
        html = client.get(url).content.decode()
        badges = html.count('data-testid="quality-score"')
        assert badges
        assert html.count("quality-score quality-unknown") == badges, url
    cards = {c["key"]: c for c in client.get(f"/dashboards/province/{PROVINCE_A}/").context["cards"]}
    assert cards["quality"]["value"] == "–"


def test_stored_snapshot_renders_the_province_dashboard_and_page(stored, client_for):
    province = _data(Level.PROVINCE, province=PROVINCE_A)
    client = client_for(stored.coordinator_a)
    response = client.get(f"/dashboards/province/{PROVINCE_A}/")
    assert response.status_code == 200
    cards = {card["key"]: card for card in response.context["cards"]}
    assert cards["records"]["value"] == f"{province['records']['total']:,}"
    assert cards["returned_to_learning"]["value"] == f"{province['progress']['returned_to_learning']['percent']:,.1f}%"
    assert response.context["warnings"]  # 69.1% of its records miss a field
    page = client.get(f"/provinces/{PROVINCE_A}/")
    assert page.status_code == 200
    assert page.context["progress"].achieved == province["progress"]["overall"]["achieved"]
    assert f"<strong>{province['records']['total']:,}</strong>" in page.content.decode()


def test_stored_snapshot_exports_to_excel(stored, client_for):
    from openpyxl import load_workbook

    response = download_export(client_for(stored.eef_admin), "/dashboards/export.xlsx?level=national")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    national = workbook.worksheets[0]
    assert national.cell(2, 3).value == _data(Level.NATIONAL)["records"]["total"]  # name, as of, records
    provinces = workbook.worksheets[-1]
    codes = [row[0] for row in provinces.iter_rows(min_row=2, values_only=True)]
    assert sorted(codes) == sorted(s["province"] for s in _stored()["snapshots"] if s["level"] == Level.PROVINCE)


def test_stored_snapshot_is_given_by_the_api_as_it_was_stored_with_empty_case_figures(stored):
    _key, secret = make_key(provinces=[PROVINCE_A])
    response = key_client(secret).get(f"{API}/summaries/")
    assert response.status_code == 200
    rows = response.json()
    assert [(r["level"], r["province"]) for r in rows] == [("province", PROVINCE_A)]
    assert rows[0]["data"] == _as_today(_data(Level.PROVINCE, province=PROVINCE_A))
    assert rows[0]["cases"] == CaseFigures.empty().to_json()
    one = key_client(secret).get(f"{API}/summaries/{rows[0]['id']}/")
    assert one.status_code == 200
    assert one.json()["data"] == rows[0]["data"]
