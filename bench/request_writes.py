"""Writes and milliseconds per page view (`python -m bench requests`), before and after issue 15's
"less writing per request".

"before" runs the same code with the settings of before: SESSION_SAVE_EVERY_REQUEST on and the
middleware list without SessionRefreshMiddleware and AccessLogMiddleware (each access-log entry
written at once, its own INSERT). "after" is the portal as configured. For each page (a record's
page, the records list, an upload's page, which logs two entries) a signed-in viewer asks it
BENCH_REQUEST_VIEWS times after a warm-up; the modes alternate in rounds, so that both see the same
machine. Printed per page: the median ms per view, the write statements (INSERT, UPDATE, DELETE)
per view, the transactions that wrote (each a commit: a WAL flush), and all queries per view
(BEGIN and COMMIT included). Over a longer visit "after" also writes the session once per
SESSION_REFRESH_SECONDS (a minute): at most one UPDATE a minute per signed-in user.
"""

import os
import re
import statistics
import time

from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

VIEWS = int(os.environ.get("BENCH_REQUEST_VIEWS", "100"))
ROUNDS = 3
PROVINCE = 40
# pghistory's middleware prefixes a write with its context (SELECT set_config(...); INSERT ...).
WRITE = re.compile(r'(^|;)\s*(INSERT INTO|UPDATE "|DELETE FROM)', re.IGNORECASE)


def _before_settings():
    middleware = [
        m
        for m in settings.MIDDLEWARE
        if m not in ("accounts.middleware.SessionRefreshMiddleware", "audit.middleware.AccessLogMiddleware")
    ]
    return override_settings(MIDDLEWARE=middleware, SESSION_SAVE_EVERY_REQUEST=True)


def _setup():
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Role
    from portal.demo.provinces import load_demo_assignments
    from provinces.models import Province
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data
    from targets.upload.services import receive_upload, start_check
    from tests.api_support import make_records
    from tests.builders import national_id, xlsx
    from universities.reference_data import load_universities

    load_admin_areas()
    load_universities()
    load_target_reference_data()
    load_demo_assignments()
    records = make_records(PROVINCE, 2000, start=7_000_000)
    user = get_user_model().objects.create_user("bench.requests@example.org", "not-used-Bench-9x")
    Membership.objects.create(user=user, role=Role.PROVINCE_COORDINATOR, province_id=PROVINCE)
    # An upload whose page shows rejected rows and changes to records: two access-log entries.
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"]
    rows = [[records[i].identifier, f"ใหม่{i}", "ทดสอบ", "out-of-school"] for i in range(5)]
    rows += [[national_id(9_000_000 + i)[:-1] + "0", "ผิด", "ผิด", "out-of-school"] for i in range(5)]
    batch = receive_upload(user=user, province=Province.objects.get(code=PROVINCE), uploaded_file=xlsx(header, rows))
    start_check(batch=batch, user=user)
    return user, records[0], batch


def _commits(queries: list[dict]) -> int:
    """Transactions that wrote: each COMMIT, and each write made in autocommit (outside BEGIN)."""
    commits, open_tx = 0, False
    for query in queries:
        sql = query["sql"].strip().upper()
        if sql == "BEGIN":
            open_tx = True
        elif sql in ("COMMIT", "ROLLBACK"):
            commits += sql == "COMMIT"
            open_tx = False
        elif not open_tx and WRITE.search(query["sql"]):
            commits += 1
    return commits


def _views(client: Client, url: str) -> tuple[list[float], int, int, int]:
    times, writes, queries, commits = [], 0, 0, 0
    for _ in range(VIEWS):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
        queries += len(ctx.captured_queries)
        writes += sum(1 for q in ctx.captured_queries if WRITE.search(q["sql"]))
        commits += _commits(ctx.captured_queries)
    return times, writes, queries, commits


def run() -> None:
    user, record, batch = _setup()
    pages = {
        "record page": f"/records/{record.pk}/",
        "records list": "/records/",
        "upload page (2 log entries)": f"/uploads/{batch.pk}/",
    }
    results: dict[tuple[str, str], list] = {}
    with override_settings(ALLOWED_HOSTS=["*"], DEBUG=False):
        _measure(user, pages, results)
    _report(pages, results)


def _measure(user, pages: dict[str, str], results: dict) -> None:
    for _round in range(ROUNDS):
        for mode in ("before", "after"):
            context = _before_settings() if mode == "before" else override_settings()
            with context:
                client = Client()
                client.force_login(user)
                for name, url in pages.items():
                    client.get(url)  # warm-up: the session's stamp, the process's caches
                    times, writes, queries, commits = _views(client, url)
                    entry = results.setdefault((name, mode), [[], 0, 0, 0])
                    entry[0].extend(times)
                    entry[1] += writes
                    entry[2] += queries
                    entry[3] += commits


def _report(pages: dict[str, str], results: dict) -> None:
    from audit.models import AccessLog

    total = VIEWS * ROUNDS
    print(f"{total} views per page and mode ({ROUNDS} alternating rounds of {VIEWS}), median ms per view")
    print(f"{'page':30} {'mode':7} {'ms':>7} {'writes/view':>12} {'commits/view':>13} {'queries/view':>13}")
    for name in pages:
        for mode in ("before", "after"):
            times, writes, queries, commits = results[name, mode]
            print(
                f"{name:30} {mode:7} {statistics.median(times) * 1000:7.1f} {writes / total:12.2f}"
                f" {commits / total:13.2f} {queries / total:13.2f}"
            )
    print(f"access-log rows written: {AccessLog.objects.count():,} (every view logged in both modes)")
