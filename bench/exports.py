"""Exports as background jobs at full size (PostgreSQL): a national records export of BENCH_EXPORT_RECORDS records
(default 1,000,000) as csv and as xlsx, the national PDF meeting pack, and the page that asks for it.

The records are made in SQL (generate_series, the audit triggers off for the generation only, as bench/cases.py
does) across the 12 demo provinces, each with a district and a sub-district, and help given to one in ten. Each
job is asked for through exports.services.start_export as an EEF admin (national scope, full IDs) and run in a
child process of its own (python -c, the scratch database), which reports its time and its peak resident memory
(resource.getrusage, ru_maxrss): the figure a Celery worker would reach. The page that asks for the national pack
is timed through the Django test client (median of 5, queries counted); the job it starts is not run by it.
Quick run: BENCH_EXPORT_RECORDS=100000 python -m bench exports. Prints figures; asserts nothing about time.
"""

import json
import os
import statistics
import subprocess
import sys
import time

from django.db import connection, connections
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from bench.sql import sql as _sql

RECORDS = int(os.environ.get("BENCH_EXPORT_RECORDS", "1000000"))
PROVINCES = [40, 32, 56, 52, 71, 24, 93, 94, 95, 73, 65, 63]
EMAIL = "eef.exports@bench.abe-portal.local"

# The child: one export job, as a worker runs it; prints its seconds, rows and peak RSS (Linux: KiB).
CHILD = """
import json, resource, sys, time
import django
django.setup()
from exports.models import ExportJob
from exports.services import run_export
started = time.perf_counter()
run_export(job_id=int(sys.argv[1]))
elapsed = time.perf_counter() - started
job = ExportJob.objects.get(pk=int(sys.argv[1]))
print(json.dumps({"seconds": elapsed, "rows": job.row_count, "size": job.size, "status": job.status,
                  "message": job.message, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _generate() -> None:
    codes = "ARRAY[" + ",".join(str(p) for p in PROVINCES) + "]"
    _sql("TRUNCATE targets_targetrecord CASCADE")
    _sql("SET session_replication_role = replica")
    started = time.perf_counter()
    try:
        _sql(
            f"""
            WITH areas AS (
                SELECT d.province_id AS p, array_agg(s.code ORDER BY s.code) AS subs,
                       array_agg(d.code ORDER BY s.code) AS districts
                FROM provinces_subdistrict s JOIN provinces_district d ON d.code = s.district_id
                WHERE d.province_id = ANY({codes}) GROUP BY d.province_id
            ), made AS (
                SELECT n, ({codes})[1 + n %% 12] AS p FROM generate_series(1, %s) n
            )
            INSERT INTO targets_targetrecord (version, identifier, identifier_kind, name_prefix, first_name, last_name,
                sex, birth_date, province_id, district_id, sub_district_id, category_id, status_id, education_status,
                last_grade, school, guardian_name, phone, consent, notes, created_at, updated_at, is_demo)
            SELECT 1, lpad((7000000000000 + n)::text, 13, '0'), 'national_id', 'ด.ช.', 'ชื่อ' || n,
                   'นามสกุล' || (n %% 997),
                   CASE WHEN n %% 2 = 0 THEN 'M' ELSE 'F' END, date '2010-01-01' + (n %% 4000), made.p,
                   a.districts[1 + n %% array_length(a.districts, 1)], a.subs[1 + n %% array_length(a.subs, 1)],
                   c.ids[1 + n %% array_length(c.ids, 1)], s.id, 'out_of_school', 'ป.6', 'โรงเรียนบ้าน' || (n %% 300),
                   'ผู้ปกครอง ' || n, '08' || lpad((n %% 100000000)::text, 8, '0'), n %% 3 > 0, '',
                   now() - (n %% 500) * interval '1 hour', now() - (n %% 500) * interval '1 hour', false
            FROM made JOIN areas a ON a.p = made.p,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_category) c,
                 (SELECT id FROM targets_outcome WHERE code = 'in-follow-up') s
            """,  # noqa: S608 - numbers only
            [RECORDS],
        )
        _sql(
            """
            INSERT INTO targets_assistance (record_id, type_id, date, given_by, outcome, created_at)
            SELECT r.id, t.id, date '2026-01-01' + (r.id %% 300)::int, 'ทีมตำบล', '', now()
            FROM targets_targetrecord r, (SELECT min(id) AS id FROM targets_assistancetype) t
            WHERE r.id %% 10 = 0
            """
        )
    finally:
        _sql("SET session_replication_role = DEFAULT")
    _sql("ANALYZE targets_targetrecord")
    _sql("ANALYZE targets_assistance")
    print(f"  {RECORDS:,} records (and help for a tenth) made in {time.perf_counter() - started:.1f} s")


def _admin():
    from accounts.models import Membership, Role, User

    user, _ = User.objects.get_or_create(email=EMAIL, defaults={"first_name": "EEF", "is_staff": True})
    Membership.objects.get_or_create(user=user, role=Role.EEF_ADMIN)
    return user


def _child_env() -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "abe_portal.settings"}


def _run_child(job_id: int) -> dict:
    connections.close_all()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(job_id)], env=_child_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(done.stderr[-3000:])
        raise RuntimeError("the export child failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ask(user, kind: str, file_format: str, params: dict) -> int:
    from exports import services

    with override_settings(CELERY_TASK_ALWAYS_EAGER=False), _no_dispatch():
        job = services.start_export(principal=user, kind=kind, file_format=file_format, params=params, language="th")
    return job.pk


class _no_dispatch:
    """The job is run by the benchmark's child, not by a worker or a thread."""

    def __enter__(self):
        from exports import services

        self.saved = services.dispatch
        services.dispatch = lambda job_id: None

    def __exit__(self, *exc):
        from exports import services

        services.dispatch = self.saved


def _summary() -> None:
    from core.buddhist_dates import current_fiscal_year
    from portal.demo.provinces import load_demo_assignments
    from portal.demo.provincial_work import load_demo_provincial_work
    from summaries.models import SummaryRun
    from summaries.services import run_summary

    load_demo_assignments()
    load_demo_provincial_work()
    started = time.perf_counter()
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)
    print(f"  the summary of {RECORDS:,} records computed in {time.perf_counter() - started:.1f} s")


def run() -> None:
    from cases.reference_data import load_agency_types
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data
    from universities.reference_data import load_universities

    if connection.vendor != "postgresql":
        print("skipped: the exports benchmark needs PostgreSQL")
        return
    load_admin_areas()
    load_universities()
    load_target_reference_data()
    load_agency_types()
    _generate()
    user = _admin()
    for file_format, goal in (("csv", 20_000), ("xlsx", 8_000)):
        job_id = _ask(user, "targets.records", file_format, {})
        result = _run_child(job_id)
        rate = (result["rows"] or 0) / result["seconds"]
        print(
            f"  records {file_format} job: {result['rows']:,} rows in {result['seconds']:.1f} s = {rate:,.0f} rows/s "
            f"(goal >= {goal:,}), file {result['size'] / 1e6:,.0f} MB, peak RSS {result['peak_kib'] / 1024:,.0f} MB "
            f"(goal < 300), {result['status']}"
        )

    _summary()
    client = Client()
    client.force_login(user)
    url = "/dashboards/export.pdf?level=national"
    times, queries = [], 0
    with (
        override_settings(ABE_REQUIRE_MFA=False, CELERY_TASK_ALWAYS_EAGER=False, ALLOWED_HOSTS=["testserver"]),
        _no_dispatch(),
    ):
        for _ in range(5):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.post(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 302, response.status_code
            queries = len(captured)
    job_id = int(response["Location"].strip("/").split("/")[-1])
    median = statistics.median(times)
    print(
        f"  the page that asks for the national PDF pack: {median:.0f} ms (median of 5, goal < 200), {queries} queries"
    )
    result = _run_child(job_id)
    print(
        f"  national PDF pack job: {result['seconds']:.1f} s, {result['size'] / 1e6:.1f} MB, "
        f"peak RSS {result['peak_kib'] / 1024:,.0f} MB, {result['status']} {result['message']}"
    )
