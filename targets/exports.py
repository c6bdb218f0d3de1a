"""Exports of target-group records as xlsx or csv: the list's records, in the user's scope.

National IDs are masked unless the user's role may see that row's province in full (the door's
"targets.read_identifiers"), no text cell can run as a formula (core.spreadsheet_safety), and
each export writes one access-log entry. Large sets stream (csv from a server-side cursor, xlsx
through openpyxl's write-only mode and a temporary file). The columns and headers are the upload
template's (targets.upload.columns), so that a corrected file can be uploaded again.
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator

from django.db.models import OuterRef
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.access import Principal, can
from audit.access_log import record_access
from audit.models import AccessLog
from core.buddhist_dates import excel_date_format, file_date
from core.spreadsheet_safety import neutralise_formula
from core.subqueries import subquery_count
from core.thai_id import format_identifier, mask_identifier

from .models import Assistance, TargetRecord

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
CHUNK = 2000

# (Thai header, English header): both are headers the upload recognises (targets.upload.columns).
HEADERS = [
    ("เลขประจำตัวประชาชน", "national ID"),
    ("คำนำหน้า", "prefix"),
    ("ชื่อ", "first name"),
    ("นามสกุล", "last name"),
    ("เพศ", "sex"),
    ("วันเกิด", "birth date"),
    ("จังหวัด", "province"),
    ("อำเภอ", "district"),
    ("ตำบล", "sub-district"),
    ("กลุ่มเป้าหมาย", "category"),
    ("สถานะ", "status"),
    ("สถานะการศึกษา", "education status"),
    ("ชั้นเรียนล่าสุด", "last grade"),
    ("โรงเรียน", "school"),
    ("ผู้ปกครอง", "guardian"),
    ("เบอร์โทรศัพท์", "phone"),
    ("ความยินยอม", "consent"),
    ("หมายเหตุ", "notes"),
    # Not read by the upload (ignored there as unknown columns).
    ("จำนวนครั้งที่ได้รับความช่วยเหลือ", "help given (times)"),
    ("แก้ไขล่าสุด", "updated"),
]


def headers() -> list[str]:
    thai = (get_language() or "th").startswith("th")
    return [th if thai else en for th, en in HEADERS]


def export_queryset(records):
    return (
        records.select_related("province", "district", "sub_district", "category", "status")
        .annotate(help_count=subquery_count(Assistance.objects.filter(record=OuterRef("pk"))))
        .order_by("province_id", "last_name", "first_name", "pk")
    )


def rows(records: Iterable[TargetRecord], *, user: Principal, dates_as_text: bool) -> Iterator[list]:
    """One list of cell values per record, identifiers masked per the user's role, text neutralised."""
    # As the upload reads consent back (targets.upload.validation YES, NO).
    yes, no = ("ใช่", "ไม่ใช่") if (get_language() or "th").startswith("th") else ("yes", "no")
    for record in records:
        full = can(user, "targets.read_identifiers", record.province_id)
        updated = timezone.localtime(record.updated_at).replace(tzinfo=None, microsecond=0)
        values = [
            format_identifier(record.identifier) if full else mask_identifier(record.identifier),
            record.name_prefix,
            record.first_name,
            record.last_name,
            record.get_sex_display(),
            record.birth_date.isoformat() if dates_as_text and record.birth_date else record.birth_date,
            record.province.name,
            record.district.name if record.district else "",
            record.sub_district.name if record.sub_district else "",
            record.category.name,
            record.status.name,
            record.get_education_status_display(),
            record.last_grade,
            record.school,
            record.guardian_name,
            record.phone,
            yes if record.consent else no,
            record.notes,
            record.help_count,  # type: ignore[attr-defined]  # annotated by the export's queryset
            updated.isoformat(sep=" ") if dates_as_text else updated,
        ]
        yield [neutralise_formula(value) for value in values]


def _filename(file_format: str) -> str:
    return f"target-records-{file_date(timezone.localdate())}.{file_format}"


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


class _Echo:
    """A file-like object whose write() hands back the line csv.writer wrote (for streaming)."""

    def write(self, value: str) -> str:
        return value


def export_response(*, request: HttpRequest, records, file_format: str, description: str):
    """The file of `records` (already scoped and filtered by the caller), logged as an export."""
    queryset = export_queryset(records)
    if file_format == "csv":
        count = records.count()
        record_access(request=request, action=AccessLog.Action.EXPORT, model=TargetRecord,
                      description=f"csv export of {description}", count=count)  # fmt: skip
        writer = csv.writer(_Echo())

        def stream() -> Iterator[str]:
            # A byte-order mark first, so that Excel reads the Thai text as UTF-8.
            yield "\ufeff" + writer.writerow(headers())
            for row in rows(queryset.iterator(chunk_size=CHUNK), user=request.user, dates_as_text=True):
                yield writer.writerow(row)

        response = StreamingHttpResponse(stream(), content_type=FORMATS["csv"])
    else:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        # Write-only: rows go to disk as they come, so memory stays flat for 100,000 records.
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(_("Target-group records")[:31])
        sheet.append(headers())
        count = 0

        def dated(value):
            # A real date shown in พ.ศ. by Thai Excel (buddhist_dates.excel_date_format).
            number_format = excel_date_format(value)
            if number_format is None:
                return value
            cell = WriteOnlyCell(sheet, value)
            cell.number_format = number_format
            return cell

        for row in rows(queryset.iterator(chunk_size=CHUNK), user=request.user, dates_as_text=False):
            sheet.append([dated(value) for value in row])
            count += 1
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so removes) it
        workbook.save(handle)
        handle.seek(0)
        record_access(request=request, action=AccessLog.Action.EXPORT, model=TargetRecord,
                      description=f"xlsx export of {description}", count=count)  # fmt: skip
        response = FileResponse(handle, content_type=FORMATS["xlsx"])
    response["Content-Disposition"] = f'attachment; filename="{_filename(file_format)}"'
    return _no_store(response)
