"""The cohort view at scale (PostgreSQL): `python -m bench cohorts` (BENCH_COHORTS_RECORDS, default 300,000).

Generates the records of 12 provinces with their status histories, written with COPY (the audit triggers off for
the load, as bench/duplicates.py does): entered over the last three years, each with up to three changes of status
(followed up, returned to school, kept in school, not found...) at random days after it entered. Then times the
cohort view of the 12 provinces as an EEF admin (analysis.cohorts): the read (the queries), the pandas, and both
through cohorts_for on a cache miss and on a hit; the median of RUNS, in ms, with the query count and the peak
memory of the process.
"""

import datetime
import io
import os
import random
import resource
import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.sql import sql as _sql
from core.copy_text import copy_value

DEFAULT_RECORDS = 300_000
PROVINCE_COUNT = 12
RUNS = 3
COPY_BATCH = 50_000
DOMAIN = "bench-cohorts.abe-portal.local"


def _records() -> int:
    return int(os.environ.get("BENCH_COHORTS_RECORDS", DEFAULT_RECORDS))


def _copy(table: str, columns: list[str], lines: list[str]) -> None:
    if lines:
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO("\n".join(lines) + "\n")
            )
        lines.clear()


def _build(provinces: list[int]) -> int:
    """COPY the records and their changes; returns how many changes."""
    from targets.models import Category, Outcome

    category = Category.objects.get(code="out-of-school").pk
    status = dict(Outcome.objects.values_list("code", "pk"))
    follow = status["in-follow-up"]
    # Where a change leads, weighted: most children are returned to learning or kept in school in the end.
    targets = [status[code] for code in ("returned-to-school", "flexible-learning", "vocational", "kept-in-school")]
    targets += [status["referred"], status["not-found"], follow, follow]
    now = timezone.now()
    rng = random.Random(17)
    _sql("TRUNCATE targets_targetrecord CASCADE")
    _sql("SET session_replication_role = replica")
    record_columns = [
        "id", "identifier", "identifier_kind", "name_prefix", "first_name", "last_name", "sex", "province_id",
        "category_id", "status_id", "created_at", "updated_at", "consent", "is_demo", "version", "education_status",
        "last_grade", "school", "guardian_name", "phone", "notes",
    ]  # fmt: skip
    change_columns = ["id", "record_id", "from_status_id", "to_status_id", "changed_at"]
    records: list[str] = []
    changes: list[str] = []
    change_id = 0
    try:
        for n in range(1, _records() + 1):
            entered = now - datetime.timedelta(days=rng.randrange(1095), seconds=rng.randrange(86400))
            current, when = follow, entered
            for _step in range(rng.choice((0, 1, 1, 2, 2, 3))):
                when += datetime.timedelta(days=rng.randrange(1, 240))
                if when > now:
                    break
                after = rng.choice(targets)
                change_id += 1
                changes.append(f"{change_id}\t{n}\t{current}\t{after}\t{copy_value(when)}")
                current = after
            record = [n, f"7{n:012d}", "national_id", "", "ทดสอบ", "สกุล", "F", provinces[n % len(provinces)]]
            record += [category, current, entered, now, True, False, 1, "", "", "", "", "", ""]
            records.append("\t".join(copy_value(value) for value in record))
            if len(records) >= COPY_BATCH:
                _copy("targets_targetrecord", record_columns, records)
            if len(changes) >= COPY_BATCH:
                _copy("targets_statuschange", change_columns, changes)
        _copy("targets_targetrecord", record_columns, records)
        _copy("targets_statuschange", change_columns, changes)
    finally:
        _sql("SET session_replication_role = DEFAULT")
    for table in ("targets_targetrecord", "targets_statuschange"):
        _sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
        _sql(f"ANALYZE {table}")
    return change_id


def _median_ms(measure, runs: int = RUNS) -> tuple[float, int]:
    """(median ms, queries of the last run) of measure()."""
    times, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as context:
            started = time.perf_counter()
            measure()
            times.append(time.perf_counter() - started)
        queries = len(context.captured_queries)
    return statistics.median(times) * 1000, queries


def run() -> None:
    from django.core.cache import cache

    from accounts.access import scope_for
    from accounts.models import Membership, Role, User
    from analysis import cohorts
    from provinces.models import Province
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data

    if connection.vendor != "postgresql":
        print("skipped: the cohorts benchmark needs PostgreSQL")
        return
    connection.autocommit = True
    load_admin_areas()
    load_target_reference_data()
    provinces = list(Province.objects.order_by("code").values_list("code", flat=True)[:PROVINCE_COUNT])
    started = time.perf_counter()
    changes = _build(provinces)
    print(f"  built {_records():,} records and {changes:,} status changes in {time.perf_counter() - started:.1f} s")
    user, _created = User.objects.get_or_create(email=f"eef@{DOMAIN}", defaults={"is_staff": True})
    Membership.objects.get_or_create(user=user, role=Role.EEF_ADMIN, province=None)
    scope_for(user)  # the scope's queries, once per request in the portal: not the cohorts'
    as_of = timezone.localdate()
    frames: dict = {}

    def read() -> None:
        frames["read"] = cohorts.read(user=user, provinces=provinces, as_of=as_of)

    def compute() -> None:
        records, status_changes, achieved = frames["read"]
        frames["result"] = cohorts.compute(records=records, changes=status_changes, achieved=achieved, as_of=as_of)

    def miss() -> None:
        cache.delete(cohorts.cache_key(provinces, as_of))
        cohorts.cohorts_for(user=user, provinces=provinces, as_of=as_of)

    read_ms, read_queries = _median_ms(read)
    compute_ms, _none = _median_ms(compute)
    miss_ms, miss_queries = _median_ms(miss)
    hit_ms, hit_queries = _median_ms(lambda: cohorts.cohorts_for(user=user, provinces=provinces, as_of=as_of))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    quarters = len(frames["result"].rows)
    print(
        f"  cohorts of {_records():,} records ({changes:,} changes, {len(provinces)} provinces, {quarters} quarters): "
        f"read {read_ms:.0f} ms ({read_queries} queries), pandas {compute_ms:.0f} ms; "
        f"cohorts_for on a cache miss {miss_ms:.0f} ms ({miss_queries} queries), on a hit {hit_ms:.1f} ms "
        f"({hit_queries} queries); peak memory {peak_mb:.0f} MB"
    )
