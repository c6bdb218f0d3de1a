"""Transfers in and out per province per fiscal quarter, for the data-quality figures (the lead shows
them with the summaries; summaries/ reads this, transfers does not write there).

One aggregate query for all provinces: accepted moves grouped by province and month (in the portal's
time zone), folded into fiscal quarters here (core.periods: Q1 is October to December).
"""

import datetime

from django.db.models import Count
from django.db.models.functions import TruncMonth

from core.buddhist_dates import fiscal_year_of
from core.periods import quarter_of

from .models import TransferRequest, TransferState

Key = tuple[int, int, str]  # (province code, fiscal year in พ.ศ., "Q1".."Q4")


def transfers_by_quarter() -> dict[Key, dict[str, int]]:
    """{(province, fiscal year, quarter): {"in": n, "out": m}} for every province and quarter with a move."""
    rows = (
        TransferRequest.objects.filter(state=TransferState.ACCEPTED)
        .annotate(month=TruncMonth("answered_at"))
        .values_list("from_province_id", "to_province_id", "month")
        .annotate(moves=Count("pk"))
        .order_by()
    )
    figures: dict[Key, dict[str, int]] = {}
    for from_code, to_code, month, moves in rows:
        day = month.date() if isinstance(month, datetime.datetime) else month
        year, quarter = fiscal_year_of(day), quarter_of(day)
        figures.setdefault((from_code, year, quarter), {"in": 0, "out": 0})["out"] += moves
        figures.setdefault((to_code, year, quarter), {"in": 0, "out": 0})["in"] += moves
    return figures
