"""The spreadsheets the upload pages hand out, written with openpyxl: the template to fill in, and the
rejected rows of an upload to fix and send again. Uploads are read by targets/upload/reading.py.

Every text cell written passes through `core.spreadsheet_safety.neutralise_formula`, so that no cell
of ours ever runs as a formula. defusedxml stays installed (requirements.in): openpyxl uses it for any
XML it reads, so entity-expansion tricks in a workbook cannot blow up.
"""

import datetime
import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from core.buddhist_dates import excel_date_format
from core.spreadsheet_safety import neutralise_formula
from core.thai_id import format_identifier
from provinces.models import District, Province, SubDistrict
from targets.models import Category, Outcome

from .columns import FIELDS, TEMPLATE_FIELDS, match_columns
from .validation import TEMPLATE_SAMPLE_IDENTIFIER

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

DATA_SHEET = "ข้อมูลกลุ่มเป้าหมาย"
HELP_SHEET = "คำอธิบาย"
LISTS_SHEET = "รายการ"
REJECTED_SHEET = "แถวที่ไม่ผ่าน"
# The two columns the rejected-rows file adds in front of the original ones. Their headers match no
# column of targets.upload.columns, so a re-upload reports them as unknown and ignores them.
ROW_HEADER = "แถวในไฟล์เดิม / row"
REASON_HEADER = "เหตุผล / reason"

# The template's sample row: an identifier nobody has (1-1111-11111-11-9 has a valid check digit, and
# is plainly made up), and a note saying to delete the row.
SAMPLE_IDENTIFIER = TEMPLATE_SAMPLE_IDENTIFIER  # one source: validation refuses it
SAMPLE_NOTE = "แถวตัวอย่าง ลบแถวนี้ก่อนอัปโหลด (sample row: delete it before uploading)"
TEMPLATE_ROWS = 2000  # rows that carry the drop-down lists

# What each column holds, in Thai and in English: the "คำอธิบาย" sheet. Three kinds, as the upload and the dashboards
# treat them: "จำเป็น" (required: a row without it is rejected, targets.upload.validation), "ควรกรอก" (accepted when
# blank, but the record counts as incomplete on the dashboards: summaries.compute, birth date, sex, sub-district), and
# the rest. The last name is not required: some children without civil registration have no family name.
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "identifier": (
        "จำเป็น เลขประจำตัวประชาชน 13 หลัก (เขียนมีขีดหรือเว้นวรรคได้ เช่น 1-2345-67890-12-1) หรือรหัส G "
        "(G ตามด้วยตัวเลข 12 หลัก) สำหรับผู้ไม่มีเลขประจำตัว ใช้เลขนี้จับคู่กับข้อมูลเดิม",
        "Required. The 13-digit national ID (dashes or spaces allowed, e.g. 1-2345-67890-12-1) or a G-code "
        "(G and 12 digits) for a learner without one. Rows are matched to existing records by it.",
    ),
    "name_prefix": (
        "คำนำหน้า เช่น ด.ช. ด.ญ. นาย นางสาว นาง (เขียนไว้หน้าชื่อในคอลัมน์ชื่อก็ได้)",
        "Name prefix, e.g. ด.ช., ด.ญ., นาย, นางสาว, นาง (it may also start the first name).",
    ),
    "first_name": ("จำเป็น ชื่อ", "Required. First name."),
    "last_name": (
        "นามสกุล (ถ้ามี) เว้นว่างได้สำหรับผู้ที่ไม่มีนามสกุล เช่น เด็กที่ไม่มีสถานะทางทะเบียนบางคน "
        "(หรือใช้คอลัมน์ ชื่อ-นามสกุล คอลัมน์เดียวแทนชื่อและนามสกุล)",
        "Last name, if any: leave it blank for someone who has none, as some children without civil registration "
        "(or one column ชื่อ-นามสกุล / full name instead of both).",
    ),
    "full_name": ("ชื่อและนามสกุลในคอลัมน์เดียว", "First and last name in one column."),
    "sex": (
        "ควรกรอก เพศ ชาย/หญิง ช/ญ หรือ M/F (ถ้าเว้นว่างและมีคำนำหน้า จะใช้เพศตามคำนำหน้า)",
        "Should be filled. Sex: ชาย/หญิง, ช/ญ or M/F (when blank, taken from the name prefix).",
    ),
    "birth_date": (
        "ควรกรอก วันเกิด วัน/เดือน/ปี พ.ศ. เช่น 15/03/2553 หรือ ค.ศ. หรือวันที่ของ Excel",
        "Should be filled. Birth date as day/month/year in พ.ศ. (15/03/2553) or ค.ศ., or a real Excel date.",
    ),
    "province": (
        "จังหวัด (ไม่บังคับ) ถ้ามีต้องเป็นจังหวัดที่อัปโหลด",
        "Province (optional): if given, it must be the province of the upload.",
    ),
    "district": (
        "อำเภอ/เขต ชื่อ (มีหรือไม่มี อ. ก็ได้) หรือรหัส 4 หลัก",
        "District by name (with or without อ.) or by its 4-digit code.",
    ),
    "sub_district": (
        "ควรกรอก ตำบล/แขวง ชื่อ หรือรหัส 6 หลัก ต้องอยู่ในอำเภอที่ระบุ",
        "Should be filled. Sub-district by name or 6-digit code; it must lie in the district given.",
    ),
    "category": (
        "จำเป็น กลุ่มเป้าหมาย เลือกจากรายการ (ชื่อภาษาอังกฤษหรือรหัสก็ได้)",
        "Required. Target-group category: pick from the list (English names or codes work too).",
    ),
    "status": (
        "สถานะการติดตาม เลือกจากรายการ เว้นว่างได้ (ถือเป็น อยู่ระหว่างติดตาม)",
        "Follow-up status: pick from the list; blank means being followed up.",
    ),
    "education_status": (
        "สถานะการศึกษา กำลังเรียน นอกระบบ ไม่เคยเรียน หรือ จบการศึกษา",
        "Education status: in school, out of school, never enrolled, or completed.",
    ),
    "last_grade": ("ชั้นเรียนล่าสุด เช่น ป.6 ม.3", "Last grade, e.g. ป.6 or ม.3."),
    "school": ("โรงเรียนหรือสถานศึกษาล่าสุด", "The last school."),
    "guardian_name": ("ชื่อผู้ปกครอง", "The guardian's name."),
    "phone": (
        "เบอร์โทรศัพท์ 10 หลัก ขึ้นต้นด้วย 06 08 หรือ 09 (หรือโทรศัพท์บ้าน 9 หลัก)",
        "Phone: 10 digits starting 06, 08 or 09 (or a 9-digit landline).",
    ),
    "consent": (
        "ได้รับความยินยอมในการเก็บข้อมูลแล้วหรือไม่ ใช่/ไม่ใช่",
        "Whether consent to keep the data was given: ใช่/ไม่ใช่ (yes/no).",
    ),
    "notes": ("หมายเหตุ", "Notes."),
    "case_worker": (
        "ไม่บังคับ อีเมลของผู้ดูแลรายกรณีที่รับผิดชอบเด็กคนนี้ (ต้องเป็นผู้ดูแลรายกรณีของจังหวัดและอำเภอนี้) เว้นว่างไว้ถ้าไม่ต้องการเปลี่ยนผู้ดูแล",
        "Optional. The e-mail of the case worker who follows this child up (a case worker of this province "
        "and district); leave it empty to keep the current assignment.",
    ),
}

# The Thai words of the drop-down lists (every one of them is read back by targets.upload.validation).
SEX_CHOICES = ["ชาย", "หญิง"]
PREFIX_CHOICES = ["ด.ช.", "ด.ญ.", "นาย", "นางสาว", "นาง"]
EDUCATION_CHOICES = ["กำลังเรียน", "นอกระบบ", "ไม่เคยเรียน", "จบการศึกษา"]
CONSENT_CHOICES = ["ใช่", "ไม่ใช่"]
# Columns kept as text, so that Excel neither turns a 13-digit ID into 1.1E+12 nor drops a phone's
# leading zero, nor reads 01/02/2553 as a date of its own locale.
TEXT_COLUMNS = {"identifier", "birth_date", "phone", "district", "sub_district"}
# In the rejected-rows file: identifiers and phones stay text; dates go back to being date cells.
REJECTED_TEXT_COLUMNS = {"identifier", "phone"}
WIDTHS = {"identifier": 20, "first_name": 16, "last_name": 16, "birth_date": 13, "district": 18,
          "sub_district": 18, "category": 30, "status": 26, "education_status": 16, "school": 26,
          "guardian_name": 22, "phone": 14, "notes": 40, "case_worker": 28}  # fmt: skip

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E3F2EC")
SAMPLE_FONT = Font(italic=True, color="5F6B7A")
REASON_FILL = PatternFill("solid", fgColor="FDECEA")


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text(value):
    """A value as a cell may hold it: text is neutralised (never a formula)."""
    return neutralise_formula(value) if isinstance(value, str) else value


# --- the template --------------------------------------------------------------------------------


def _sample_address(province: Province | None) -> tuple[str, str]:
    """A district and one of its sub-districts of `province`, by name, for the sample row."""
    if province is None:
        return "", ""
    district = District.objects.filter(province=province).order_by("code").first()
    if district is None:
        return "", ""
    sub = SubDistrict.objects.filter(district=district).order_by("code").first()
    return district.name_th, sub.name_th if sub else ""


def template_workbook(*, province: Province | None = None) -> bytes:
    """The upload template: Thai headers in TEMPLATE_FIELDS order, one sample row (its address in
    `province` when given), drop-down lists, and a sheet explaining each column in Thai and English."""
    categories = list(Category.objects.filter(is_active=True).values_list("name_th", flat=True))
    statuses = list(Outcome.objects.filter(is_active=True).values_list("name_th", flat=True))
    district, sub_district = _sample_address(province)
    sample = {
        "identifier": format_identifier(SAMPLE_IDENTIFIER),
        "name_prefix": "ด.ช.",
        "first_name": "สมชาย",
        "last_name": "ตัวอย่าง",
        "sex": "ชาย",
        "birth_date": "15/03/2553",
        "district": district,
        "sub_district": sub_district,
        "category": categories[0] if categories else "",
        "status": statuses[0] if statuses else "",
        "education_status": "นอกระบบ",
        "last_grade": "ม.2",
        "school": "โรงเรียนบ้านตัวอย่าง",
        "guardian_name": "นางมาลี ตัวอย่าง",
        "phone": "0600000000",
        "consent": "ใช่",
        "notes": SAMPLE_NOTE,
        "case_worker": "",
    }

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = DATA_SHEET
    sheet.append([_text(FIELDS[field][1]) for field in TEMPLATE_FIELDS])
    sheet.append([_text(sample[field]) for field in TEMPLATE_FIELDS])
    sheet.freeze_panes = "A2"
    for index, field in enumerate(TEMPLATE_FIELDS, start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index)
        header.font, header.fill = HEADER_FONT, HEADER_FILL
        sheet.cell(row=2, column=index).font = SAMPLE_FONT
        sheet.column_dimensions[letter].width = WIDTHS.get(field, 12)
        if field in TEXT_COLUMNS:
            for row in range(2, TEMPLATE_ROWS + 2):
                sheet.cell(row=row, column=index).number_format = "@"

    # Drop-down lists, kept on a hidden sheet (category and status names are long, and admins may add
    # more: a list typed into the validation itself is limited to 255 characters).
    lists = workbook.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    choices = {
        "sex": SEX_CHOICES,
        "name_prefix": PREFIX_CHOICES,
        "category": categories,
        "status": statuses,
        "education_status": EDUCATION_CHOICES,
        "consent": CONSENT_CHOICES,
    }
    for list_index, (field, values) in enumerate(choices.items(), start=1):
        letter = get_column_letter(list_index)
        lists.cell(row=1, column=list_index, value=_text(FIELDS[field][1]))
        for row, value in enumerate(values, start=2):
            lists.cell(row=row, column=list_index, value=_text(value))
        if not values:
            continue
        column = get_column_letter(TEMPLATE_FIELDS.index(field) + 1)
        validation = DataValidation(
            type="list",
            formula1=f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True,
            # A warning, not a stop: the upload also reads English names, codes and other spellings.
            errorStyle="warning",
            showErrorMessage=True,
            errorTitle="ค่านี้ไม่อยู่ในรายการ / Not in the list",
            error="เลือกจากรายการ หรือใช้ชื่อที่ระบบรู้จัก / Pick from the list, or a name the portal knows.",
        )
        validation.add(f"{column}2:{column}{TEMPLATE_ROWS + 1}")
        sheet.add_data_validation(validation)

    help_sheet = workbook.create_sheet(HELP_SHEET, index=1)
    help_sheet.append(["คอลัมน์", "Column", "คำอธิบาย", "Explanation"])
    for cell in help_sheet[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for field in TEMPLATE_FIELDS:
        label_en, thai_header, _aliases = FIELDS[field]
        thai, english = EXPLANATIONS[field]
        help_sheet.append([_text(thai_header), _text(str(label_en)), _text(thai), _text(english)])
    help_sheet.append([])
    for thai, english in (
        (
            "หัวคอลัมน์เป็นภาษาไทยหรืออังกฤษก็ได้ เรียงลำดับใดก็ได้ คอลัมน์ที่ระบบไม่รู้จักจะถูกข้าม",
            "Headers may be in Thai or English, in any order; columns the portal does not know are skipped.",
        ),
        (
            "อัปโหลดแล้วจะเห็นผลตรวจก่อนบันทึก: เพิ่มใหม่ แก้ไข ไม่เปลี่ยนแปลง และแถวที่ไม่ผ่านพร้อมเหตุผล",
            "After uploading you see a check before anything is saved: new, changed, unchanged and "
            "rejected rows with their reasons.",
        ),
        ("ตัวเลขไทย (๐–๙) ใช้ได้ทุกคอลัมน์", "Thai digits (๐–๙) are accepted in every column."),
        ("ลบแถวตัวอย่างก่อนอัปโหลด", "Delete the sample row before uploading."),
    ):
        help_sheet.append(["", "", _text(thai), _text(english)])
    for letter, width in zip("ABCD", (22, 24, 70, 70), strict=True):
        help_sheet.column_dimensions[letter].width = width
    for row in help_sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    return _save(workbook)


# --- the rejected rows of an upload ---------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00:00)?$")


def _cell_value(value, *, as_text: bool):
    """A stored cell value (JSON: text, number, boolean; dates as ISO text) back into a cell."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if as_text and not isinstance(value, str):
        return str(value)
    if isinstance(value, str):
        match = _ISO_DATE.match(value)
        if match and not as_text:
            # An Excel date cell of the original file (stored as ISO text): a date cell again.
            try:
                return datetime.date(*map(int, match.groups()))
            except ValueError:
                pass
        return _text(value)
    return value


def rejections_workbook(*, header: list[str], rows: list[tuple[int, list[str], list]]) -> bytes:
    """The rejected rows of an upload, to fix and upload again: the row number and the reasons in front,
    then the original columns under their original headers.

    `rows` holds (row number, ["column: reason", ...], the row's cells), in row order.
    """
    width = max([len(header), *(len(cells) for _n, _r, cells in rows)], default=0)
    header = [*header, *[""] * (width - len(header))]
    # Columns whose values must stay text (an identifier written as a number loses nothing, but Excel
    # would show it as 1.1E+12 and a re-save could round it).
    text_columns = {index for field, index in match_columns(header).fields.items() if field in REJECTED_TEXT_COLUMNS}

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = REJECTED_SHEET
    sheet.append([ROW_HEADER, REASON_HEADER, *(_text(h) for h in header)])
    for cell in sheet[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    sheet.freeze_panes = "C2"
    for number, reasons, cells in rows:
        values = [_cell_value(v, as_text=i in text_columns) for i, v in enumerate(cells)]
        sheet.append([number, _text("\n".join(reasons)), *values])
        excel_row = sheet.max_row
        reason = sheet.cell(row=excel_row, column=2)
        reason.fill = REASON_FILL
        reason.alignment = Alignment(wrap_text=True, vertical="top")
        for index, value in enumerate(values, start=3):
            cell = sheet.cell(row=excel_row, column=index)
            if isinstance(value, datetime.date):
                cell.number_format = excel_date_format(value)  # a real date, shown in พ.ศ. by Thai Excel
            elif index - 3 in text_columns:
                cell.number_format = "@"
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 48
    for index in range(width):
        sheet.column_dimensions[get_column_letter(index + 3)].width = 16
    return _save(workbook)
