"""The sync's log of changes in Django admin: read only, for EEF/IPSR admins (fieldwork/policies.py)."""

from django.contrib import admin

from accounts.admin_access import Access, ScopedModelAdmin

from .models import SyncedChange


@admin.register(SyncedChange)
class SyncedChangeAdmin(ScopedModelAdmin):
    view_access = Access.NATIONAL
    write_access = Access.NOBODY
    list_display = ("created_at", "user", "kind", "result", "record", "made_at")
    list_filter = ("kind", "result")
    list_select_related = ("user", "record")
    search_fields = ("key",)
    readonly_fields = (
        "key", "user", "kind", "record", "result", "response", "body_sha256", "made_at", "created_at",
    )  # fmt: skip
    fields = readonly_fields
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
