"""The audit trail: which models keep a history of every change, and who made it.

A tracked model gets PostgreSQL triggers (django-pghistory, django-pgtrigger) that copy the row
into an event table on every insert, update and delete, whatever wrote it: `save()`,
`QuerySet.update()`, `bulk_create()`, `bulk_update()`, `COPY` or raw SQL. Each event row is a
snapshot: "insert" and "update" events hold the values after the write, "delete" events the
values before it, so an update's before-values are the previous event of the same row.
The event tables are append-only (PGHISTORY_APPEND_ONLY, settings.py).

Who and where come from `pghistory.context`: `audit.middleware.HistoryMiddleware` sets the user and
URL for each request; management commands and Celery tasks use `audit.tracking.context(...)`.

On SQLite (the embedded default) there are no triggers, so no events are written: see README.md,
"Audit trail and access log".
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import pghistory
from django.db import connection, models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

ModelT = TypeVar("ModelT", bound=type[models.Model])

# Every event model lives in the audit app, so tracking a model never adds event tables to another
# app's migrations (the triggers themselves belong to the tracked model's table and app).
EVENT_APP_LABEL = "audit"


def track(
    *, exclude: Sequence[str] = (), model_name: str | None = None, statement_level: bool = False
) -> Callable[[ModelT], ModelT]:
    """Keep a history of every insert, update and delete of the decorated model.

    `@track()` on a model class (or on a proxy of it in audit/models.py) is pghistory.track with
    the project's defaults: full snapshots, the event model `<Model>Event` in the audit app.
    `exclude` names fields never copied into the history (secrets, fields that change on every
    login); a change to only those fields writes no event. `statement_level=True` uses statement
    triggers with transition tables: one INSERT ... SELECT per statement instead of one trigger call
    per row, for tables written in bulk (target-group records: a 100,000-row upload). Then run
    `manage.py makemigrations audit <app of the model>`.
    """

    def decorate(model: ModelT) -> ModelT:
        concrete = model._meta.concrete_model or model  # the model itself, or the model a proxy stands for
        name = model_name or f"{concrete.__name__}Event"
        return pghistory.track(
            pghistory.InsertEvent(),
            pghistory.UpdateEvent(),
            pghistory.DeleteEvent(),
            exclude=list(exclude),
            model_name=name,
            app_label=EVENT_APP_LABEL,
            # No reverse accessor on the tracked model: query `<Model>Event.objects.filter(pgh_obj=...)`.
            obj_field=pghistory.ObjForeignKey(related_name="+", related_query_name="+"),
            level=pghistory.Statement if statement_level else None,
            meta={
                "verbose_name": format_lazy(_("{model} event"), model=concrete._meta.verbose_name),
                "verbose_name_plural": format_lazy(_("{model} events"), model=concrete._meta.verbose_name),
            },
        )(model)

    return decorate


def event_model(model: type[models.Model]) -> Any:
    """The event model @track() made for `model` (audit.UniversityEvent, ..., targets' TargetRecordEvent).

    A class pghistory builds at run time, with the tracked model's fields and its own (pgh_obj, pgh_context, ...):
    no static type names them, hence Any.
    """
    return model.pgh_event_model  # type: ignore[attr-defined]  # pghistory.track sets it on the class


def history_is_recorded() -> bool:
    """True where the triggers exist: on PostgreSQL, never on the SQLite embedded default."""
    return connection.vendor == "postgresql"


@contextmanager
def context(**metadata: Any) -> Iterator[None]:
    """Label every audit event written inside the block, e.g. in a management command or task:

        with audit.tracking.context(command="load_demo_data"):
        with audit.tracking.context(task="targets.commit_upload", user=upload.uploaded_by_id):

    `user` is a user's id, as the middleware stores it (the admin pages look the user up by it).
    pghistory.context itself prefixes PostgreSQL-only SQL to every write, which breaks writes on
    SQLite; this one does nothing there (nothing is recorded on SQLite anyway).
    """
    if not history_is_recorded():
        yield
        return
    with pghistory.context(**metadata):
        yield
