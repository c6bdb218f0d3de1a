"""The minutes export (meetings/minutes.py): a meeting as PDF, Word and Excel, Thai first, with constant queries.

The PDF checks use poppler-utils (pdftotext, pdftoppm, pdffonts): a missing tool skips them, except in CI
(REQUIRE_REAL_SERVICES=1), where it fails. The first page of the Thai PDF is saved as minutes-th.png in
SCREENSHOT_DIR (default artifacts/screenshots/) for a person to look at.
"""

import datetime
import importlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone, translation

from conftest import PROVINCE_A, PROVINCE_B
from meetings.minutes import render_minutes
from meetings.models import Meeting
from universities.models import University

ROOT = Path(__file__).resolve().parent.parent

TITLE = "ประชุมคณะทำงานขับเคลื่อนการศึกษาเชิงพื้นที่ จังหวัดขอนแก่น ครั้งที่ ๒/๒๕๖๗"
# Stacked vowels and tone marks (ปั่น, น้ำ, กี่, ผู้), a descender (ฎ, ญ) and ฤ: the glyphs that go wrong first.
SITUATION = "เด็กนอกระบบที่ปั่นจักรยานมาเรียน น้ำท่วมหนักในฤดูฝน ผู้ใหญ่ในชุมชนช่วยกันดูแล กี่คนกลับมาเรียนได้"
PROGRESS = "ติดตามเด็กกลับเข้าเรียน ๓๐๐ คน ตามกฎระเบียบของจังหวัด"
AGENDA_TITLES = ["เรื่องที่ประธานแจ้งให้ที่ประชุมทราบ", "รับรองรายงานการประชุมครั้งที่แล้ว", "=1+1"]
OVERDUE_ACTION = "ส่งรายชื่อเด็กที่ต้องติดตามให้มหาวิทยาลัย"


def build_meeting(cast, *, size: int = 1):
    """A provincial meeting of province A with `size` rows of every part; Thai throughout."""
    from meetings.models import ActionItem, AgendaItem, Attendance, Kind, LessonLearned, Meeting, Presentation
    from provinces.models import Province
    from reports.models import ProgressReport
    from universities.models import University

    kku = University.objects.get(code="KKU")
    meeting = Meeting.objects.create(
        title=TITLE,
        kind=Kind.PROVINCIAL,
        starts_on=datetime.date(2024, 3, 1),
        ends_on=datetime.date(2024, 3, 2),
        venue="ห้องประชุมศาลากลางจังหวัดขอนแก่น ชั้น ๓",
        online_link="https://meet.example.org/abe-khonkaen",
        description="ประชุมติดตามความก้าวหน้า\nไตรมาสที่ ๑",
        status=Meeting.Status.HELD,
        organised_by_eef=True,
    )
    meeting.organiser_universities.add(kku)
    meeting.provinces.add(PROVINCE_A)
    meeting.universities.add(kku)
    provinces = list(Province.objects.exclude(code__in=[PROVINCE_A, PROVINCE_B]).order_by("code")[: size - 1])
    for number in range(size):
        Attendance.objects.create(
            meeting=meeting, role=Attendance.Role.PARTICIPANT, name=f"ครูผู้ช่วย {number}", organisation="สพป.ขอนแก่น"
        )
        Attendance.objects.create(meeting=meeting, role=Attendance.Role.ORGANISER, user=cast.university_member)
        Attendance.objects.create(
            meeting=meeting, role=Attendance.Role.PRESENTER, name=f"ผู้ประสานงาน {number}", position="นักวิชาการศึกษา"
        )
        LessonLearned.objects.create(meeting=meeting, province_id=PROVINCE_A, theme=f"ข้อมูล {number}", text="ใช้ร่วมกัน")
        ActionItem.objects.create(
            meeting=meeting,
            what=OVERDUE_ACTION if number == 0 else f"งาน {number}",
            owner_province_id=PROVINCE_A,
            owner_university=kku,
            due_date=datetime.date(2024, 4, 1),
            note="@SUM(A1)",
        )
    ActionItem.objects.create(
        meeting=meeting,
        what="จัดอบรมครู",
        owner_user=cast.university_member,
        due_date=timezone.localdate() + datetime.timedelta(days=30),
    )
    ActionItem.objects.create(
        meeting=meeting,
        what="สรุปผลการประชุม",
        owner_university=kku,
        due_date=datetime.date(2024, 3, 10),
        status=ActionItem.Status.DONE,
    )
    # Agenda items created out of order: the minutes list them by their order.
    for order, title in ((3, AGENDA_TITLES[2]), (1, AGENDA_TITLES[0]), (2, AGENDA_TITLES[1])):
        AgendaItem.objects.create(
            meeting=meeting, order=order, title=title, presenter="ประธาน", minutes="ที่ประชุมรับทราบ", decisions="มติ: รับรอง"
        )
    for number in range(3, size + 1):
        AgendaItem.objects.create(meeting=meeting, order=number + 1, title=f"เรื่องอื่น ๆ {number}")
    report = ProgressReport.objects.create(
        province_id=PROVINCE_A,
        fiscal_year=2567,
        period="Q1",
        created_by=cast.coordinator_a,
        situation=SITUATION,
        mechanisms="กลไกคณะทำงาน",
        progress=PROGRESS,
        recommendations="",
        lessons_learned="ทำงานร่วมกัน",
    )
    Presentation.objects.create(meeting=meeting, province_id=PROVINCE_A, report=report, presenter="ผู้ประสานงาน", order=1)
    Presentation.objects.create(meeting=meeting, province_id=PROVINCE_B, order=2, notes="ยังไม่ส่งรายงาน")
    for number, province in enumerate(provinces, start=3):
        other = ProgressReport.objects.create(
            province=province, fiscal_year=2567, period="Q1", created_by=cast.eef_admin, situation="สถานการณ์"
        )
        Presentation.objects.create(meeting=meeting, province=province, report=other, order=number)
    return meeting


@pytest.fixture
def meeting(cast):
    return build_meeting(cast)


# --- PDF ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def poppler():
    """pdftotext, pdftoppm and pdffonts (Debian: apt-get install poppler-utils)."""
    missing = [tool for tool in ("pdftotext", "pdftoppm", "pdffonts") if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} missing (Debian: apt-get install poppler-utils)"
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()


def squeezed(text: str) -> str:
    # Lines wrap anywhere in Thai (no spaces between words): compare the characters, not the line breaks.
    return re.sub(r"\s+", "", text)


def embedded_fonts(path: Path) -> list[tuple[str, bool]]:
    """(font name, embedded) per font of the PDF, from pdffonts' table."""
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout.splitlines()
    fonts = []
    for line in lines[2:]:
        columns = line.split()
        # name, type (one or two words), encoding, emb, sub, uni, object, ID: emb is the 5th column from the end.
        fonts.append((columns[0], columns[-5] == "yes"))
    return fonts


THAI_FONTS = re.compile(r"Laksaman|Sarabun|Garuda|Loma|Kinnari|Norasi|Umpush|Waree|Purisa|NotoSansThai|NotoSerifThai")


def write_pdf(tmp_path: Path, content: bytes, name: str = "minutes.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_thai_pdf_shows_the_thai_text_with_an_embedded_thai_font(meeting, poppler, tmp_path):
    content, content_type, filename = render_minutes(meeting, fmt="pdf", language="th")

    assert content.startswith(b"%PDF")
    assert content_type == "application/pdf"
    assert filename == f"minutes-{meeting.pk}-2567-03-01.pdf"
    path = write_pdf(tmp_path, content)
    text = squeezed(pdf_text(path))
    # The glyphs map back to exactly the characters written: shaping and the font's Unicode table are right.
    assert squeezed(TITLE) in text
    assert text.count(squeezed(SITUATION)) == 1  # wrapped over two lines, each line's text given once
    assert squeezed(PROGRESS) in text
    assert squeezed("1 มีนาคม 2567") in text  # dates in พ.ศ.
    assert squeezed(OVERDUE_ACTION) in text
    fonts = embedded_fonts(path)
    assert any(THAI_FONTS.search(name) and embedded for name, embedded in fonts), fonts


def test_thai_pdf_first_page_renders_and_is_saved_for_review(meeting, poppler, tmp_path):
    from PIL import Image

    path = write_pdf(tmp_path, render_minutes(meeting, fmt="pdf", language="th")[0])
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile", str(path), str(tmp_path / "page")],
        check=True,
    )
    image = Image.open(tmp_path / "page.png").convert("L")
    inked = sum(count for level, count in enumerate(image.histogram()) if level < 200)
    assert inked > image.width * image.height * 0.01, "the first page is (almost) blank"
    screenshots = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "artifacts" / "screenshots").resolve()
    screenshots.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "page.png", screenshots / "minutes-th.png")


def test_pdf_embeds_the_portals_sarabun_where_no_thai_system_font_is_installed(meeting, poppler, tmp_path, monkeypatch):
    """A machine without fonts-thai-tlwg (or any font): fontconfig is pointed at an empty configuration, so only the
    @font-face fonts of the stylesheet (static/fonts/sarabun/*.woff2) exist."""
    from meetings import minutes

    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">'
        f"<fontconfig><cachedir>{tmp_path / 'fontcache'}</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))

    path = write_pdf(tmp_path, minutes.render_minutes(meeting, fmt="pdf", language="th")[0])

    fonts = embedded_fonts(path)
    assert fonts, "no font in the PDF"
    assert all("Sarabun" in name and embedded for name, embedded in fonts), fonts
    # The Thai and Latin files are two fonts in the PDF: drawn as one, Thai would come out as Latin letters.
    assert {name.split("+")[-1] for name, _embedded in fonts} >= {"ABE-Sarabun-Thai", "ABE-Sarabun-Latin"}
    text = squeezed(pdf_text(path))
    assert squeezed(TITLE) in text
    assert squeezed(SITUATION) in text
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-singlefile", str(path), str(tmp_path / "page")], check=True)
    screenshots = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "artifacts" / "screenshots").resolve()
    screenshots.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "page.png", screenshots / "minutes-th-portal-font.png")


def test_pdf_font_stack_never_names_th_sarabun():
    """fonts-thai-tlwg answers "TH Sarabun..." with Laksaman scaled by 0.66 for the whole fallback list, a scale
    WeasyPrint ignores when drawing: every glyph of the PDF then overlaps the next."""
    from core.thai_pdf import PDF_FONT_FAMILIES

    assert not [family for family in PDF_FONT_FAMILIES if "th sarabun" in family.lower()]


def test_pdf_shows_the_five_sections_of_a_linked_report_even_when_empty(cast, poppler, tmp_path):
    from tests.matrix import province_b_work

    meeting = province_b_work(cast)["meetings.meeting"]  # B's meeting, presenting B's (empty) draft report
    path = write_pdf(tmp_path, render_minutes(meeting, fmt="pdf", language="en")[0])

    text = pdf_text(path)
    assert "ประชุมคณะทำงานจังหวัดพะเยา" in squeezed(text)
    for label in ("Situation overview", "Key mechanisms", "Progress", "Recommendations", "Lessons learned"):
        assert label in text
    assert text.count("—") >= 5
    assert "No progress report linked." not in text


# --- Word --------------------------------------------------------------------------------------------------------


def test_docx_holds_the_thai_title_and_the_agenda_in_order_with_thai_font_settings(meeting):
    from docx import Document
    from docx.oxml.ns import qn

    content, content_type, filename = render_minutes(meeting, fmt="docx", language="th")

    assert content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert filename == f"minutes-{meeting.pk}-2567-03-01.docx"
    document = Document(io.BytesIO(content))
    paragraphs = [paragraph.text for paragraph in document.paragraphs]
    assert TITLE in paragraphs
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    positions = [next(i for i, text in enumerate(headings) if text.endswith(title)) for title in AGENDA_TITLES]
    assert positions == sorted(positions)
    assert SITUATION in paragraphs
    # Word draws Thai with the complex-script font, size and language: all set on the Normal style.
    rpr = document.styles["Normal"].element.rPr
    fonts = rpr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:cs")) == "TH Sarabun New"
    assert fonts.get(qn("w:ascii")) == "TH Sarabun New"
    assert rpr.find(qn("w:szCs")).get(qn("w:val")) == "32"  # 16 pt
    assert rpr.find(qn("w:lang")).get(qn("w:bidi")) == "th-TH"
    assert rpr.find(qn("w:lang")).get(qn("w:val")) == "th-TH"
    # Attendance and action items are tables; the overdue item is flagged.
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "ครูผู้ช่วย 0" in cells
    assert OVERDUE_ACTION in cells
    with translation.override("th"):
        overdue = translation.gettext("Overdue")
    overdue_row = next(row for table in document.tables for row in table.rows if row.cells[1].text == OVERDUE_ACTION)
    assert overdue in overdue_row.cells[4].text


# --- Excel -------------------------------------------------------------------------------------------------------


SHEETS = ["Meeting details", "Attendance", "Agenda items", "Presentations", "Lessons learned", "Action items"]


def test_xlsx_has_a_sheet_per_part_and_neutralises_formulas(meeting):
    from openpyxl import load_workbook

    content, content_type, filename = render_minutes(meeting, fmt="xlsx", language="th")

    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert filename == f"minutes-{meeting.pk}-2567-03-01.xlsx"
    workbook = load_workbook(io.BytesIO(content))
    with translation.override("th"):
        assert workbook.sheetnames == [translation.gettext(name) for name in SHEETS]
    meeting_sheet, _attendance, agenda, presentations, _lessons, actions = workbook.worksheets
    assert meeting_sheet["B2"].value == TITLE
    assert all(cell.font.bold for cell in agenda[1])
    assert [row[1] for row in agenda.iter_rows(min_row=2, values_only=True)] == [
        AGENDA_TITLES[0],
        AGENDA_TITLES[1],
        "'=1+1",  # text, never a formula
    ]
    assert agenda["B4"].data_type == "s"
    notes = {row[0]: row[5] for row in actions.iter_rows(min_row=2, values_only=True)}
    assert notes[OVERDUE_ACTION] == "'@SUM(A1)"
    assert agenda.column_dimensions["B"].width == 40
    sections = next(row for row in presentations.iter_rows(min_row=2, values_only=True) if row[1] == "ขอนแก่น")
    assert SITUATION in sections
    assert PROGRESS in sections


def test_xlsx_flags_only_the_overdue_open_action_item(meeting):
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(render_minutes(meeting, fmt="xlsx", language="en")[0]))

    flagged = {row[0]: row[4] for row in workbook["Action items"].iter_rows(min_row=2, values_only=True)}
    assert flagged == {OVERDUE_ACTION: "Overdue", "จัดอบรมครู": None, "สรุปผลการประชุม": None}


# --- English -----------------------------------------------------------------------------------------------------


def test_english_minutes_have_english_labels_and_christian_era_dates(meeting, poppler, tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    text = pdf_text(write_pdf(tmp_path, render_minutes(meeting, fmt="pdf", language="en")[0]))
    for label in ("Minutes of the meeting", "Attendance", "Agenda", "Province presentations", "Action items"):
        assert label in text
    assert "Situation overview" in text
    assert "No progress report linked." in text
    assert "1 March 2024" in text
    assert "Page 1 / " in text

    document = Document(io.BytesIO(render_minutes(meeting, fmt="docx", language="en")[0]))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["Attendance", "Agenda", "Province presentations", "Lessons learned", "Action items"]

    workbook = load_workbook(io.BytesIO(render_minutes(meeting, fmt="xlsx", language="en")[0]))
    assert workbook.sheetnames == SHEETS


def test_the_callers_language_is_left_as_it_was(meeting):
    with translation.override("en"):
        render_minutes(meeting, fmt="xlsx", language="th")
        assert translation.get_language() == "en"


# --- Contract ----------------------------------------------------------------------------------------------------


def test_an_unknown_format_is_refused(meeting):
    with pytest.raises(ValueError, match="csv"):
        render_minutes(meeting, fmt="csv")


@pytest.mark.parametrize("size", [1, 10])
def test_minutes_read_the_meeting_with_a_constant_number_of_queries(cast, django_assert_num_queries, size):
    meeting = build_meeting(cast, size=size)
    # 1 the meeting; 2-5 organising universities, organising provinces, provinces, universities (many-to-many);
    # 6 attendance with users; 7 agenda items; 8 presentations with provinces and reports; 9 lessons with provinces;
    # 10 action items with their owners (user, province, university).
    with django_assert_num_queries(10):
        render_minutes(meeting, fmt="xlsx")
    with django_assert_num_queries(10):
        render_minutes(meeting, fmt="docx")


def test_pdf_reads_the_meeting_with_the_same_queries(meeting, django_assert_num_queries):
    with django_assert_num_queries(10):  # as above: the PDF's template never queries
        render_minutes(meeting, fmt="pdf")


def test_word_and_excel_work_where_weasyprint_cannot_be_imported(meeting, monkeypatch):
    """A machine without Pango: importing weasyprint fails; only the PDF says so."""
    import meetings

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # makes `import weasyprint` raise ImportError
    # A fresh import of the module; both entries are put back after the test.
    monkeypatch.delitem(sys.modules, "meetings.minutes")
    monkeypatch.delattr(meetings, "minutes")
    minutes = importlib.import_module("meetings.minutes")

    assert minutes.render_minutes(meeting, fmt="docx")[0].startswith(b"PK")
    assert minutes.render_minutes(meeting, fmt="xlsx")[0].startswith(b"PK")
    with pytest.raises(RuntimeError, match="PDF export needs Pango"):
        minutes.render_minutes(meeting, fmt="pdf")


# --- the demo meeting's minutes (issue 12) -------------------------------------------------------------------------


DAY = datetime.date(2024, 3, 1)


def test_demo_national_meeting_names_its_attendees_and_ipsr_once(cast, poppler, tmp_path):
    from meetings.minutes import _collect, _fetch
    from portal.demo.meetings import SEED_TITLE, load_demo_meetings
    from portal.demo.provinces import ensure_demo_users

    ensure_demo_users()
    load_demo_meetings()
    meeting = Meeting.objects.get(title=SEED_TITLE)
    assert meeting.organised_by_ipsr
    assert not meeting.organiser_universities.filter(code="MU-IPSR").exists()
    attendance = list(meeting.attendance.all())
    assert attendance
    assert all(row.name for row in attendance)

    text = pdf_text(write_pdf(tmp_path, render_minutes(meeting, fmt="pdf", language="th")[0]))
    flat = squeezed(text)
    assert squeezed("30 มีนาคม 2566 เวลา 08:30 น. – 31 มีนาคม 2566 เวลา 16:30 น.") in flat  # its times too
    for row in attendance:
        assert squeezed(row.name) in flat  # the name column is filled
    with translation.override("th"):
        facts = {label: value for label, value, _link in _collect(_fetch(meeting), "th").facts}
    organisers = facts["จัดโดย"]
    assert organisers.count("สถาบันวิจัยประชากรและสังคม") == 1, organisers
    assert "มหาวิทยาลัยมหิดล (สถาบันวิจัยประชากรและสังคม)" not in organisers


def test_ipsr_is_stored_once_as_organiser_whichever_way_it_is_given(cast, client_for):
    from meetings import services

    ipsr = University.objects.get(code="MU-IPSR")
    kku = University.objects.get(code="KKU")
    meeting = services.save_meeting(
        user=cast.eef_admin,
        fields={"title": "ประชุม", "kind": "national", "starts_on": DAY, "ends_on": DAY, "organised_by_ipsr": True},
        organiser_universities=[ipsr, kku],
    )
    assert list(meeting.organiser_universities.values_list("code", flat=True)) == ["KKU"]
    # Without the flag, MU-IPSR is an organising university like any other.
    services.save_meeting(
        user=cast.eef_admin, meeting=meeting, fields={"organised_by_ipsr": False}, organiser_universities=[ipsr]
    )
    assert list(meeting.organiser_universities.values_list("code", flat=True)) == ["MU-IPSR"]
    # A meeting stored with both before (the demo's national meeting) shows IPSR once.
    Meeting.objects.filter(pk=meeting.pk).update(organised_by_ipsr=True)
    meeting.refresh_from_db()
    assert meeting.organising_universities() == []
    page = client_for(cast.eef_admin).get(f"/meetings/{meeting.pk}/").content.decode()
    assert '<span class="tag">MU-IPSR</span>' not in page
