"""A real Celery worker whose upload pipeline fails on purpose: a test-only wrapper, used by
tests/test_upload_lifecycle.py to make the failures that hostile files and bugs cause, on demand.

    UPLOAD_FAULT=abort  python tests/upload_fault_worker.py worker --pool=prefork -c 1 ...

UPLOAD_FAULT says what targets.upload.pipeline.run does:
  abort        the process aborts (SIGABRT), as when a parser asks for 512 GiB: the pool child dies
               and, its task being acks_late and reject_on_worker_lost, the message comes back;
  raise-check  the check raises an exception nobody foresaw (its text names a national ID);
  raise-apply  the apply writes every record, then raises the same.
The patch is made before the worker forks its pool, so every pool child inherits it. Everything
else is the project's real worker: its settings, broker, database and logging.
"""

import os
import resource
import sys
from pathlib import Path

# An aborted process leaves no core file behind in the project's folder.
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "abe_portal.settings")

import django  # noqa: E402

django.setup()

from targets.upload import pipeline  # noqa: E402

FAULT = os.environ["UPLOAD_FAULT"]
# A valid national ID in the exception's text: the log's filter must mask it (audit.redaction).
ID_IN_THE_ERROR = os.environ.get("UPLOAD_FAULT_ID", "")
real_run = pipeline.run


class PipelineBug(RuntimeError):
    pass


def faulty_run(batch, *, apply: bool, **kwargs):
    if FAULT == "abort":
        os.abort()
    if FAULT == "raise-check" and not apply:
        raise PipelineBug(f"a bug met in the row of {ID_IN_THE_ERROR}")
    report = real_run(batch, apply=apply, **kwargs)
    if FAULT == "raise-apply" and apply:
        raise PipelineBug(f"a bug met after writing the row of {ID_IN_THE_ERROR}")
    return report


pipeline.run = faulty_run

# The prefork pool notices a dead pool process by its sentinel, or else at its next upkeep, every 5
# seconds: now and then the crash loop's three deaths cost 15 s of waiting. Here the upkeep runs every
# half second; what the pool does with a dead process is unchanged.
from celery.concurrency.asynpool import AsynPool  # noqa: E402

AsynPool.timers = property(lambda pool: {pool.maintain_pool: 0.5})

from abe_portal.celery import app  # noqa: E402

app.worker_main(sys.argv[1:])
