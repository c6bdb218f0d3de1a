"""National scale (issue 15): a national dataset kept in a named database, and a bounded load test on it.

    python -m bench scale                 # build the dataset if it is missing, then the load test
    python -m bench scale --rebuild       # drop the dataset's database and build it again
    python -m bench scale --build-only    # build (or check) the dataset, no load test
    python -m bench scale --load-only     # the load test on the dataset as it is

The dataset lives in its own database on the server DATABASE_URL names (`--database`, default
`abe_scale`; BENCH_SCALE_DATABASE), kept between runs: building it takes minutes and the load test is
run again and again (after a merge, after a change). Every run migrates it first, so a new index of a
new migration is built on it. What it holds (README.md, "Running at national scale"):
- the 77 provinces' reference data, the demo support assignments (universities lead provinces);
- `--records` target-group records (3,000,000), spread over the 77 provinces, with valid national IDs,
  varied Thai names, districts and sub-districts of their province, created over five years;
- their status history (one change for each, a second for a third of them) and help given (a third);
- `--users` accounts (200): coordinators of the provinces, university team members, EEF admins, all with
  one password (printed), made through the ORM (the audit trail records them);
- five years of nightly summary runs (a real run over the records, its snapshots copied to every night);
- access-log rows (`--access-log`, 2,000,000: a year of 200 people's page views).
The bulk rows are made in SQL on the server (INSERT ... SELECT over generate_series, as bench/cases.py and
bench/summaries.py do: the data never crosses to Python, so it is as fast as COPY). The audit triggers
are off for the generation only (session_replication_role = replica), the large tables' secondary
indexes are dropped during their load and built again after it, then VACUUM ANALYZE. Each step prints
its rows and seconds, and the whole build its minutes.

The load test (bench/loadtest.py) starts gunicorn (gunicorn.conf.py, WEB_CONCURRENCY) on 127.0.0.1 against
this database and REDIS_URL, signs every user in through the real login form once, then runs the mix
for a fixed duration and prints p50/p95/p99 per page, errors, throughput and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from bench.sql import sql as _sql
from bench.sql import step as _step

DOMAIN = "scale.abe-portal.local"
PASSWORD = "scale-bench-password-7"  # noqa: S105 - the bench accounts' password, printed for the load test

# Common Thai given names and family names: 61 × 83 combinations, so a name search finds some hundreds
# of children, as a real one does, and trigram indexes see real Thai text.
FIRST_NAMES = (  # noqa: SIM905 - the names read better as Thai text
    "สมชาย สมศักดิ์ สมพร สมหญิง สุดา สุนทร สุภาพ อนันต์ อรุณ อัมพร กมล กาญจนา กิตติ เกศินี ขวัญใจ จันทร์เพ็ญ "
    "จิราพร ชัยวัฒน์ ชุติมา ณัฐพล ณัฐวุฒิ ดวงใจ ธนพล ธนากร ธิดารัตน์ นภา นงลักษณ์ นพดล บุญมี บุญช่วย ประเสริฐ "
    "ปรีชา ปิยะ พรทิพย์ พิมพ์ใจ ภานุ มณี มาลี ยุพิน รัตนา ลำดวน วรรณา วิชัย วีระ ศรีสุข ศิริพร สมบัติ สายสุนีย์ "
    "สุรชัย หทัย อภิชาติ อำนาจ เอกชัย ไพโรจน์ ทองดี แสงเดือน ปัณณวัฒน์ ภัทรา กัญญา ธีรภัทร วรเชษฐ์"
).split()
LAST_NAMES = (  # noqa: SIM905
    "ใจดี ศรีสุข แก้วมณี ทองคำ บุญมา สุขสวัสดิ์ วงศ์ใหญ่ พรหมมา ศรีวงศ์ จันทร์แก้ว สมบูรณ์ ประเสริฐศักดิ์ "
    "รัตนพันธ์ เพชรรัตน์ บุญเรือง มีสุข ทองประเสริฐ แสงทอง สายบุญ อินทร์แก้ว ชัยมงคล นาคสุข พึ่งบุญ ดวงดี "
    "คำแก้ว ทองมา ศรีบุญเรือง กาญจนวงศ์ สุวรรณศรี วิเศษสุข บุญยืน ผาสุข สิทธิชัย มั่นคง เจริญสุข ปัญญาดี "
    "ศักดิ์ดี รุ่งเรือง อ่อนศรี ทองสุข แก้วกาญจนา ธรรมสุข ภูมิใจ วัฒนา ศรีสมบูรณ์ ชูศรี บุญประเสริฐ คงเจริญ "
    "สุขประเสริฐ เรืองศรี ทิพย์มณี หอมจันทร์ บัวทอง ศรีประเสริฐ พันธ์ดี จันทร์หอม ทองใบ มณีวงศ์ สิงห์ทอง "
    "ยอดดี นิลสุวรรณ ปิ่นทอง กองแก้ว บุญศรี วงศ์สวัสดิ์ เพ็ชรสุข อุดมศักดิ์ สายทอง ลาภมาก ชัยศรี ดีมาก "
    "ทองสม คำมูล ไชยวงศ์ ปัญญาวงศ์ สีดา โพธิ์ทอง อินทร์ทอง ใจมั่น พรมมา"
).split()

DEFAULTS = {"records": 3_000_000, "users": 200, "access_log": 2_000_000, "years": 5}


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get("BENCH_SCALE_DATABASE", "abe_scale"),
                        help="the dataset's database, on DATABASE_URL's server (default abe_scale)")  # fmt: skip
    parser.add_argument("--rebuild", action="store_true", help="drop the dataset's database and build it again")
    parser.add_argument("--build-only", action="store_true", help="build or check the dataset; no load test")
    parser.add_argument("--load-only", action="store_true", help="the load test only (the dataset must exist)")
    parser.add_argument("--records", type=int, default=DEFAULTS["records"])
    parser.add_argument("--users", type=int, default=DEFAULTS["users"])
    parser.add_argument("--access-log", type=int, default=DEFAULTS["access_log"])
    parser.add_argument("--years", type=int, default=DEFAULTS["years"], help="years of nightly summaries")
    # The load test's own options (bench/loadtest.py).
    parser.add_argument("--duration", type=int, default=120, help="seconds of the measured mix (after log-in)")
    parser.add_argument("--think", type=float, nargs=2, default=[5.0, 15.0], metavar=("MIN", "MAX"),
                        help="seconds a user waits between pages, uniform (default 5 15)")  # fmt: skip
    parser.add_argument("--web-concurrency", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py's, from the cores)")  # fmt: skip
    parser.add_argument("--profile-only", action="store_true", help="the one-at-a-time profile, no load test")
    parser.add_argument("--skip", action="append", default=[], metavar="PAGE",
                        help="leave a page out of the mix, e.g. --skip search (the others without it)")  # fmt: skip
    parser.add_argument("--web-database-url", default=None,
                        help="gunicorn's DATABASE_URL (default: the dataset's), e.g. a pgbouncer")  # fmt: skip
    parser.add_argument("--web-env", action="append", default=[], metavar="NAME=VALUE",
                        help="another variable for gunicorn, e.g. DISABLE_SERVER_SIDE_CURSORS=1")  # fmt: skip
    parser.add_argument("--port", type=int, default=18900)
    parser.add_argument("--seed", type=int, default=15)
    return parser.parse_args(argv)


def _database_url(name: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench scale needs PostgreSQL: set DATABASE_URL to a postgres:// URL (its server is used)")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _create_database(url: str, *, rebuild: bool) -> bool:
    """Create the dataset's database (dropped first with rebuild); True if it was created."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.strip("/")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            exists = cursor.fetchone()
            if exists and rebuild:
                print(f"dropping database {name}")
                cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = None
            if not exists:
                cursor.execute(f'CREATE DATABASE "{name}"')
                return True
    finally:
        admin.close()
    return False


def main(argv: list[str]) -> None:
    args = _arguments(argv)
    url = _database_url(args.database)
    created = _create_database(url, rebuild=args.rebuild) if not args.load_only else False
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "abe_portal.settings")
    import django

    django.setup()
    from bench import loadtest

    print(f"dataset: database {args.database}{' (new)' if created else ''}; load average {loadtest.load_average()}")
    if not args.load_only:
        build(args)
    else:
        # The load test runs the code of this checkout: its migrations (a new table, an index) first.
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", "--noinput", verbosity=0)
        print(f"migrated in {time.perf_counter() - started:.1f} s")
    if not args.build_only:
        loadtest.run(database_url=url, args=args, password=PASSWORD, domain=DOMAIN)


# --- building ----------------------------------------------------------------------------------------------


@contextmanager
def _indexes_dropped(*tables: str) -> Iterator[None]:
    """Drop the tables' secondary indexes (not those of constraints) for a bulk load, build them after."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """,
            [list(tables)],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _name, definition in indexes:
                cursor.execute(definition)
        print(f"  {len(indexes)} indexes of {', '.join(tables)} built in {time.perf_counter() - started:.1f} s")


def _built(args: argparse.Namespace) -> str | None:
    """What the kept dataset says it holds, or None when it is not (fully) built."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_scale_built')")
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute("SELECT records, users, built_at, seconds FROM bench_scale_built")
        row = cursor.fetchone()
    if row is None or row[0] != args.records or row[1] != args.users:
        return None
    return f"{row[0]:,} records, {row[1]} users, built {row[2]:%Y-%m-%d %H:%M} UTC in {row[3] / 60:.1f} min"


def build(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", "--noinput", verbosity=0)  # a kept dataset gets every new migration (and index)
    print(f"migrated in {time.perf_counter() - started:.1f} s")
    kept = _built(args)
    if kept:
        print(f"dataset kept: {kept} (--rebuild builds it again)")
        return
    if _sql("SELECT 1 FROM targets_targetrecord LIMIT 1"):
        sys.exit("the dataset's database holds a partial or different dataset: run again with --rebuild")
    print(f"building: {args.records:,} records, {args.users} users, {args.access_log:,} access-log rows, "
          f"{args.years} years of nightly summaries")  # fmt: skip
    started = time.perf_counter()
    call_command("load_reference_data", verbosity=0)
    from portal.demo.provinces import load_demo_assignments

    load_demo_assignments()
    _users(args.users)
    connection.set_autocommit(True)  # VACUUM and the index builds run outside a transaction
    _sql("SET session_replication_role = replica")  # the audit triggers, for the generation only
    try:
        _records(args.records)
        _access_log(args.access_log)
    finally:
        _sql("SET session_replication_role = DEFAULT")
    for table in ("targets_targetrecord", "targets_statuschange", "targets_assistance", "audit_accesslog"):
        started_vacuum = time.perf_counter()
        _sql(f"VACUUM ANALYZE {table}")
        print(f"  VACUUM ANALYZE {table}: {time.perf_counter() - started_vacuum:.1f} s")
    _summaries(args.years)
    seconds = time.perf_counter() - started
    _sql("CREATE TABLE IF NOT EXISTS bench_scale_built (records bigint, users int, built_at timestamp, seconds float)")
    _sql("DELETE FROM bench_scale_built")
    _sql(
        "INSERT INTO bench_scale_built VALUES (%s, %s, now() AT TIME ZONE 'UTC', %s)",
        [args.records, args.users, seconds],
    )
    size = _sql_value("SELECT pg_size_pretty(pg_database_size(current_database()))")
    print(f"dataset built in {seconds / 60:.1f} min ({seconds:.0f} s); database size {size}")


def _sql_value(statement: str, params: list | None = None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchone()[0]


def _users(count: int) -> None:
    """Coordinators of provinces (3 in 4), university team members (1 in 8), EEF admins (the rest)."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from accounts.models import Membership, Role, User
    from provinces.models import Province
    from universities.models import University

    started = time.perf_counter()
    provinces = list(Province.objects.order_by("code").values_list("pk", flat=True))
    universities = list(University.objects.order_by("code").values_list("pk", flat=True))
    password = make_password(PASSWORD)  # one real hash: signing in costs what it costs in production
    coordinators = count * 3 // 4
    members = count // 8
    with transaction.atomic():
        users, memberships = [], []
        for n in range(count):
            if n < coordinators:
                kind, role = "coord", Role.PROVINCE_COORDINATOR
                scope = {"province_id": provinces[n % len(provinces)]}
            elif n < coordinators + members:
                kind, role = "uni", Role.UNIVERSITY_MEMBER
                scope = {"university_id": universities[n % len(universities)]}
            else:
                kind, role = "eef", Role.EEF_ADMIN
                scope = {}
            user = User(email=f"{kind}.{n}@{DOMAIN}", password=password, first_name=kind, last_name=str(n))
            users.append(user)
            memberships.append((user, role, scope))
        User.objects.bulk_create(users)
        Membership.objects.bulk_create(Membership(user=u, role=r, **scope) for u, r, scope in memberships)
    print(f"  users: {count} ({coordinators} coordinators, {members} university members, "
          f"{count - coordinators - members} EEF admins) in {time.perf_counter() - started:.1f} s")  # fmt: skip


def _thai_array(names: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + n.replace("'", "") + "'" for n in names) + "]"


def _records(total: int) -> None:
    check = " + ".join(f"substr(b, {i}, 1)::int * {14 - i}" for i in range(1, 13))
    first, last = _thai_array(FIRST_NAMES), _thai_array(LAST_NAMES)
    with _indexes_dropped("targets_targetrecord"):
        _step(
            "records (77 provinces, valid national IDs, Thai names, sub-districts of their province)",
            f"""
            WITH areas AS (
                SELECT d.province_id AS p, array_agg(s.code ORDER BY s.code) AS subs,
                       array_agg(s.district_id ORDER BY s.code) AS dists
                FROM provinces_subdistrict s JOIN provinces_district d ON d.code = s.district_id GROUP BY d.province_id
            ), provinces AS (SELECT array_agg(code ORDER BY code) AS codes FROM provinces_province)
            INSERT INTO targets_targetrecord (version, identifier, identifier_kind, name_prefix, first_name,
                last_name, sex, birth_date, province_id, district_id, sub_district_id, category_id, status_id,
                education_status, last_grade, school, guardian_name, phone, consent, notes, created_at, updated_at,
                is_demo)
            SELECT 1, x.b || ((11 - ({check}) %% 11) %% 10)::text, 'national_id',
                   CASE WHEN n %% 2 = 0 THEN 'ด.ช.' ELSE 'ด.ญ.' END,
                   ({first})[1 + n %% {len(FIRST_NAMES)}], ({last})[1 + (n / {len(FIRST_NAMES)}) %% {len(LAST_NAMES)}],
                   CASE WHEN n %% 2 = 0 THEN 'M' ELSE 'F' END,
                   CASE WHEN n %% 17 = 0 THEN NULL ELSE date '2006-01-01' + (n::bigint * 7919 %% 6500)::int END,
                   x.p, a.dists[1 + n %% array_length(a.subs, 1)], a.subs[1 + n %% array_length(a.subs, 1)],
                   c.ids[1 + n %% array_length(c.ids, 1)], s.ids[1 + (n / 7) %% array_length(s.ids, 1)],
                   '', '', '', '', '', n %% 3 <> 0, '', x.at, x.at + ((n %% 30) || ' days')::interval, false
            FROM generate_series(1, %s) AS n
                 CROSS JOIN provinces pv
                 CROSS JOIN LATERAL (
                     SELECT lpad((110000000000 + n * 7)::text, 12, '0') AS b,
                            pv.codes[1 + (n * 31) %% array_length(pv.codes, 1)] AS p,
                            now() - interval '30 days' - ((n * 7 %% 1800) || ' days')::interval AS at
                 ) x
                 JOIN areas a ON a.p = x.p,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_category) c,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_outcome) s
            """,  # noqa: S608 - numbers and the constant name lists only
            [total],
        )
    with _indexes_dropped("targets_statuschange"):
        # The first status when the record came (from none), and for a third of them an earlier status
        # before the current one: the history ends in the record's status.
        _step(
            "status history",
            """
            INSERT INTO targets_statuschange (record_id, from_status_id, to_status_id, changed_at, changed_by_id,
                upload_id)
            SELECT r.id, NULL::bigint, CASE WHEN r.id %% 3 = 0 THEN s.first ELSE r.status_id END, r.created_at,
                   NULL::bigint, NULL::bigint
            FROM targets_targetrecord r, (SELECT min(id) AS first FROM targets_outcome) s
            UNION ALL
            SELECT r.id, s.first, r.status_id, r.updated_at, NULL::bigint, NULL::bigint
            FROM targets_targetrecord r, (SELECT min(id) AS first FROM targets_outcome) s WHERE r.id %% 3 = 0
            """,
        )
    with _indexes_dropped("targets_assistance"):
        _step(
            "help given (a third of the records; one in nine twice)",
            """
            INSERT INTO targets_assistance (record_id, type_id, date, given_by, outcome, created_at, recorded_by_id)
            SELECT r.id, t.ids[1 + (r.id + j) %% array_length(t.ids, 1)],
                   (r.created_at AT TIME ZONE 'Asia/Bangkok')::date + 7 * j, 'อบต.', '', r.created_at, NULL
            FROM targets_targetrecord r, (SELECT array_agg(id ORDER BY id) AS ids FROM targets_assistancetype) t,
                 generate_series(1, 2) j
            WHERE r.id %% 3 = 1 AND (j = 1 OR r.id %% 9 = 1)
            """,
        )


def _access_log(total: int) -> None:
    """A year of page views by the bench users: lists of records (a count) and single records."""
    from django.contrib.contenttypes.models import ContentType

    from targets.models import TargetRecord

    record_type = ContentType.objects.get_for_model(TargetRecord).pk
    with _indexes_dropped("audit_accesslog"):
        _step(
            "access log (a year of views)",
            f"""
            WITH people AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(email ORDER BY id) AS emails
                            FROM accounts_user WHERE email LIKE '%%@{DOMAIN}'),
                 top AS (SELECT max(id) AS m FROM targets_targetrecord)
            INSERT INTO audit_accesslog (user_id, actor, action, content_type_id, object_id, description, count,
                created_at, ip_address, user_agent, path)
            SELECT p.ids[1 + n %% array_length(p.ids, 1)], p.emails[1 + n %% array_length(p.ids, 1)], 'view',
                   %s, CASE WHEN n %% 4 = 0 THEN '' ELSE (1 + n * 13 %% top.m)::text END,
                   CASE WHEN n %% 4 = 0 THEN 'records list' ELSE '' END, CASE WHEN n %% 4 = 0 THEN 50 ELSE 1 END,
                   now() - ((n %% 525600) || ' minutes')::interval, '10.0.0.1'::inet + (n %% 250), 'Mozilla/5.0',
                   CASE WHEN n %% 4 = 0 THEN '/records/' ELSE '/records/' || (1 + n * 13 %% top.m) || '/' END
            FROM generate_series(1, %s) n, people p, top
            """,  # noqa: S608 - a constant domain
            [record_type, total],
        )


def _summaries(years: int) -> None:
    """One real summary run over the records, then its snapshots copied to every night of `years` years."""
    from core.buddhist_dates import current_fiscal_year
    from summaries.models import SummaryRun
    from summaries.services import run_summary

    started = time.perf_counter()
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run = run_summary(run_id=run.pk)
    print(f"  summary run over the records: {time.perf_counter() - started:.1f} s, {run.query_count} queries")
    nights = years * 365
    # Every night before tonight: a done run, dated, of its fiscal year (October starts the next one).
    _step(
        f"summary runs ({years} years of nights)",
        """
        INSERT INTO summaries_summaryrun (fiscal_year, trigger, status, created_at, as_of, duration_ms, query_count,
            error, requested_by_id)
        SELECT EXTRACT(YEAR FROM d)::int + 543 + (EXTRACT(MONTH FROM d) >= 10)::int, 'schedule', 'done', d, d,
               r.duration_ms, r.query_count, '', NULL
        FROM summaries_summaryrun r, generate_series(1, %s) k,
             LATERAL (SELECT r.as_of - (k || ' days')::interval AS d) dd
        WHERE r.id = %s
        """,
        [nights, run.pk],
    )
    with _indexes_dropped("summaries_snapshot"):
        _step(
            "snapshots of those nights (national, 77 provinces, 8 universities each)",
            """
            INSERT INTO summaries_snapshot (run_id, level, province_id, university_id, fiscal_year, as_of, data, schema)
            SELECT n.id, s.level, s.province_id, s.university_id, n.fiscal_year, n.as_of, s.data, s.schema
            FROM summaries_summaryrun n, summaries_snapshot s
            WHERE n.id <> %s AND n.trigger = 'schedule' AND s.run_id = %s
            """,
            [run.pk, run.pk],
        )
    _sql("VACUUM ANALYZE summaries_snapshot")
    _sql("VACUUM ANALYZE summaries_summaryrun")
