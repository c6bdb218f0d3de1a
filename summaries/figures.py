"""The figures of a summary for people: names, links, rows, warnings and how old they are.

summaries.compute makes the figures and summaries.models keeps them as snapshots; this module turns
a snapshot's data into what the dashboards, the exports and the meeting page show: names in the
reader's language, the link to the records (or reports, requests, activities) behind each figure,
rows for the side-by-side tables, and the data-completeness warnings of a province. Everything here
is a pure function of a snapshot's figures (summaries.schema.Figures), except three reads, each one
query whatever the data: `reference_labels()`, `trend()` and `latest_province_snapshots()`.
"""

import datetime
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import CharField, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.fields.json import KT
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext, ngettext

from accounts.access import Principal
from cases.models import AgencyType, CloseReason
from core.periods import Period
from reports.models import Status as ReportStatus
from targets.models import AssistanceType, Category, Outcome
from universities.models import SupportRole

from .compute import OTHER_ACHIEVED
from .models import Level, Snapshot, SummaryRun
from .schema import CaseFigures, Figures, Progress, Quality, ReferralCounts

RETURNED = Outcome.Group.RETURNED_TO_LEARNING.value
KEPT = Outcome.Group.KEPT_IN_SCHOOL.value
GROUPS = (RETURNED, KEPT)  # the two headline groups of achieved outcomes
IN_PROGRESS = Outcome.Kind.IN_PROGRESS.value
EXITED = Outcome.Kind.EXITED.value

# A nightly run that did not happen: the page says the figures are old.
STALE_AFTER = datetime.timedelta(hours=36)
# A province that has not uploaded for this long is reminded to.
OLD_UPLOAD_DAYS = 90
# Above this share of records missing a field needed for reporting, the warning is a strong one.
INCOMPLETE_ALERT_PERCENT = 10.0


# --- reference labels: category, outcome and help codes to names (one query) ---------------------


@dataclass(frozen=True)
class Ref:
    """A row of a reference table, as a snapshot names it by its code."""

    pk: int
    code: str
    name_th: str
    name_en: str
    sort_order: int
    group: str = ""  # outcomes: their headline group (Outcome.Group)
    kind: str = ""  # outcomes: achieved, in progress, exited (Outcome.Kind)

    @property
    def bucket(self) -> str:
        if self.kind != Outcome.Kind.ACHIEVED:
            return self.kind or IN_PROGRESS
        return self.group if self.group in GROUPS else OTHER_ACHIEVED

    @property
    def name(self) -> str:
        if (get_language() or "th").startswith("en") and self.name_en:
            return self.name_en
        return self.name_th


@dataclass
class Labels:
    categories: dict[str, Ref] = field(default_factory=dict)
    outcomes: dict[str, Ref] = field(default_factory=dict)
    help_types: dict[str, Ref] = field(default_factory=dict)
    agency_types: dict[str, Ref] = field(default_factory=dict)

    def _table(self, kind: str) -> dict[str, Ref]:
        return {
            "category": self.categories,
            "outcome": self.outcomes,
            "help": self.help_types,
            "agency": self.agency_types,
        }[kind]

    def name(self, kind: str, code: str) -> str:
        """The name of a code in the reader's language; the code itself if the row was deleted since."""
        ref = self._table(kind).get(code)
        return ref.name if ref else code

    def pk(self, kind: str, code: str) -> int | None:
        ref = self._table(kind).get(code)
        return ref.pk if ref else None

    def ordered(self, kind: str, codes: Iterable[str]) -> list[str]:
        """Codes in the tables' own order (sort_order, code); codes no longer in the table last."""
        table = self._table(kind)
        return sorted(set(codes), key=lambda c: (c not in table, table[c].sort_order if c in table else 0, c))


def reference_labels() -> Labels:
    """Categories, outcomes, assistance and agency types in one query (a UNION of the four small tables)."""
    text = CharField()

    blank = Value("", output_field=text)

    def rows(model, table: str, group, kind):
        return (
            model.objects.order_by()
            .annotate(table=Value(table, output_field=text), outcome_group=group, outcome_kind=kind)
            .values_list("table", "pk", "code", "name_th", "name_en", "sort_order", "outcome_group", "outcome_kind")
        )

    query = rows(Category, "category", blank, blank).union(
        rows(Outcome, "outcome", F("group"), F("kind")),
        rows(AssistanceType, "help", blank, blank),
        rows(AgencyType, "agency", blank, blank),
        all=True,
    )
    labels = Labels()
    tables = {
        "category": labels.categories,
        "outcome": labels.outcomes,
        "help": labels.help_types,
        "agency": labels.agency_types,
    }
    for table, pk, code, name_th, name_en, sort_order, group, kind in query:
        tables[table][code] = Ref(pk, code, name_th, name_en, sort_order, group or "", kind or "")
    return labels


def bucket_label(bucket: str) -> str:
    """Where records stand, for the charts' stacks and colours (summaries.compute.BUCKETS)."""
    labels = {
        RETURNED: gettext("Returned to learning"),
        KEPT: gettext("Kept in school"),
        OTHER_ACHIEVED: gettext("Another outcome achieved"),
        IN_PROGRESS: gettext("Still being followed up"),
        EXITED: gettext("Left without an outcome"),
    }
    return labels.get(bucket, bucket)


def role_label(role: str | int) -> str:
    try:
        return str(SupportRole(int(role)).label)
    except ValueError:
        return str(role)


def report_status_label(status: str) -> str:
    try:
        return str(ReportStatus(status).label)
    except ValueError:
        return status


def period_label(period: str) -> str:
    try:
        return str(Period(period).label)
    except ValueError:
        return period


# --- what each headline figure counts (README.md, "What the figures count") ----------------------


@dataclass(frozen=True)
class Headline:
    label: str
    help: str  # the tooltip: what exactly is counted


def headlines() -> dict[str, Headline]:
    """The headline figures' labels and tooltips, in the reader's language; the same words on the
    dashboards' cards, the tables' headers, the charts and the exports."""
    return {
        "records": Headline(
            gettext("Target-group records"),
            gettext("Every child or young person the province follows, whatever their status."),
        ),
        "overall": Headline(
            gettext("Progress toward the plan's goals"),
            gettext(
                "For each goal of the plan (a target group and an achieved outcome): the records of that target "
                "group that reached that outcome, added up over all goals and compared with their sum. Children "
                "still being followed up, not found or moved away never count."
            ),
        ),
        RETURNED: Headline(
            gettext("Returned to learning (toward goals)"),
            gettext(
                "The goals whose outcome is a return to learning (school, flexible or non-formal learning, "
                "vocational skills): the records of each goal's target group at that outcome, against those goals."
            ),
        ),
        KEPT: Headline(
            gettext("Kept in school (toward goals)"),
            gettext(
                "The goals whose outcome is kept in school: the records of each goal's target group kept in "
                "school, against those goals."
            ),
        ),
        "achieved": Headline(
            gettext("Records at an achieved outcome"),
            gettext(
                "All records whose status is an achieved outcome, in every target group, with or without a goal: "
                "not part of the progress toward goals."
            ),
        ),
    }


# --- progress against the plan's goals -----------------------------------------------------------


def progress_of(figures: Figures) -> dict[str, Progress]:
    """Progress toward the goals by headline key (RETURNED, KEPT, "overall"), as the cards, tables and
    charts name them. Each is the sum of its goal rows (summaries.compute)."""
    progress = figures.progress
    return {RETURNED: progress.returned_to_learning, KEPT: progress.kept_in_school, "overall": progress.overall}


def percent_text(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}%"


def number_text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,}"


def progress_note(progress: Progress) -> str:
    """ "45.2% (123 / 272)", or "no goal" when the plan sets none."""
    if not progress.target:
        return gettext("no goal") + (f" ({progress.achieved:,})" if progress.achieved else "")
    return f"{percent_text(progress.percent)} ({progress.achieved:,} / {progress.target:,})"


# --- the data-quality score (issue 17; README.md, "The quality score") ----------------------------


@dataclass(frozen=True)
class QualityBand:
    """A band of the score: its lowest score, its key (the badge's class) and its colours (the badges, the map's
    legend and the PDF alike)."""

    lower: float
    key: str
    background: str
    ink: str

    @property
    def label(self) -> str:
        return {
            "good": gettext("good"),
            "fair": gettext("fair"),
            "poor": gettext("poor"),
        }.get(self.key, gettext("unknown"))


# The one place of the bands' thresholds (README.md says them): the score is rounded down, so 89.99% is "fair".
QUALITY_BANDS = (
    QualityBand(90.0, "good", "#dcf1e5", "#145c36"),
    QualityBand(70.0, "fair", "#fff1d6", "#6e4300"),
    QualityBand(0.0, "poor", "#fde3e1", "#a1211a"),
)
QUALITY_UNKNOWN = QualityBand(-1.0, "unknown", "#eef1f5", "#3d4b5c")


def quality_of(subject: "Figures | Quality | None") -> Quality | None:
    return subject.quality if isinstance(subject, Figures) else subject


def quality_band(quality: Quality | None) -> QualityBand:
    score = quality.score if quality is not None else None
    if score is None:
        return QUALITY_UNKNOWN
    return next((band for band in QUALITY_BANDS if score >= band.lower), QUALITY_BANDS[-1])


def quality_text(quality: Quality | None) -> str:
    """ "92.3%", or "–" when unknown (figures of a run before the score) or when there is no record to check."""
    return percent_text(quality.score if quality is not None else None)


def quality_label() -> str:
    return gettext("Data-quality score")


def quality_definition() -> str:
    return gettext(
        "The share of the target-group records that no data-quality rule switched on finds (100% = no record "
        "found by any rule); a record found by several rules counts once."
    )


def quality_help(quality: Quality | None) -> str:
    """The badge's tooltip: the definition, and the counts behind the score (or why there is none)."""
    if quality is None:
        found = gettext("Unknown: these figures were counted before the portal scored data quality.")
    elif not quality.checked:
        found = gettext("No records to check.")
    else:
        found = gettext("%(passed)s of %(checked)s records pass the %(rules)s rules switched on.") % {
            "passed": f"{quality.checked - quality.flagged:,}",
            "checked": f"{quality.checked:,}",
            "rules": quality.rules,
        }
    return f"{quality_label()}: {quality_definition()} {found}"


def quality_band_ranges() -> list[tuple[QualityBand, str]]:
    """Each band and the scores it holds ("good ≥ 90%", "fair 70–89.9%", "poor < 70%"), short enough for the map's
    legend; then "unknown"."""
    found = []
    upper = None
    for band in QUALITY_BANDS:
        if upper is None:
            text = f"{band.label} ≥ {band.lower:g}%"
        elif band is QUALITY_BANDS[-1]:
            text = f"{band.label} < {upper:g}%"
        else:
            text = f"{band.label} {band.lower:g}–{upper - 0.1:g}%"
        found.append((band, text))
        upper = band.lower
    found.append((QUALITY_UNKNOWN, QUALITY_UNKNOWN.label))
    return found


# --- case follow-up (issue 14) -------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralRow:
    label: str
    counts: ReferralCounts
    total: bool = False  # the sum of the rows above

    @property
    def median(self) -> str:
        return number_text(self.counts.median_days_to_complete)


@dataclass(frozen=True)
class CaseFollowUp:
    """A subject's case follow-up as the dashboards, the PDF pack and the meeting page show it."""

    figures: CaseFigures
    cards: list[dict[str, object]]
    referral_rows: list[ReferralRow]
    closures: list[tuple[str, int]]  # (reason's label, cases), in CloseReason's order

    @property
    def any(self) -> bool:
        return self.figures.any


def days_text(value: float | None) -> str:
    if value is None:
        return "–"
    return ngettext("%(n)s day", "%(n)s days", 1 if value == 1 else 2) % {"n": number_text(value)}


def case_follow_up(figures: Figures, labels: Labels) -> CaseFollowUp:
    """The case figures' cards (what each counts in its tooltip: README.md), referrals by agency type
    in the agency types' order with a total row, and closures by reason."""
    cases = figures.cases
    referrals = cases.referrals
    cards: list[dict[str, object]] = [
        {
            "key": "in_follow_up",
            "label": gettext("Children in follow-up"),
            "tooltip": gettext("Records assigned to a case worker whose case is open."),
            "value": number_text(cases.in_follow_up),
            "note": gettext("%(n)s not contacted yet") % {"n": number_text(cases.waiting_first_contact)},
            "alert": bool(cases.waiting_first_contact),
        },
        {
            "key": "contacted_30d",
            "label": gettext("Contacted in the last 30 days"),
            "tooltip": gettext(
                "Of the children in follow-up, those with a contact (reached or a failed attempt) in the last 30 days."
            ),
            "value": percent_text(cases.share_contacted_30d),
            "note": gettext("%(n)s of %(total)s children in follow-up")
            % {"n": number_text(cases.contacted_30d), "total": number_text(cases.in_follow_up)},
        },
        {
            "key": "first_contact",
            "label": gettext("Days to the first contact (median)"),
            "tooltip": gettext(
                "Calendar days from the record's creation to its first contact, the middle value over all records "
                "with a contact, open or closed."
            ),
            "value": days_text(cases.median_days_to_first_contact),
            "note": gettext("over %(n)s records with a contact") % {"n": number_text(cases.with_first_contact)},
        },
        {
            "key": "referrals",
            "label": gettext("Open referrals"),
            "tooltip": gettext(
                "Referrals sent, accepted or in progress; overdue: open past their deadline. Completed: the "
                "agency finished its help."
            ),
            "value": number_text(referrals.open),
            "note": gettext("%(overdue)s overdue · %(completed)s completed")
            % {"overdue": number_text(referrals.overdue), "completed": number_text(referrals.completed)},
            "alert": bool(referrals.overdue),
        },
    ]
    by_type = cases.referrals_by_agency_type
    rows = [ReferralRow(labels.name("agency", code), by_type[code]) for code in labels.ordered("agency", by_type)]
    if rows:
        rows.append(ReferralRow(gettext("All agencies"), referrals, total=True))
    closed = cases.closed_by_reason
    closures = [(str(reason.label), closed[reason.value]) for reason in CloseReason if closed.get(reason.value)]
    closures += [(reason, n) for reason, n in sorted(closed.items()) if reason not in CloseReason.values]
    return CaseFollowUp(figures=cases, cards=cards, referral_rows=rows, closures=closures)


# --- how old the figures are ---------------------------------------------------------------------


def age_text(then: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """ "6 hours ago" in the reader's language (Django's Thai catalogue has no timesince)."""
    seconds = max(0, int(((now or timezone.now()) - then).total_seconds()))
    if seconds < 60:
        return gettext("just now")
    minutes = seconds // 60
    if minutes < 60:
        return ngettext("%(n)s minute ago", "%(n)s minutes ago", minutes) % {"n": minutes}
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(n)s hour ago", "%(n)s hours ago", hours) % {"n": hours}
    days = hours // 24
    return ngettext("%(n)s day ago", "%(n)s days ago", days) % {"n": days}


@dataclass(frozen=True)
class Freshness:
    as_of: datetime.datetime
    age: str
    stale: bool
    duration_ms: int | None
    query_count: int | None
    trigger: str


def freshness(snapshot: Snapshot, now: datetime.datetime | None = None) -> Freshness:
    """How old a snapshot's figures are and what their run cost (the run is select_related)."""
    now = now or timezone.now()
    run: SummaryRun = snapshot.run
    return Freshness(
        as_of=snapshot.as_of,
        age=age_text(snapshot.as_of, now),
        stale=now - snapshot.as_of > STALE_AFTER,
        duration_ms=run.duration_ms,
        query_count=run.query_count,
        trigger=run.get_trigger_display(),
    )


# --- links to what is behind a figure ------------------------------------------------------------


def url_with(name: str, query: dict | None = None, **kwargs) -> str:
    """The URL of a page with its filters, or "" if that page does not exist (yet)."""
    try:
        url = reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""
    query = {k: v for k, v in (query or {}).items() if v not in (None, "", False)}
    return f"{url}?{urlencode(query)}" if query else url


@dataclass(frozen=True)
class Links:
    """Links to the lists behind a subject's figures. Each list is scoped by its own page, so a link
    never shows more than its reader may see. A province narrows every list to itself; a university
    narrows its own work (activities, requests) to itself and the records to the reader's scope.
    `enabled=False` gives no links at all (the PDF pack: a printed page has nothing to click)."""

    fiscal_year: int
    province: int | None = None
    university: str | None = None
    enabled: bool = True

    def _url(self, name: str, query: dict | None = None, **kwargs) -> str:
        return url_with(name, query, **kwargs) if self.enabled else ""

    def page(self, name: str) -> str:
        """A page of the portal not narrowed by the subject (the uploads, the duplicates' queue, the transfers'
        inbox), or "" where links are off."""
        return self._url(name)

    def records(self, *, category: int | None = None, status: int | None = None, help: str = "") -> str:
        return self._url(
            "targets:list", {"province": self.province, "category": category, "status": status, "help": help}
        )

    def reports(self, status: str = "") -> str:
        return self._url("reports:list", {"province": self.province, "fiscal_year": self.fiscal_year, "status": status})

    def activities(self, role: int | str | None = None) -> str:
        return self._url(
            "universities:activity_list",
            {"province": self.province, "university": self.university, "year": self.fiscal_year, "role": role},
        )

    def requests(self, *, overdue: bool = False, status: str = "") -> str:
        return self._url(
            "universities:request_list",
            {
                "province": self.province,
                "university": self.university,
                "status": status,
                "overdue": "on" if overdue else "",
            },
        )

    def meetings(self) -> str:
        return self._url("meetings:list", {"province": self.province, "status": "held", "year": self.fiscal_year})

    def actions(self, *, overdue: bool = False) -> str:
        owner = f"p{self.province}" if self.province else ""
        return self._url("meetings:actions", {"owner": owner, "overdue": "on" if overdue else ""})

    def province_page(self, anchor: str = "") -> str:
        page = self._url("provinces:detail", code=self.province) if self.province else ""
        return page + anchor if page else ""


def dashboard_url(level: str, code) -> str:
    if level == Level.NATIONAL:
        return reverse("summaries:national")
    return reverse(f"summaries:{level}", kwargs={"code": code})


# --- a province's warnings -----------------------------------------------------------------------


@dataclass(frozen=True)
class Warning:
    text: str
    href: str = ""
    strong: bool = False  # shown as an alert rather than a note


def warnings_of(
    figures: Figures, *, links: Links, can_upload: bool = False, today: datetime.date | None = None
) -> list[Warning]:
    """What a province should act on: incomplete records, no recent upload, the current period's
    report not in, no goals, overdue requests and action items. `can_upload`: the reader may upload
    the province's records (the uploads page answers 404 to everyone else)."""
    today = today or timezone.localdate()
    uploads = links.page("uploads:list") if can_upload else ""
    found = []
    records = figures.records.total
    completeness = figures.completeness
    incomplete = completeness.incomplete
    if incomplete:
        share = completeness.share_incomplete
        found.append(
            Warning(
                ngettext(
                    "%(n)s record (%(share)s) misses a field needed for reporting: birth date %(birth)s, "
                    "sex %(sex)s, address %(address)s.",
                    "%(n)s records (%(share)s) miss a field needed for reporting: birth date %(birth)s, "
                    "sex %(sex)s, address %(address)s.",
                    incomplete,
                )
                % {
                    "n": f"{incomplete:,}",
                    "share": percent_text(share),
                    "birth": f"{completeness.missing_birth_date:,}",
                    "sex": f"{completeness.missing_sex:,}",
                    "address": f"{completeness.missing_address:,}",
                },
                links.records(),
                strong=(share or 0) > INCOMPLETE_ALERT_PERCENT,
            )
        )
    last_upload = parse_datetime(completeness.last_upload)
    if last_upload is None and not records:
        found.append(Warning(gettext("No records have been uploaded yet."), uploads, strong=True))
    elif last_upload is not None and (today - timezone.localdate(last_upload)).days > OLD_UPLOAD_DAYS:
        found.append(
            Warning(
                gettext("The last upload was more than %(days)s days ago.") % {"days": OLD_UPLOAD_DAYS},
                uploads,
            )
        )
    reports = figures.reports
    if not reports.current_period_in:
        found.append(
            Warning(
                gettext("The progress report of the current period (%(period)s) is not in yet.")
                % {"period": period_label(reports.current_period)},
                links.reports(),
                strong=True,
            )
        )
    if not figures.progress.overall.target:
        found.append(
            Warning(
                gettext("The plan of this fiscal year sets no goal."),
                links.province_page("#plan"),
            )
        )
    overdue = figures.requests.overdue
    if overdue:
        found.append(
            Warning(
                ngettext("%(n)s capacity request is overdue.", "%(n)s capacity requests are overdue.", overdue)
                % {"n": overdue},
                links.requests(overdue=True),
            )
        )
    overdue = figures.action_items.overdue
    if overdue:
        found.append(
            Warning(
                ngettext("%(n)s action item is overdue.", "%(n)s action items are overdue.", overdue) % {"n": overdue},
                links.actions(overdue=True),
            )
        )
    # One child, one record: those who write the province's records review its duplicates and answer transfers.
    one_record = figures.one_record
    if one_record.duplicates_open:
        found.append(
            Warning(
                ngettext(
                    "%(n)s pair of records may be the same child: review it.",
                    "%(n)s pairs of records may be the same child: review them.",
                    one_record.duplicates_open,
                )
                % {"n": f"{one_record.duplicates_open:,}"},
                links.page("duplicates:queue") if can_upload else "",
            )
        )
    if one_record.moved_in or one_record.moved_out:
        found.append(
            Warning(
                gettext("Moves between provinces this fiscal year: %(in)s records moved in, %(out)s moved out.")
                % {"in": f"{one_record.moved_in:,}", "out": f"{one_record.moved_out:,}"},
                links.page("transfers:inbox") if can_upload else "",
            )
        )
    return found


def parse_datetime(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None


# --- rows of the side-by-side tables -------------------------------------------------------------


@dataclass
class Row:
    """A province or university in a table of several, with the figures of its snapshot."""

    key: int | str  # province code, university short code
    name: str
    url: str  # its dashboard
    figures: Figures
    lead: str = ""  # provinces: the lead university's short name (มข. in Thai, KKU in English)
    short: str = ""  # universities: their short name, shown beside the full one
    progress: dict[str, Progress] = field(init=False)

    def __post_init__(self) -> None:
        self.progress = progress_of(self.figures)

    @property
    def records(self) -> int:
        return self.figures.records.total

    @property
    def share_incomplete(self) -> float | None:
        return self.figures.completeness.share_incomplete

    @property
    def last_upload(self) -> datetime.datetime | None:
        return parse_datetime(self.figures.completeness.last_upload)

    @property
    def report_in(self) -> bool:
        return self.figures.reports.current_period_in

    @property
    def quality(self) -> Quality | None:
        return self.figures.quality

    @property
    def quality_score(self) -> float | None:
        return self.figures.quality.score if self.figures.quality is not None else None


# Sortable columns of the tables: key -> value of a row (None sorts last either way).
SORTS = {
    "name": lambda row: row.name,
    "records": lambda row: row.records,
    "returned": lambda row: row.progress[RETURNED].percent,
    "kept": lambda row: row.progress[KEPT].percent,
    "overall": lambda row: row.progress["overall"].percent,
    "changed": lambda row: row.figures.changed_30d,
    "incomplete": lambda row: row.share_incomplete,
    "quality": lambda row: row.quality_score,
    "upload": lambda row: row.last_upload,
    "requests": lambda row: row.figures.requests.open,
    "actions": lambda row: row.figures.action_items.overdue,
}
DEFAULT_SORT = "overall"


def sort_rows(rows: list[Row], key: str, *, descending: bool) -> list[Row]:
    value = SORTS.get(key, SORTS[DEFAULT_SORT])
    present = [row for row in rows if value(row) is not None]
    missing = sorted((row for row in rows if value(row) is None), key=lambda row: _collation(row.name))
    if key == "name":
        present.sort(key=lambda row: _collation(row.name), reverse=descending)
    else:
        present.sort(key=lambda row: (value(row), _collation(row.name)), reverse=descending)
    return present + missing


def _collation(text: str) -> str:
    # Thai sorts well enough by code point once its leading vowels (เ แ โ ใ ไ) move after the consonant.
    text = unicodedata.normalize("NFC", text)
    chars = list(text)
    for i in range(len(chars) - 1):
        if chars[i] in "เแโใไ":
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


# --- reads: the trend of a subject, the latest figures of provinces ------------------------------

# The trend reads only these keys of each snapshot's JSON, not the whole figures of every run.
_TREND_KEYS = {
    "returned_achieved": f"data__progress__{RETURNED}__achieved",
    "returned_target": f"data__progress__{RETURNED}__target",
    "kept_achieved": f"data__progress__{KEPT}__achieved",
    "kept_target": f"data__progress__{KEPT}__target",
    "overall_achieved": "data__progress__overall__achieved",
    "overall_target": "data__progress__overall__target",
    "records": "data__records__total",
}


@dataclass(frozen=True)
class TrendPoint:
    pk: int
    run_id: int
    as_of: datetime.datetime
    returned: Progress
    kept: Progress
    overall: Progress
    records: int


def _int(value) -> int:
    # KT() reads text on PostgreSQL and a number on SQLite; a JSON null reads "null" on SQLite.
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def trend(snapshots: QuerySet) -> list[TrendPoint]:
    """One point per snapshot of `snapshots` (one subject's, already scoped), oldest first: one query."""
    rows = snapshots.order_by("as_of", "pk").values(
        "pk", "run_id", "as_of", **{name: KT(path) for name, path in _TREND_KEYS.items()}
    )
    return [
        TrendPoint(
            pk=row["pk"],
            run_id=row["run_id"],
            as_of=row["as_of"],
            returned=Progress(_int(row["returned_achieved"]), _int(row["returned_target"])),
            kept=Progress(_int(row["kept_achieved"]), _int(row["kept_target"])),
            overall=Progress(_int(row["overall_achieved"]), _int(row["overall_target"])),
            records=_int(row["records"]),
        )
        for row in rows
    ]


def latest_province_snapshots(*, user: Principal, codes: Iterable[int]) -> dict[int, Snapshot]:
    """The latest snapshot of each of these provinces that the user may see, with its run: one query
    (meetings' presentations show them beside each province)."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    newest = (
        Snapshot.objects.current()
        .filter(level=Level.PROVINCE, province=OuterRef("province"))
        .order_by("-as_of", "-pk")
        .values("pk")[:1]
    )
    snapshots = (
        Snapshot.objects.visible_to(user)
        .current()
        .filter(level=Level.PROVINCE, province__in=codes, pk=Subquery(newest))
        .select_related("run")
        .order_by()
    )
    return {snapshot.province_code: snapshot for snapshot in snapshots}


def day_end(day: datetime.date) -> datetime.datetime:
    """The first moment after `day` in the portal's time zone: a snapshot "on or before" the day was stored
    before it."""
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))


def province_snapshots_on(
    *, user: Principal, codes: Iterable[int], on: datetime.date | None = None
) -> dict[int, Snapshot]:
    """The snapshot of each of these provinces, as of a day: the last one stored on or before `on` (None,
    today or a later day: the latest), that the user may see, with its run: one query whatever `on` is
    (the index on level, province, -as_of finds each). A past meeting's page shows the figures of its day."""
    if on is None or on >= timezone.localdate():
        return latest_province_snapshots(user=user, codes=codes)
    codes = sorted(set(codes))
    if not codes:
        return {}
    newest = (
        Snapshot.objects.current()
        .filter(level=Level.PROVINCE, province=OuterRef("province"), as_of__lt=day_end(on))
        .order_by("-as_of", "-pk")
        .values("pk")[:1]
    )
    snapshots = (
        Snapshot.objects.visible_to(user)
        .current()
        .filter(level=Level.PROVINCE, province__in=codes, pk=Subquery(newest))
        .select_related("run")
        .order_by()
    )
    return {snapshot.province_code: snapshot for snapshot in snapshots}


def point_as_of(points: list[TrendPoint], on: datetime.date) -> TrendPoint | None:
    """The last point of a trend (oldest first) stored on or before `on`; None if all are later."""
    end = day_end(on)
    found = None
    for point in points:
        if point.as_of < end:
            found = point
    return found
