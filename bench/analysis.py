"""An analysis set at scale (PostgreSQL): `python -m bench analysis [--records N]`, or `python -m bench --keep
analysis` (issue 17, "Speed": a set of 1,000,000 records built in ≤ 90 s with peak memory ≤ 1.5 GB).

1. Generates N records (BENCH_ANALYSIS_RECORDS, default 1,000,000; `--records N` sets it) over the provinces of one
   university team (KKU, supporting PROVINCES this fiscal year), in SQL (generate_series; the records' secondary
   indexes dropped for the load and built after it, the audit triggers off for the generation only, as
   bench/lists.py does): sub-districts and districts (one record in ten without a sub-district, one in fifty
   without a district), birth dates (one in twenty unknown), sex (one in a hundred unknown), a status history of
   one to three changes, help for one record in four, a case for three records in five with one to four contacts
   (one in four not reached), a referral for one case in twenty. With --keep the records are reused.
2. Asks for a set as a team member (analysis.services.request_set, the door's checks), then builds it in a fresh
   child process the way the background job does (analysis.services.build_set: read in one transaction, tables,
   zip of Parquet and CSV into default_storage), so the generation's memory does not count, and prints each step's
   seconds (the analysis.build log), the total, the child's peak memory (ru_maxrss), the rows per table and the
   files' sizes.

Measured on the shared 2-core machine (other helpers' jobs and tests running beside it), 1,000,000 records of 10
provinces (999,922 kept, 78 withheld at k = 5), 1,999,999 status changes, 375,000 help rows, 600,000 cases,
1,500,000 contacts, 50,000 referrals; generated in ≈ 76 s. Before and after in alternating runs (the second pair):

  step (seconds)                   before (Django iterator, to_csv)   after (COPY + pyarrow, batches)
  records read                        3.5                                1.9
  pseudonyms, ages, codes             3.9                                1.8
  contacts and referrals counts       2.8                                2.0
  k-generalisation                    1.9                                1.6
  transitions                         7.0                                6.5
  assistance                          1.8                                1.1
  records .parquet / .csv             2.3 / 7.0                          1.8 / 3.2
  transitions .parquet / .csv         2.7 / 8.1                          2.2 / 6.1
  assistance .parquet / .csv          0.5 / 1.0                          0.4 / 0.3
  total (build_set)                  42.7 s                             29.1 s
  peak RSS of the process (ru_maxrss) 1,975 MB (OVER 1.5 GB)            964 MB
  load average (1 min) before → after 4.6 → 3.3                         3.3 → 3.1
  zip                               125.8 MB (deflate level 6)         138.4 MB (level 1)

Every run: before 103 s (load 3.1 → 5.0), 43 s (2.7), 81 s (2.6 → 4.4), 43 s (4.6 → 3.3), peak 1,975–2,094 MB;
after 22 s (3.3), 44 s (4.3 → 4.7), 29 s (3.3 → 3.1), peak 964–973 MB. The time follows the machine's load; the
memory does not. The tables' files are byte for byte the same before and after (compared on two provinces,
200,000 records); the rows: records 999,922, transitions 1,999,847, assistance 374,963, dictionary 26;
records.csv 98 MB, .parquet 35 MB; transitions.csv 128 MB, .parquet 37 MB; assistance.csv 17 MB, .parquet 8 MB.
"""

import json
import logging
import os
import resource
import subprocess
import sys
import time
import zipfile
from unittest import mock

from django.db import connection

from bench.sql import rows as _rows
from bench.sql import sql as _sql
from bench.sql import step as _step

DEFAULT_RECORDS = 1_000_000
PROVINCES = [39, 40, 41, 42, 43, 44, 45, 46, 47, 48]  # the north-east: one team's provinces
UNIVERSITY = "KKU"
EMAIL = "bench.analysis@bench-analysis.abe-portal.local"
LIMIT_SECONDS = 90.0
LIMIT_BYTES = 1.5 * 1024**3


def _records() -> int:
    # Read when the suite runs: `--records N` (bench/__main__.py) sets it after the suites are imported.
    return int(os.environ.get("BENCH_ANALYSIS_RECORDS", DEFAULT_RECORDS))


def _generate(records: int) -> None:
    from cases.models import AgencyType

    codes = "ARRAY[" + ",".join(str(p) for p in PROVINCES) + "]"
    indexes = _rows(
        """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'targets_targetrecord'
           AND indexname NOT IN (SELECT conname FROM pg_constraint)"""
    )
    _sql("TRUNCATE targets_targetrecord, cases_case, cases_agency CASCADE")
    for name, _definition in indexes:
        _sql(f"DROP INDEX {name}")
    _sql("SET session_replication_role = replica")
    _sql("SET maintenance_work_mem = '512MB'")
    try:
        _step(
            "records",
            f"""
            WITH sd AS (SELECT d.province_id AS p, array_agg(s.code ORDER BY s.code) AS codes,
                               array_agg(s.district_id ORDER BY s.code) AS dists
                        FROM provinces_subdistrict s JOIN provinces_district d ON d.code = s.district_id
                        WHERE d.province_id = ANY({codes}) GROUP BY d.province_id),
            prov AS (SELECT array_agg(p ORDER BY p) AS codes FROM sd),
            cat AS (SELECT array_agg(id ORDER BY id) AS ids FROM targets_category),
            st AS (SELECT array_agg(id ORDER BY id) AS ids FROM targets_outcome),
            made AS (SELECT n, prov.codes[1 + n %% array_length(prov.codes, 1)] AS p,
                            abs(hashint8(n)) AS h1, abs(hashint8(-n)) AS h2
                     FROM generate_series(1, %s) n, prov)
            INSERT INTO targets_targetrecord (version, identifier, identifier_kind, name_prefix, first_name,
                last_name, sex, birth_date, province_id, district_id, sub_district_id, category_id, status_id,
                education_status, last_grade, school, guardian_name, phone, consent, notes, created_at,
                updated_at, is_demo, case_worker_id, case_assigned_at)
            SELECT 1, lpad((7000000000000 + n)::text, 13, '0'), 'national_id', '', 'ชื่อ' || n, 'สกุล' || h2 %% 997,
                   CASE WHEN n %% 100 = 0 THEN '' WHEN n %% 2 = 0 THEN 'M' ELSE 'F' END,
                   CASE WHEN n %% 20 = 0 THEN NULL ELSE date '2000-01-01' + ((h1 / 7) %% 9000)::int END,
                   made.p,
                   CASE WHEN n %% 50 = 0 THEN NULL ELSE sd.dists[1 + (h1 / 11) %% array_length(sd.codes, 1)] END,
                   CASE WHEN n %% 10 = 0 THEN NULL ELSE sd.codes[1 + (h1 / 11) %% array_length(sd.codes, 1)] END,
                   cat.ids[1 + (h2 / 13) %% array_length(cat.ids, 1)],
                   st.ids[1 + (h2 / 17) %% array_length(st.ids, 1)], '', '', 'โรงเรียนบ้าน' || n %% 300, 'ผู้ปกครอง',
                   '08' || lpad((n %% 100000000)::text, 8, '0'), true, 'บันทึก',
                   now() - ((h1 / 19) %% 1500 || ' days')::interval, now() - ((h2 / 23) %% 700 || ' days')::interval,
                   false, NULL, NULL
            FROM made JOIN sd ON sd.p = made.p, cat, st
            """,  # noqa: S608 - numbers only
            [records],
        )
        _step(
            "status history (one to three changes a record)",
            """
            WITH st AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM targets_outcome)
            INSERT INTO targets_statuschange (record_id, from_status_id, to_status_id, changed_at, changed_by_id,
                                              upload_id)
            SELECT r.id, CASE WHEN j = 1 THEN NULL ELSE st.ids[1 + (r.id + j - 1) %% st.n] END,
                   st.ids[1 + (r.id + j) %% st.n], r.created_at + (j - 1) * interval '40 days', NULL, NULL
            FROM targets_targetrecord r, st, generate_series(1, 1 + (r.id %% 3)::int) j
            """,
        )
        _step(
            "help given (one record in four, once or twice)",
            """
            WITH t AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM targets_assistancetype)
            INSERT INTO targets_assistance (record_id, type_id, date, given_by, outcome, recorded_by_id, created_at)
            SELECT r.id, t.ids[1 + (r.id / 4 + j) %% t.n], date '2024-01-01' + (r.id %% 500)::int, 'อบต.', '', NULL,
                   now()
            FROM targets_targetrecord r, t, generate_series(1, 1 + (r.id / 4 %% 2)::int) j
            WHERE r.id %% 4 = 0
            """,
        )
        nfe = AgencyType.objects.get(code="non-formal-education").pk
        _sql(
            f"""
            INSERT INTO cases_agency (province_id, type_id, district_id, name, contact_name, phone, email, is_active,
                is_demo, created_at)
            SELECT p, %s, NULL, 'กศน. ' || p, '', '', '', true, false, now() FROM unnest({codes}) p
            """,  # noqa: S608 - numbers only
            [nfe],
        )
        _step(
            "cases (three records in five)",
            """
            INSERT INTO cases_case (version, record_id, province_id, goal_id, opened_at, first_contact_at,
                last_contact_at, next_contact_due, failed_attempts, due_on, closed_at, close_reason, close_note,
                updated_at)
            SELECT 1, r.id, r.province_id, NULL, r.created_at, NULL, NULL, NULL, 0, NULL, NULL, '', '', now()
            FROM targets_targetrecord r WHERE r.id %% 5 < 3
            """,
        )
        _step(
            "contacts (one to four a case; one in four not reached)",
            """
            INSERT INTO cases_contact (case_id, kind, happened_at, reached, with_whom, findings, next_step, next_due,
                recorded_by_id, created_at, client_key)
            SELECT c.record_id, CASE j %% 3 WHEN 0 THEN 'home_visit' WHEN 1 THEN 'phone' ELSE 'school_visit' END,
                   c.opened_at + j * interval '10 days', (c.record_id + j) %% 4 <> 0, 'แม่', 'พบตัว', 'ติดตามต่อ',
                   NULL, NULL, c.opened_at + j * interval '10 days', NULL
            FROM cases_case c, generate_series(1, 1 + (c.record_id %% 4)::int) j
            """,
        )
        _step(
            "referrals (one case in twenty)",
            """
            INSERT INTO cases_referral (version, case_id, agency_id, reason, services, deadline, share_identifier,
                state, decline_reason, outcome_id, feedback, sent_by_id, sent_at, answered_at, finished_at,
                status_applied)
            SELECT 1, c.record_id, a.id, 'เรียนต่อ', 'สมัครเรียน', (c.opened_at + interval '30 days')::date, false,
                   'sent', '', NULL, '', NULL, c.opened_at + interval '1 day', NULL, NULL, false
            FROM cases_case c JOIN cases_agency a ON a.province_id = c.province_id
            WHERE c.record_id %% 20 = 1
            """,
        )
        for name, definition in indexes:
            _step(f"index {name}", definition)
    finally:
        _sql("SET session_replication_role = DEFAULT")
    for table in (
        "targets_targetrecord",
        "targets_statuschange",
        "targets_assistance",
        "cases_case",
        "cases_contact",
        "cases_referral",
    ):
        _sql(f"VACUUM ANALYZE {table}")


def _asker():
    from accounts.models import Membership, Role, User
    from core.buddhist_dates import current_fiscal_year
    from universities.models import SupportAssignment, University
    from universities.reference_data import load_universities

    load_universities()
    university = University.objects.get(code=UNIVERSITY)
    for province in PROVINCES:
        SupportAssignment.objects.get_or_create(
            university=university, province_id=province, fiscal_year=current_fiscal_year()
        )
    user, _created = User.objects.get_or_create(email=EMAIL)
    Membership.objects.get_or_create(user=user, role=Role.UNIVERSITY_MEMBER, university=university)
    return user


def run() -> None:
    from analysis import services
    from cases.reference_data import load_agency_types
    from provinces.reference_data import load_admin_areas
    from targets.models import TargetRecord
    from targets.reference_data import load_target_reference_data

    if connection.vendor != "postgresql":
        print("skipped: the analysis-set benchmark needs PostgreSQL")
        return
    connection.autocommit = True
    load_admin_areas()
    load_target_reference_data()
    load_agency_types()
    records = _records()
    have = TargetRecord.objects.filter(province_id__in=PROVINCES).count()
    if have == records and TargetRecord.objects.count() == records and _rows("SELECT 1 FROM cases_referral LIMIT 1"):
        print(f"{have:,} records of {len(PROVINCES)} provinces kept from an earlier run (--keep)")
    else:
        print(f"generating {records:,} records over the {len(PROVINCES)} provinces of {UNIVERSITY}'s team:")
        started = time.perf_counter()
        _generate(records)
        print(f"generated in {time.perf_counter() - started:.0f} s")
    for table in ("targets_statuschange", "targets_assistance", "cases_case", "cases_contact", "cases_referral"):
        print(f"  {table}: {_rows(f'SELECT count(*) FROM {table}')[0][0]:,} rows")  # noqa: S608 - constants

    with mock.patch.object(services, "dispatch"):  # built below, in a child process, not by a thread
        analysis_set = services.request_set(user=_asker(), provinces=PROVINCES, purpose="bench: analysis at scale")
    database = connection.settings_dict["NAME"]
    load = os.getloadavg()
    child = subprocess.run(
        [sys.executable, "-m", "bench.analysis", database, str(analysis_set.pk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        print(child.stdout, child.stderr)
        raise SystemExit(f"the build's child process failed ({child.returncode})")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    after = os.getloadavg()
    print(f"the set built by analysis.services.build_set in a fresh process ({result['status']}):")
    for name, seconds, peak in result["steps"]:
        print(f"  {name:34} {seconds:6.2f} s   peak so far {peak / 1024**2:7,.0f} MB")
    total, peak = result["seconds"], result["peak"]
    print(
        f"  {'total (build_set)':34} {total:6.2f} s   ({'within' if total <= LIMIT_SECONDS else 'OVER'} "
        f"the {LIMIT_SECONDS:.0f} s limit)"
    )
    print(
        f"  peak memory of the process (ru_maxrss): {peak / 1024**2:,.0f} MB "
        f"({'within' if peak <= LIMIT_BYTES else 'OVER'} the 1.5 GB limit)"
    )
    print(f"  records {result['rows']:,}, withheld {result['withheld']:,}; zip {result['size'] / 1024**2:,.1f} MB")
    for name, rows, size, compressed in result["files"]:
        rows_text = f"{rows:>10,} rows" if rows is not None else " " * 15
        print(f"    {name:24} {rows_text}  {size / 1024**2:8.1f} MB ({compressed / 1024**2:.1f} MB zipped)")
    print(
        f"  load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after {after[0]:.2f} {after[1]:.2f} "
        f"{after[2]:.2f} (2 cores, shared)"
    )


class _Steps(logging.Handler):
    """The build's steps (analysis.build.step's log), with the process's peak memory when each ended."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.steps: list[tuple[str, float, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        name = getattr(record, "step", None)
        if name:
            seconds = getattr(record, "seconds", None)
            if seconds is None and isinstance(record.args, tuple):  # a build from before "seconds" was logged
                seconds = record.args[1]
            self.steps.append((name, float(seconds or 0.0), _peak()))


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def child(database: str, set_id: int) -> None:
    """Build set `set_id` as the background job does, in this fresh process; print one JSON line."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "abe_portal.settings")
    django.setup()
    from django.db import connection as db

    db.settings_dict["NAME"] = database  # the parent's scratch database
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from analysis import services
    from analysis.models import AnalysisSetRequest

    handler = _Steps()
    build_log = logging.getLogger("analysis.build")
    build_log.addHandler(handler)
    build_log.setLevel(logging.INFO)
    build_log.propagate = False
    started = time.perf_counter()
    services.build_set(set_id=set_id)
    seconds = time.perf_counter() - started
    peak = _peak()
    analysis_set = AnalysisSetRequest.objects.get(pk=set_id)
    files = []
    if analysis_set.file:
        with analysis_set.file.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                rows = None
                if info.filename.endswith(".parquet"):
                    with archive.open(info) as member:
                        rows = pq.ParquetFile(member).metadata.num_rows
                files.append((info.filename, rows, info.file_size, info.compress_size))
        analysis_set.file.storage.delete(analysis_set.file.name or "")
    print(
        json.dumps(
            {
                "status": f"{analysis_set.status} {analysis_set.message}".strip(),
                "steps": handler.steps,
                "seconds": seconds,
                "peak": peak,
                "rows": analysis_set.row_count or 0,
                "withheld": analysis_set.withheld or 0,
                "size": analysis_set.size or 0,
                "files": files,
            }
        )
    )


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]))
