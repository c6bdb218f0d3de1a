"""Case follow-up in the summaries (issue 14): the figures on a hand-built data set made through
cases.services, their median, the snapshot schema's upgrade, query counts, scope, and the pages."""

import datetime
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Role
from cases import services
from cases.models import Agency, AgencyType, Case, Referral, TargetRecord
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.buddhist_dates import current_fiscal_year
from summaries.compute import compute
from summaries.follow_up import median
from summaries.models import Level, Snapshot, SummaryRun
from summaries.schema import SCHEMA_VERSION, CaseFigures, parse
from summaries.services import run_summary
from targets.models import Category, Outcome
from tests.builders import download_export, national_id

pytestmark = pytest.mark.django_db

YEAR = current_fiscal_year()
STORED = Path(__file__).parent / "data" / "snapshot_v2.json"
KKU_PROVINCES = {PROVINCE_A, 32}  # the demo assignments: KKU supports these


def _record(n: int, province: int = PROVINCE_A, *, days_old: int = 0) -> TargetRecord:
    record = TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=f"เด็ก{n}",
        last_name="ทดสอบ",
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )
    if days_old:  # the record was uploaded that long ago
        TargetRecord.objects.filter(pk=record.pk).update(
            created_at=record.created_at - datetime.timedelta(days=days_old)
        )
    return record


@dataclass
class Planted:
    worker: object
    agency_user: object


def _fresh(record: TargetRecord) -> TargetRecord:
    return TargetRecord.objects.get(pk=record.pk)


@pytest.fixture
def planted(cast, settings) -> Planted:
    """Province A: six children assigned to a case worker, contacted after 10, 2 and 15 days and on the
    day (then closed as not found), one never contacted, one closed reached; seven referrals to two
    agency types in every state. Province B: one child, contacted on the day."""
    settings.CASES_NOT_FOUND_ATTEMPTS = 1
    now = timezone.now()
    day = datetime.timedelta(days=1)
    worker = make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    worker_b = make_user("worker.b@example.org", role=Role.CASE_WORKER, province=PROVINCE_B)
    records = [
        _record(1, days_old=10),
        _record(2, days_old=4),
        _record(3, days_old=60),
        _record(4),
        _record(5),
        _record(6),
    ]
    services.assign(user=cast.coordinator_a, records=records, worker=worker)
    r1, r2, r3, _r4, r5, r6 = (_fresh(r) for r in records)
    for record, when, reached in ((r1, now, True), (r2, now - 2 * day, True), (r3, now - 45 * day, True),
                                  (r5, now, False)):  # fmt: skip
        services.log_contact(user=worker, record=record, kind="home_visit", happened_at=when, reached=reached)
    services.close_case(user=worker, record=_fresh(r5), reason="not_found", version=Case.objects.get(pk=r5.pk).version)
    services.close_case(user=worker, record=_fresh(r6), reason="outcome_reached", version=1)
    other = _record(7, PROVINCE_B)
    services.assign(user=cast.coordinator_b, records=[other], worker=worker_b)
    services.log_contact(user=worker_b, record=_fresh(other), kind="phone", happened_at=now)

    nfe = Agency.objects.create(province_id=PROVINCE_A, type=AgencyType.objects.get(code="non-formal-education"),
                                name="กศน.อำเภอเมืองขอนแก่น")  # fmt: skip
    local = Agency.objects.create(province_id=PROVINCE_A, type=AgencyType.objects.get(code="local-government"),
                                  name="อบต.บ้านเป็ด")  # fmt: skip
    agency_users = {}
    for agency in (nfe, local):
        agency_users[agency.pk] = make_user(f"agency{agency.pk}@example.org")
        agency_users[agency.pk].memberships.create(role=Role.AGENCY_USER, province_id=PROVINCE_A, agency=agency)
    returned = Outcome.objects.get(code="flexible-learning")

    def refer(agency: Agency, *moves: str, sent_days_ago: int = 0) -> Referral:
        referral = services.refer(user=worker, record=_fresh(r1), agency=agency, reason="เรียนต่อ", services="สมัคร",
                                  deadline=timezone.localdate() + 7 * day)  # fmt: skip
        for move in moves:
            referral = services.move_referral(
                user=agency_users[agency.pk], referral=referral, to_state=move, version=referral.version,
                note="ไม่มีที่ว่าง" if move in ("declined", "closed_unresolved") else "",
                outcome=returned if move == "completed" else None,
            )  # fmt: skip
        if sent_days_ago:
            Referral.objects.filter(pk=referral.pk).update(sent_at=referral.sent_at - sent_days_ago * day)
        return referral

    late = refer(nfe)
    Referral.objects.filter(pk=late.pk).update(deadline=timezone.localdate() - day)  # its deadline has passed
    refer(nfe, "accepted")
    refer(nfe, "accepted", "completed", sent_days_ago=5)
    refer(nfe, "accepted", "in_progress", "completed", sent_days_ago=8)
    refer(local, "declined")
    refer(local, "accepted", "in_progress", "closed_unresolved")
    refer(local, "accepted", "completed", sent_days_ago=3)
    return Planted(worker=worker, agency_user=agency_users[nfe.pk])


# --- the figures -----------------------------------------------------------------------------------------------------


def test_province_case_figures_count_the_planted_cases(planted):
    cases = compute(fiscal_year=YEAR).provinces[PROVINCE_A].cases
    assert cases.in_follow_up == 4  # 1-4: assigned and open
    assert cases.contacted_30d == 2  # 1 today, 2 two days ago; 3 was 45 days ago, 4 never
    assert cases.share_contacted_30d == 50.0
    assert cases.waiting_first_contact == 1  # 4
    assert cases.with_first_contact == 4  # 1, 2, 3 and 5 (closed since)
    assert cases.median_days_to_first_contact == 6.0  # 0, 2, 10, 15
    assert cases.closed_by_reason == {"not_found": 1, "outcome_reached": 1}
    nfe = cases.referrals_by_agency_type["non-formal-education"]
    assert (nfe.open, nfe.overdue, nfe.completed, nfe.unresolved) == (2, 1, 2, 0)
    assert nfe.median_days_to_complete == 6.5  # 5 and 8
    local = cases.referrals_by_agency_type["local-government"]
    assert (local.open, local.overdue, local.completed, local.unresolved) == (0, 0, 1, 2)
    assert local.median_days_to_complete == 3.0
    every = cases.referrals
    assert (every.open, every.overdue, every.completed, every.unresolved, every.total) == (2, 1, 3, 2, 7)
    assert every.median_days_to_complete == 5.0  # 3, 5, 8


def test_rollups_add_up_their_provinces_and_take_the_median_of_all_their_cases(planted):
    summary = compute(fiscal_year=YEAR)
    b = summary.provinces[PROVINCE_B].cases
    assert (b.in_follow_up, b.contacted_30d, b.with_first_contact, b.median_days_to_first_contact) == (1, 1, 1, 0.0)
    assert b.referrals.total == 0
    national = summary.national.cases
    assert national.in_follow_up == 5
    assert national.contacted_30d == 3
    assert national.median_days_to_first_contact == 2.0  # 0, 0, 2, 10, 15
    assert national.referrals == summary.provinces[PROVINCE_A].cases.referrals
    kku = next(f for f in summary.universities.values() if set(f.provinces or ()) == KKU_PROVINCES).cases
    assert kku == summary.provinces[PROVINCE_A].cases  # its other province has no case


def test_the_median_is_percentile_cont_of_the_histogram():
    assert median(Counter()) is None
    assert median(Counter({4: 1})) == 4.0
    assert median(Counter({1: 1, 3: 1})) == 2.0
    assert median(Counter({0: 2, 9: 1})) == 0.0
    assert median(Counter({1: 2, 2: 2, 10: 1})) == 2.0
    assert median(Counter({1: 1, 2: 1, 3: 1, 100: 1})) == 2.5


@pytest.mark.skipif("postgresql" not in __import__("django.db").db.connection.vendor, reason="PostgreSQL only")
def test_the_median_agrees_with_postgresqls_percentile_cont(planted):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(0,
                   (c.first_contact_at AT TIME ZONE 'Asia/Bangkok')::date
                   - (r.created_at AT TIME ZONE 'Asia/Bangkok')::date))
               FROM cases_case c JOIN targets_targetrecord r ON r.id = c.record_id
               WHERE c.first_contact_at IS NOT NULL AND c.province_id = %s""",
            [PROVINCE_A],
        )
        (expected,) = cursor.fetchone()
    assert compute(fiscal_year=YEAR).provinces[PROVINCE_A].cases.median_days_to_first_contact == expected


def test_case_figures_take_four_queries_whatever_the_number_of_cases(planted, cast, django_assert_num_queries):
    # The other figures' queries and these four (cases by close reason, days to first contact, referrals by state
    # and days to complete): 24 in all (tests/test_summaries.py names each).
    with django_assert_num_queries(24):
        compute(fiscal_year=YEAR)
    more = [_record(100 + n) for n in range(30)]
    services.assign(user=cast.coordinator_a, records=more, worker=planted.worker)
    for record in more[:20]:
        services.log_contact(user=planted.worker, record=_fresh(record), kind="phone", happened_at=timezone.now())
    with django_assert_num_queries(24):
        summary = compute(fiscal_year=YEAR)
    assert summary.provinces[PROVINCE_A].cases.in_follow_up == 34


def test_without_cases_the_figures_are_empty(cast):
    summary = compute(fiscal_year=YEAR)
    assert summary.national.cases == CaseFigures.empty()
    assert summary.provinces[PROVINCE_A].cases == CaseFigures.empty()
    assert not summary.national.cases.any


# --- the schema ------------------------------------------------------------------------------------------------------


def test_a_snapshot_of_schema_2_reads_as_today_with_empty_case_figures():
    assert SCHEMA_VERSION == 5
    for row in json.loads(STORED.read_text(encoding="utf-8"))["snapshots"]:
        figures = parse(row["data"], 2)
        assert figures.cases == CaseFigures.empty()
        assert figures.cases.share_contacted_30d is None
        assert figures.records.total == row["data"]["records"]["total"]


def test_case_figures_are_stored_and_read_back(planted):
    run = run_summary(run_id=SummaryRun.objects.create(fiscal_year=YEAR, trigger=SummaryRun.Trigger.COMMAND).pk)
    snapshot = Snapshot.objects.get(run=run, level=Level.PROVINCE, province_id=PROVINCE_A)
    assert snapshot.schema == SCHEMA_VERSION
    assert snapshot.data["cases"]["referrals_by_agency_type"]["non-formal-education"]["median_days_to_complete"] == 6.5
    assert snapshot.figures.cases.median_days_to_first_contact == 6.0


# --- the pages and the API -------------------------------------------------------------------------------------------


def _summary_run() -> SummaryRun:
    return run_summary(run_id=SummaryRun.objects.create(fiscal_year=YEAR, trigger=SummaryRun.Trigger.COMMAND).pk)


def test_the_province_dashboard_shows_its_case_figures_in_thai(planted, cast, client_for):
    _summary_run()
    response = client_for(cast.coordinator_a).get(f"/dashboards/province/{PROVINCE_A}/")
    assert response.status_code == 200
    cases = response.context["cases"]
    assert cases.figures.in_follow_up == 4  # its own, not the nation's 5
    cards = {card["key"]: card for card in cases.cards}
    assert cards["in_follow_up"]["value"] == "4"
    assert cards["contacted_30d"]["value"] == "50.0%"
    assert cards["first_contact"]["value"] == "6 วัน"
    assert cards["referrals"]["alert"]  # one is overdue
    rows = [(row.label, row.counts.open, row.counts.completed, row.median, row.total) for row in cases.referral_rows]
    assert rows == [
        ("สำนักงานส่งเสริมการเรียนรู้ (สกร./กศน.)", 2, 2, "6.5", False),
        ("องค์กรปกครองส่วนท้องถิ่น (อบต./เทศบาล)", 0, 1, "3", False),
        ("ทุกหน่วยงาน", 2, 3, "5", True),
    ]
    assert cases.closures == [("บรรลุผลตามเป้าหมาย", 1), ("ไม่พบตัวหลังติดตามหลายครั้ง", 1)]
    html = response.content.decode()
    assert 'data-testid="case-figures"' in html
    assert "การติดตามรายกรณี" in html
    assert "ไม่พบตัวหลังติดตามหลายครั้ง" in html


def test_a_coordinator_sees_no_other_provinces_case_figures(planted, cast, client_for):
    _summary_run()
    client = client_for(cast.coordinator_b)
    assert client.get(f"/dashboards/province/{PROVINCE_A}/").status_code == 404
    response = client.get(f"/dashboards/province/{PROVINCE_B}/")
    assert response.context["cases"].figures.in_follow_up == 1
    assert response.context["cases"].figures.referrals.total == 0
    assert "ทุกหน่วยงาน" not in response.content.decode()  # no referral table: B has none
    assert client.get("/dashboards/").url == f"/dashboards/province/{PROVINCE_B}/"


def test_the_national_and_university_dashboards_show_their_rollups(planted, cast, client_for):
    _summary_run()
    national = client_for(cast.eef_admin).get("/dashboards/")
    assert national.context["cases"].figures.in_follow_up == 5
    assert 'data-testid="referrals-by-type"' in national.content.decode()
    kku = client_for(cast.university_member).get("/dashboards/university/KKU/")
    assert kku.context["cases"].figures.in_follow_up == 4
    assert 'data-testid="case-card-first_contact"' in kku.content.decode()


def test_dashboards_without_case_data_say_so(cast, client_for):
    _summary_run()
    for user, url in ((cast.coordinator_a, f"/dashboards/province/{PROVINCE_A}/"), (cast.eef_admin, "/dashboards/")):
        response = client_for(user).get(url)
        assert response.status_code == 200
        assert not response.context["cases"].any
        assert 'data-testid="no-cases"' in response.content.decode()


def test_the_api_gives_the_case_figures_of_the_keys_provinces(planted):
    from tests.api_support import key_client, make_key

    _summary_run()
    _key, secret = make_key(provinces=[PROVINCE_A])
    rows = key_client(secret).get("/api/v1/summaries/").json()
    assert [(r["level"], r["province"]) for r in rows] == [("province", PROVINCE_A)]
    assert rows[0]["cases"]["in_follow_up"] == 4
    assert rows[0]["cases"] == rows[0]["data"]["cases"]
    assert rows[0]["cases"]["referrals_by_agency_type"]["local-government"]["unresolved"] == 2


def test_the_meeting_page_shows_each_presenting_provinces_case_figures_within_scope(planted, cast, client_for):
    from meetings.models import Kind, Meeting, Presentation

    # Today: a meeting shows the latest figures (a past one, the figures as of its day: tests/test_figures_as_of.py).
    today = timezone.localdate()
    meeting = Meeting.objects.create(title="ประชุมระดับประเทศ", kind=Kind.NATIONAL, starts_on=today, ends_on=today)
    for order, province in enumerate((PROVINCE_A, PROVINCE_B), start=1):
        Presentation.objects.create(meeting=meeting, province_id=province, order=order)
    _summary_run()
    html = client_for(cast.eef_admin).get(f"/meetings/{meeting.pk}/").content.decode()
    assert html.count('data-testid="presentation-cases"') == 2
    assert "จำนวนวันถึงการติดต่อครั้งแรก (ค่ามัธยฐาน): <strong>6 วัน</strong>" in html
    html = client_for(cast.coordinator_a).get(f"/meetings/{meeting.pk}/").content.decode()
    assert html.count('data-testid="presentation-cases"') == 1  # B's figures are not A's to see


def test_the_national_pdf_pack_has_the_case_follow_up(planted, cast, client_for, tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (Debian: apt-get install poppler-utils)")
    _summary_run()
    response = download_export(client_for(cast.eef_admin), "/dashboards/export.pdf?level=national")
    assert response["Content-Type"] == "application/pdf"
    path = tmp_path / "pack.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    text = " ".join(text.decode().split())
    assert "การส่งต่อแยกตามประเภทหน่วยงาน" in text
    assert "ทุกหน่วยงาน" in text
    assert "เด็กที่อยู่ระหว่างการติดตาม" in text
