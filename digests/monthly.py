"""The monthly digest of EEF/IPSR and each university team (the 1st of the month: digests.tasks.monthly): their
provinces side by side, from each province's latest summary snapshot (summaries), each row linked to the
province's dashboard. EEF/IPSR: every province with figures; a university team: the provinces it supports this
fiscal year, as its dashboard shows them.

Built for a batch of people in a fixed number of queries: the people, their languages, their scopes
(accounts.access.prime_scopes), and the latest snapshot of every province (one query); each person's rows are
those the door lets them read ("summaries.read_province").
"""

import datetime

from django.db.models import OuterRef, Subquery
from django.utils import formats, timezone, translation
from django.utils.translation import get_language

from accounts.access import can, prime_scopes
from accounts.models import NATIONAL_ROLES, UNIVERSITY_ROLES, User
from core.buddhist_dates import THAI_MONTHS_LONG, to_buddhist_year
from core.mail_runs import absolute_url
from core.templatetags.thai_dates import be_date
from summaries.figures import (
    KEPT,
    RETURNED,
    Row,
    dashboard_url,
    percent_text,
    quality_of,
    quality_text,
    sort_rows,
)
from summaries.models import Level, Snapshot

from .mailing import Digest, people_of

MONTHLY_ROLES = NATIONAL_ROLES | UNIVERSITY_ROLES


def latest_snapshots() -> list[Snapshot]:
    """The latest readable snapshot of every province, with the province: one query."""
    newest = (
        Snapshot.objects.current()
        .filter(level=Level.PROVINCE, province=OuterRef("province"))
        .order_by("-as_of", "-pk")
        .values("pk")[:1]
    )
    return list(
        Snapshot.objects.current()
        .filter(level=Level.PROVINCE, pk=Subquery(newest))
        .select_related("province")
        .order_by("province_id")
    )


def build(user_ids: list[int], *, now: datetime.datetime) -> list[Digest]:
    """The monthly digests of a batch of people (one per active person with an address)."""
    users, languages = people_of(user_ids)
    prime_scopes(users)
    snapshots = latest_snapshots()
    digests = []
    for user in users:
        with translation.override(languages[user.pk]):
            digests.append(_digest(user, languages[user.pk], snapshots, now))
    return digests


def _month(day: datetime.date) -> str:
    """The month of the mail, "ธันวาคม 2569" (พ.ศ.) in Thai, "December 2026" in English."""
    if (get_language() or "th").startswith("th"):
        return f"{THAI_MONTHS_LONG[day.month - 1]} {to_buddhist_year(day.year)}"
    return formats.date_format(day, "F Y")


def _digest(user: User, language: str, snapshots: list[Snapshot], now: datetime.datetime) -> Digest:
    digest = Digest(user=user, language=language)
    if not can(user, "cases.monthly_digest"):
        return digest
    mine = [s for s in snapshots if can(user, "summaries.read_province", s.province_code)]
    if not mine:
        return digest
    rows = sort_rows(
        [
            Row(
                key=s.province_code,
                name=s.subject_province.name,
                url=absolute_url(dashboard_url(Level.PROVINCE, s.province_code)),
                figures=s.figures,
            )
            for s in mine
        ],
        "name",
        descending=False,
    )
    as_of = max(s.as_of for s in mine)
    digest.context = {
        "rows": [
            {
                "name": row.name,
                "url": row.url,
                "records": f"{row.records:,}",
                "returned": percent_text(row.progress[RETURNED].percent),
                "kept": percent_text(row.progress[KEPT].percent),
                "overall": percent_text(row.progress["overall"].percent),
                "incomplete": percent_text(row.share_incomplete),
                # The province's data-quality score of the same snapshot (README "The quality score"), "–" unknown.
                "quality": quality_text(quality_of(row.figures)),
                "report_in": row.report_in,
            }
            for row in rows
        ],
        "as_of": be_date(as_of),
        "month": _month(timezone.localdate(now)),
        "national": can(user, "summaries.read_national"),
        "overview_url": absolute_url(dashboard_url(Level.NATIONAL, None)),
    }
    digest.empty = False
    return digest
