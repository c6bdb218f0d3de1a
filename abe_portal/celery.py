"""The Celery app. Configuration comes from Django settings (CELERY_* names).

Worker:  celery -A abe_portal worker -l info
Beat:    celery -A abe_portal beat -l info
With REDIS_URL unset, settings make every task run in-process (eager), so the
embedded default needs no broker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "abe_portal.settings")

app = Celery("abe_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
