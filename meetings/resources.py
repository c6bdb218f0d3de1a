"""The attendance sign-in sheet: a spreadsheet (xlsx or csv) in, attendance rows of one meeting out.

A sign-in sheet (ใบลงทะเบียน / ใบลงชื่อ) has a column per detail, headed in Thai or English:
ชื่อ-สกุล / name, หน่วยงาน / organisation, ตำแหน่ง / position, บทบาท / role. Other columns (ลำดับ,
ลายมือชื่อ, ...) are ignored, and title lines above the header row are skipped. A person is one row
per meeting, found again by name and organisation: importing the same sheet twice changes nothing.
The import goes through the meeting's access door: only those who write the meeting may import.
"""

import csv
import io
import itertools
from pathlib import PurePath

import tablib
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from import_export import fields, widgets

from accounts.access import Principal
from accounts.admin_access import ScopedResource

from .models import Attendance, Meeting

COLUMNS = ("name", "organisation", "position", "role")
# Header texts people write, lower-cased and without spaces, for each column.
HEADER_ALIASES = {
    "name": {"ชื่อ-สกุล", "ชื่อ-นามสกุล", "ชื่อสกุล", "ชื่อนามสกุล", "ชื่อ", "name", "fullname", "name-surname"},
    "organisation": {"หน่วยงาน", "สังกัด", "องค์กร", "organisation", "organization", "agency", "affiliation"},
    "position": {"ตำแหน่ง", "position", "title", "jobtitle"},
    "role": {"บทบาท", "บทบาทในการประชุม", "role", "roleatthemeeting"},
}
ROLE_ALIASES = {
    Attendance.Role.ORGANISER: {"organiser", "organizer", "ผู้จัด", "ผู้จัดงาน", "ผู้จัดการประชุม", "เจ้าภาพ"},
    Attendance.Role.PRESENTER: {"presenter", "speaker", "ผู้นำเสนอ", "วิทยากร"},
    Attendance.Role.PARTICIPANT: {"participant", "attendee", "ผู้เข้าร่วม", "ผู้เข้าร่วมประชุม", "ผู้ร่วมประชุม"},
}
MAX_ROWS = 2000
_HEADER_SEARCH_ROWS = 10


def _key(text) -> str:
    return "".join(str(text or "").split()).lower()


_HEADER_LOOKUP = {alias: column for column, aliases in HEADER_ALIASES.items() for alias in aliases}
_ROLE_LOOKUP = {_key(alias): role for role, aliases in ROLE_ALIASES.items() for alias in aliases}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _read_rows(uploaded) -> list[list]:
    name = (uploaded.name or "").lower()
    data = uploaded.read()
    if PurePath(name).suffix == ".xlsx" or data.startswith(b"PK\x03\x04"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as error:
            raise ValidationError(_("The file could not be read as an Excel workbook.")) from error
        sheet = workbook.worksheets[0]
        rows = [
            list(row) for row in itertools.islice(sheet.iter_rows(values_only=True), MAX_ROWS + _HEADER_SEARCH_ROWS + 1)
        ]
        workbook.close()
        return rows
    if PurePath(name).suffix in {".csv", ".txt"}:
        for encoding in ("utf-8-sig", "cp874"):  # cp874: Thai Windows, what older Excel saves as CSV
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            return list(csv.reader(io.StringIO(text)))
        raise ValidationError(_("The CSV file is neither UTF-8 nor Thai Windows (cp874) text."))
    raise ValidationError(_("Upload the sign-in sheet as an Excel (.xlsx) or CSV file."))


def read_sign_in_sheet(uploaded) -> tuple[tablib.Dataset, list[int]]:
    """The sheet as a Dataset with the columns name, organisation, position, role, and the sheet's
    line number of each row (for the preview). Empty lines are left out."""
    rows = _read_rows(uploaded)
    header_at, columns = None, {}
    for index, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        found = {}
        for position, value in enumerate(row):
            column = _HEADER_LOOKUP.get(_key(value))
            if column and column not in found:
                found[column] = position
        if "name" in found or "organisation" in found:
            header_at, columns = index, found
            break
    if header_at is None:
        raise ValidationError(
            _(
                "No header row was found: head the columns ชื่อ-สกุล (name), หน่วยงาน (organisation), "
                "ตำแหน่ง (position), บทบาท (role)."
            )
        )
    dataset = tablib.Dataset(headers=list(COLUMNS))
    lines = []
    for index, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        values = [_cell(row[columns[c]]) if c in columns and columns[c] < len(row) else "" for c in COLUMNS]
        if not any(values):
            continue
        if len(dataset) >= MAX_ROWS:
            raise ValidationError(_("The sheet has more than %(max)s rows.") % {"max": MAX_ROWS})
        dataset.append(values)
        lines.append(index)
    return dataset, lines


class RoleWidget(widgets.Widget):
    """organiser / presenter / participant, in Thai or English; empty means participant."""

    def clean(self, value, row=None, **kwargs) -> str:
        if not _cell(value):
            return Attendance.Role.PARTICIPANT
        role = _ROLE_LOOKUP.get(_key(value))
        if role is None:
            raise ValueError(
                _("Unknown role “%(value)s”: write ผู้จัด (organiser), ผู้นำเสนอ (presenter) or ผู้เข้าร่วม (participant).")
                % {"value": value}
            )
        return role

    def render(self, value, obj=None, **kwargs) -> str:
        return str(Attendance.Role(value).label) if value else ""


class AttendanceResource(ScopedResource):
    """Attendance rows of one meeting (`meeting=`), written only by those who write the meeting."""

    name = fields.Field("name", "name", widgets.CharWidget())
    organisation = fields.Field("organisation", "organisation", widgets.CharWidget())
    position = fields.Field("position", "position", widgets.CharWidget())
    role = fields.Field("role", "role", RoleWidget())

    class Meta:
        model = Attendance
        fields = COLUMNS
        import_id_fields = ("name", "organisation")
        skip_unchanged = True
        report_skipped = True
        # full_clean(): the model's constraint that a row names someone becomes a row error.
        clean_model_instances = True

    def __init__(self, *, user: Principal | None = None, meeting: Meeting | None = None, **kwargs):
        super().__init__(user=user, **kwargs)
        self.meeting = meeting
        self._writable: bool | None = None

    def _check_writable(self) -> None:
        if self._writable is None:
            self._writable = (
                self.meeting is not None
                and self.user is not None
                and (Meeting.objects.writable_by(self.user).filter(pk=self.meeting.pk).exists())
            )
        if not self._writable:
            raise PermissionDenied

    def get_queryset(self):
        # Rows are found again within this meeting only.
        return super().get_queryset().filter(meeting=self.meeting)

    def before_import(self, dataset, **kwargs):
        self._check_writable()
        super().before_import(dataset, **kwargs)

    def init_instance(self, row=None):
        return Attendance(meeting=self.meeting)

    def before_save_instance(self, instance, row, **kwargs):
        # New rows too (ScopedResource checks only existing ones): never another meeting's.
        self._check_writable()
        if instance.meeting_id != self.meeting.pk:
            raise PermissionDenied
        super().before_save_instance(instance, row, **kwargs)
