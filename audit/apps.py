from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from pghistory.apps import PGHistoryConfig


class AuditConfig(AppConfig):
    name = "audit"
    default = True  # the app's own config: this module holds another app's as well
    verbose_name = _("Audit trail and access log")

    def ready(self) -> None:
        from . import retention

        retention.register()


class HistoryConfig(PGHistoryConfig):
    """pghistory (INSTALLED_APPS names this instead of "pghistory"), with names a Thai admin can read: Django
    would call the app "Pghistory" and its page of every change (PGHISTORY_ADMIN_MODEL) "middleware events"."""

    verbose_name = _("Change history of all records")

    def ready(self) -> None:
        super().ready()
        from pghistory.models import MiddlewareEvents

        # Display names only: migrations read Meta as declared (_meta.original_attrs), so none is made for these.
        MiddlewareEvents._meta.verbose_name = _("change to any record")
        MiddlewareEvents._meta.verbose_name_plural = _("all changes, before and after")
