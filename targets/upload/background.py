"""The embedded default's background jobs (REDIS_URL unset: no broker, no Celery worker).

The check of a big file and every apply run on a thread of the web process, so that the request that
starts one answers at once and its page follows the progress (the cache is the process's own, so the
bar moves). Each job opens its own database connection and closes it when it ends; the job itself
(targets.upload.services) counts its attempt and ends checked, applied or failed, whatever it raises.
Jobs take turns on SQLite (one writer at a time); on PostgreSQL two run at once, so that two
provinces' applies go side by side. A job cut off by a stopped server is restarted by its upload's
page (targets/upload/views.py), as the sweeper would.

settings.TARGETS_UPLOAD_BACKGROUND_THREAD = False runs each job in the caller's thread instead, as
the test suite does (conftest.py): its tests' rows are in a transaction no other connection sees.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection, connections

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_pending: set[Future[None]] = set()


def submit(job: Callable[[], None]) -> Future[None] | None:
    """Run `job` on the background thread; None when it ran here (TARGETS_UPLOAD_BACKGROUND_THREAD off)."""
    if not settings.TARGETS_UPLOAD_BACKGROUND_THREAD:
        job()
        return None
    future = _pool().submit(_run, job)
    with _executor_lock:
        _pending.add(future)
    future.add_done_callback(_forget)
    return future


def _forget(future: Future[None]) -> None:
    with _executor_lock:
        _pending.discard(future)


def _pool() -> ThreadPoolExecutor:
    global _executor  # one pool per process, made on first use
    with _executor_lock:
        if _executor is None:
            workers = 2 if connection.vendor == "postgresql" else 1
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload-job")
        return _executor


def _run(job: Callable[[], None]) -> None:
    try:
        job()
    except Exception:  # the job recorded its state; what escaped it goes to the log, not to a dead thread
        logger.exception("a background upload job stopped with an error")
    finally:
        connections.close_all()  # this thread's connections: a thread's job leaves none open


def wait_for_all(timeout: float | None = None) -> None:
    """Wait until every job submitted so far has ended (tests; the benchmark)."""
    with _executor_lock:
        pending = list(_pending)
    _, not_done = wait(pending, timeout)
    if not_done:
        raise TimeoutError(f"{len(not_done)} background upload job(s) still running")
