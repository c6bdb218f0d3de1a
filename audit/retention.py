"""The retention job and the access log's pruner.

`run()` calls every pruner registered in core.retention (each app registers its own from its
AppConfig.ready()), each in its own transaction or batches, one failing not stopping the others, and
stores what each did in an audit.RetentionRun that EEF/IPSR admins read in Django admin. It runs
nightly on Celery beat (audit.tasks.prune, RETENTION_HOUR) and with `python manage.py prune`.

The access log's rows older than RETENTION_ACCESS_LOG_DAYS are first archived, a gzip CSV written
to default_storage through the storage API (so it works on disk and on an object store alike), and
deleted only once the archive is stored, RETENTION batch by batch; the table's trigger refuses any
other DELETE (audit.models.AccessLog).
"""

import csv
import gzip
import io
import logging
import re
import tempfile
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import retention

from .models import ACCESS_LOG_MIN_DAYS, PRUNE_BEFORE_SETTING, AccessLog, RetentionRun

logger = logging.getLogger(__name__)

# PostgreSQL advisory lock of a run (one key, session level): two runs (beat and a command) never
# prune side by side; the second says so and stops.
RUN_LOCK_KEY = 0x0AB3_2E7E

ARCHIVE_COLUMNS = [
    "id",
    "created_at",
    "user_id",
    "actor",
    "action",
    "content_type_id",
    "object_id",
    "description",
    "count",
    "ip_address",
    "user_agent",
    "path",
]


def access_log_cutoff(now: datetime) -> datetime:
    days = max(settings.RETENTION_ACCESS_LOG_DAYS, ACCESS_LOG_MIN_DAYS)
    return now - timedelta(days=days)


def prune_access_log(now: datetime) -> retention.Pruned:
    """Archives the rows older than the cut-off to one gzip CSV in default_storage, then deletes
    them, RETENTION batch by batch (id ranges, each its own transaction)."""
    cutoff = access_log_cutoff(now)
    with tempfile.TemporaryFile() as raw:
        ranges = archive_access_log(cutoff, raw)
        if not ranges:
            return retention.Pruned(count=0)
        raw.seek(0)
        name = default_storage.save(
            f"{ARCHIVE_DIRECTORY}/access-log-before-{cutoff:%Y%m%d}-{now:%Y%m%dT%H%M%S}.csv.gz", File(raw)
        )
    return retention.Pruned(count=delete_access_log(cutoff, ranges), files=[name])


def archive_access_log(cutoff: datetime, raw) -> list[tuple[int, int]]:
    """Writes the rows older than `cutoff` as gzip CSV into the binary file `raw`, BATCH_SIZE rows
    at a time in id order; returns the id range of each batch (the delete works on the same ones).
    On PostgreSQL each batch is a COPY ... TO STDOUT (the database writes the CSV: ≈ 10 times the
    ORM's rate, `python -m bench retention`)."""
    # Rows are only ever inserted with the time of their insert, so no row older than the cut-off
    # can appear while this runs: the set archived is the set deleted.
    ranges: list[tuple[int, int]] = []
    # Level 6 (zlib's default): level 9, gzip's, costs far more time for little less size.
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as zipped:
        zipped.write((",".join(ARCHIVE_COLUMNS) + "\r\n").encode())
        last = 0
        while True:
            batch = _next_batch(cutoff, last)
            if batch is None:
                break
            _write_batch(zipped, cutoff, batch)
            ranges.append(batch)
            last = batch[1]
    return ranges


def _next_batch(cutoff: datetime, after: int) -> tuple[int, int] | None:
    """The id range of the next BATCH_SIZE expired rows after id `after` (None: none left)."""
    expired = AccessLog.objects.filter(created_at__lt=cutoff, id__gt=after).order_by("id").values_list("id", flat=True)
    first = expired.first()
    if first is None:
        return None
    # The BATCH_SIZE-th id, read from the primary key's index; the last batch ends at the last row.
    bound = expired[retention.BATCH_SIZE - 1 : retention.BATCH_SIZE].first()
    if bound is None:
        bound = expired.order_by("-id").first() or first
    return first, bound


def _write_batch(zipped: gzip.GzipFile, cutoff: datetime, batch: tuple[int, int]) -> None:
    low, high = batch
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Values bound by the client (mogrify); COPY takes no parameters.
            select = cursor.mogrify(
                f"SELECT {', '.join(ARCHIVE_COLUMNS)} FROM {AccessLog._meta.db_table}"  # noqa: S608
                " WHERE id BETWEEN %s AND %s AND created_at < %s ORDER BY id",
                [low, high, cutoff],
            )
            if isinstance(select, bytes):
                select = select.decode()
            # Into memory first (a batch is about 1.5 MB of CSV): one write to gzip, not one a row.
            buffer = io.BytesIO()
            cursor.copy_expert(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", buffer)
        zipped.write(buffer.getbuffer())
        return
    text = io.TextIOWrapper(zipped, encoding="utf-8", newline="")
    rows = AccessLog.objects.filter(id__range=batch, created_at__lt=cutoff).order_by("id")
    csv.writer(text).writerows(rows.values_list(*ARCHIVE_COLUMNS))
    text.flush()
    text.detach()


def delete_access_log(cutoff: datetime, ranges: list[tuple[int, int]]) -> int:
    """Deletes the archived rows, one transaction and one DELETE per id range."""
    count = 0
    for low, high in ranges:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Transaction-local: the trigger lets this transaction delete rows older than it.
                cursor.execute("SELECT set_config(%s, %s, true)", [PRUNE_BEFORE_SETTING, cutoff.isoformat()])
            cursor.execute(
                f"DELETE FROM {AccessLog._meta.db_table} WHERE id BETWEEN %s AND %s AND created_at < %s",  # noqa: S608
                [low, high, cutoff],
            )
            count += cursor.rowcount
    return count


ARCHIVE_DIRECTORY = "retention/access-log"
# access-log-before-<cut-off>-<written at>.csv.gz (prune_access_log); default_storage may add a suffix before .csv.gz.
_ARCHIVE_NAME = re.compile(r"^access-log-before-\d{8}-(\d{8}T\d{6})[^/]*\.csv\.gz$")


def prune_access_log_archives(now: datetime) -> int:
    """Deletes the access log's archives written more than RETENTION_ACCESS_LOG_ARCHIVE_DAYS ago (0, the default:
    kept until EEF decides). Storage API only (disk or an object store); a file whose name is not an archive's is
    left alone."""
    days = settings.RETENTION_ACCESS_LOG_ARCHIVE_DAYS
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    try:
        _, names = default_storage.listdir(ARCHIVE_DIRECTORY)
    except FileNotFoundError:
        return 0  # no archive written yet
    deleted = 0
    for name in sorted(names):
        match = _ARCHIVE_NAME.match(name)
        if match is None:
            continue
        written = datetime.strptime(match.group(1) + "+0000", "%Y%m%dT%H%M%S%z")  # the run's time, in UTC
        if written < cutoff:
            default_storage.delete(f"{ARCHIVE_DIRECTORY}/{name}")
            deleted += 1
    return deleted


def register() -> None:
    retention.register("access_log", _("access-log rows (archived, then deleted)"), prune_access_log, atomic=False)
    retention.register("access_log_archives", _("access-log archives"), prune_access_log_archives, atomic=False)


def _run_one(pruner: retention.Pruner, now: datetime) -> dict:
    result: dict = {"label": str(pruner.label), "count": 0, "files": [], "error": ""}
    try:
        if pruner.atomic:
            with transaction.atomic():
                pruned = retention.as_pruned(pruner.func(now))
        else:
            pruned = retention.as_pruned(pruner.func(now))
    except Exception as exc:  # one pruner's failure must not stop the others
        logger.exception("retention: pruner %s failed", pruner.name)
        result["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        return result
    result["count"] = pruned.count
    result["files"] = list(pruned.files)
    return result


def run(*, source: str, now: datetime | None = None) -> RetentionRun | None:
    """Runs every registered pruner; returns the run stored, or None if another run holds the lock."""
    now = now or timezone.now()
    locked = connection.vendor == "postgresql"
    if locked:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY])
            if not cursor.fetchone()[0]:
                logger.warning("retention: another run is under way; this one does nothing")
                return None
    try:
        record = RetentionRun.objects.create(started_at=timezone.now(), source=source)
        results = {pruner.name: _run_one(pruner, now) for pruner in retention.registered()}
        record.results = results
        record.total = sum(r["count"] for r in results.values())
        record.errors = sum(1 for r in results.values() if r["error"])
        record.finished_at = timezone.now()
        record.save(update_fields=["results", "total", "errors", "finished_at"])
        counts = {name: result["count"] for name, result in results.items()}
        logger.info("retention: removed %d (%s), %d failed", record.total, counts, record.errors)
        return record
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK_KEY])
