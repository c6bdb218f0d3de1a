"""Summaries in Django admin: read-only. Runs are EEF/IPSR's, with "Compute a summary now"; snapshots
are scoped like the dashboards (Snapshot.objects.visible_to). Nobody edits figures: only
summaries.services.run_summary writes them."""

import json

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.access import can, require
from accounts.admin_access import Access, ScopedModelAdmin

from .models import Snapshot, SummaryRun
from .services import request_summary

COMPUTE_NOW = "compute_now"


@admin.register(SummaryRun)
class SummaryRunAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "fiscal_year",
        "trigger",
        "status",
        "as_of",
        "duration_ms",
        "query_count",
        "requested_by",
    )
    list_filter = ("status", "trigger", "fiscal_year")
    list_select_related = ("requested_by",)
    readonly_fields = (
        "fiscal_year",
        "trigger",
        "requested_by",
        "status",
        "created_at",
        "as_of",
        "duration_ms",
        "query_count",
        "error",
    )
    actions = [COMPUTE_NOW]

    def has_module_permission(self, request) -> bool:
        return can(request.user, "summaries.read_national")

    def has_view_permission(self, request, obj=None) -> bool:
        return can(request.user, "summaries.read_national")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Compute a summary now"))
    def compute_now(self, request, queryset) -> None:
        """Starts a new run (whatever runs were selected): the figures of the current fiscal year."""
        require(request.user, "summaries.run")
        request_summary(trigger=SummaryRun.Trigger.ON_DEMAND, user=request.user)
        self.message_user(request, gettext("A new summary is being computed."), messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        # Django runs an action only on selected rows; this one does not act on rows, so it may run
        # with none selected (an empty selection of no row, not "all").
        posted = request.method == "POST" and request.POST.get("action") == COMPUTE_NOW
        if posted and not request.POST.getlist(ACTION_CHECKBOX_NAME):
            post = request.POST.copy()
            post.setlist(ACTION_CHECKBOX_NAME, ["0"])
            request.POST = post
        return super().changelist_view(request, extra_context)


@admin.register(Snapshot)
class SnapshotAdmin(ScopedModelAdmin):
    """Anyone with a role reads the snapshots of their scope; nobody writes them."""

    view_access = Access.ROLE_HOLDERS
    write_access = Access.NOBODY
    list_display = ("as_of", "fiscal_year", "level", "province", "university", "run")
    list_filter = ("level", "fiscal_year")
    list_select_related = ("province", "university", "run")
    fields = ("run", "level", "province", "university", "fiscal_year", "as_of", "figures")
    readonly_fields = fields
    date_hierarchy = "as_of"
    show_full_result_count = False

    @admin.display(description=_("figures"))
    def figures(self, snapshot: Snapshot) -> str:
        return format_html(
            '<pre class="snapshot-figures">{}</pre>', json.dumps(snapshot.data, indent=2, ensure_ascii=False)
        )
