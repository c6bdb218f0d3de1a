"""The summaries as files: an Excel workbook (one sheet per level) and a PDF meeting pack with the charts.

`collect(...)` gathers what the user may see of one subject from the latest stored summary (or, as_of a past
day, the last one on or before it, as the dashboards show it), through the same door as the dashboards (404 for
outsiders); `render(pack, ...)` writes it, a past day's labelled "as of" that day in the file and its name.
The PDF uses the portal's PDF fonts (core/thai_pdf.py, as the minutes) and the dashboards' own SVG charts, inline.
"""

import datetime
import io
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from django.db.models import Q
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.access import Principal, can
from cases.models import CloseReason
from core.buddhist_dates import excel_date_format, file_date
from core.spreadsheet_safety import neutralise_formula
from core.templatetags.thai_dates import be_date, be_datetime
from provinces.models import Province
from universities.models import University

from . import charts
from .figures import (
    EXITED,
    GROUPS,
    IN_PROGRESS,
    KEPT,
    RETURNED,
    CaseFollowUp,
    Labels,
    Links,
    Row,
    TrendPoint,
    age_text,
    bucket_label,
    case_follow_up,
    days_text,
    headlines,
    parse_datetime,
    period_label,
    point_as_of,
    progress_of,
    quality_label,
    quality_text,
    reference_labels,
    report_status_label,
    role_label,
    sort_rows,
    trend,
    warnings_of,
)
from .map import map_svg
from .models import Level, Snapshot
from .schema import Figures

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@dataclass
class Pack:
    """What one export holds: the subject's latest snapshot, the snapshots under it, its trend."""

    level: str
    fiscal_year: int
    subject: Snapshot
    name: str
    code: str  # in the file name
    universities: list[Snapshot] = field(default_factory=list)
    provinces: list[Snapshot] = field(default_factory=list)
    points: list[TrendPoint] = field(default_factory=list)
    labels: Labels = field(default_factory=Labels)
    leads: dict[int, str] = field(default_factory=dict)  # province code -> lead university's short code
    as_of: datetime.date | None = None  # the past day asked for (its figures: the subject's), None for the latest

    @property
    def as_of_label(self) -> str:
        """ "Figures as of <day>" for a past day's pack (its title, first row and file name say so), else ""."""
        return _("Figures as of %(when)s") % {"when": be_date(self.as_of)} if self.as_of else ""


def collect(
    *, user: Principal, level: str, code: str, fiscal_year: int, as_of: datetime.date | None = None
) -> Pack | None:
    """The user's pack of a subject, or None if no summary of the fiscal year holds it yet (as_of a day: none on
    or before that day; the pack then holds the figures of the last summary on or before it).
    Raises Http404 for an unknown level or code and for a subject outside the user's scope.
    Queries: the subject's trend, the latest run's snapshots, the labels (and the subject when empty)."""
    snapshots = Snapshot.objects.visible_to(user).current().filter(fiscal_year=fiscal_year)
    if level == Level.NATIONAL:
        if not can(user, "summaries.read_national"):
            raise Http404
        subject_filter = Q(level=Level.NATIONAL)
        others = Q(level__in=(Level.UNIVERSITY, Level.PROVINCE))
    elif level == Level.UNIVERSITY:
        subject_filter = Q(level=Level.UNIVERSITY, university__code=code)
        others = Q(level=Level.PROVINCE)
    elif level == Level.PROVINCE:
        try:
            province_code = int(code)
        except ValueError as error:
            raise Http404 from error
        if not can(user, "summaries.read_province", province_code):
            raise Http404
        subject_filter = Q(level=Level.PROVINCE, province_id=province_code)
        others = Q(pk__in=[])
    else:
        raise Http404
    points = trend(snapshots.filter(subject_filter))
    if not points:
        if level == Level.UNIVERSITY:
            found = University.objects.filter(code=code).values_list("pk", flat=True).first()
            if found is None or not can(user, "summaries.read_university", found):
                raise Http404
        elif level == Level.PROVINCE and not Province.objects.filter(pk=province_code).exists():
            raise Http404
        return None
    point = point_as_of(points, as_of) if as_of else points[-1]
    if point is None:
        return None
    in_run = list(
        snapshots.filter(run_id=point.run_id)
        .filter(subject_filter | others)
        .select_related("run", "province", "university")
        .order_by()
    )
    subject = next(s for s in in_run if s.pk == point.pk)
    universities = [s for s in in_run if s.level == Level.UNIVERSITY and s.pk != subject.pk]
    provinces = [s for s in in_run if s.level == Level.PROVINCE and s.pk != subject.pk]
    if level == Level.UNIVERSITY:
        supported = set(subject.figures.provinces or ())
        provinces = [s for s in provinces if s.province_id in supported]
        leads = dict.fromkeys(subject.figures.leads or (), subject.subject_university.code)
    else:
        leads = {c: s.subject_university.code for s in universities for c in s.figures.leads or ()}
    if level == Level.PROVINCE:
        provinces = [subject]
    universities = [s for s in universities if s.figures.provinces]
    names: dict[str, Callable[[], str]] = {
        Level.NATIONAL: lambda: _("All programme provinces"),
        Level.UNIVERSITY: lambda: subject.subject_university.name,
        Level.PROVINCE: lambda: subject.subject_province.name,
    }
    name = names[level]
    return Pack(
        level=level,
        fiscal_year=fiscal_year,
        subject=subject,
        name=str(name()),
        code=str(code or "national"),
        universities=sorted(universities, key=lambda s: s.subject_university.code),
        provinces=sorted(provinces, key=lambda s: s.subject_province.name_th),
        points=points,
        labels=reference_labels(),
        leads=leads,
        as_of=as_of,
    )


def render(pack: Pack, *, fmt: str, language: str = "th") -> tuple[bytes, str, str]:
    """(content, content type, file name) of a pack. Raises RuntimeError for a PDF on a machine
    without WeasyPrint's system libraries (Pango)."""
    with translation.override(language):
        content = _write_xlsx(pack) if fmt == "xlsx" else _write_pdf(pack)
    stamp = file_date(timezone.localtime(pack.subject.as_of).date())
    if pack.as_of:  # the day asked for, as the dashboard's address wrote it
        stamp = f"as-of-{file_date(pack.as_of)}"
    safe_code = re.sub(r"[^A-Za-z0-9-]", "", pack.code) or pack.level
    return content, FORMATS[fmt], f"summary-{pack.level}-{safe_code}-{pack.fiscal_year}-{stamp}.{fmt}"


# --- Excel -----------------------------------------------------------------------------------------------------------


def _columns(pack: Pack) -> list[tuple[str, Callable[..., object]]]:
    """(header, value of a snapshot's figures) of every sheet, in the reader's language."""
    labels = pack.labels
    every = [s.figures for s in (pack.subject, *pack.universities, *pack.provinces)]
    categories = labels.ordered("category", {c for f in every for c in f.records.by_category})
    statuses = labels.ordered("outcome", {c for f in every for c in f.records.by_status})
    helps = labels.ordered("help", {c for f in every for c in f.help_by_type})

    def progress(group: str, part: str):
        def value(figures: Figures):
            found = progress_of(figures)[group]
            return {"achieved": found.achieved, "target": found.target, "percent": found.percent}[part]

        return value

    words = headlines()
    # (header, reader of a snapshot's Figures); some readers hold their key as a default argument.
    columns: list[tuple[str, Callable[..., object]]] = [(words["records"].label, lambda f: f.records.total)]
    # The same labels as the dashboards' cards: each progress figure is the sum of its goal rows.
    # Named outside the f-strings: makemessages does not look inside them, and "achieved" is said nowhere else.
    achieved, goal, share = _("achieved"), _("goal"), _("% of goal")
    for group in ("overall", *GROUPS):
        name = words[group].label
        columns += [
            (f"{name}: {achieved}", progress(group, "achieved")),
            (f"{name}: {goal}", progress(group, "target")),
            (f"{name}: {share}", progress(group, "percent")),
        ]
    # Counted apart from the goals, whatever the target group: where the records stand.
    columns.append((words["achieved"].label, lambda f: f.records.by_kind.get("achieved", 0)))
    for bucket in (IN_PROGRESS, EXITED):
        columns.append((bucket_label(bucket), lambda f, b=bucket: f.records.by_kind.get(b, 0)))
    columns.append((_("Changed in the last 30 days"), lambda f: f.changed_30d))
    columns += [
        (_("Records missing required fields"), lambda f: f.completeness.incomplete),
        (_("Share missing required fields (%)"), lambda f: f.completeness.share_incomplete),
        (_("Missing birth date"), lambda f: f.completeness.missing_birth_date),
        (_("Missing sex"), lambda f: f.completeness.missing_sex),
        (_("Missing address"), lambda f: f.completeness.missing_address),
        (_("Last upload"), lambda f: _local(parse_datetime(f.completeness.last_upload))),
        (_("Moved in from other provinces (fiscal year)"), lambda f: f.one_record.moved_in),
        (_("Moved out to other provinces (fiscal year)"), lambda f: f.one_record.moved_out),
        (_("Probable duplicate pairs to review"), lambda f: f.one_record.duplicates_open),
        (_("Current period"), lambda f: period_label(f.reports.current_period)),
        (_("Current period's report in"), _report_in),
    ]
    for status in ("draft", "submitted", "reviewed", "accepted"):
        columns.append(
            (
                f"{_('Progress reports')}: {report_status_label(status)}",
                lambda f, s=status: f.reports.by_status.get(s, 0),
            )
        )
    for role in ("1", "2", "3", "4"):
        columns.append((f"{_('Support activities')}: {role_label(role)}", lambda f, r=role: f.own_activities.get(r, 0)))
    for key, label in (
        ("open", _("open")),
        ("overdue", _("overdue")),
        ("delivered", _("delivered")),
        ("declined", _("declined")),
        ("total", _("total")),
    ):
        columns.append((f"{_('Capacity requests')}: {label}", lambda f, k=key: getattr(f.own_requests, k)))
    columns.append((_("Capacity requests: mean rating"), lambda f: f.own_requests.mean_rating))
    columns.append((_("Meetings held"), lambda f: f.meetings_held))
    columns.append((_("Open action items"), lambda f: f.action_items.open))
    columns.append((_("Overdue action items"), lambda f: f.action_items.overdue))
    # Case follow-up (issue 14), after the figures of schema 2 so that their columns keep their places.
    columns += [
        (_("Children in follow-up"), lambda f: f.cases.in_follow_up),
        (_("Contacted in the last 30 days"), lambda f: f.cases.contacted_30d),
        (_("Days to the first contact (median)"), lambda f: f.cases.median_days_to_first_contact),
        (f"{_('Referrals')}: {_('open')}", lambda f: f.cases.referrals.open),
        (f"{_('Referrals')}: {_('overdue')}", lambda f: f.cases.referrals.overdue),
        (f"{_('Referrals')}: {pgettext('referral', 'completed')}", lambda f: f.cases.referrals.completed),
    ]
    # The data-quality score (issue 17), as a number (empty when unknown: a run before the score).
    columns.append((_("Data-quality score (%)"), lambda f: f.quality.score if f.quality is not None else None))
    for code in categories:
        columns.append(
            (
                f"{_('Records')}: {labels.name('category', code)}",
                lambda f, c=code: f.records.by_category.get(c, 0),
            )
        )
    for code in statuses:
        columns.append(
            (
                f"{_('Status')}: {labels.name('outcome', code)}",
                lambda f, c=code: f.records.by_status.get(c, 0),
            )
        )
    for code in helps:
        columns.append((f"{_('Help given')}: {labels.name('help', code)}", lambda f, c=code: f.help_by_type.get(c, 0)))
    return columns


def _report_in(figures: Figures):
    reports = figures.reports
    if reports.provinces_in is not None:
        return f"{reports.provinces_in} / {len(figures.provinces or ())}"
    return _("in") if reports.current_period_in else _("not in")


def _local(value: datetime.datetime | None):
    # Excel has no time zones: the Bangkok wall-clock time, as the pages show it.
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def _cell(value):
    return neutralise_formula(value) if isinstance(value, str) else value


def _write_xlsx(pack: Pack) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    columns = _columns(pack)
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = " · ".join(filter(None, [_("Progress summary"), pack.name, pack.as_of_label]))[:250]
    as_of = _local(pack.subject.as_of)
    # A past day's sheets start with a row that says so; the header follows it.
    header_row = 2 if pack.as_of else 1

    def sheet(title: str, lead: list[str], rows: list[tuple[list, Figures]]) -> None:
        ws = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", title)[:31])
        if pack.as_of:
            ws.append([pack.as_of_label])
            ws["A1"].font = Font(bold=True)
        ws.append([_cell(h) for h in [*lead, _("Figures as of"), *(header for header, _value in columns)]])
        for first, figures in rows:
            ws.append([_cell(v) for v in [*first, as_of, *(value(figures) for _header, value in columns)]])
        bold = Font(bold=True)
        for cell in ws[header_row]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in ws.iter_rows(min_row=header_row + 1):
            for cell in row:
                if isinstance(cell.value, datetime.datetime):
                    cell.number_format = excel_date_format(cell.value)
                elif isinstance(cell.value, float):
                    cell.number_format = "0.0"
        for index in range(1, ws.max_column + 1):
            ws.column_dimensions[ws.cell(header_row, index).column_letter].width = 28 if index <= len(lead) else 14
        ws.row_dimensions[header_row].height = 60
        ws.freeze_panes = ws.cell(header_row + 1, len(lead) + 1)

    if pack.level == Level.NATIONAL:
        sheet(_("National"), [_("Name")], [([pack.name], pack.subject.figures)])
    if pack.level == Level.UNIVERSITY or pack.universities:
        universities = [pack.subject] if pack.level == Level.UNIVERSITY else pack.universities
        sheet(
            _("Universities"),
            [_("Code"), _("Name"), _("Provinces supported")],
            [
                ([s.subject_university.code, s.subject_university.name, len(s.figures.provinces or ())], s.figures)
                for s in universities
            ],
        )
    sheet(
        _("Provinces"),
        [_("Code"), _("Name"), _("Lead university")],
        [
            ([s.province_code, s.subject_province.name, pack.leads.get(s.province_code, "")], s.figures)
            for s in pack.provinces
        ],
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- PDF meeting pack ------------------------------------------------------------------------------------------------


@dataclass
class _Section:
    """One subject's pages of the pack: its figures, warnings and charts."""

    title: str
    subtitle: str
    facts: list[tuple[str, str]]
    warnings: list[str]
    charts: list[charts.Chart]
    cases: CaseFollowUp | None = None  # the main section: referrals by agency type and closures as tables


def _facts(figures: Figures, *, rollup: bool) -> list[tuple[str, str]]:
    progress = progress_of(figures)
    reports = figures.reports
    requests = figures.own_requests
    items = figures.action_items
    words = headlines()
    facts = [(words["records"].label, f"{figures.records.total:,}")]
    facts += [(words[g].label, charts.progress_note(progress[g])) for g in ("overall", RETURNED, KEPT)]
    facts.append((_("Changed in the last 30 days"), f"{figures.changed_30d:,}"))
    completeness = figures.completeness
    facts.append(
        (
            _("Records missing required fields"),
            f"{completeness.incomplete:,} ({charts.percent_text(completeness.share_incomplete)})",
        )
    )
    facts.append((quality_label(), quality_text(figures.quality)))
    last = parse_datetime(completeness.last_upload)
    facts.append((_("Last upload"), be_date(last) if last else "–"))
    facts.append((_("Current period's report in"), f"{_report_in(figures)} ({period_label(reports.current_period)})"))
    by_status = reports.by_status
    facts.append(
        (_("Progress reports"), ", ".join(f"{report_status_label(s)} {n}" for s, n in sorted(by_status.items())) or "–")
    )
    facts.append(
        (
            _("Capacity requests"),
            _("%(open)s open, %(overdue)s overdue, %(delivered)s delivered; mean rating %(rating)s")
            % {
                "open": requests.open,
                "overdue": requests.overdue,
                "delivered": requests.delivered,
                "rating": charts.number_text(requests.mean_rating),
            },
        )
    )
    facts.append((_("Meetings held"), f"{figures.meetings_held:,}"))
    facts.append(
        (
            _("Open action items"),
            _("%(open)s (%(overdue)s overdue)") % {"open": items.open, "overdue": items.overdue},
        )
    )
    return facts + _case_facts(figures)


def _case_facts(figures: Figures) -> list[tuple[str, str]]:
    """Case follow-up in a few lines (the dashboards' card, summaries.figures.case_follow_up)."""
    cases = figures.cases
    referrals = cases.referrals
    order = {reason: i for i, reason in enumerate(CloseReason.values)}
    closed = ", ".join(
        f"{CloseReason(r).label if r in order else r} {n:,}"
        for r, n in sorted(cases.closed_by_reason.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    )
    return [
        (
            _("Children in follow-up"),
            _("%(n)s (%(waiting)s not contacted yet)")
            % {"n": f"{cases.in_follow_up:,}", "waiting": f"{cases.waiting_first_contact:,}"},
        ),
        (
            _("Contacted in the last 30 days"),
            f"{charts.percent_text(cases.share_contacted_30d)} ({cases.contacted_30d:,} / {cases.in_follow_up:,})",
        ),
        (_("Days to the first contact (median)"), days_text(cases.median_days_to_first_contact)),
        (
            _("Referrals"),
            _("%(open)s open, %(overdue)s overdue, %(completed)s completed, %(unresolved)s without a result")
            % {
                "open": f"{referrals.open:,}",
                "overdue": f"{referrals.overdue:,}",
                "completed": f"{referrals.completed:,}",
                "unresolved": f"{referrals.unresolved:,}",
            },
        ),
        (_("Cases closed, by reason"), closed or "–"),
    ]


def _sections(pack: Pack) -> tuple[_Section, list[_Section]]:
    labels = pack.labels
    subject = pack.subject
    rollup = pack.level != Level.PROVINCE
    links = Links(fiscal_year=pack.fiscal_year, enabled=False)
    main_charts = []
    if rollup:
        rows = sort_rows(
            [
                Row(s.province_code, s.subject_province.name, "", s.figures, lead=pack.leads.get(s.province_code, ""))
                for s in pack.provinces
            ],
            "name",
            descending=False,
        )
        main_charts.append(charts.progress_by_subject(rows, chart_id="pack-progress"))
    main_charts += [
        charts.goals_chart(subject.figures, labels, links, chart_id="pack-goals"),
        charts.categories_chart(subject.figures, labels, links, chart_id="pack-categories"),
        charts.trend_chart(pack.points, chart_id="pack-trend", marker=subject.as_of if pack.as_of else None),
    ]
    warnings = [] if rollup else [w.text for w in warnings_of(subject.figures, links=links)]
    main = _Section(
        pack.name,
        _("Fiscal year %(year)s") % {"year": pack.fiscal_year},
        _facts(subject.figures, rollup=rollup),
        warnings,
        main_charts,
        cases=case_follow_up(subject.figures, labels),
    )
    provinces = []
    if rollup:
        for snapshot in pack.provinces:
            lead = pack.leads.get(snapshot.province_code, "")
            provinces.append(
                _Section(
                    snapshot.subject_province.name,
                    _("Lead university: %(code)s") % {"code": lead} if lead else "",
                    _facts(snapshot.figures, rollup=False),
                    [w.text for w in warnings_of(snapshot.figures, links=links)],
                    [
                        charts.goals_chart(
                            snapshot.figures, labels, links, chart_id=f"pack-goals-{snapshot.province_id}"
                        ),
                        charts.categories_chart(
                            snapshot.figures, labels, links, chart_id=f"pack-categories-{snapshot.province_id}"
                        ),
                    ],
                )
            )
    return main, provinces


class _WholeRun(str):
    """A text that iterates as one piece: WeasyPrint's SVG text loop then lays it out as one run."""

    def __iter__(self):
        yield str(self)


_SVG_PATCH_LOCK = threading.Lock()
_PER_GLYPH_ATTRIBUTES = ("dx", "dy", "rotate", "textLength", "letter-spacing")


def _install_svg_text_runs() -> None:
    """Make WeasyPrint draw each SVG <text> of the charts as one shaped run.

    WeasyPrint 70 draws SVG text one code point at a time (upstream issue Kozea/WeasyPrint#2249, open):
    a Thai vowel or tone mark drawn apart from its consonant comes out as a dotted circle beside it.
    The charts place each label with one x and one y and no per-glyph attributes, the case upstream's
    proposed fix (Kozea/WeasyPrint#2754) shapes whole; this does the same by handing WeasyPrint's loop a
    text that iterates as one piece. Text with per-glyph positions is drawn as before. Installed once per
    process; if WeasyPrint's internals moved, nothing is patched and Thai chart labels draw as before.
    """
    try:
        from weasyprint import svg as svg_module

        tags = svg_module.TAGS
        original = tags["text"]
    except (ImportError, AttributeError, KeyError):
        return
    with _SVG_PATCH_LOCK:
        if getattr(tags["text"], "abe_whole_runs", False):
            return

        def text_as_one_run(svg, node, font_size):
            element = getattr(node, "_etree_node", None)
            text = getattr(element, "text", None)
            simple = not any(name in node.attrib for name in _PER_GLYPH_ATTRIBUTES) and all(
                len(str(node.attrib.get(axis, "")).replace(",", " ").split()) <= 1 for axis in ("x", "y")
            )
            if not text or not simple:
                return original(svg, node, font_size)
            element.text = _WholeRun(text)
            try:
                return original(svg, node, font_size)
            finally:
                element.text = str(text)

        text_as_one_run.__dict__["abe_whole_runs"] = True  # the mark the check above looks for
        # svg.draw_node tells text elements by `TAGS.get(tag) == text` (its module's name): both change.
        for tag, function in list(tags.items()):
            if function is original:
                tags[tag] = text_as_one_run
        svg_module.text = text_as_one_run


def _pdf_svg(svg: str, font_families: str) -> SafeString:
    """A chart's SVG for the PDF: its text in the PDF's fonts (the page's font is not inherited there)."""
    return mark_safe(svg.replace('font-family="inherit"', f"font-family={quoteattr(font_families)}", 1))  # noqa: S308


def _write_pdf(pack: Pack) -> bytes:
    try:
        from weasyprint import HTML
        from weasyprint.text.fonts import FontConfiguration
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint's cffi cannot load Pango's libraries
        raise RuntimeError(
            "PDF export needs Pango and HarfBuzz for WeasyPrint "
            "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-thai-tlwg); "
            f"the Excel export works without them. ({exc})"
        ) from exc
    # One place decides how the portal's PDFs draw Thai (fonts, and the Thai text patch): the core's thai_pdf.
    from core.thai_pdf import PDF_FONT_FAMILIES, PDF_FONT_SIZE, install_thai_actual_text, sarabun_font_faces

    install_thai_actual_text()
    _install_svg_text_runs()
    font_faces = sarabun_font_faces()
    allowed = frozenset(face["url"] for face in font_faces)

    class FontsOnlyFetcher(URLFetcher):
        """Fetches the portal's font files and nothing else (as the minutes' PDF)."""

        def fetch(self, url, headers=None):
            if url not in allowed:
                raise ValueError(f"The meeting pack loads only the portal's fonts, not {url}")
            return super().fetch(url, headers)

    # SVG attributes take the family names without CSS quotes (WeasyPrint strips them, one by one).
    svg_fonts = ", ".join(PDF_FONT_FAMILIES)
    main, provinces = _sections(pack)
    for section in [main, *provinces]:
        for chart in section.charts:
            chart.svg = _pdf_svg(chart.svg, svg_fonts)
    map_markup = ""
    if pack.level != Level.PROVINCE:
        programme = set(pack.subject.figures.provinces or ())
        percents = {s.province_code: s.figures.progress.overall.percent for s in pack.provinces}
        quality = {s.province_code: s.figures.quality for s in pack.provinces}
        map_markup = _pdf_svg(
            map_svg(percents=percents, programme=programme, quality=quality, chart_id="pack-map"), svg_fonts
        )
    universities = [Row(s.subject_university.code, s.subject_university.name, "", s.figures) for s in pack.universities]
    context = {
        "pack": pack,
        "main": main,
        "provinces": provinces,
        "universities": universities,
        "map_svg": map_markup,
        "as_of": be_datetime(pack.subject.as_of),
        "as_of_label": pack.as_of_label,
        "age": age_text(pack.subject.as_of),
        "duration_ms": pack.subject.run.duration_ms,
        "language": translation.get_language() or "th",
        "font_faces": font_faces,
        "font_families": ", ".join(
            family if family == "sans-serif" else json.dumps(family) for family in PDF_FONT_FAMILIES
        ),
        "font_size": PDF_FONT_SIZE,
        "page_label_css": json.dumps(_("Page"), ensure_ascii=False),
        "kicker_css": json.dumps(_("Progress summary · meeting pack"), ensure_ascii=False),
    }
    html = render_to_string("summaries/pack/pdf.html", context)
    fetcher = FontsOnlyFetcher(allowed_protocols=("file",))
    return HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=FontConfiguration())
