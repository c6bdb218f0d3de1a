"""Read-only admin pages for the audit trail and the access log.

Nothing here can be added, changed or deleted, whoever asks: the event tables and the access log
are append-only in the database as well (audit/models.py, PGHISTORY_APPEND_ONLY).
"""

from typing import TYPE_CHECKING, Any

import pghistory.admin
import pghistory.models
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.access import can
from core import retention
from core.date_input import ADMIN_FORMFIELD_OVERRIDES
from core.paginator import CappedPaginator

from .models import AccessLog, IdentifierProbeDay, RetentionRun
from .tracking import history_is_recorded

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ReadOnlyAdminMixin:
    """Seen by EEF/IPSR admins (national scope, accounts.access), changed by nobody."""

    formfield_overrides = ADMIN_FORMFIELD_OVERRIDES  # never editable, but the same date input if ever shown

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "portal.national")

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return can(request.user, "portal.national")

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "content_type", "object_id", "count", "ip_address", "path")
    list_filter = ("action", "content_type")
    list_select_related = ("content_type",)
    search_fields = ("actor", "object_id", "path", "ip_address")
    date_hierarchy = "created_at"
    show_full_result_count = False  # the log grows without bound; skip the second COUNT(*)
    paginator = CappedPaginator  # and the one count stops at LIST_COUNT_CAP (core/paginator.py)
    show_facets = admin.ShowFacets.NEVER  # no count per filter choice over the whole log


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the retention job (audit.retention) removed each night: per kind how many, the archive
    it wrote, and the errors of a pruner that failed."""

    list_display = ("started_at", "source", "total", "summary", "errors", "finished_at")
    list_filter = ("source",)
    date_hierarchy = "started_at"
    fields = ("started_at", "finished_at", "source", "total", "errors", "details")
    readonly_fields = fields

    @staticmethod
    def _label(name: str, result: dict) -> str:
        # The registered label in the reader's language; the one stored by the run if gone since.
        labels = {pruner.name: pruner.label for pruner in retention.registered()}
        return str(labels.get(name, result.get("label", name)))

    @admin.display(description=_("removed, per kind"))
    def summary(self, obj: RetentionRun) -> str:
        return ", ".join(f"{self._label(name, r)}: {r.get('count', 0):,}" for name, r in obj.results.items())

    @admin.display(description=_("details"))
    def details(self, obj: RetentionRun) -> str:
        lines = []
        for name, result in obj.results.items():
            line = f"{self._label(name, result)}: {result.get('count', 0):,}"
            if result.get("files"):
                line += " · " + str(_("archive")) + ": " + ", ".join(result["files"])
            if result.get("error"):
                line += " · " + str(_("failed")) + ": " + result["error"]
            lines.append(line)
        return "\n".join(lines)


class FlaggedFilter(admin.SimpleListFilter):
    title = _("over the limit")
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, "StrOrPromise"]]:
        return [("yes", _("Yes, not reviewed")), ("reviewed", _("Yes, reviewed")), ("no", _("Within the limit"))]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.value() == "yes":
            return queryset.filter(flagged_at__isnull=False, reviewed_at__isnull=True)
        if self.value() == "reviewed":
            return queryset.filter(flagged_at__isnull=False, reviewed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(flagged_at__isnull=True)
        return queryset


@admin.register(IdentifierProbeDay)
class IdentifierProbeDayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who asked about identifiers recorded in provinces they cannot see, day by day (targets.id_probes).
    A flagged day went over TARGETS_ID_PROBE_DAILY_LIMIT: its answers were refused and the admins
    mailed. Each question is in the access log too (actions "told of / refused ... other provinces"),
    with its path. Admins mark a flagged day reviewed once they have looked into it; nothing else changes."""

    list_display = ("day", "actor", "asked", "answered", "flagged_at", "reviewed_by", "reviewed_at")
    list_filter = (FlaggedFilter, "day")
    list_select_related = ("reviewed_by",)
    search_fields = ("actor", "asker")
    date_hierarchy = "day"
    actions = ["mark_reviewed"]

    @admin.action(description=_("Mark the selected flagged days as reviewed"))
    def mark_reviewed(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        # Only EEF/IPSR admins reach this page (ReadOnlyAdminMixin).
        count = queryset.filter(flagged_at__isnull=False, reviewed_at__isnull=True).update(
            reviewed_by=request.user, reviewed_at=timezone.now()
        )
        self.message_user(
            request,
            ngettext("%(count)d day marked as reviewed.", "%(count)d days marked as reviewed.", count)
            % {"count": count},
        )


class EventAdmin(ReadOnlyAdminMixin, pghistory.admin.EventModelAdmin):
    """One tracked model's events: each row is the record as it was after an insert or update,
    or just before a delete. The previous row of the same object holds the before-values; the
    "Events" page of pghistory (PostgreSQL only) shows the two side by side.
    """

    list_display = ("pgh_created_at", "pgh_label", "pgh_obj_id", "changed_by", "url")
    list_select_related = ("pgh_context",)
    ordering = ("-pgh_id",)
    show_full_result_count = False
    paginator = CappedPaginator
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        # The user's email, looked up in the same query: the context holds only the user's id.
        # (pgh_ prefix: a tracked model may have a field named user.)
        user_id = Cast(KeyTextTransform("user", "pgh_context__metadata"), models.BigIntegerField())
        email = get_user_model().objects.filter(pk=models.OuterRef("pgh_user_id")).values("email")[:1]
        return (
            super()
            .get_queryset(request)
            .alias(pgh_user_id=user_id)
            .annotate(pgh_changed_by_email=models.Subquery(email))
        )

    # `event`: a row of an event model pghistory made (audit.tracking.event_model), with get_queryset's email.
    @admin.display(description=_("changed by"))
    def changed_by(self, event: Any) -> str:
        if event.pgh_changed_by_email:
            return event.pgh_changed_by_email
        # No user: a management command, a task or a database session outside the portal.
        metadata = event.pgh_context.metadata if event.pgh_context_id else {}
        return metadata.get("command") or metadata.get("task") or "-"

    @admin.display(description=_("URL"))
    def url(self, event: Any) -> str:
        return (event.pgh_context.metadata.get("url") if event.pgh_context_id else None) or "-"


# Every event model of the audit app (one per tracked model) gets its read-only page.
for event_model in apps.get_app_config("audit").get_models():
    if issubclass(event_model, pghistory.models.Event):
        admin.site.register(event_model, EventAdmin)


# pghistory's labels of a change (pgh_label), as the events page's filter offers them.
CHANGE_LABELS = {"insert": _("added"), "update": _("changed"), "delete": _("deleted")}


class ChangeLabelFilter(pghistory.admin.core.LabelFilter):
    """pghistory's filter by kind of change, in the reader's language (pghistory's own says "label", "insert")."""

    title = _("kind of change")  # type: ignore[assignment]  # pghistory's own title is a plain str

    def lookups(self, request, model_admin):
        return [(value, CHANGE_LABELS.get(value, value)) for value, _label in super().lookups(request, model_admin)]


class RecordTypeFilter(pghistory.admin.core.EventModelFilter):
    """pghistory's filter by event model, named by what each model records (pghistory shows class names)."""

    title = _("kind of record")  # type: ignore[assignment]  # pghistory's own title is a plain str

    def lookups(self, request, model_admin):
        choices = [(label, capfirst(apps.get_model(label)._meta.verbose_name_plural))
                   for label, _name in super().lookups(request, model_admin)]  # fmt: skip
        return sorted(choices, key=lambda choice: str(choice[1]))


class EventsAdmin(ReadOnlyAdminMixin, pghistory.admin.EventsAdmin):
    """pghistory's page of all events, each with its before/after values, user and URL
    (PGHISTORY_ADMIN_CLASS). Its query is PostgreSQL SQL; on the SQLite embedded default, where
    no events exist, the page lists nothing instead of failing. Its filters and columns speak the reader's language:
    pghistory's fields have no verbose names (and changing a field's would make a migration in pghistory's app).
    """

    show_full_result_count = False
    paginator = CappedPaginator

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        if not history_is_recorded():
            return self.model.no_objects.none()
        return super().get_queryset(request)

    def get_list_filter(self, request: HttpRequest) -> list:
        core = pghistory.admin.core
        own = {core.LabelFilter: ChangeLabelFilter, core.EventModelFilter: RecordTypeFilter}
        return [own.get(f, f) for f in super().get_list_filter(request)]

    def get_list_display(self, request: HttpRequest) -> list:
        return ["changed_at", "record_type", "record_id", "changes", "changed_by", "url"]

    @admin.display(description=_("when"), ordering="pgh_created_at")
    def changed_at(self, event: pghistory.models.MiddlewareEvents):
        return event.pgh_created_at

    @admin.display(description=_("kind of record"))
    def record_type(self, event: pghistory.models.MiddlewareEvents) -> str:
        try:  # the tracked model is audit's proxy of the domain model (audit.tracking): named as the latter
            return capfirst(apps.get_model(event.pgh_obj_model)._meta.concrete_model._meta.verbose_name)
        except (LookupError, ValueError, TypeError):  # a model removed since, or none
            return event.pgh_obj_model or "-"

    @admin.display(description=_("record number"))
    def record_id(self, event: pghistory.models.MiddlewareEvents) -> str:
        return event.pgh_obj_id or "-"

    @admin.display(description=_("changes (before, after)"))
    def changes(self, event: pghistory.models.MiddlewareEvents):
        return event.pgh_diff

    @admin.display(description=_("changed by"))
    def changed_by(self, event: pghistory.models.MiddlewareEvents) -> str:
        return str(event.user) if event.user else "-"

    @admin.display(description=_("URL"))
    def url(self, event: pghistory.models.MiddlewareEvents) -> str:
        return event.url or "-"
