"""Buddhist Era years and Thailand's fiscal year (ปีงบประมาณ).

พ.ศ. = ค.ศ. + 543. The fiscal year runs 1 October to 30 September and is named by the พ.ศ.
year in which it ends: FY 2566 is 1 Oct 2022 to 30 Sep 2023.
"""

import datetime

from django.utils import timezone

BE_OFFSET = 543


def to_buddhist_year(christian_year: int) -> int:
    return christian_year + BE_OFFSET


def to_christian_year(buddhist_year: int) -> int:
    return buddhist_year - BE_OFFSET


def fiscal_year_of(day: datetime.date) -> int:
    """The fiscal year (พ.ศ.) that `day` falls in."""
    ends_in = day.year + 1 if day.month >= 10 else day.year
    return to_buddhist_year(ends_in)


def fiscal_year_bounds(fiscal_year: int) -> tuple[datetime.date, datetime.date]:
    """First and last day of a fiscal year given as พ.ศ."""
    ends_in = to_christian_year(fiscal_year)
    return datetime.date(ends_in - 1, 10, 1), datetime.date(ends_in, 9, 30)


def current_fiscal_year() -> int:
    return fiscal_year_of(timezone.localdate())
