"""The sync's log of changes in Django admin: read only, for EEF/IPSR admins, like the audit trail it belongs with
(audit.admin.ReadOnlyAdminMixin)."""

from django.contrib import admin

from audit.admin import ReadOnlyAdminMixin

from .models import SyncedChange


@admin.register(SyncedChange)
class SyncedChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "result", "record", "made_at")
    list_filter = ("kind", "result")
    list_select_related = ("user", "record")
    search_fields = ("key",)
    date_hierarchy = "created_at"
    show_full_result_count = False  # the log grows with every sync; skip the second COUNT(*)
    readonly_fields = (
        "key", "user", "kind", "record", "result", "response", "body_sha256", "made_at", "created_at",
    )  # fmt: skip
    fields = readonly_fields
