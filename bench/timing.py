"""Helpers for the benchmarks: the median of several runs, with the query count of the last."""

import statistics
import time
from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def measure(fn: Callable[[], object], *, runs: int = 3, setup: Callable[[], object] | None = None):
    """Run `fn` `runs` times (after `setup` each time); return (median seconds, queries of last run)."""
    times, queries = [], 0
    for _ in range(runs):
        if setup:
            setup()
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        queries = len(ctx.captured_queries)
    return statistics.median(times), queries
