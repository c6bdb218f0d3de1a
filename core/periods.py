"""The periods of a fiscal year that provinces report on and that pages filter by: quarters and halves
(the fiscal year starts in October, core.buddhist_dates)."""

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from .buddhist_dates import fiscal_year_bounds


class Period(models.TextChoices):
    """A quarter or half of the fiscal year (which starts in October)."""

    Q1 = "Q1", _("Quarter 1 (Oct–Dec)")
    Q2 = "Q2", _("Quarter 2 (Jan–Mar)")
    Q3 = "Q3", _("Quarter 3 (Apr–Jun)")
    Q4 = "Q4", _("Quarter 4 (Jul–Sep)")
    H1 = "H1", _("First half (Oct–Mar)")
    H2 = "H2", _("Second half (Apr–Sep)")


# Months after the fiscal year's start (October) at which each period begins and ends.
_PERIOD_MONTHS = {"Q1": (0, 3), "Q2": (3, 6), "Q3": (6, 9), "Q4": (9, 12), "H1": (0, 6), "H2": (6, 12)}


def period_bounds(fiscal_year: int, period: str) -> tuple[datetime.date, datetime.date]:
    """First and last day of a period of a fiscal year (พ.ศ.)."""
    start_of_year, _end = fiscal_year_bounds(fiscal_year)
    first, last = _PERIOD_MONTHS[period]

    def month_start(offset: int) -> datetime.date:
        month = start_of_year.month - 1 + offset
        return datetime.date(start_of_year.year + month // 12, month % 12 + 1, 1)

    return month_start(first), month_start(last) - datetime.timedelta(days=1)


def quarter_of(day: datetime.date) -> str:
    """The quarter of the fiscal year a day falls in: October–December is Q1, July–September Q4."""
    return f"Q{(day.month + 2) % 12 // 3 + 1}"


def overlapping_periods(period: str) -> set[str]:
    """The other periods of the same fiscal year that share a month with `period` (a province
    reports on each month once: either by quarters or by the half)."""
    first, last = _PERIOD_MONTHS[period]
    return {other for other, (start, end) in _PERIOD_MONTHS.items() if other != period and start < last and first < end}
