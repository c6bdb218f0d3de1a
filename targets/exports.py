"""Exports of target-group records as xlsx or csv: the list's records, in the user's scope.

National IDs are masked unless the user's role may see that row's province in full (the door's
"targets.read_identifiers"), no text cell can run as a formula (core.spreadsheet_safety), and
each export writes one access-log entry. The columns and headers are the upload template's
(targets.upload.columns), so that a corrected file can be uploaded again.

Every export streams: rows are read as plain values from a server-side cursor in chunks (never model
objects, never all rows at once) and written as they come, csv by its writer and xlsx by
core.xlsx_stream. A list of at most EXPORTS_RECORDS_INLINE_ROWS records streams at once in the response
(export_response); a larger one is an export job (exports/, the kind "targets.records" registered by
TargetsConfig.ready), built in the background by build_job and downloaded from its page.
"""

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from django.db.models import F, OuterRef, Value
from django.db.models.functions import Coalesce, NullIf
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
from core.xlsx_stream import XlsxStream

from .models import Assistance, EducationStatus, Sex, TargetRecord

KIND = "targets.records"
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


def _thai() -> bool:
    return (get_language() or "th").startswith("th")


def headers() -> list[str]:
    return [th if _thai() else en for th, en in HEADERS]


def _name(relation: str):
    """A related row's name in the active language, as BilingualName.name gives it (English when it has one)."""
    if _thai():
        return F(f"{relation}__name_th")
    return Coalesce(NullIf(F(f"{relation}__name_en"), Value("")), F(f"{relation}__name_th"))


COLUMNS = (
    "province_id", "identifier", "name_prefix", "first_name", "last_name", "sex", "birth_date", "x_province",
    "x_district", "x_sub_district", "x_category", "x_status", "education_status", "last_grade", "school",
    "guardian_name", "phone", "consent", "notes", "help_count", "updated_at",
)  # fmt: skip


def export_queryset(records):
    """The rows of an export as tuples of plain values (COLUMNS), in the file's order: one query, joined."""
    return (
        records.annotate(
            x_province=_name("province"),
            x_district=_name("district"),
            x_sub_district=_name("sub_district"),
            x_category=_name("category"),
            x_status=_name("status"),
            help_count=subquery_count(Assistance.objects.filter(record=OuterRef("pk"))),
        )
        .order_by("province_id", "last_name", "first_name", "pk")
        .values_list(*COLUMNS)
    )


def rows(records: Iterable[tuple], *, user: Principal, dates_as_text: bool) -> Iterator[list]:
    """One list of cell values per row of export_queryset, identifiers masked per the user's role, text
    neutralised."""
    # As the upload reads consent back (targets.upload.validation YES, NO).
    yes, no = ("ใช่", "ไม่ใช่") if _thai() else ("yes", "no")
    sexes = {value: str(label) for value, label in Sex.choices}
    schooling = {value: str(label) for value, label in EducationStatus.choices}
    full: dict[int, bool] = {}  # the door's answer per province, asked once
    zone = timezone.get_current_timezone()
    for row in records:
        (province_id, identifier, prefix, first, last, sex, birth, province, district, sub_district, category,
         status, education, grade, school, guardian, phone, consent, notes, help_count, updated_at) = row  # fmt: skip
        if province_id not in full:
            full[province_id] = can(user, "targets.read_identifiers", province_id)
        updated = updated_at.astimezone(zone).replace(tzinfo=None, microsecond=0)
        values = [
            format_identifier(identifier) if full[province_id] else mask_identifier(identifier),
            prefix,
            first,
            last,
            sexes.get(sex, sex),
            birth.isoformat() if dates_as_text and birth else birth,
            province,
            district or "",
            sub_district or "",
            category,
            status,
            schooling.get(education, education),
            grade,
            school,
            guardian,
            phone,
            yes if consent else no,
            notes,
            help_count,
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


def count_up_to(records, limit: int) -> int | None:
    """How many records, if at most `limit` (None: more). Counts no further than limit + 1 rows."""
    found = records.order_by()[: limit + 1].count()
    return found if found <= limit else None


def write_xlsx(out: IO[bytes], rows_: Iterable[list], *, progress=None, total: int | None = None) -> int:
    """The header and `rows_` as one sheet into `out`; returns the rows written."""
    import datetime

    count = 0
    with XlsxStream(
        out,
        sheet=_("Target-group records"),
        # Real dates shown in พ.ศ. by Thai Excel (buddhist_dates.excel_date_format).
        date_format=excel_date_format(datetime.date(2000, 1, 1)) or "yyyy-mm-dd",
        datetime_format=excel_date_format(timezone.now()) or "yyyy-mm-dd hh:mm",
    ) as sheet:
        sheet.append(headers())  # type: ignore[arg-type]
        for row in rows_:
            sheet.append(row)
            count += 1
            if progress is not None and count % CHUNK == 0:
                progress(count, total)
    return count


def write_csv(out: IO[bytes], rows_: Iterable[list], *, progress=None, total: int | None = None) -> int:
    """The header and `rows_` as UTF-8 csv with a byte-order mark (for Excel) into `out`."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text)
    text.write("\ufeff")
    writer.writerow(headers())
    count = 0
    for row in rows_:
        writer.writerow(row)
        count += 1
        if progress is not None and count % CHUNK == 0:
            progress(count, total)
    text.flush()
    text.detach()  # leave `out` open for the caller
    return count


def export_response(*, request: HttpRequest, records, file_format: str, description: str, count: int | None = None):
    """The file of `records` (already scoped and filtered by the caller), logged as an export, streamed in the
    response: for the small sets of the list (count_up_to) and of admin's selections."""
    queryset = export_queryset(records)
    if file_format == "csv":
        if count is None:
            count = records.count()
        record_access(request=request, action=AccessLog.Action.EXPORT, model=TargetRecord,
                      description=f"csv export of {description}", count=count)  # fmt: skip
        writer = csv.writer(_Echo())

        def stream() -> Iterator[str]:
            # A byte-order mark first, so that Excel reads the Thai text as UTF-8.
            yield "\ufeff" + writer.writerow(headers())
            for row in rows(queryset.iterator(chunk_size=CHUNK), user=request.user, dates_as_text=True):
                yield writer.writerow(row)

        response: Any = StreamingHttpResponse(stream(), content_type=FORMATS["csv"])
    else:
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so removes) it
        written = write_xlsx(handle, rows(queryset.iterator(chunk_size=CHUNK), user=request.user, dates_as_text=False))
        handle.seek(0)
        record_access(request=request, action=AccessLog.Action.EXPORT, model=TargetRecord,
                      description=f"xlsx export of {description}", count=written)  # fmt: skip
        response = FileResponse(handle, content_type=FORMATS["xlsx"])
    response["Content-Disposition"] = f'attachment; filename="{_filename(file_format)}"'
    return _no_store(response)


# --- the export job (exports.registry) -------------------------------------------------------------------------------


def job_params(params) -> dict[str, str]:
    """The list's filters a job keeps (never a search, never the page or the sort)."""
    from .views import FILTER_PARAMS

    return {key: str(params.get(key)) for key in FILTER_PARAMS if params.get(key)}


def check_job(principal: Any, params: dict, file_format: str) -> dict:
    # The list's own door decides what a job holds (build_job asks it again); nothing to refuse here: a filter
    # outside the user's scope gives an empty file, as on the list.
    return job_params(params)


def job_title(params: dict, file_format: str) -> str:
    from provinces.models import Province

    title = _("Target-group records")
    province = params.get("province")
    if province and str(province).isdigit():
        found = Province.objects.filter(pk=int(province)).first()
        if found is not None:
            title = f"{title} · {found.name}"
    return title


def build_job(job) -> Any:
    """exports.registry's builder: the records the asker sees through the list's filters, written as they are
    read from a server-side cursor (the job runs in one transaction: exports.services._build)."""
    from exports.registry import Built

    from .views import filter_records

    records, _form, description, _province = filter_records(job.principal, job.params)
    total = records.count()
    job.progress(0, total)
    as_text = job.file_format == "csv"
    stream = rows(export_queryset(records).iterator(chunk_size=CHUNK), user=job.principal, dates_as_text=as_text)
    writer = write_csv if job.file_format == "csv" else write_xlsx
    count = writer(job.out, stream, progress=job.progress, total=total)
    return Built(
        filename=_filename(job.file_format),
        content_type=FORMATS[job.file_format],
        rows=count,
        log_model=TargetRecord,
        log_description=f"{job.file_format} export of {description}",
    )


def register_export_kind() -> None:
    from exports.registry import Kind, register

    register(Kind(name=KIND, formats=tuple(FORMATS), title=job_title, check=check_job, build=build_job))
