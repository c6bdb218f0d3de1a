"""Uploading target-group records: a realistic 100,000-row file from upload to applied.

Measures, medians of 3 runs on the scratch database: a new xlsx, a new csv, and a re-upload of the
xlsx with a tenth of the rows changed (validation, status history and audit triggers included; the
dry run excluded, as the issue asks); then django-import-export's default import_data of the first
5,000 rows of the same data, for comparison. Set BENCH_UPLOAD_ROWS for another size.
"""

import csv
import os
import random
import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

if TYPE_CHECKING:
    from targets.models import UploadBatch

ROWS = int(os.environ.get("BENCH_UPLOAD_ROWS", "100000"))
PROVINCE = 40  # ขอนแก่น
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/abe-bench"))  # noqa: S108 - generated files, reused

FIRST = ["สมชาย", "สมหญิง", "อนุชา", "กนกวรรณ", "ณัฐพล", "ปิยะดา", "ธนากร", "วรรณา", "ศุภชัย", "จิราพร", "อภิชาติ",
         "สุดารัตน์", "พงศกร", "นภัสสร", "กิตติศักดิ์", "ชลธิชา", "วีระพงษ์", "ศิริพร", "ภานุวัฒน์", "อรทัย"]  # fmt: skip
LAST = ["ใจดี", "รักเรียน", "มีสุข", "ศรีสวัสดิ์", "บุญมา", "แก้วมณี", "ทองดี", "พรหมวงศ์", "สายสุวรรณ", "จันทร์เพ็ญ",
        "ประเสริฐ", "วงศ์ใหญ่", "สุขประเสริฐ", "คำแก้ว", "ศรีบุญเรือง"]  # fmt: skip
CATEGORIES = ["เด็กและเยาวชนนอกระบบการศึกษา", "กลุ่มเสี่ยงหลุดออกจากระบบ", "นักเรียนยากจน/ยากจนพิเศษ", "เด็กปฐมวัย",
              "เด็กพิการ", "เยาวชนวัยแรงงาน"]  # fmt: skip
STATUSES = ["อยู่ระหว่างติดตาม", "กลับเข้าสู่ระบบการศึกษา", "การศึกษาทางเลือก/กศน.", "ฝึกอาชีพ", "ป้องกันการหลุด"]
HEADER = ["ลำดับ", "เลขประจำตัวประชาชน", "คำนำหน้า", "ชื่อ", "นามสกุล", "เพศ", "วันเกิด", "อำเภอ", "ตำบล",
          "กลุ่มเป้าหมาย", "สถานะ", "สถานะการศึกษา", "ชั้นเรียนล่าสุด", "โรงเรียน", "ผู้ปกครอง", "เบอร์โทรศัพท์",
          "ความยินยอม", "หมายเหตุ"]  # fmt: skip


def _rows(changed_every: int = 0) -> list[list]:
    from core.thai_id import check_digit
    from provinces.models import SubDistrict

    areas = list(SubDistrict.objects.filter(district__province_id=PROVINCE).values_list("district__name_th", "name_th"))
    rng = random.Random(2567)
    rows = []
    for n in range(ROWS):
        first12 = f"1{40_000_000_000 + n:011d}"[:12]
        identifier = first12 + str(check_digit(first12))
        boy = rng.random() < 0.5
        district, sub = rng.choice(areas)
        year = rng.randint(2548, 2562)
        status = STATUSES[n % len(STATUSES)]
        if changed_every and n % changed_every == 0:
            status = STATUSES[(n + 1) % len(STATUSES)]
        rows.append([
            n + 1, f"{identifier[0]}-{identifier[1:5]}-{identifier[5:10]}-{identifier[10:12]}-{identifier[12]}",
            "ด.ช." if boy else "ด.ญ.", rng.choice(FIRST), rng.choice(LAST), "ชาย" if boy else "หญิง",
            f"{rng.randint(1, 28)}/{rng.randint(1, 12):02d}/{year}", district, sub, CATEGORIES[n % len(CATEGORIES)],
            status, "นอกระบบ" if n % 3 else "กำลังเรียน", f"ม.{rng.randint(1, 6)}", f"โรงเรียนบ้าน{rng.choice(LAST)}",
            f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"08{rng.randint(10_000_000, 99_999_999)}", "ใช่", "",
        ])  # fmt: skip
    return rows


def _files() -> dict[str, Path]:
    """The generated files (made once, kept in BENCH_CACHE)."""
    import openpyxl

    CACHE.mkdir(parents=True, exist_ok=True)
    paths = {
        "xlsx": CACHE / f"records-{ROWS}.xlsx",
        "csv": CACHE / f"records-{ROWS}.csv",
        "xlsx_changed": CACHE / f"records-{ROWS}-changed.xlsx",
    }
    for key, path in paths.items():
        if path.exists():
            continue
        rows = _rows(changed_every=10 if key == "xlsx_changed" else 0)
        if key == "csv":
            with open(path, "w", encoding="utf-8-sig", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(HEADER)
                writer.writerows(rows)
            continue
        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(HEADER)
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    return paths


def _empty_records() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE targets_targetrecord, targets_statuschange, targets_uploadbatch CASCADE")


def _apply(path: Path, user) -> "tuple[float, int, UploadBatch]":
    """Upload and apply one file as `user`; return (seconds, queries, batch)."""
    from provinces.models import Province
    from targets.models import UploadBatch
    from targets.upload import services

    province = Province.objects.get(code=PROVINCE)
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        batch = services.receive_upload(user=user, province=province, uploaded_file=upload)
        # Straight to "checked": the dry run is not part of the figure.
        UploadBatch.objects.filter(pk=batch.pk).update(status=UploadBatch.Status.CHECKED)
        services.apply_upload(batch_id=batch.pk, user_id=user.pk)
        seconds = time.perf_counter() - start
    batch.refresh_from_db()
    return seconds, len(queries.captured_queries), batch


def _median_of_3(path: Path, user, *, before=None) -> "tuple[float, int, UploadBatch]":
    runs = []
    for _ in range(3):
        if before:
            before()
        runs.append(_apply(path, user))
    runs.sort(key=lambda r: r[0])
    return runs[1]


def _import_export_default(path: Path, rows: int) -> float:
    """django-import-export's default import_data over the first `rows` rows of the same data."""
    import tablib
    from import_export import fields, resources, widgets

    from targets.models import Category, Outcome, TargetRecord

    class RecordResource(resources.ModelResource):
        identifier = fields.Field("identifier", "เลขประจำตัวประชาชน")
        first_name = fields.Field("first_name", "ชื่อ")
        last_name = fields.Field("last_name", "นามสกุล")
        category = fields.Field("category", "กลุ่มเป้าหมาย", widgets.ForeignKeyWidget(Category, "name_th"))
        status = fields.Field("status", "สถานะ", widgets.ForeignKeyWidget(Outcome, "name_th"))

        class Meta:
            model = TargetRecord
            import_id_fields = ("identifier",)
            fields = ("identifier", "first_name", "last_name", "category", "status")

        def before_import_row(self, row, **kwargs):
            row["เลขประจำตัวประชาชน"] = row["เลขประจำตัวประชาชน"].replace("-", "")

        def before_save_instance(self, instance, row, **kwargs):
            instance.province_id = PROVINCE
            instance.identifier_kind = "national_id"

    with open(path, encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        data = tablib.Dataset(headers=header)
        for i, row in enumerate(reader):
            if i >= rows:
                break
            data.append(row)
    start = time.perf_counter()
    result = RecordResource().import_data(data, dry_run=False, raise_errors=True)
    seconds = time.perf_counter() - start
    assert not result.has_errors()
    return rows / seconds


def run() -> None:
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Role
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data
    from universities.reference_data import load_universities

    load_admin_areas()
    load_universities()
    load_target_reference_data()
    user = get_user_model().objects.create_user("bench.coordinator@example.org", "bench-password-1")
    Membership.objects.create(user=user, role=Role.PROVINCE_COORDINATOR, province_id=PROVINCE)

    started = time.perf_counter()
    files = _files()
    print(f"files: {ROWS:,} rows each, made or reused in {time.perf_counter() - started:.1f} s ({CACHE})")

    for label, key in (("xlsx, new records", "xlsx"), ("csv, new records", "csv")):
        seconds, queries, batch = _median_of_3(files[key], user, before=_empty_records)
        assert batch.created == ROWS, (batch.status, batch.error, batch.rejected)
        print(f"{label:38}: {ROWS / seconds:9,.0f} rows/s  ({seconds:5.2f} s, {queries} queries)")

    def fresh_then_original() -> None:
        _empty_records()
        with transaction.atomic():
            _apply(files["xlsx"], user)

    seconds, queries, batch = _median_of_3(files["xlsx_changed"], user, before=fresh_then_original)
    print(
        f"{'xlsx re-upload, a tenth changed':38}: {ROWS / seconds:9,.0f} rows/s  ({seconds:5.2f} s, {queries} queries;"
        f" {batch.updated:,} updated, {batch.unchanged:,} unchanged)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak memory of this process':38}: {peak:9,.0f} MB")

    _empty_records()
    rate = _import_export_default(files["csv"], min(5000, ROWS))
    print(
        f"{'django-import-export import_data':38}: {rate:9,.0f} rows/s"
        f"  (first {min(5000, ROWS):,} rows, for comparison)"
    )
