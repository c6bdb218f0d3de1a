"""core.periods: the quarter a day falls in agrees with the bounds of every period of the fiscal year."""

import datetime

import pytest

from core.buddhist_dates import fiscal_year_of
from core.periods import period_bounds, quarter_of


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (datetime.date(2026, 10, 1), "Q1"),
        (datetime.date(2026, 12, 31), "Q1"),
        (datetime.date(2027, 1, 1), "Q2"),
        (datetime.date(2027, 3, 31), "Q2"),
        (datetime.date(2027, 4, 1), "Q3"),
        (datetime.date(2027, 6, 30), "Q3"),
        (datetime.date(2027, 7, 1), "Q4"),
        (datetime.date(2027, 9, 30), "Q4"),
    ],
)
def test_the_quarter_of_a_day(day, quarter):
    assert quarter_of(day) == quarter


def test_every_day_of_a_fiscal_year_lies_within_its_quarters_bounds():
    day = datetime.date(2026, 10, 1)
    while day <= datetime.date(2027, 9, 30):
        start, end = period_bounds(fiscal_year_of(day), quarter_of(day))
        assert start <= day <= end
        day += datetime.timedelta(days=1)
