# gunicorn reads this file from the working directory (Dockerfile, docker-compose.yml). Every setting
# below can be changed by an environment variable (README.md, "Running at national scale").
import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers, one request each: a page is database and CPU work, not waiting on the network. The
# usual 2 × cores + 1 keeps the cores busy while some workers wait on PostgreSQL; WEB_CONCURRENCY
# (the variable gunicorn itself and most platforms use) overrides it, e.g. to fit a memory limit
# (a worker holds ≈ 150 MB) or PostgreSQL's connections (each worker keeps one, CONN_MAX_AGE).
# Unset, empty or 0: the default (docker-compose.yml passes 0 when the shell does not set it).
workers = _int("WEB_CONCURRENCY", 0) or 2 * multiprocessing.cpu_count() + 1
# A request that runs longer than this is killed and its worker replaced (the client gets 502). Heavy
# work (uploads over TARGETS_UPLOAD_INLINE_BYTES, summaries, large exports) is a Celery task, so a page
# needs seconds at most; 60 s leaves room for a small inline upload on a busy machine.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM (a deploy, `docker compose stop`) workers finish the requests they hold for this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds a kept-alive connection from the proxy in front waits for its next request. Keep it above the
# proxy's own idle timeout to the upstream (nginx: keepalive_timeout), or the proxy may reuse a connection
# gunicorn is closing.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Workers are replaced after this many requests (with jitter, so not all at once): memory a library
# keeps for ever is given back. 0 turns it off.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# Workers tell the arbiter they are alive through a file; on a container's disk (overlayfs) its writes can
# stall a worker past the timeout, so it goes to memory where there is some.
# gunicorn makes its files there with mkstemp (private, unique names).
_SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# The path without its query string (%(U)s): a query may carry a search for a national ID, and
# personal data never goes into logs.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
# gunicorn writes its access log outside Django's LOGGING: this logger masks national IDs, G-codes
# and the secrets of URL paths (a calendar feed's token, a password-reset key) in every atom of it,
# and in the error log (audit/gunicorn_logging.py).
logger_class = "audit.gunicorn_logging.RedactingLogger"
