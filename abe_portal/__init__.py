# Load the Celery app whenever Django starts, so that @shared_task binds to it
# (the worker, `manage.py` and the web process all see the same configuration).
from .celery import app as celery_app

__all__ = ("celery_app",)
