"""The data-quality rules at national scale (PostgreSQL): `python -m bench quality`, or `python -m bench --keep
quality` (README.md, "Data quality rules"; the issue's limit: every default rule over 3,000,000 records in 60 s).

The records are bench/lists.py's (BENCH_LISTS_RECORDS, default 3,000,000, built by the same SQL and kept with
--keep), with their phones, consents and last names varied here, a case for each record being followed up and a
contact for two in three of them (reached or not), and open probable-duplicate pairs for one record in a thousand.
Then each default rule's count over every record (one query each, as quality.rules.records_with), and all of them
at once for the nation and for one province (quality.rules.counts: one query): seconds, and records found."""

import time

from django.db import connection

from bench.lists import PROVINCE, RECORDS, _build, _sql, _step

LIMIT_SECONDS = 60.0


def _vary() -> None:
    """What the rules look at, varied deterministically over the records (and undone by nothing: --keep reuses it)."""
    _sql("SET session_replication_role = replica")
    try:
        _step(
            "phones, consents and last names varied",
            """
            UPDATE targets_targetrecord SET
                phone = CASE WHEN id %% 10 = 0 THEN '' WHEN id %% 10 = 1 THEN '02123456' ELSE
                             '08' || lpad((id %% 100000000)::text, 8, '0') END,
                consent = id %% 7 <> 0,
                last_name = CASE WHEN id %% 50 = 0 THEN '' ELSE last_name END
            """,
        )
        _sql("DELETE FROM cases_contact")
        _sql("DELETE FROM cases_case")
        _step(
            "cases (every record being followed up)",
            """
            INSERT INTO cases_case (version, record_id, province_id, opened_at, failed_attempts, close_reason,
                                    close_note, updated_at)
            SELECT 1, r.id, r.province_id, r.created_at, 0, '', '', now()
            FROM targets_targetrecord r JOIN targets_outcome o ON o.id = r.status_id
            WHERE o.code IN ('in-follow-up', 'not-found')
            """,
        )
        _step(
            "contacts (two cases in three; one in four of them failed)",
            """
            INSERT INTO cases_contact (case_id, kind, happened_at, reached, with_whom, findings, next_step, created_at)
            SELECT record_id, 'home_visit', now() - ((record_id %% 90) || ' days')::interval, record_id %% 4 <> 0,
                   '', '', '', now()
            FROM cases_case WHERE record_id %% 3 <> 0
            """,
        )
        _sql("DELETE FROM duplicates_duplicatecandidate")
        _step(
            "open probable-duplicate pairs (one record in a thousand)",
            """
            INSERT INTO duplicates_duplicatecandidate (record_a_id, record_b_id, province_id, score, reasons, state,
                                                       found_at, last_seen_at)
            SELECT a.id, b.id, a.province_id, 0.9, '[]', 'open', now(), now()
            FROM targets_targetrecord a
            JOIN LATERAL (SELECT id FROM targets_targetrecord b WHERE b.province_id = a.province_id AND b.id > a.id
                          ORDER BY b.id LIMIT 1) b ON true
            WHERE a.id %% 1000 = 0
            """,
        )
    finally:
        _sql("SET session_replication_role = DEFAULT")
    for table in ("targets_targetrecord", "cases_case", "cases_contact", "duplicates_duplicatecandidate"):
        _sql(f"VACUUM ANALYZE {table}")


def run() -> None:
    from provinces.reference_data import load_admin_areas
    from quality.rules import active_rules, counts, records_with
    from targets.models import TargetRecord
    from targets.reference_data import load_target_reference_data

    if connection.vendor != "postgresql":
        print("skipped: the quality benchmark needs PostgreSQL")
        return
    connection.autocommit = True
    load_admin_areas()
    load_target_reference_data()
    have = TargetRecord.objects.count()
    if have == RECORDS:
        print(f"{have:,} records kept from an earlier run (--keep)")
    else:
        print(f"building {RECORDS:,} records over 77 provinces:")
        started = time.perf_counter()
        _build()
        print(f"built in {time.perf_counter() - started:.0f} s")
    _vary()
    rules = active_rules()
    total = 0.0
    print(f"each default rule over {RECORDS:,} records (one query each):")
    for rule in rules:
        started = time.perf_counter()
        found = records_with(TargetRecord.objects.all(), rule).count()
        elapsed = time.perf_counter() - started
        total += elapsed
        print(f"  {rule.code:34} {elapsed:6.2f} s  {found:>10,} records")
    verdict = "within" if total <= LIMIT_SECONDS else "OVER"
    print(f"  {'all rules':34} {total:6.2f} s  ({verdict} the {LIMIT_SECONDS:.0f} s limit)")
    for label, records in (
        ("every rule at once, national", TargetRecord.objects.all()),
        (
            f"every rule at once, province {PROVINCE} (its quality page)",
            TargetRecord.objects.filter(province_id=PROVINCE),
        ),
    ):
        started = time.perf_counter()
        counts(records, rules)
        print(f"  {label}: {time.perf_counter() - started:.2f} s (one query)")
