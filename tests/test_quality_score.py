"""The data-quality score (issue 17; README.md, "The quality score"): counted once per record whatever the number of
rules that find it, in one query for every province; stored in the snapshot, added up by the rollups; shown by one
template tag, linked to the quality page for those who read it."""

import pytest
from django.template import Context, Template
from django.utils import translation

from conftest import PROVINCE_A, PROVINCE_B
from core.buddhist_dates import current_fiscal_year
from quality.models import RuleSetting
from quality.rules import active_rules
from quality.score import Tally, score, tally
from summaries.compute import compute
from summaries.schema import Quality
from tests.test_quality_rules import _record

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted(db):
    """Province A: two clean records, one found by one rule (consent), one by two (consent, last name).
    Province B: one clean record."""
    _record(1)
    _record(2)
    _record(3, consent=False)
    _record(4, consent=False, last_name="")
    _record(5, province=PROVINCE_B)


def test_a_record_found_by_several_rules_counts_once(planted, django_assert_num_queries):
    rules = active_rules()
    with django_assert_num_queries(1):  # every province, every rule: one aggregation
        found = tally(rules=rules)
    assert found == {PROVINCE_A: Tally(checked=4, flagged=2), PROVINCE_B: Tally(checked=1, flagged=0)}
    assert score(4, 2) == 50.0
    assert score(1, 0) == 100.0


def test_the_score_is_rounded_down_and_unknown_without_records():
    assert score(3, 1) == 66.6  # 66.67: rounded down
    assert score(10_000, 1) == 99.9  # one record found is never shown as 100%
    assert score(0, 0) is None


def test_rules_switched_off_do_not_count(planted):
    RuleSetting.objects.create(code="consent-not-noted", enabled=False)
    assert tally()[PROVINCE_A] == Tally(checked=4, flagged=1)  # the record without a last name
    RuleSetting.objects.create(code="last-name-missing", enabled=False)
    assert tally()[PROVINCE_A] == Tally(checked=4, flagged=0)


def test_no_rule_switched_on_finds_nothing(planted):
    assert tally(rules=[])[PROVINCE_A] == Tally(checked=4, flagged=0)


def test_the_snapshot_holds_the_score_and_rollups_add_up_the_counts(cast, planted):
    summary = compute(fiscal_year=current_fiscal_year())
    rules = len(active_rules())
    assert summary.provinces[PROVINCE_A].quality == Quality(checked=4, flagged=2, rules=rules, score=50.0)
    assert summary.provinces[PROVINCE_B].quality == Quality(checked=1, flagged=0, rules=rules, score=100.0)
    national = summary.national.quality
    assert national is not None
    assert (national.checked, national.flagged, national.score) == (5, 2, 60.0)  # 3 of 5, not the mean of 50 and 100
    kku = next(f for f in summary.universities.values() if f.provinces and PROVINCE_A in f.provinces)
    parts = [summary.provinces[code].quality for code in kku.provinces or () if code in summary.provinces]
    assert kku.quality is not None
    assert kku.quality.checked == sum(q.checked for q in parts if q)
    assert kku.quality.flagged == sum(q.flagged for q in parts if q)


def _badge(user, quality, province=None) -> str:
    template = Template("{% load summaries_tags %}{% quality_score quality province=province %}")
    with translation.override("en"):
        return template.render(Context({"user": user, "quality": quality, "province": province}))


def test_the_badge_links_to_the_quality_page_only_for_its_readers(cast):
    quality = Quality(checked=200, flagged=30, rules=8, score=85.0)
    mine = _badge(cast.coordinator_a, quality, PROVINCE_A)
    assert 'data-testid="quality-score"' in mine
    assert "85.0%" in mine
    assert "quality-fair" in mine
    assert f'href="/quality/{PROVINCE_A}/"' in mine
    assert "170 of 200 records pass the 8 rules switched on." in mine  # the tooltip
    other = _badge(cast.coordinator_b, quality, PROVINCE_A)
    assert "85.0%" in other
    assert "href=" not in other
    assert "href=" not in _badge(cast.eef_admin, quality)  # a rollup: no quality page


@pytest.mark.parametrize(
    ("quality", "band", "text"),
    [
        (Quality(checked=10, flagged=0, rules=8, score=100.0), "good", "100.0%"),
        (Quality(checked=10, flagged=1, rules=8, score=90.0), "good", "90.0%"),
        (Quality(checked=10_000, flagged=3_001, rules=8, score=69.9), "poor", "69.9%"),
        (Quality(checked=0, flagged=0, rules=8, score=None), "unknown", "–"),
        (None, "unknown", "–"),  # figures of a run before the score: unknown, never made up
    ],
)
def test_the_badge_is_coloured_by_its_band(cast, quality, band, text):
    html = _badge(cast.eef_admin, quality, PROVINCE_A)
    assert f"quality-{band}" in html
    assert f">{text}<" in html
