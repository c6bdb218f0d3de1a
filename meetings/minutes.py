"""The minutes of a meeting as a file: PDF (WeasyPrint), Word (python-docx) or Excel (openpyxl), in Thai or English.

`render_minutes` reads the meeting and all its parts in a constant number of queries (`_fetch`), turns them into
plain texts in the requested language (`_collect`), then writes one format. The PDF's Thai fonts are
core/thai_pdf.py's, shared with the progress report. The Word file only names its font (DOCX_FONT): Word and
LibreOffice pick it by name on the reader's machine (LibreOffice on Debian draws it with Laksaman).
"""

import datetime
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from core.buddhist_dates import file_date
from core.spreadsheet_safety import neutralise_formula
from core.templatetags.thai_dates import be_date
from core.thai_pdf import font_context, write_pdf
from meetings.models import ActionItem, Attendance, LessonLearned, Meeting, Presentation
from reports.models import SECTIONS

FORMATS = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# The Word file's font, for Latin and Thai runs alike, and its size: the Thai government's document standard.
DOCX_FONT = "TH Sarabun New"
DOCX_FONT_SIZE_PT = 16

# XML 1.0 (Word, Excel) refuses these control characters; a pasted text may hold them.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_minutes(meeting: Meeting, *, fmt: str, language: str = "th") -> tuple[bytes, str, str]:
    """(content, content type, file name) of the meeting's minutes in `fmt` ("pdf", "docx" or "xlsx").

    The caller has checked that the user may see the meeting. Raises ValueError for another format, and
    RuntimeError for a PDF on a machine without WeasyPrint's system libraries (Pango).
    """
    if fmt not in FORMATS:
        raise ValueError(f"Unknown minutes format {fmt!r}: use one of {', '.join(FORMATS)}")
    with translation.override(language):
        minutes = _collect(_fetch(meeting), language)
        writer = {"pdf": _write_pdf, "docx": _write_docx, "xlsx": _write_xlsx}[fmt]
        content = writer(minutes)
    filename = f"minutes-{meeting.pk}-{file_date(meeting.starts_on)}.{fmt}"
    return content, FORMATS[fmt], filename


def _fetch(meeting: Meeting) -> Meeting:
    """The meeting with every part the minutes show, in 10 queries whatever its size: the meeting, its four
    many-to-many lists (organising universities and provinces, provinces and universities concerned), attendance
    (with users), agenda, presentations (with province and report), lessons (with province), action items (with
    their owners)."""
    return (
        Meeting.objects.filter(pk=meeting.pk)
        .prefetch_related(
            "organiser_universities",
            "organiser_provinces",
            "provinces",
            "universities",
            Prefetch("attendance", queryset=Attendance.objects.select_related("user")),
            "agenda",
            Prefetch("presentations", queryset=Presentation.objects.select_related("province", "report")),
            Prefetch("lessons", queryset=LessonLearned.objects.select_related("province").order_by("theme", "pk")),
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.select_related("owner_user", "owner_province", "owner_university"),
            ),
        )
        .get()
    )


# --- The minutes as plain texts in the active language -------------------------------------------------------------


@dataclass
class _Attendee:
    name: str
    organisation: str
    position: str


@dataclass
class _AttendanceGroup:
    label: str
    people: list[_Attendee]


@dataclass
class _AgendaItem:
    order: int
    heading: str
    title: str
    presenter: str
    minutes: str
    decisions: str


@dataclass
class _Presentation:
    order: int
    province: str
    presenter: str
    notes: str
    report: str  # "" when no report is linked
    sections: list[tuple[str, str]]  # (label, text) of the linked report's five sections


@dataclass
class _Lesson:
    theme: str
    province: str
    text: str


@dataclass
class _Action:
    what: str
    owner: str
    due: str
    status: str
    note: str
    overdue: bool


@dataclass
class _Minutes:
    language: str
    title: str
    facts: list[tuple[str, str, bool]]  # (label, value, is a link) of the meeting, in order; empty values left out
    attendance: list[_AttendanceGroup]
    agenda: list[_AgendaItem]
    presentations: list[_Presentation]
    lessons: list[_Lesson]
    actions: list[_Action]
    labels: dict[str, str]


def _labels() -> dict[str, str]:
    """The fixed texts of the minutes, translated into the active language (one place for all three formats)."""
    return {
        "document": _("Minutes of the meeting"),
        "meeting_details": _("Meeting details"),
        "attendance": _("Attendance"),
        "agenda": _("Agenda"),
        "agenda_sheet": _("Agenda items"),
        "presentations": _("Province presentations"),
        "presentations_sheet": _("Presentations"),
        "lessons": _("Lessons learned"),
        "actions": _("Action items"),
        "no": _("No."),
        "name": _("Name"),
        "organisation": _("Organisation"),
        "position": _("Position"),
        "role": _("Role"),
        "order": _("Order"),
        "title": _("Title"),
        "presenter": _("Presenter"),
        "minutes": _("Minutes"),
        "decisions": _("Decisions"),
        "province": _("Province"),
        "progress_report": _("Progress report"),
        "no_report": _("No progress report linked."),
        "notes": _("Notes"),
        "theme": _("Theme"),
        "lesson": _("Lesson"),
        "what": _("What"),
        "owner": _("Owner"),
        "due_date": _("Due date"),
        "status": _("Status"),
        "note": _("Note"),
        "overdue": _("Overdue"),
        "none": _("None recorded."),
        "page": _("Page"),
        "field": _("Field"),
        "value": _("Value"),
    }


def _time(moment: datetime.time | None) -> str:
    return moment.strftime("%H:%M") if moment else ""


def _date(day: datetime.date | None) -> str:
    # be_date follows the active language: "1 มีนาคม 2567" (พ.ศ.) in Thai, "1 March 2024" in English.
    return be_date(day, "long") if day else ""


def _names(objects) -> str:
    return ", ".join(obj.name for obj in objects)


def _report_label(report) -> str:
    # Not str(report): that reads report.province, one query per presentation.
    fiscal_year = _("Fiscal year %(year)s") % {"year": report.fiscal_year}
    return f"{fiscal_year} · {report.get_period_display()} ({report.get_status_display()})"


def _collect(meeting: Meeting, language: str) -> _Minutes:
    labels = _labels()
    organisers = []
    if meeting.organised_by_eef:
        organisers.append(_("Equitable Education Fund (EEF)"))
    if meeting.organised_by_ipsr:
        organisers.append(_("Institute for Population and Social Research (IPSR)"))
    organisers += [obj.name for obj in meeting.organising_universities()]
    organisers += [obj.name for obj in meeting.organiser_provinces.all()]
    if meeting.ends_on and meeting.ends_on != meeting.starts_on:
        if meeting.is_all_day:
            dates = f"{_date(meeting.starts_on)} – {_date(meeting.ends_on)}"
        else:  # the same words as the meeting pages (meetings/_dates.html)
            start = pgettext("meeting time", "at %(time)s") % {"time": _time(meeting.start_time)}
            end = pgettext("meeting time", "at %(time)s") % {"time": _time(meeting.end_time)}
            dates = f"{_date(meeting.starts_on)} {start} – {_date(meeting.ends_on)} {end}"
    else:
        dates = _date(meeting.starts_on)
        if not meeting.is_all_day:
            times = {"start": _time(meeting.start_time), "end": _time(meeting.end_time)}
            dates += " " + pgettext("meeting time", "%(start)s–%(end)s") % times
    facts = [
        (_("Kind"), capfirst(meeting.get_kind_display()), False),
        (_("Date"), dates, False),
        (_("Status"), capfirst(meeting.get_status_display()), False),
        (_("Venue"), meeting.venue, False),
        (_("Online link"), meeting.online_link, True),  # a URLField: http(s) only, safe as a link
        (_("Organised by"), ", ".join(organisers), False),
        (_("Provinces concerned"), _names(meeting.provinces.all()), False),
        (_("Universities concerned"), _names(meeting.universities.all()), False),
        (_("Description"), meeting.description, False),
    ]

    group_labels: dict[str, str] = {
        Attendance.Role.ORGANISER: _("Organisers"),
        Attendance.Role.PRESENTER: _("Presenters"),
        Attendance.Role.PARTICIPANT: _("Participants"),
    }
    by_role: dict[str, list[_Attendee]] = {role: [] for role in Attendance.Role.values}
    for row in meeting.attendance.all():
        name = row.name or (str(row.user) if row.user else "")
        by_role.setdefault(row.role, []).append(_Attendee(name, row.organisation, row.position))
    attendance = [_AttendanceGroup(group_labels.get(role, role), people) for role, people in by_role.items() if people]

    agenda = [
        _AgendaItem(
            order=item.order,
            heading=_("Item %(order)s") % {"order": item.order},
            title=item.title,
            presenter=item.presenter,
            minutes=item.minutes,
            decisions=item.decisions,
        )
        for item in meeting.agenda.all()
    ]
    presentations = [
        _Presentation(
            order=row.order,
            province=row.province.name,
            presenter=row.presenter,
            notes=row.notes,
            report=_report_label(row.report) if row.report else "",
            sections=[(str(label), text) for _name, label, text in row.report.sections()] if row.report else [],
        )
        for row in meeting.presentations.all()
    ]
    lessons = [_Lesson(row.theme, row.province.name if row.province else "", row.text) for row in meeting.lessons.all()]
    actions = []
    for action_item in meeting.action_items.all():
        owners = [str(action_item.owner_user) if action_item.owner_user else ""]
        owners += [action_item.owner_province.name if action_item.owner_province else ""]
        owners += [action_item.owner_university.name if action_item.owner_university else ""]
        actions.append(
            _Action(
                what=action_item.what,
                owner=", ".join(owner for owner in owners if owner),
                due=_date(action_item.due_date),
                status=capfirst(action_item.get_status_display()),
                note=action_item.note,
                overdue=action_item.is_overdue,
            )
        )
    return _Minutes(
        language=language,
        title=meeting.title,
        facts=[fact for fact in facts if fact[1]],
        attendance=attendance,
        agenda=agenda,
        presentations=presentations,
        lessons=lessons,
        actions=actions,
        labels=labels,
    )


# --- PDF -------------------------------------------------------------------------------------------------------------


def _write_pdf(minutes: _Minutes) -> bytes:
    context = {"minutes": minutes, "L": minutes.labels, **font_context(page_label=minutes.labels["page"])}
    return write_pdf("meetings/minutes/pdf.html", context, what="The minutes")


# --- Word ------------------------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("", text or "")


# The order of a run's properties in WordprocessingML (ECMA-376 CT_RPr).
_RPR_ORDER = (
    "rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike", "dstrike", "outline", "shadow",
    "emboss", "imprint", "noProof", "snapToGrid", "vanish", "webHidden", "color", "spacing", "w", "kern", "position",
    "sz", "szCs", "highlight", "u", "effect", "bdr", "shd", "fitText", "vertAlign", "rtl", "cs", "em", "lang",
    "eastAsianLayout", "specVanish", "oMath",
)  # fmt: skip


def _set_thai_fonts(rpr, *, size_pt: float | None = None, bold: bool = False, language: str = "") -> None:
    """Name DOCX_FONT for every script of a run-properties element and mark Thai as its complex-script language.

    Word draws Thai with the complex-script (w:cs) font, size (w:szCs) and bold (w:bCs), not the Latin ones; the
    default template's theme fonts (w:asciiTheme ...) would override the names, so they are removed."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def child(tag: str):
        element = rpr.find(qn(tag))
        if element is None:
            element = OxmlElement(tag)
            rpr.append(element)
        return element

    fonts = child("w:rFonts")
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    for script in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(script), DOCX_FONT)
    if bold:
        child("w:b")
        child("w:bCs")
    if size_pt:
        for tag in ("w:sz", "w:szCs"):
            child(tag).set(qn("w:val"), str(round(size_pt * 2)))  # half-points
    if language:
        lang = child("w:lang")
        lang.set(qn("w:val"), "en-GB" if language.startswith("en") else "th-TH")
        lang.set(qn("w:eastAsia"), "th-TH")
        lang.set(qn("w:bidi"), "th-TH")  # despite its name, w:bidi is the language of complex-script text
    # Word refuses a file whose rPr children are out of the schema's order; the appends above may break it.
    ranked = {qn(f"w:{tag}"): rank for rank, tag in enumerate(_RPR_ORDER)}
    for element in sorted(rpr, key=lambda element: ranked.get(element.tag, len(_RPR_ORDER))):
        rpr.append(element)


def _bold_run(paragraph, text: str):
    run = paragraph.add_run(_clean(text))
    _set_thai_fonts(run._r.get_or_add_rPr(), bold=True)
    return run


def _add_page_number_footer(document, label: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(f"{label} ")
    for instruction, text in (("PAGE", "1"), (None, " / "), ("NUMPAGES", "1")):
        if instruction is None:
            paragraph.add_run(text)
            continue
        field_element = OxmlElement("w:fldSimple")
        field_element.set(qn("w:instr"), instruction)
        run = OxmlElement("w:r")
        text_element = OxmlElement("w:t")
        text_element.text = text
        run.append(text_element)
        field_element.append(run)
        paragraph._p.append(field_element)


def _docx_table(document, headers: list[str], rows: Sequence[Sequence[str | tuple[str, bool]]], widths_cm: list[float]):
    from docx.oxml import OxmlElement

    table = document.add_table(rows=1, cols=len(headers))
    table.style = document.styles["Table Grid"]
    header_row = table.rows[0]
    # Repeat the header row on every page the table runs over.
    header_row._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    for cell, text in zip(header_row.cells, headers, strict=True):
        _bold_run(cell.paragraphs[0], text)
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            if isinstance(value, tuple):  # (text, bold)
                _bold_run(cell.paragraphs[0], value[0])
            else:
                cell.paragraphs[0].add_run(_clean(value))
    _set_widths(table, widths_cm)
    return table


def _set_widths(table, widths_cm: list[float]) -> None:
    """Column widths for Word (each cell's width) and LibreOffice (the table's grid)."""
    from docx.shared import Cm

    table.autofit = False
    for column, width in zip(table.columns, widths_cm, strict=True):
        column.width = Cm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)


def _write_docx(minutes: _Minutes) -> bytes:
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    labels = minutes.labels
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    # The Thai government's document margins: 3 cm left, 2 cm right, 2.5 cm top, 2 cm bottom.
    section.left_margin, section.right_margin = Cm(3), Cm(2)
    section.top_margin, section.bottom_margin = Cm(2.5), Cm(2)

    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")) if defaults is not None else None
    if rpr_default is not None:
        rpr = rpr_default.find(qn("w:rPr"))
        if rpr is None:
            rpr = OxmlElement("w:rPr")
            rpr_default.append(rpr)
        _set_thai_fonts(rpr, size_pt=DOCX_FONT_SIZE_PT, language=minutes.language)
    sizes: dict[str, tuple[int | None, bool]] = {
        "Normal": (DOCX_FONT_SIZE_PT, False),
        "Title": (24, True),
        "Heading 1": (20, True),
    }
    sizes |= {"Heading 2": (18, True), "Heading 3": (DOCX_FONT_SIZE_PT, True), "Table Grid": (None, False)}
    for name, (size, bold) in sizes.items():
        style = document.styles[name]
        style.font.name = DOCX_FONT
        if size:
            style.font.size = Pt(size)
        if bold:
            style.font.bold = True
        if name != "Table Grid":
            style.font.color.rgb = RGBColor(0x1F, 0x29, 0x33)
        _set_thai_fonts(style.element.get_or_add_rPr(), size_pt=size, bold=bold, language=minutes.language)
    document.styles["Normal"].paragraph_format.space_after = Pt(2)

    document.core_properties.title = _clean(minutes.title)
    document.core_properties.subject = labels["document"]
    document.core_properties.language = "th-TH" if minutes.language.startswith("th") else "en-GB"
    _add_page_number_footer(document, labels["page"])

    document.add_paragraph(labels["document"], style="Heading 3")
    document.add_paragraph(_clean(minutes.title), style="Title")
    facts = document.add_table(rows=0, cols=2)
    for label, value, _is_link in minutes.facts:
        cells = facts.add_row().cells
        _bold_run(cells[0].paragraphs[0], label)
        cells[1].paragraphs[0].add_run(_clean(value))
    _set_widths(facts, [4.5, 11.5])

    document.add_heading(labels["attendance"], level=1)
    if not minutes.attendance:
        document.add_paragraph(labels["none"])
    for group in minutes.attendance:
        document.add_heading(f"{group.label} ({len(group.people)})", level=2)
        rows = [
            [str(number), person.name, person.organisation, person.position]
            for number, person in enumerate(group.people, start=1)
        ]
        _docx_table(document, [labels["no"], labels["name"], labels["organisation"], labels["position"]], rows,
                    [1.3, 5.2, 5.0, 4.5])  # fmt: skip

    document.add_heading(labels["agenda"], level=1)
    if not minutes.agenda:
        document.add_paragraph(labels["none"])
    for item in minutes.agenda:
        document.add_heading(_clean(f"{item.heading} {item.title}"), level=2)
        for label, text in ((labels["presenter"], item.presenter), (labels["minutes"], item.minutes)):
            if text:
                paragraph = document.add_paragraph()
                _bold_run(paragraph, f"{label}: ")
                paragraph.add_run(_clean(text))
        if item.decisions:
            paragraph = document.add_paragraph()
            _bold_run(paragraph, f"{labels['decisions']}: ")
            _bold_run(paragraph, item.decisions)

    document.add_heading(labels["presentations"], level=1)
    if not minutes.presentations:
        document.add_paragraph(labels["none"])
    for row in minutes.presentations:
        document.add_heading(_clean(row.province), level=2)
        details = [(labels["presenter"], row.presenter), (labels["progress_report"], row.report or labels["no_report"])]
        details.append((labels["notes"], row.notes))
        for label, text in details:
            if text:
                paragraph = document.add_paragraph()
                _bold_run(paragraph, f"{label}: ")
                paragraph.add_run(_clean(text))
        for label, text in row.sections:
            document.add_heading(_clean(label), level=3)
            document.add_paragraph(_clean(text) or "—")

    document.add_heading(labels["lessons"], level=1)
    if not minutes.lessons:
        document.add_paragraph(labels["none"])
    for lesson in minutes.lessons:
        paragraph = document.add_paragraph()
        _bold_run(paragraph, lesson.theme + (f" ({lesson.province})" if lesson.province else "") + ": ")
        paragraph.add_run(_clean(lesson.text))

    document.add_heading(labels["actions"], level=1)
    if not minutes.actions:
        document.add_paragraph(labels["none"])
    else:
        headers = [labels["no"], labels["what"], labels["owner"], labels["due_date"], labels["status"], labels["note"]]
        action_rows: list[list[str | tuple[str, bool]]] = [
            [
                str(number),
                action.what,
                action.owner,
                action.due,
                (f"{action.status} — {labels['overdue']}", True) if action.overdue else action.status,
                action.note,
            ]
            for number, action in enumerate(minutes.actions, start=1)
        ]
        _docx_table(document, headers, action_rows, [1.1, 4.6, 3.2, 2.6, 2.2, 2.3])

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- Excel -----------------------------------------------------------------------------------------------------------


def _cell(value):
    """A value safe for a spreadsheet: text never runs as a formula and holds no XML-illegal characters."""
    if isinstance(value, str):
        return neutralise_formula(_clean(value))
    return value


def _sheet(workbook, title: str, headers: list[str], rows: list[list], widths: list[int]):
    from openpyxl.styles import Alignment, Font

    # Excel's sheet names: at most 31 characters, none of []:*?/\ .
    sheet = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", title)[:31])
    sheet.append([_cell(header) for header in headers])
    for row in rows:
        sheet.append([_cell(value) for value in row])
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = wrap
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    return sheet


def _write_xlsx(minutes: _Minutes) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    labels = minutes.labels
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = _clean(minutes.title)[:250]

    facts = [[labels["title"], minutes.title], *[[label, value] for label, value, _is_link in minutes.facts]]
    _sheet(workbook, labels["meeting_details"], [labels["field"], labels["value"]], facts, [28, 90])

    attendance = [
        [group.label, person.name, person.organisation, person.position]
        for group in minutes.attendance
        for person in group.people
    ]
    _sheet(workbook, labels["attendance"],
           [labels["role"], labels["name"], labels["organisation"], labels["position"]], attendance,
           [20, 32, 32, 28])  # fmt: skip

    agenda = [[item.order, item.title, item.presenter, item.minutes, item.decisions] for item in minutes.agenda]
    _sheet(workbook, labels["agenda_sheet"],
           [labels["order"], labels["title"], labels["presenter"], labels["minutes"], labels["decisions"]], agenda,
           [8, 40, 24, 60, 50])  # fmt: skip

    section_labels = [str(label) for _name, label in SECTIONS]
    presentations = [
        [row.order, row.province, row.presenter, row.report or labels["no_report"], row.notes]
        + ([text for _label, text in row.sections] or [""] * len(section_labels))
        for row in minutes.presentations
    ]
    _sheet(workbook, labels["presentations_sheet"],
           [labels["order"], labels["province"], labels["presenter"], labels["progress_report"], labels["notes"],
            *section_labels],
           presentations, [8, 18, 24, 34, 30, *[50] * len(section_labels)])  # fmt: skip

    lessons = [[lesson.theme, lesson.province, lesson.text] for lesson in minutes.lessons]
    _sheet(workbook, labels["lessons"], [labels["theme"], labels["province"], labels["lesson"]], lessons, [30, 18, 80])

    actions = [
        [action.what, action.owner, action.due, action.status, labels["overdue"] if action.overdue else "", action.note]
        for action in minutes.actions
    ]
    sheet = _sheet(workbook, labels["actions"],
                   [labels["what"], labels["owner"], labels["due_date"], labels["status"], labels["overdue"],
                    labels["note"]], actions, [50, 30, 18, 14, 14, 40])  # fmt: skip
    flagged = Font(bold=True, color="B42318")
    for row in sheet.iter_rows(min_row=2, min_col=5, max_col=5):
        for cell in row:
            if cell.value:
                cell.font = flagged

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
