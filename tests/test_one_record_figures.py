"""One child, one record in the progress summaries (issue 16, "Figures"): moves between provinces per fiscal
quarter and probable duplicate pairs open per province, computed with every other figure (summaries.compute),
summed for universities and the nation, and shown with the data-quality figures of a province's dashboard."""

import pytest
from django.utils import timezone

from conftest import PROVINCE_A, PROVINCE_B
from core.buddhist_dates import current_fiscal_year
from core.periods import quarter_of
from duplicates.models import DuplicateCandidate
from summaries.compute import compute
from summaries.models import SummaryRun
from summaries.services import run_summary
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id
from transfers import services as transfers

pytestmark = pytest.mark.django_db

YEAR = current_fiscal_year()


def _records(province: int, count: int, start: int) -> list[TargetRecord]:
    category, status = Category.objects.get(code="out-of-school"), Outcome.objects.get(code="in-follow-up")
    return TargetRecord.objects.bulk_create(
        TargetRecord(
            identifier=national_id(start + n),
            identifier_kind="national_id",
            first_name=f"เด็ก{n}",
            last_name="ใจดี",
            province_id=province,
            category=category,
            status=status,
        )
        for n in range(count)
    )


@pytest.fixture
def moved_and_doubled(cast):
    """Two of A's records moved to B by EEF, one of B's to A; two open duplicate pairs in A, one decided in B."""
    a_records = _records(PROVINCE_A, 4, 100)
    b_records = _records(PROVINCE_B, 3, 200)
    for record in a_records[:2]:
        transfers.force_move(user=cast.eef_admin, record=record, to_province=PROVINCE_B, reason="ย้ายตามครอบครัว")
    transfers.force_move(user=cast.eef_admin, record=b_records[0], to_province=PROVINCE_A, reason="ย้ายกลับบ้าน")
    now = timezone.now()
    pairs = [(a_records[2], a_records[3], "open"), (b_records[1], b_records[2], "not_same")]
    for first, second, state in pairs:
        DuplicateCandidate.objects.create(
            record_a_id=min(first.pk, second.pk),
            record_b_id=max(first.pk, second.pk),
            province_id=first.province_id,
            score=0.93,
            state=state,
            last_seen_at=now,
        )
    DuplicateCandidate.objects.create(
        record_a_id=a_records[2].pk, record_b_id=b_records[0].pk, province_id=PROVINCE_A, score=0.9, last_seen_at=now
    )
    return quarter_of(timezone.localdate())


def test_moves_and_open_duplicates_are_counted_per_province_and_summed(moved_and_doubled):
    quarter = moved_and_doubled
    summary = compute(fiscal_year=YEAR)
    a, b = summary.provinces[PROVINCE_A].one_record, summary.provinces[PROVINCE_B].one_record
    assert (dict(a.transfers_in), dict(a.transfers_out), a.duplicates_open) == ({quarter: 1}, {quarter: 2}, 2)
    assert (dict(b.transfers_in), dict(b.transfers_out), b.duplicates_open) == ({quarter: 2}, {quarter: 1}, 0)
    national = summary.national.one_record
    assert (national.moved_in, national.moved_out, national.duplicates_open) == (3, 3, 2)
    # A past fiscal year counts no move of this one.
    assert compute(fiscal_year=YEAR - 1).provinces[PROVINCE_A].one_record.moved_in == 0


def test_the_province_dashboard_shows_them_with_the_data_quality_figures(moved_and_doubled, cast, client_for):
    run_summary(run_id=SummaryRun.objects.create(fiscal_year=YEAR, trigger=SummaryRun.Trigger.COMMAND).pk)
    page = client_for(cast.coordinator_a).get(f"/dashboards/province/{PROVINCE_A}/").content.decode()
    section = page.split('data-testid="warnings"')[1].split("</section>")[0]
    assert "มีระเบียน 2 คู่ที่อาจเป็นเด็กคนเดียวกัน โปรดตรวจสอบ" in section
    assert 'href="/duplicates/"' in section
    assert "การโอนย้ายระหว่างจังหวัดในปีงบประมาณนี้: รับเข้า 1 ระเบียน ย้ายออก 2 ระเบียน" in section
    # A university member reads the figures but reviews nothing: no link to pages that are not theirs.
    member = client_for(cast.university_member).get(f"/dashboards/province/{PROVINCE_A}/").content.decode()
    theirs = member.split('data-testid="warnings"')[1].split("</section>")[0]
    assert "มีระเบียน 2 คู่" in theirs
    assert 'href="/duplicates/"' not in theirs
