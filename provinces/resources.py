"""Working-group members in and out of spreadsheets (django-import-export).

One resource serves the province page's import (portal.province_views.working_group_import) and Django
admin's import and export. Sheets come as coordinators keep them: Thai or English headers in any
order, roles written in Thai, dates in พ.ศ. or ค.ศ. or as real Excel dates, phone numbers that
Excel turned into numbers. A row is matched to an existing member by (province, name), so
importing the same sheet twice changes nothing.
"""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, widgets

from accounts.access import can, require
from accounts.admin_access import ScopedResource
from core.buddhist_dates import BE_OFFSET, THAI_MONTHS_LONG, THAI_MONTHS_SHORT
from core.spreadsheet_safety import FORMULA_TRIGGERS, neutralise_formula

from .models import Province, WorkingGroupMember

# The columns of a working-group sheet: (field, Thai header, English header, other spellings seen).
# Exports use the header of the reader's language; imports accept any of them, in any order.
COLUMNS = (
    ("name", "ชื่อ-สกุล", "name", ("ชื่อ-นามสกุล", "ชื่อ", "ชื่อสกุล", "ชื่อ นามสกุล", "full name")),
    ("position", "ตำแหน่ง", "position", ("job title",)),
    ("organisation", "หน่วยงาน", "organisation", ("สังกัด", "organization", "agency")),
    ("group_role", "บทบาท", "role", ("บทบาทในคณะทำงาน", "role in the group", "group role")),
    ("phone", "โทรศัพท์", "phone", ("เบอร์โทร", "เบอร์โทรศัพท์", "โทร", "telephone", "mobile")),
    ("email", "อีเมล", "email", ("อีเมล์", "e-mail")),
    ("active_from", "เริ่ม", "active from", ("วันที่เริ่ม", "เริ่มต้น", "start", "from")),
    ("active_until", "สิ้นสุด", "active until", ("วันที่สิ้นสุด", "ถึง", "end", "until")),
    ("province", "จังหวัด", "province", ("รหัสจังหวัด", "province code")),
)
FIELD_NAMES = tuple(column[0] for column in COLUMNS)
# How each field is called on screen (errors say which column is wrong).
FIELD_LABELS = {
    "name": _("name"),
    "position": _("position"),
    "organisation": _("organisation"),
    "group_role": _("role in the group"),
    "phone": _("phone"),
    "email": _("email"),
    "active_from": _("active from"),
    "active_until": _("active until"),
    "province": _("province"),
}


def _header_key(header) -> str:
    """A header as compared: lower case, single spaces, no spaces around hyphens, no trailing * or :."""
    text = re.sub(r"\s+", " ", str(header or "")).strip().lower().rstrip("*:").strip()
    return re.sub(r"\s*-\s*", "-", text)


HEADER_ALIASES: dict[str, str] = {}
for _field, _thai, _english, _others in COLUMNS:
    for _spelling in (_field, _thai, _english, *_others):
        HEADER_ALIASES[_header_key(_spelling)] = _field


def field_for_header(header) -> str | None:
    """The field a sheet's column holds, or None for a column the import does not use."""
    return HEADER_ALIASES.get(_header_key(header))


def header_for(field: str, *, thai: bool) -> str:
    for name, thai_header, english_header, _others in COLUMNS:
        if name == field:
            return thai_header if thai else english_header
    raise KeyError(field)


def clean_text(value) -> str:
    """A cell as text: spaces collapsed, and the apostrophe our exports put before = + - @ taken off."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"\s+", " ", str(value)).strip()
    if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_TRIGGERS):
        text = text[1:]
    return text


# --- widgets: how a cell becomes a value ---------------------------------------------------------

_ROLE_WORDS = {
    WorkingGroupMember.GroupRole.CHAIR: ("ประธาน", "ประธานคณะทำงาน", "chair", "chairperson", "chairman", "chairwoman"),
    WorkingGroupMember.GroupRole.SECRETARY: (
        "เลขานุการ",
        "เลขา",
        "กรรมการและเลขานุการ",
        "คณะทำงานและเลขานุการ",
        "secretary",
    ),
    WorkingGroupMember.GroupRole.COORDINATOR: ("ผู้ประสานงาน", "ผู้ประสานงานจังหวัด", "coordinator"),
    WorkingGroupMember.GroupRole.MEMBER: ("กรรมการ", "คณะทำงาน", "สมาชิก", "member"),
}
ROLE_BY_WORD = {word.lower(): role for role, words in _ROLE_WORDS.items() for word in (role.value, *words)}


class GroupRoleWidget(widgets.Widget):
    """ประธาน / เลขานุการ / ผู้ประสานงาน / กรรมการ, or chair / secretary / coordinator / member.
    A blank cell means member."""

    def clean(self, value, row=None, **kwargs):
        text = clean_text(value).lower()
        if not text:
            return WorkingGroupMember.GroupRole.MEMBER
        role = ROLE_BY_WORD.get(text) or ROLE_BY_WORD.get(text.replace(" ", ""))
        if role is None:
            raise ValueError(
                gettext("Unknown role “%(value)s”: write ประธาน, เลขานุการ, ผู้ประสานงาน or กรรมการ.")
                % {"value": clean_text(value)}
            )
        return role

    def render(self, value, obj=None, **kwargs):
        return str(WorkingGroupMember.GroupRole(value).label) if value else ""


_ENGLISH_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _month_key(text: str) -> str:
    return re.sub(r"[.\s]", "", text).lower()


# มี.ค., มีค, มีนาคม, Mar, March -> 3
_MONTHS = {
    _month_key(name): number
    for names in (THAI_MONTHS_SHORT, THAI_MONTHS_LONG, _ENGLISH_MONTHS)
    for number, name in enumerate(names, start=1)
}


def parse_sheet_date(value) -> datetime.date | None:
    """A date as Thai sheets write it: 15/03/2567, 15-3-2024, 2567-03-15, 15 มี.ค. 2567, or a real date.

    A year of 2400 or more is พ.ศ. (../shared/DOMAIN.md); two-digit years are refused, since 67
    could be either era.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = clean_text(value)
    if not text:
        return None
    day = month = year = None
    if match := re.fullmatch(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d+)", text):
        day, month, year = (int(part) for part in match.groups())
    elif match := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T][\d:.]+)?", text):
        year, month, day = (int(part) for part in match.groups())
    elif match := re.fullmatch(r"(\d{1,2})\s*([^\d\s]+?)\.?\s*(\d+)", text):
        token = _month_key(match.group(2))
        month = _MONTHS.get(token) or (_MONTHS.get(token[:3]) if token.isascii() else None)
        day, year = int(match.group(1)), int(match.group(3))
    if day is None or month is None or year is None or year < 1000:
        raise ValueError(
            gettext("Not a date: “%(value)s”. Write day/month/year with the year in full, e.g. 15/03/2567.")
            % {"value": text}
        )
    if year >= 2400:
        year -= BE_OFFSET
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValueError(gettext("No such day: “%(value)s”.") % {"value": text}) from None


class SheetDateWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        return parse_sheet_date(value)

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class PhoneWidget(widgets.Widget):
    """A phone number as text; Excel's numbers lose the leading 0 of 08x, 09x and 06x numbers."""

    def clean(self, value, row=None, **kwargs):
        text = clean_text(value)
        if re.fullmatch(r"[689]\d{8}", text):
            text = "0" + text
        return text

    def render(self, value, obj=None, **kwargs):
        return value or ""


class TextWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        return clean_text(value)

    def render(self, value, obj=None, **kwargs):
        return value or ""


class ProvinceWidget(widgets.ForeignKeyWidget):
    """A province by DOPA code (56) or name (พะเยา, จังหวัดพะเยา, Phayao)."""

    def __init__(self, **kwargs):
        super().__init__(Province, "code", **kwargs)

    def clean(self, value, row=None, **kwargs):
        text = clean_text(value)
        if not text:
            return None
        if text.isdigit():
            province = Province.objects.filter(code=int(text)).first()
        else:
            name = re.sub(r"^(จังหวัด|จ\.)\s*", "", text)
            province = (
                Province.objects.filter(name_th=name).first() or Province.objects.filter(name_en__iexact=name).first()
            )
        if province is None:
            raise ValueError(gettext("Unknown province “%(value)s”.") % {"value": text})
        return province


# --- the resource --------------------------------------------------------------------------------


class WorkingGroupMemberResource(ScopedResource):
    """Members by (province, name). With `province=` (the province page's import) every row belongs
    to that province and the sheet needs no province column; admin's import reads it per row."""

    province = fields.Field("province", "province", ProvinceWidget())
    name = fields.Field("name", "name", TextWidget())
    position = fields.Field("position", "position", TextWidget())
    organisation = fields.Field("organisation", "organisation", TextWidget())
    group_role = fields.Field("group_role", "group_role", GroupRoleWidget())
    phone = fields.Field("phone", "phone", PhoneWidget())
    email = fields.Field("email", "email", TextWidget())
    active_from = fields.Field("active_from", "active_from", SheetDateWidget())
    active_until = fields.Field("active_until", "active_until", SheetDateWidget())

    class Meta:
        model = WorkingGroupMember
        fields = FIELD_NAMES
        import_id_fields = ("province", "name")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def __init__(self, *, province: Province | None = None, **kwargs):
        super().__init__(**kwargs)
        self.fixed_province = province
        self.ignored_headers: list[str] = []
        self.header_names: dict[str, str] = {}  # field -> the header as the sheet wrote it

    # The sheet's headers become field names, whatever language or order they came in.
    def before_import(self, dataset, **kwargs):
        headers, seen = [], set()
        for header in dataset.headers or []:
            name = field_for_header(header)
            if name is None or name in seen:
                headers.append(f"-ignored-{len(headers)}")
                if clean_text(header):
                    self.ignored_headers.append(clean_text(header))
                continue
            seen.add(name)
            self.header_names[name] = clean_text(header)
            headers.append(name)
        dataset.headers = headers
        if "name" not in seen:
            raise ValidationError(gettext("The sheet has no name column (ชื่อ-สกุล or name)."))
        if self.fixed_province is not None and "province" not in seen:
            dataset.append_col([self.fixed_province.code] * len(dataset), header="province")
        super().before_import(dataset, **kwargs)

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        try:
            province = self.fields["province"].clean(row)
        except ValueError as error:
            raise ValidationError({"province": [str(error)]}) from None
        if province is None:
            raise ValidationError({"province": [gettext("Say which province the member belongs to.")]})
        if self.fixed_province is not None and province.pk != self.fixed_province.pk:
            raise ValidationError(
                {"province": [gettext("This sheet is for %(province)s only.") % {"province": self.fixed_province}]}
            )
        # ScopedResource only guards rows that exist: a new row must be for a province the user writes.
        if not can(self.user, "provinces.manage", province):
            raise ValidationError(
                {
                    "province": [
                        gettext("You may not change the working group of %(province)s.") % {"province": province}
                    ]
                }
            )
        row["province"] = province.pk

    def get_instance(self, instance_loader, row):
        # (province, name) as the page's form keeps it unique; first() in case admin made twins.
        name = clean_text(row.get("name"))
        if not name or not row.get("province"):
            return None
        return self.get_queryset().filter(province_id=row["province"], name=name).order_by("pk").first()

    def before_save_instance(self, instance, row, **kwargs):
        # The last guard, whatever called the resource: never save outside the user's provinces.
        require(self.user, "provinces.manage", instance.province_id)
        super().before_save_instance(instance, row, **kwargs)

    def export_field(self, field, instance, **kwargs):
        return neutralise_formula(super().export_field(field, instance, **kwargs))


# --- reading an uploaded sheet -------------------------------------------------------------------

MAX_SHEET_BYTES = 2 * 1024 * 1024
MAX_SHEET_ROWS = 2000


class SheetError(ValueError):
    """The file cannot be read as a working-group sheet (the message says why, translated)."""


def _cell(value):
    """A cell as JSON can carry it (the preview signs the sheet and the confirmation reads it back)."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


def _rows_of_xlsx(data: bytes) -> list[list]:
    import io
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        raise SheetError(gettext("This file is not an Excel workbook (.xlsx) that can be read.")) from None
    try:
        sheet = workbook.worksheets[0]
        return [[_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _rows_of_csv(data: bytes) -> list[list]:
    import csv
    import io

    # Thai Windows saves CSV as TIS-620 (cp874) unless told otherwise; Excel's "CSV UTF-8" has a BOM.
    for encoding in ("utf-8-sig", "cp874"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SheetError(gettext("This CSV file is neither UTF-8 nor Thai Windows (TIS-620) text."))
    return [list(row) for row in csv.reader(io.StringIO(text))]


def read_sheet(uploaded) -> dict:
    """The first sheet of an .xlsx or .csv upload: {"headers": [...], "rows": [[sheet row number, cells]]}.

    The header row is the first of the top ten rows that names a name column, so a title line above
    the table is fine. Empty rows are left out; row numbers stay those of the sheet.
    """
    filename = (getattr(uploaded, "name", "") or "").lower()
    if uploaded.size > MAX_SHEET_BYTES:
        raise SheetError(gettext("The file is larger than 2 MB."))
    data = uploaded.read()
    if filename.endswith(".xlsx"):
        rows = _rows_of_xlsx(data)
    elif filename.endswith(".csv"):
        rows = _rows_of_csv(data)
    else:
        raise SheetError(gettext("Upload an Excel (.xlsx) or CSV (.csv) file."))
    header_index = next(
        (i for i, row in enumerate(rows[:10]) if "name" in {field_for_header(cell) for cell in row}),
        None,
    )
    if header_index is None:
        raise SheetError(gettext("The sheet has no name column (ชื่อ-สกุล or name)."))
    headers = [clean_text(cell) for cell in rows[header_index]]
    body = [
        [number, (cells + [None] * len(headers))[: len(headers)]]
        for number, cells in enumerate(rows[header_index + 1 :], start=header_index + 2)
        if any(clean_text(cell) for cell in cells)
    ]
    if not body:
        raise SheetError(gettext("The sheet has no rows under its headers."))
    if len(body) > MAX_SHEET_ROWS:
        raise SheetError(gettext("The sheet has more than 2,000 rows."))
    return {"headers": headers, "rows": body}
