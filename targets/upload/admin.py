"""Uploads in Django admin: a province's uploads and a read-only view of each, with links to the upload
pages, which call the one pipeline (targets.upload.services); admin writes nothing here. Failures
admins should look at stand out in red, with a "why it failed" filter.

Registered from targets/upload/urls.py (see the comment there), not from targets/admin.py.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_access import Access, ScopedModelAdmin
from audit.access_log import record_access
from audit.models import AccessLog
from targets.models import UploadBatch

REJECTIONS_SHOWN = 20


@admin.register(UploadBatch)
class UploadBatchAdmin(ScopedModelAdmin):
    # Uploads hold personal data: seen by those who may write the province (its coordinators, EEF),
    # the same rule as the upload pages; nobody adds, changes or deletes them here.
    view_access = Access.PROVINCE_WRITERS
    write_access = Access.NOBODY
    change_list_template = "admin/targets/uploadbatch/change_list.html"
    list_display = (
        "original_name",
        "province",
        "status_shown",
        "rows_total",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "uploaded_by",
        "created_at",
        "page_link",
    )
    list_select_related = ("province", "uploaded_by")
    list_filter = ("status", "failure")
    ordering = ("-created_at", "-pk")
    fields = (
        "page_link",
        "province",
        "original_name",
        "status_shown",
        "failure",
        "uploaded_by",
        "created_at",
        "checked_at",
        "confirmed_by",
        "api_key",
        "applied_at",
        "queued_at",
        "started_at",
        "attempts",
        "restarted_at",
        "file_pruned_at",
        "rows_total",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "error",
        "rejections_shown",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return UploadBatch.objects.writable_by(request.user).defer("preview")

    def _writable(self, request, obj) -> bool:
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, obj: UploadBatch) -> str:
        label = obj.get_status_display()
        if obj.failure in (UploadBatch.Failure.ERROR, UploadBatch.Failure.GAVE_UP):
            # An inline style: admin has no stylesheet of ours (CSP allows style attributes).
            return format_html('<strong style="color:#ba2121">{} ({})</strong>', label, obj.get_failure_display())
        return label

    @admin.display(description=_("upload page"))
    def page_link(self, obj: UploadBatch) -> str:
        return format_html('<a href="{}">{}</a>', reverse("uploads:detail", args=[obj.pk]), gettext("Open"))

    @admin.display(description=_("rejected rows"))
    def rejections_shown(self, obj: UploadBatch) -> str:
        rejections = list(obj.rejections.order_by("row_number", "pk")[: REJECTIONS_SHOWN + 1])
        if not rejections:
            return "–"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.row_number, r.column, r.reason) for r in rejections[:REJECTIONS_SHOWN]),
        )
        more = ""
        if len(rejections) > REJECTIONS_SHOWN:
            more = format_html(
                '<p><a href="{}">{}</a></p>',
                reverse("uploads:detail", args=[obj.pk]),
                gettext("All rejected rows on the upload page"),
            )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>{}",
            gettext("Row"),
            gettext("Column"),
            gettext("Reason"),
            rows,
            more,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = (getattr(response, "context_data", None) or {}).get("original")
        if response.status_code == 200 and original is not None and original.rejected:
            # The rejected rows' reasons may quote what was typed in a child's row (as on the page).
            record_access(
                request=request,
                action=AccessLog.Action.VIEW,
                obj=original,
                description="rejected rows of an upload (admin)",
                count=min(original.rejected, REJECTIONS_SHOWN),
            )
        return response

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "upload_url": reverse("uploads:new")}
        return super().changelist_view(request, extra_context)
