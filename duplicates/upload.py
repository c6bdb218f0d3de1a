"""The upload's dry run asks here about its new rows (targets/upload/hooks.py, registered in duplicates/apps.py):
warnings beside the rows that look like a record already there, never rejections.

On PostgreSQL the chunk's question runs on a helper thread, over the thread's own connection (a check is not a
transaction, and the keys it reads are committed): the database compares the chunk's rows on one core while Python
reads and validates the next chunk on the other, and the pipeline collects the answers at the end (hooks.resolve).
Inside a transaction (tests; a caller's atomic block) the helper shares the check's connection instead (psycopg2 lets
threads share one, a statement at a time, as the upload's COPY thread does), the only one that sees the
transaction's rows."""

from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connection

from . import finder

# One thread for the process: checks in one process take turns on it (each its own connection).
_helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duplicate-warnings")


def warn_about_rows(batch, rows: list[dict]) -> list[dict] | Future:
    """Once per chunk of new rows: the province's keys brought up to date (records changed since its newest key;
    at the first chunk only), then the best probable duplicate of each row, in one query."""
    if not getattr(batch, "_duplicate_keys_fresh", False):  # once per check, not per chunk
        finder.refresh_province_keys(batch.province_id)
        batch._duplicate_keys_fresh = True
    new_rows = [
        finder.NewRow(
            row_number=row["row"],
            identifier_kind=row.get("identifier_kind", ""),
            name_prefix=row.get("name_prefix") or "",
            first_name=row.get("first_name") or "",
            last_name=row.get("last_name") or "",
            sex=row.get("sex") or "",
            birth_date=row.get("birth_date"),
            district_id=row.get("district_id"),
        )
        for row in rows
    ]
    if connection.vendor != "postgresql":
        return finder.warnings_for_rows(batch.province_id, new_rows)
    if not connection.in_atomic_block:
        # The keys are committed (refresh_province_keys): the helper asks over its own connection, on the other
        # core, while the check goes on over its own (a check is not a transaction: pipeline.run, apply=False).
        return _helper.submit(_on_own_connection, batch.province_id, new_rows)
    # Inside a transaction (a test; a caller's atomic block): only this connection sees what the transaction
    # wrote, so the helper shares it, a statement at a time.
    connection.ensure_connection()
    return _helper.submit(finder.warnings_for_rows, batch.province_id, new_rows, raw_connection=connection.connection)


def _on_own_connection(province_id: int, rows: list) -> list[dict]:
    """In the helper thread: Django's connection of that thread (its own), closed after the question (a few
    milliseconds to open again, against a question of a few hundred; no idle connection is left in a worker
    between uploads)."""
    try:
        return finder.warnings_for_rows(province_id, rows)
    finally:
        connection.close()
