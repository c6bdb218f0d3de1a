"""What many test files build, in one place: identifiers, uploaded files, an upload checked or applied
through the same services the upload page uses, and the batch a page redirected to. Plain functions: the
data goes through the portal's own services (CONVENTIONS.md), so no factory library is needed."""

import datetime
import io
import re
from typing import Any

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import PROVINCE_A
from core.thai_id import check_digit
from provinces.models import Province
from targets.models import UploadBatch
from targets.upload.services import receive_upload, start_apply, start_check

# --- identifiers ---------------------------------------------------------------------------------------


def national_id(n: int, *, first: str = "1") -> str:
    """A valid 13-digit national ID, different for each n."""
    twelve = f"{first}{n:011d}"
    return twelve + str(check_digit(twelve))


def wrong_check_digit(n: int) -> str:
    """national_id(n) with its last digit off by one: the shape of an ID, refused by its check digit."""
    good = national_id(n)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


# --- files -----------------------------------------------------------------------------------------------


def uploaded_file(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    """A file as a form receives it. The portal decides a file's type from its bytes, never from this header."""
    return SimpleUploadedFile(name, content, content_type=content_type)


def workbook_file(rows: list[list], name: str) -> SimpleUploadedFile:
    """An xlsx of one sheet with these rows, written by openpyxl as Excel would save it."""
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def xlsx(header: list, rows: list[list]) -> SimpleUploadedFile:
    """A target-group spreadsheet: the header line, then the rows."""
    return workbook_file([header, *rows], "ข้อมูลกลุ่มเป้าหมาย.xlsx")


# --- uploads of target-group records (targets/upload/) -----------------------------------------------------


def upload(user, file, province: int = PROVINCE_A) -> UploadBatch:
    """The file received and checked (the dry run), not applied."""
    batch = receive_upload(user=user, province=Province.objects.get(code=province), uploaded_file=file)
    start_check(batch=batch, user=user)
    batch.refresh_from_db()
    return batch


def upload_and_apply(user, file, province: int = PROVINCE_A) -> UploadBatch:
    batch = upload(user, file, province)
    start_apply(batch=batch, user=user)
    batch.refresh_from_db()
    return batch


def batch_of(response) -> UploadBatch:
    """The batch the upload page redirected to."""
    assert response.status_code == 302, response.status_code
    match = re.fullmatch(r"/uploads/(\d+)/", response["Location"])
    assert match, response["Location"]
    return UploadBatch.objects.get(pk=int(match.group(1)))


def batch_status(batch: UploadBatch) -> str:
    """The status as stored now (another process, a worker, may have changed it)."""
    return UploadBatch.objects.values_list("status", flat=True).get(pk=batch.pk)


# --- the messy spreadsheet: every kind of row a coordinator's file has -----------------------------------

OUT = "เด็กและเยาวชนนอกระบบการศึกษา"
HEADER = ["นามสกุล", "ชื่อ", "เลขประจำตัวประชาชน", "เพศ", "วันเกิด", "ตำบล", "อำเภอ", "กลุ่มเป้าหมาย", "คอลัมน์อื่น"]


def messy_file() -> SimpleUploadedFile:
    a, b, c = national_id(1), national_id(2), national_id(3)
    bad = wrong_check_digit(4)
    rows: list[list[Any]] = [
        # 2: dashes in the ID, a พ.ศ. date, names of district and sub-district with prefixes
        ["ใจดี", "ด.ช.สมชาย", f"{a[0]}-{a[1:5]}-{a[5:10]}-{a[10:12]}-{a[12]}", "ชาย", "15/03/2553", "ต.ในเมือง",
         "อ.เมืองขอนแก่น", OUT, "x"],
        # 3: spaces in the ID, a ค.ศ. date, a sub-district code, a category in English
        ["รักเรียน", "สมหญิง", f"{b[0]} {b[1:5]} {b[5:10]} {b[10:12]} {b[12]}", "ญ", "2011-05-02", "400102", "",
         "Out of school", ""],
        # 4: a real Excel date cell
        ["มีสุข", "สมศักดิ์", c, "M", datetime.datetime(2012, 1, 31), "", "", "at-risk", ""],  # noqa: DTZ001 - Excel dates are naive
        # 5: a wrong check digit
        ["ผิด", "เลขผิด", bad, "ชาย", "01/01/2555", "", "", OUT, ""],
        # 6: blank (ignored, not a row)
        [None] * 9,
        # 7: the same identifier as row 2
        ["ซ้ำ", "ซ้ำ", a, "ชาย", "01/01/2555", "", "", OUT, ""],
        # 8: an unknown district
        ["ไม่มี", "อำเภอ", national_id(5), "ชาย", "01/01/2555", "", "อำเภอไม่มีจริง", OUT, ""],
        # 9: a formula in the first name
        ["สูตร", "=CONCAT(\"a\",\"b\")", national_id(6), "ชาย", "01/01/2555", "", "", OUT, ""],
        # 10: a G-code in Thai digits
        ["จีโค้ด", "เด็กหญิงมะลิ", "G๖๔๔๒๐๐๐๐๐๐๐๑", "", "๑/๖/๒๕๕๖", "", "", OUT, ""],
    ]  # fmt: skip
    return xlsx(HEADER, rows)


# --- export jobs (exports/) -------------------------------------------------------------------------------------------


def start_export(client, url: str) -> int:
    """POST an export button's URL and return the id of the export job it started (its page is where it went).
    The job is not run: the test's transaction never commits, so its on-commit dispatch is dropped."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=False):
        response = client.post(url)
    assert response.status_code == 302, (url, response.status_code)
    found = re.fullmatch(r"/exports/(\d+)/", response["Location"])
    assert found, response["Location"]
    return int(found.group(1))


def download_export(client, url: str):
    """An export as a user gets it: POST the button's URL, run the job as a worker would, download its file.
    Returns the download as a plain response (`.content`), with the download's status and headers; an answer
    other than a new job (a 404, a redirect with a message) is returned as it came."""
    from django.http import HttpResponse
    from django.test import TestCase

    from exports.services import run_export

    with TestCase.captureOnCommitCallbacks(execute=False):
        response = client.post(url)
    found = re.fullmatch(r"/exports/(\d+)/", response.get("Location", "")) if response.status_code == 302 else None
    if found is None:
        return response
    run_export(job_id=int(found.group(1)))
    download = client.get(f"/exports/{found.group(1)}/download/")
    if not download.streaming:
        return download
    plain = HttpResponse(b"".join(download.streaming_content), status=download.status_code)
    for header, value in download.headers.items():
        plain[header] = value
    return plain


def duplicate_pair(province: int, n: int):
    """An open probable-duplicate pair of `province`: two records of one child (the same name and birth date, two
    national IDs), the n-th of the test (its identifiers and family name apart from the others')."""
    from django.utils import timezone

    from duplicates.models import DuplicateCandidate
    from targets.models import Category, Outcome, TargetRecord

    category, status = Category.objects.get(code="out-of-school"), Outcome.objects.get(code="in-follow-up")
    a, b = (
        TargetRecord.objects.create(
            identifier=identifier,
            identifier_kind="national_id",
            first_name="กิตติพงษ์",
            last_name=f"ศรีสุข{n}",
            sex="M",
            birth_date=datetime.date(2014, 5, 3),
            province_id=province,
            category=category,
            status=status,
        )
        for identifier in (national_id(province * 1000 + 2 * n), national_id(province * 1000 + 2 * n + 1))
    )
    return DuplicateCandidate.objects.create(
        record_a=a, record_b=b, province_id=province, score=0.95, reasons=["name_same"], last_seen_at=timezone.now()
    )
