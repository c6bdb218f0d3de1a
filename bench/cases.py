"""Case follow-up at full size (PostgreSQL): the inbox and the daily digest job.

Builds BENCH_CASES_RECORDS records (default 1,000,000) with three contacts each, assigned to
BENCH_CASES_USERS case workers (default 10,000) across the 12 demo provinces, in SQL (generate_series;
the audit triggers off for the generation only, as bench/summaries.py does), with a referral for one
case in a hundred and a coordinator and an agency user per province. Then it prints:
- the inbox (cases.selectors.inbox) of a case worker and of a coordinator: median ms of 5, queries;
- the daily job (cases.digest.run_daily) on a day in the life: what became overdue before today was
  flagged and mailed on the days before, so the run flags what became overdue since yesterday and
  mails every case worker with something unmailed (locmem mail backend): seconds, queries, mails.
Quick run: BENCH_CASES_RECORDS=100000 BENCH_CASES_USERS=1000 python -m bench cases.
"""

import os
import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from bench.sql import sql as _sql
from bench.sql import step as _step

RECORDS = int(os.environ.get("BENCH_CASES_RECORDS", "1000000"))
USERS = int(os.environ.get("BENCH_CASES_USERS", "10000"))
PROVINCES = [40, 32, 56, 52, 71, 24, 93, 94, 95, 73, 65, 63]
DOMAIN = "bench.abe-portal.local"


def _generate() -> None:
    from cases.models import AgencyType

    codes = "ARRAY[" + ",".join(str(p) for p in PROVINCES) + "]"
    _sql("TRUNCATE targets_targetrecord, cases_case, cases_notification, cases_agency CASCADE")
    _sql("SET session_replication_role = replica")
    try:
        _step(
            "users (case workers, coordinators, agency users)",
            f"""
            INSERT INTO accounts_user (password, is_superuser, first_name, last_name, is_staff, is_active, date_joined,
                email)
            SELECT '!', false, kind, n::text, false, true, now(), kind || '.' || n || '@{DOMAIN}'
            FROM (SELECT 'cw' AS kind, n FROM generate_series(1, %s) n
                  UNION ALL SELECT 'coord', p FROM unnest({codes}) p
                  UNION ALL SELECT 'nfe', p FROM unnest({codes}) p) people
            ON CONFLICT DO NOTHING
            """,  # noqa: S608 - numbers only
            [USERS],
        )
        bench_users = f"SELECT id FROM accounts_user WHERE email LIKE '%%@{DOMAIN}'"  # noqa: S608 - a constant
        _sql(f"DELETE FROM accounts_membership WHERE user_id IN ({bench_users})")  # noqa: S608
        nfe = AgencyType.objects.get(code="non-formal-education").pk
        _sql(
            f"""
            INSERT INTO cases_agency (province_id, type_id, district_id, name, contact_name, phone, email, is_active,
                is_demo, created_at)
            SELECT p, t.id, NULL, t.code || ' ' || p, '', '', '', true, false, now()
            FROM unnest({codes}) p, cases_agencytype t
            """  # noqa: S608
        )
        _step(
            "memberships",
            f"""
            INSERT INTO accounts_membership (user_id, role, province_id, university_id, agency_id, created_at)
            SELECT u.id,
                   CASE u.first_name WHEN 'cw' THEN 'case_worker' WHEN 'coord' THEN 'province_coordinator'
                        ELSE 'agency_user' END,
                   CASE u.first_name WHEN 'cw' THEN ({codes})[1 + u.last_name::int %% 12] ELSE u.last_name::int END,
                   NULL,
                   CASE u.first_name WHEN 'nfe' THEN (SELECT a.id FROM cases_agency a
                        WHERE a.province_id = u.last_name::int AND a.type_id = %s) END,
                   now()
            FROM accounts_user u WHERE u.email LIKE '%%@{DOMAIN}'
            """,  # noqa: S608
            [nfe],
        )
        _step(
            "records, assigned to the province's case workers",
            f"""
            WITH workers AS (
                SELECT m.province_id AS p, array_agg(m.user_id ORDER BY m.user_id) AS ids
                FROM accounts_membership m WHERE m.role = 'case_worker' GROUP BY m.province_id
            ), made AS (
                SELECT n, ({codes})[1 + n %% 12] AS p, now() - ((1 + n %% 200) || ' days')::interval AS at
                FROM generate_series(1, %s) n
            )
            INSERT INTO targets_targetrecord (version, identifier, identifier_kind, name_prefix, first_name, last_name,
                sex, birth_date, province_id, category_id, status_id, education_status, last_grade, school,
                guardian_name, phone, consent, notes, created_at, updated_at, is_demo, case_worker_id,
                case_assigned_at)
            SELECT 1, lpad((6000000000000 + n)::text, 13, '0'), 'national_id', '', 'ชื่อ' || n, 'สกุล',
                   CASE WHEN n %% 2 = 0 THEN 'M' ELSE 'F' END, date '2010-01-01' + (n %% 4000), made.p,
                   c.ids[1 + n %% array_length(c.ids, 1)], s.id, '', '', '', '', '', true, '', made.at, made.at,
                   false, w.ids[1 + (n / 12) %% array_length(w.ids, 1)], made.at + interval '2 hours'
            FROM made JOIN workers w ON w.p = made.p,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_category) c,
                 (SELECT id FROM targets_outcome WHERE code = 'in-follow-up') s
            """,  # noqa: S608
            [RECORDS],
        )
        # Three contacts evenly spread between the assignment and now; the first failed for one case in
        # five; every other case has a next contact's date. A tenth of the cases are closed.
        _step(
            "cases",
            """
            INSERT INTO cases_case (record_id, version, province_id, opened_at, first_contact_at, last_contact_at,
                next_contact_due, failed_attempts, due_on, closed_at, close_reason, close_note, updated_at)
            SELECT r.id, 1, r.province_id, r.case_assigned_at, r.case_assigned_at + (now() - r.case_assigned_at) / 4,
                   r.case_assigned_at + (now() - r.case_assigned_at) * 3 / 4,
                   CASE WHEN r.id %% 2 = 0 THEN ((r.case_assigned_at + (now() - r.case_assigned_at) * 3 / 4)
                        AT TIME ZONE %s)::date + 14 END,
                   (r.id %% 5 = 0)::int, NULL,
                   CASE WHEN r.id %% 10 = 0 THEN now() - interval '1 hour' END,
                   CASE WHEN r.id %% 10 = 0 THEN 'outcome_reached' ELSE '' END, '', now()
            FROM targets_targetrecord r WHERE r.case_worker_id IS NOT NULL
            """,
            ["Asia/Bangkok"],
        )
        _step(
            "contacts",
            """
            INSERT INTO cases_contact (case_id, kind, happened_at, reached, with_whom, findings, next_step, next_due,
                recorded_by_id, created_at, client_key)
            SELECT c.record_id, CASE j WHEN 1 THEN 'home_visit' WHEN 2 THEN 'phone' ELSE 'school_visit' END,
                   c.opened_at + (now() - c.opened_at) * j / 4, NOT (j = 1 AND c.record_id %% 5 = 0), '', '', '',
                   CASE WHEN j = 3 THEN c.next_contact_due END, NULL,
                   c.opened_at + (now() - c.opened_at) * j / 4 + interval '1 hour', NULL
            FROM cases_case c, generate_series(1, 3) j
            """,
        )
        _step(
            "referrals (one case in a hundred, to the province's กศน.)",
            """
            INSERT INTO cases_referral (version, case_id, agency_id, reason, services, deadline, share_identifier,
                state, decline_reason, outcome_id, feedback, sent_by_id, sent_at, answered_at, finished_at,
                status_applied)
            SELECT 1, c.record_id, m.agency_id, 'r', 's', (c.first_contact_at AT TIME ZONE 'Asia/Bangkok')::date + 30,
                   false, (ARRAY['sent', 'accepted', 'in_progress'])[1 + (c.record_id / 100) %% 3], '', NULL, '',
                   r.case_worker_id, c.first_contact_at + interval '1 day', NULL, NULL, false
            FROM cases_case c JOIN targets_targetrecord r ON r.id = c.record_id
                 JOIN accounts_membership m ON m.role = 'agency_user' AND m.province_id = c.province_id
            WHERE c.record_id %% 100 = 1 AND c.closed_at IS NULL
            """,
        )
    finally:
        _sql("SET session_replication_role = DEFAULT")
    from cases.digest import refresh_due_dates

    started = time.perf_counter()
    rows = refresh_due_dates()
    elapsed = time.perf_counter() - started
    print(f"  due dates (cases.digest.refresh_due_dates, one UPDATE): {rows:,} rows in {elapsed:.1f} s")
    # The days before: everything overdue before yesterday was flagged and mailed then.
    _step(
        "notifications of the days before (flagged and mailed)",
        """
        INSERT INTO cases_notification (user_id, kind, case_id, referral_id, created_at, read_at, emailed_at)
        SELECT r.case_worker_id, 'contact_overdue', c.record_id, NULL::bigint, c.due_on + time '07:00',
               NULL::timestamptz,
               c.due_on + time '07:01'
        FROM cases_case c JOIN targets_targetrecord r ON r.id = c.record_id
        WHERE c.closed_at IS NULL AND c.due_on < current_date - 1
        UNION ALL
        SELECT r.sent_by_id, 'referral_overdue', r.case_id, r.id, r.deadline + time '07:00', NULL::timestamptz,
               r.deadline + time '07:01'
        FROM cases_referral r WHERE r.deadline < current_date - 1
        UNION ALL
        SELECT m.user_id, 'referral_overdue', r.case_id, r.id, r.deadline + time '07:00', NULL::timestamptz,
               r.deadline + time '07:01'
        FROM cases_referral r JOIN accounts_membership m ON m.agency_id = r.agency_id
        WHERE r.deadline < current_date - 1
        """,
    )
    _step(
        "notifications since the last run (assigned this week, unmailed)",
        """
        INSERT INTO cases_notification (user_id, kind, case_id, referral_id, created_at, read_at, emailed_at)
        SELECT r.case_worker_id, 'assigned', r.id, NULL, r.case_assigned_at, NULL, NULL
        FROM targets_targetrecord r WHERE r.case_assigned_at > now() - interval '7 days'
        """,
    )
    for table in ("targets_targetrecord", "cases_case", "cases_contact", "cases_referral", "cases_notification",
                  "accounts_membership", "accounts_user"):  # fmt: skip
        _sql(f"VACUUM ANALYZE {table}")


def _inbox(user) -> tuple[float, int, int]:
    from cases.selectors import inbox

    times, queries, total = [], 0, 0
    for _ in range(5):
        user = type(user).objects.get(pk=user.pk)  # a fresh request: its scope is computed again
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            result = inbox(user)
            times.append(time.perf_counter() - started)
        queries, total = len(ctx.captured_queries), result.total
    return statistics.median(times) * 1000, queries, total


def _explain_slowest(user) -> None:
    """EXPLAIN ANALYZE of the inbox's slowest query, for a figure over the target."""
    from cases.selectors import inbox

    with CaptureQueriesContext(connection) as ctx:
        inbox(type(user).objects.get(pk=user.pk))
    slowest = max(ctx.captured_queries, key=lambda q: float(q["time"]))
    print(f"    slowest query ({float(slowest['time']) * 1000:.0f} ms): {slowest['sql'][:300]}")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + slowest["sql"])
        for (line,) in cursor.fetchall():
            print("      " + line)


def run() -> None:
    from accounts.models import User
    from cases.digest import run_daily
    from cases.models import Case, Contact, Notification
    from cases.reference_data import load_agency_types
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data

    if connection.vendor != "postgresql":
        print("skipped: the case follow-up benchmark needs PostgreSQL")
        return
    connection.autocommit = True
    load_admin_areas()
    load_target_reference_data()
    load_agency_types()
    print(f"building {RECORDS:,} records, {RECORDS * 3:,} contacts, {USERS:,} case workers:")
    started = time.perf_counter()
    _generate()
    print(
        f"built in {time.perf_counter() - started:.0f} s: {Case.objects.count():,} cases, "
        f"{Contact.objects.count():,} contacts"
    )

    worker = User.objects.filter(email=f"cw.12@{DOMAIN}").get()
    coordinator = User.objects.filter(email=f"coord.40@{DOMAIN}").get()
    agency_user = User.objects.filter(email=f"nfe.40@{DOMAIN}").get()
    for who, user in (("case worker", worker), ("coordinator (ขอนแก่น)", coordinator), ("agency user", agency_user)):
        ms, queries, total = _inbox(user)
        flag = "" if ms <= 50 and queries <= 10 else "  <-- over the target (50 ms, 10 queries)"
        print(f"inbox of the {who:<22}: {ms:7.1f} ms (median of 5), {queries} queries, {total:,} items{flag}")
        if ms > 50:
            _explain_slowest(user)

    waiting = Notification.objects.filter(emailed_at__isnull=True).values("user_id").distinct().count()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        from django.core import mail

        mail.outbox = []
        with CaptureQueriesContext(connection) as ctx:
            started, cpu = time.perf_counter(), time.process_time()
            result = run_daily(now=timezone.now())
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        sent = len(mail.outbox)
    assert result is not None
    flag = "" if elapsed <= 60 else "  <-- over the target (60 s)"
    print(
        f"daily job for {waiting:,} people with unmailed notifications: {elapsed:.1f} s ({cpu:.1f} s of this process's "
        f"CPU), {len(ctx.captured_queries)} "
        f"queries, {sent:,} mails; flagged {result.cases_flagged:,} cases and {result.referrals_flagged:,} referral "
        f"notifications, {result.due_dates:,} due dates changed{flag}"
    )
    started = time.perf_counter()
    again = run_daily(now=timezone.now())
    assert again is not None
    print(f"the same day again: {time.perf_counter() - started:.1f} s, {again.digests.sent} mails (idempotent)")
