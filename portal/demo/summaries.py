"""Demo history of the progress summaries, for `load_demo_data`: runs at the end of each quarter of the past
fiscal years from 2566 and of the current one up to today, so that the dashboards' trend has points, a
dashboard "as of" a day has earlier figures to show, and the national meeting of March 2566 shows the figures
of its day (README.md, "Figures as of a date").

The portal keeps no record of how the records stood on a past day (statuses are overwritten), so a past run is
made from the latest run's figures, stored as a run stores them (a done SummaryRun and one Snapshot per subject
of the latest run, in today's schema), with every count scaled down: a programme that grew to today's figures.
Goals (targets) and the subjects named are kept. Runs are found again by their moment: a second load creates
none.
"""

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.buddhist_dates import current_fiscal_year, fiscal_year_of, to_christian_year
from summaries.models import Snapshot, SummaryRun

FIRST_FISCAL_YEAR = 2566
# Keys whose numbers are not counts of what happened: goals and the subjects a rollup names.
KEPT = {"target", "goals", "provinces", "leads", "provinces_in"}


def history_moments(today: datetime.date) -> list[datetime.datetime]:
    """The end of each fiscal quarter (31 Dec, 31 Mar, 30 Jun, 30 Sep, at 23:00) from FY 2566 up to before today;
    15 March 2566 too, a fortnight before the national meeting of 30 March 2566."""
    days = [datetime.date(2023, 3, 15)]
    for christian in range(to_christian_year(FIRST_FISCAL_YEAR) - 1, today.year + 1):
        days += [
            datetime.date(christian, 3, 31),
            datetime.date(christian, 6, 30),
            datetime.date(christian, 9, 30),
            datetime.date(christian, 12, 31),
        ]
    start = datetime.date(to_christian_year(FIRST_FISCAL_YEAR) - 1, 12, 31)
    days = sorted(day for day in set(days) if start <= day < today)
    return [timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 0))) for day in days]


def scaled(data: Any, factor: float, key: str = "") -> Any:
    """The figures' JSON with every count multiplied by `factor` (rounded down), goals and names kept."""
    if key in KEPT:
        return data
    if isinstance(data, dict):
        return {k: scaled(v, factor, k) for k, v in data.items()}
    if isinstance(data, list):
        return [scaled(v, factor, key) for v in data]
    if isinstance(data, bool) or not isinstance(data, int):
        return data  # flags, texts, medians and shares
    return int(data * factor)


@transaction.atomic
def load_demo_summary_history(today: datetime.date | None = None) -> int:
    """Past runs made from the latest done run of the current fiscal year; returns how many runs were created."""
    today = today or timezone.localdate()
    latest = (
        SummaryRun.objects.filter(status=SummaryRun.Status.DONE, fiscal_year=current_fiscal_year())
        .order_by("-as_of")
        .first()
    )
    if latest is None:
        return 0
    template = list(latest.snapshots.all())
    moments = history_moments(today)
    existing = set(SummaryRun.objects.filter(as_of__in=moments).values_list("as_of", flat=True))
    created = 0
    for index, moment in enumerate(moments):
        if moment in existing:
            continue
        # From a fifth of today's counts at the first moment to nine tenths at the last.
        factor = 0.2 + 0.7 * index / max(1, len(moments) - 1)
        fiscal_year = fiscal_year_of(timezone.localdate(moment))
        run = SummaryRun.objects.create(
            fiscal_year=fiscal_year,
            trigger=SummaryRun.Trigger.COMMAND,
            status=SummaryRun.Status.DONE,
            as_of=moment,
            duration_ms=0,
            query_count=0,
        )
        SummaryRun.objects.filter(pk=run.pk).update(created_at=moment)  # requested then, not now
        Snapshot.objects.bulk_create(
            Snapshot(
                run=run,
                level=snapshot.level,
                province_id=snapshot.province_id,
                university_id=snapshot.university_id,
                fiscal_year=fiscal_year,
                as_of=moment,
                data=scaled(snapshot.data, factor),
                schema=snapshot.schema,
            )
            for snapshot in template
        )
        created += 1
    return created
