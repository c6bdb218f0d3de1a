"""Progress reports in Django admin, through the access door and never around the workflow.

The status is read-only here: a report moves only by reports.services.transition (its pages).
Coordinators of the province and EEF/IPSR admins write the sections of a draft; a submitted,
reviewed or accepted report is read-only for everyone. The workflow steps show as a read-only
inline and are not editable anywhere.
"""

from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.access import can
from accounts.admin_access import Access, ScopedExportAdmin
from core.stale_edits import VersionedAdminMixin
from provinces.models import Province

from . import services
from .models import ProgressReport, ReportEvent
from .resources import ProgressReportResource

META_FIELDS = ("status", "created_by", "created_at", "updated_at")
IDENTITY_FIELDS = ("province", "fiscal_year", "period")


class ReportEventInline(admin.TabularInline):
    model = ReportEvent
    fields = ("created_at", "action", "from_status", "to_status", "actor", "comment", "override_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    # The report itself came through ScopedModelAdmin.get_queryset: whoever sees it sees its steps.
    def has_view_permission(self, request, obj=None) -> bool:
        return can(request.user, "portal.use")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProgressReport)
class ProgressReportAdmin(VersionedAdminMixin, ScopedExportAdmin):
    view_access = Access.ROLE_HOLDERS
    write_access = Access.PROVINCE_WRITERS
    resource_classes = [ProgressReportResource]
    list_display = ("province", "fiscal_year", "period", "status", "updated_at", "is_demo")
    list_filter = ("status", "fiscal_year", "period", "is_demo")
    list_select_related = ("province",)
    search_fields = ("province__name_th", "province__name_en")
    inlines = [ReportEventInline]
    fields = (
        *IDENTITY_FIELDS,
        "status",
        "situation",
        "mechanisms",
        "progress",
        "recommendations",
        "lessons_learned",
        "created_by",
        "created_at",
        "updated_at",
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            return form

        class NewReportForm(form):
            def clean(self):
                # The period rules of create_report (no overlap, at most a year ahead), asked here so
                # that the admin shows them on the form instead of failing in save_model.
                cleaned = super().clean()
                if not self.errors and cleaned.get("province") and cleaned.get("fiscal_year") and cleaned.get("period"):
                    try:
                        services.check_new_period(
                            province_id=cleaned["province"].pk,
                            fiscal_year=cleaned["fiscal_year"],
                            period=cleaned["period"],
                        )
                    except ValidationError as error:
                        self.add_error(None, error)
                return cleaned

        return NewReportForm

    def get_readonly_fields(self, request, obj=None):
        # A report's province and period are fixed once it exists; its status only moves by the workflow.
        return META_FIELDS if obj is None else (*IDENTITY_FIELDS, *META_FIELDS)

    def get_actions(self, request):
        # Bulk deletion would skip the per-report check of has_delete_permission below.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "province":
            kwargs["queryset"] = Province.objects.writable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is None:
            return self._allowed(request, self.write_access)
        return services.may_edit(report=obj, user=request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only a draft that never entered the workflow (a report made for the wrong period).
        if obj is None:
            return self._allowed(request, self.write_access)
        return services.may_edit(report=obj, user=request.user) and not obj.events.exists()

    def save_model(self, request, obj, form, change) -> None:
        """Through the services, as on the pages: create_report, then update_report."""
        sections = {name: form.cleaned_data[name] for name in services.SECTION_FIELDS if name in form.cleaned_data}
        if not change:
            created = services.create_report(
                user=request.user, province=obj.province_id, fiscal_year=obj.fiscal_year, period=obj.period
            )
            obj.pk, obj._state.adding, obj._state.db = created.pk, False, created._state.db
        # A change: the version the form was opened at (checked by the form already, with the row locked).
        version = form.seen_version if change else None
        saved = services.update_report(report=obj, user=request.user, version=version, **sections)
        for name in ("status", "created_by_id", "created_at", "updated_at", "version"):
            setattr(obj, name, getattr(saved, name))

    # --- export (django-import-export) through the access door ---------------------------------
    def get_export_resource_kwargs(self, request, **kwargs):
        return {**super().get_export_resource_kwargs(request, **kwargs), "user": request.user}

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)
