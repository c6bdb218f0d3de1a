"""The benchmarks' raw SQL helpers, one copy for every suite: a statement, its rows, and a timed step."""

import time

from django.db import connection


def sql(statement: str, params: list | None = None) -> int:
    """Runs one statement; the rows it touched (-1 where the database does not say)."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.rowcount


def rows(statement: str, params: list | None = None) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall()


def step(what: str, statement: str, params: list | None = None) -> int:
    """Runs one statement and prints its rows, seconds and rows/s (just the seconds when no row count is known)."""
    started = time.perf_counter()
    count = sql(statement, params)
    elapsed = time.perf_counter() - started
    rate = f", {count / elapsed:,.0f} rows/s" if count > 0 and elapsed > 0 else ""
    line = f"  {what}: {count:,} rows in {elapsed:.1f} s{rate}" if count >= 0 else f"  {what}: {elapsed:.1f} s"
    print(line, flush=True)
    return count
