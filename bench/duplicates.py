"""Probable duplicates at scale (PostgreSQL): `python -m bench duplicates [--records N]`.

1. Generates N records (default BENCH_DUPLICATES_RECORDS, 300,000; the issue's goal is 3,000,000) over the 77
   provinces and their districts with duplicates.generated (known duplicates: prefixes, spelling variants, typos,
   birth-date typos, G-codes; known look-alikes: twins, siblings, common names), written with COPY (the audit
   triggers and the records' secondary indexes off for the load, as bench/lists.py does).
2. Times the first keys (every record) and the nightly run (duplicates.finder.run: the changed keys, then every
   province's pairs) and prints candidates, records/s, and the precision and recall against the generated truth.
3. Times an upload's dry run of UPLOAD_ROWS new rows of ขอนแก่น (a tenth of them children already recorded, typed
   again) with the duplicate warnings and without them (the hook unregistered), in alternating rounds, and prints
   the ratio of their speeds (goal: at least 0.8).
"""

import csv
import datetime
import io
import os
import statistics
import time

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from bench.sql import sql as _sql
from core.copy_text import copy_value

DEFAULT_RECORDS = 300_000
UPLOAD_ROWS = int(os.environ.get("BENCH_DUPLICATES_UPLOAD_ROWS", "20000"))
PROVINCE = 40  # ขอนแก่น
ROUNDS = 3
COPY_BATCH = 50_000
COLUMNS = [
    "identifier", "identifier_kind", "name_prefix", "first_name", "last_name", "sex", "birth_date", "province_id",
    "district_id",
]  # fmt: skip


def _records() -> int:
    # Read when the suite runs: `--records N` (bench/__main__.py) sets it after the suites are imported.
    return int(os.environ.get("BENCH_DUPLICATES_RECORDS", DEFAULT_RECORDS))


def _build(districts: dict[int, list[int]]):
    """COPY the generated records; returns the truth (duplicates.generated.GeneratedSet without its records)."""
    from duplicates import generated
    from targets.models import Category, Outcome

    category = Category.objects.get(code="out-of-school").pk
    status = Outcome.objects.get(code="in-follow-up").pk
    now = datetime.datetime.now(datetime.UTC).isoformat()
    truth = generated.GeneratedSet()
    _sql("TRUNCATE targets_targetrecord CASCADE")
    indexes = []
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'targets_targetrecord'
               AND indexname NOT IN (SELECT conname FROM pg_constraint)"""
        )
        indexes = cursor.fetchall()
    for name, _definition in indexes:
        _sql(f"DROP INDEX {name}")
    _sql("SET session_replication_role = replica")
    tail = f"\t{category}\t{status}\t{now}\t{now}\tf\tf\t1"
    copy = (
        f"COPY targets_targetrecord ({', '.join(COLUMNS)}, category_id, status_id, created_at, updated_at, consent, "
        "is_demo, version, education_status, last_grade, school, guardian_name, phone, notes) FROM STDIN"
    )
    empty_text = "\t\t\t\t\t\t"[:-1]  # six empty text columns
    lines: list[str] = []

    def flush() -> None:
        if lines:
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert(copy, io.StringIO("\n".join(lines) + "\n"))
            lines.clear()

    try:
        for _kind, record, duplicate, look_alike in generated.iter_records(_records(), districts):
            lines.append("\t".join(copy_value(record[c]) for c in COLUMNS) + tail + "\t" + empty_text)
            if duplicate:
                truth.duplicates.add(duplicate)
            if look_alike:
                truth.look_alikes.add(look_alike)
            if len(lines) >= COPY_BATCH:
                flush()
        flush()
    finally:
        _sql("SET session_replication_role = DEFAULT")
        for _name, definition in indexes:  # built again after the load, as a restore would
            _sql(definition)
    _sql("ANALYZE targets_targetrecord")
    return truth


def _upload_file(districts: dict[int, list[int]]) -> bytes:
    """UPLOAD_ROWS new rows of PROVINCE as a csv: children not recorded yet, a tenth of them recorded already
    (the same name typed again, with a G-code)."""
    from duplicates import generated
    from provinces.models import District
    from targets.models import TargetRecord

    names = dict(District.objects.filter(province_id=PROVINCE).values_list("code", "name_th"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "เพศ", "วันเกิด", "อำเภอ", "กลุ่มเป้าหมาย"])
    sex = {"M": "ชาย", "F": "หญิง", "": ""}

    def row(identifier: str, first: str, last: str, s: str, born: datetime.date | None, district: int | None) -> list:
        when = f"{born.day:02d}/{born.month:02d}/{born.year + 543}" if born else ""
        return [
            identifier,
            first,
            last,
            sex[s],
            when,
            names.get(district, "") if district else "",
            "เด็กและเยาวชนนอกระบบการศึกษา",
        ]

    again = list(
        TargetRecord.objects.filter(province_id=PROVINCE, birth_date__isnull=False)
        .order_by("pk")
        .values_list("first_name", "last_name", "sex", "birth_date", "district_id")[: UPLOAD_ROWS // 10]
    )
    for n, (first, last, s, born, district) in enumerate(again):
        writer.writerow(row(f"G9{n:011d}", first, last, s, born, district))
    fresh = generated.iter_records(
        UPLOAD_ROWS - len(again), {PROVINCE: districts[PROVINCE]}, seed=99, start=900_000_000
    )
    for _kind, record, _dup, _look in fresh:
        writer.writerow(
            row(
                record["identifier"],
                record["first_name"],
                record["last_name"],
                record["sex"],
                record["birth_date"],
                record["district_id"],
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _dry_runs(data: bytes) -> tuple[float, float, int]:
    """(median seconds with warnings, without, warnings found), in alternating rounds."""
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Role
    from provinces.models import Province
    from targets.upload import hooks, pipeline
    from targets.upload.services import receive_upload

    user = get_user_model().objects.filter(email="bench.duplicates@example.org").first()
    if user is None:  # a database kept from an earlier run (--keep) has them
        user = get_user_model().objects.create_user("bench.duplicates@example.org", "bench-password-1")
        Membership.objects.create(user=user, role=Role.PROVINCE_COORDINATOR, province_id=PROVINCE)
    batch = receive_upload(
        user=user,
        province=Province.objects.get(pk=PROVINCE),
        uploaded_file=SimpleUploadedFile("bench.csv", data),
    )
    registered = list(hooks._row_warnings)
    times: dict[bool, list[float]] = {True: [], False: []}
    warned = 0
    for _ in range(ROUNDS):
        for with_warnings in (True, False):
            hooks._row_warnings[:] = registered if with_warnings else []
            started = time.perf_counter()
            report = pipeline.run(batch, apply=False)
            times[with_warnings].append(time.perf_counter() - started)
            assert report.created + report.rejected == UPLOAD_ROWS, (report.created, report.rejected)
            if with_warnings:
                warned = report.warned
    hooks._row_warnings[:] = registered
    return statistics.median(times[True]), statistics.median(times[False]), warned


def run() -> None:
    from duplicates import finder, generated
    from duplicates.models import DuplicateCandidate, NameKey
    from provinces.models import District
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data

    if connection.vendor != "postgresql":
        print("skipped: the duplicates benchmark needs PostgreSQL (pg_trgm)")
        return
    connection.autocommit = True
    load_admin_areas()
    load_target_reference_data()
    districts: dict[int, list[int]] = {}
    for province, district in District.objects.values_list("province_id", "code"):
        districts.setdefault(province, []).append(district)

    records = _records()
    started = time.perf_counter()
    truth = _build(districts)
    built = time.perf_counter() - started
    print(
        f"records: {records:,} generated and copied, indexes built, in {built:.0f} s "
        f"({len(truth.duplicates):,} known duplicates)"
    )

    NameKey.objects.all().delete()
    DuplicateCandidate.objects.all().delete()
    started = time.perf_counter()
    keys = finder.refresh_keys()
    finder.vacuum_keys()  # as finder.run does after writing keys
    keyed = time.perf_counter() - started
    print(f"keys: {keys:,} written and vacuumed in {keyed:.1f} s ({keys / keyed:,.0f} records/s)")
    started = time.perf_counter()
    counts = finder.run(full=False)
    total = time.perf_counter() - started
    print(
        f"nightly run (changed keys, then pairs): {counts['candidates']:,} candidates over {records:,} "
        f"records in {total:.1f} s ({records / total:,.0f} records/s); first run keys + pairs: {keyed + total:.1f} s"
    )
    found = generated.found_pairs()
    precision, recall = generated.precision_recall(found, truth.duplicates)
    print(
        f"precision {precision:.3f}, recall {recall:.3f} on the generated set (goal: ≥ 0.95, ≥ 0.90); "
        f"look-alikes proposed: {len(found & truth.look_alikes):,} of {len(truth.look_alikes):,}"
    )

    data = _upload_file(districts)
    with_warnings, without, warned = _dry_runs(data)
    print(
        f"upload dry run, {UPLOAD_ROWS:,} new rows of one province: with warnings {UPLOAD_ROWS / with_warnings:,.0f} "
        f"rows/s ({warned:,} warnings), without {UPLOAD_ROWS / without:,.0f} rows/s; "
        f"ratio {without / with_warnings:.2f} (goal ≥ 0.8)"
    )
