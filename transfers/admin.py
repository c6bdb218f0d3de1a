"""Transfer requests in Django admin: EEF/IPSR read them, nobody edits them here (answers and moves go
through transfers.services, from the portal's pages or the API). Through the access door like every admin."""

from django.contrib import admin

from accounts.admin_access import Access, ScopedModelAdmin

from .models import TransferRequest


@admin.register(TransferRequest)
class TransferRequestAdmin(ScopedModelAdmin):
    # The holding side's and the requesting side's views differ (transfers/views.py); admin shows the
    # whole row, so it is for EEF/IPSR only.
    view_access = Access.NATIONAL
    write_access = Access.NOBODY
    list_display = ["pk", "state", "forced", "from_province", "to_province", "requested_at", "answered_at"]
    list_filter = ["state", "forced"]
    list_select_related = ["from_province", "to_province"]
    date_hierarchy = "requested_at"
    raw_id_fields = ["record", "requested_by", "answered_by"]
