"""The retention job over a large access log (`python -m bench retention`).

BENCH_RETENTION_ROWS (1,000,000) access-log rows three years old and a tenth as many young ones are
written in SQL (generate_series); then the access log's pruner (audit.retention) archives the old
ones to a gzip CSV in default_storage (a scratch folder) and deletes them in batches of
core.retention.BATCH_SIZE through the trigger's guarded DELETE. Printed: rows/s of the archive and
of the delete, the archive's size, and that the young rows are all still there.
"""

import os
import tempfile
import time

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection
from django.test import override_settings
from django.utils import timezone

ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "1000000"))


def _generate(old: int, young: int) -> None:
    with connection.cursor() as cursor:
        for count, age in ((old, "3 years"), (young, "1 day")):
            cursor.execute(
                """
                INSERT INTO audit_accesslog (actor, action, object_id, description, count, created_at,
                    ip_address, user_agent, path)
                SELECT 'coordinator' || (n %% 500) || '@example.org', 'view', (n %% 100000)::text,
                       'a record', 1, now() - %s::interval + (n || ' milliseconds')::interval,
                       '203.0.113.7', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', '/records/' || n || '/'
                FROM generate_series(1, %s) AS n
                """,
                [age, count],
            )


def run() -> None:
    from audit import retention as audit_retention
    from audit.models import AccessLog
    from core import retention

    connection.autocommit = True
    young = max(ROWS // 10, 1)
    started = time.perf_counter()
    _generate(ROWS, young)
    print(f"{ROWS:,} old + {young:,} young access-log rows written in {time.perf_counter() - started:.1f} s")
    now = timezone.now()
    cutoff = audit_retention.access_log_cutoff(now)
    with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
        with tempfile.TemporaryFile() as raw:
            started = time.perf_counter()
            ranges = audit_retention.archive_access_log(cutoff, raw)
            archive_s = time.perf_counter() - started
            size = raw.tell()
            raw.seek(0)
            started = time.perf_counter()
            name = default_storage.save("retention/bench.csv.gz", File(raw))
            store_s = time.perf_counter() - started
        started = time.perf_counter()
        deleted = audit_retention.delete_access_log(cutoff, ranges)
        delete_s = time.perf_counter() - started
        default_storage.delete(name)
    archived = ROWS  # every old row (the delete below removes exactly the archived set: asserted)
    print(f"batches of {retention.BATCH_SIZE:,} rows: {len(ranges)}")
    print(
        f"archive (read + gzip CSV): {archived:,} rows in {archive_s:.1f} s = {archived / archive_s:,.0f} rows/s, "
        f"{size / 1e6:.1f} MB ({size / max(archived, 1):.0f} bytes a row); stored in {store_s:.2f} s"
    )
    print(f"delete (guarded by the trigger): {deleted:,} rows in {delete_s:.1f} s = {deleted / delete_s:,.0f} rows/s")
    total = archive_s + store_s + delete_s
    print(f"the whole prune: {deleted / total:,.0f} rows/s ({total:.1f} s)")
    kept = AccessLog.objects.count()
    print(f"young rows kept: {kept:,} of {young:,}")
    assert kept == young
    assert deleted == ROWS
