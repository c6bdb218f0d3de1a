import datetime

import pytest
from django.db import IntegrityError, transaction

from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds, fiscal_year_of
from portal.demo.provinces import DEMO_LEADS, demo_fiscal_years, load_demo_assignments
from universities.models import SupportAssignment, University

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("day", "fiscal_year"),
    [
        (datetime.date(2022, 10, 1), 2566),
        (datetime.date(2023, 9, 30), 2566),
        (datetime.date(2023, 10, 1), 2567),
        (datetime.date(2024, 2, 29), 2567),
    ],
)
def test_fiscal_year_runs_october_to_september_named_by_its_buddhist_end_year(day, fiscal_year):
    assert fiscal_year_of(day) == fiscal_year


def test_fiscal_year_bounds():
    assert fiscal_year_bounds(2566) == (datetime.date(2022, 10, 1), datetime.date(2023, 9, 30))


def _assign(province: int, university: str, year: int = 2567, *, lead: bool = True) -> SupportAssignment:
    return SupportAssignment.objects.create(
        province_id=province, university=University.objects.get(code=university), fiscal_year=year, is_lead=lead
    )


def test_a_province_has_one_lead_university_per_fiscal_year():
    _assign(40, "KKU")
    with pytest.raises(IntegrityError), transaction.atomic():
        _assign(40, "NU")
    # A second, supporting university is fine, and so is another lead in another year.
    _assign(40, "MU-IPSR", lead=False)
    _assign(40, "NU", year=2568)
    assert SupportAssignment.objects.filter(province_id=40).count() == 3


def test_a_university_is_assigned_to_a_province_once_a_year():
    _assign(40, "KKU")
    with pytest.raises(IntegrityError), transaction.atomic():
        _assign(40, "KKU", lead=False)


def test_fiscal_year_must_be_buddhist_era():
    with pytest.raises(IntegrityError), transaction.atomic():
        _assign(40, "KKU", year=2024)


def test_demo_assignments_cover_12_provinces_and_8_universities_and_load_once():
    created = load_demo_assignments()
    assert created > 0
    assert load_demo_assignments() == 0

    years = demo_fiscal_years()
    assert {2566, 2567, current_fiscal_year()} == set(years)
    for year in years:
        leads = SupportAssignment.objects.for_fiscal_year(year).leads()
        assert leads.count() == 12
        assert set(leads.values_list("province_id", flat=True)) == set(DEMO_LEADS)
        assert leads.values("university").distinct().count() == 8
    assert not SupportAssignment.objects.filter(is_demo=False).exists()


def test_demo_never_overrides_a_lead_entered_by_an_admin():
    _assign(40, "NU", year=2566)
    load_demo_assignments()
    lead = SupportAssignment.objects.for_fiscal_year(2566).leads().get(province_id=40)
    assert (lead.university.code, lead.is_demo) == ("NU", False)
