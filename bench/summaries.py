"""The full summary run over 1,000,000 and 3,000,000 generated records (PostgreSQL).

Records are generated in SQL (generate_series) across the 12 demo provinces, every category and
status, with help given for a tenth of them; the audit triggers are switched off for the
generation only (session_replication_role), then VACUUM ANALYZE, as autovacuum would. The figure
is the median of 3 runs of summaries.services.run_summary: every figure for all provinces,
universities and the nation, stored.
"""

import os
import statistics
import time

from django.db import connection

SIZES = [int(n) for n in os.environ.get("BENCH_SUMMARY_SIZES", "1000000,3000000").split(",")]


def _generate(total: int) -> None:
    from targets.models import TargetRecord

    have = TargetRecord.objects.count()
    if have >= total:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            """
            INSERT INTO targets_targetrecord (identifier, identifier_kind, name_prefix, first_name, last_name, sex,
                birth_date, province_id, district_id, sub_district_id, category_id, status_id, education_status,
                last_grade, school, guardian_name, phone, consent, notes, created_at, updated_at, is_demo)
            SELECT lpad((5000000000000 + n)::text, 13, '0'), 'national_id', '', 'ชื่อ' || n, 'สกุล',
                   CASE WHEN n %% 2 = 0 THEN 'M' ELSE 'F' END,
                   CASE WHEN n %% 17 = 0 THEN NULL ELSE date '2008-01-01' + (n %% 5000) END,
                   p.codes[1 + n %% 12], NULL, NULL,
                   c.ids[1 + n %% array_length(c.ids, 1)], s.ids[1 + (n / 7) %% array_length(s.ids, 1)],
                   '', '', '', '', '', false, '', now() - ((n %% 90) || ' days')::interval,
                   now() - ((n %% 90) || ' days')::interval, true
            FROM generate_series(%s, %s) AS n,
                 (SELECT ARRAY[40, 32, 56, 52, 71, 24, 93, 94, 95, 73, 65, 63] AS codes) p,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_category) c,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_outcome) s
            """,
            [have + 1, total],
        )
        cursor.execute(
            """
            INSERT INTO targets_assistance (record_id, type_id, date, given_by, outcome, created_at)
            SELECT r.id, t.ids[1 + r.id %% array_length(t.ids, 1)], date '2026-01-01', 'อบต.', '', now()
            FROM targets_targetrecord r, (SELECT array_agg(id) AS ids FROM targets_assistancetype) t
            WHERE r.id > %s AND r.id %% 10 = 0
            """,
            [0 if have == 0 else have],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    connection.cursor().execute("VACUUM ANALYZE targets_targetrecord")
    connection.cursor().execute("VACUUM ANALYZE targets_assistance")


def run() -> None:
    from portal.demo.provinces import load_demo_assignments
    from portal.demo.provincial_work import load_demo_provincial_work
    from provinces.reference_data import load_admin_areas
    from summaries.models import SummaryRun
    from summaries.services import run_summary
    from targets.reference_data import load_target_reference_data
    from universities.reference_data import load_universities

    if connection.vendor != "postgresql":
        print("skipped: the summary benchmark needs PostgreSQL")
        return
    load_admin_areas()
    load_universities()
    load_target_reference_data()
    load_demo_assignments()
    load_demo_provincial_work()
    connection.autocommit = True  # VACUUM cannot run inside a transaction
    for size in SIZES:
        started = time.perf_counter()
        _generate(size)
        print(f"{size:,} records ready in {time.perf_counter() - started:.1f} s")
        times, queries = [], 0
        for _ in range(3):
            run = SummaryRun.objects.create(fiscal_year=2570, trigger=SummaryRun.Trigger.COMMAND)
            started = time.perf_counter()
            run = run_summary(run_id=run.pk)
            times.append(time.perf_counter() - started)
            queries = run.query_count or 0
        median = statistics.median(times)
        print(
            f"summary run over {size:>9,} records: {median * 1000:8.0f} ms (median of 3), {queries} queries, "
            f"{run.snapshots.count()} snapshots"
        )
