"""Django admin through the access door (accounts/access.py).

Every ModelAdmin of the project derives from `ScopedModelAdmin`: its querysets, foreign-key
choices, autocomplete results, object pages, history and django-import-export's import and
export all come from the model's `visible_to(user)` / `writable_by(user)`, and its permissions
come from the user's roles, not from Django's per-model permission table. An object outside the
user's scope answers 404, as a missing one does.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export.admin import ExportMixin, ImportMixin
from import_export.resources import ModelResource

from core.buddhist_dates import file_date, with_excel_date_formats
from core.date_input import ADMIN_FORMFIELD_OVERRIDES

from .access import Principal, can


class Access(models.TextChoices):
    """Who may do something with a model in admin (`ScopedModelAdmin.view_access`, `write_access`)."""

    NOBODY = "nobody"
    NATIONAL = "national"  # EEF/IPSR admins
    ROLE_HOLDERS = "role_holders"  # anyone with a role, within their scope
    PROVINCE_WRITERS = "province_writers"  # EEF admins and coordinators, within their province


class ScopedModelAdmin(admin.ModelAdmin):
    view_access: str = Access.ROLE_HOLDERS
    write_access: str = Access.NATIONAL
    formfield_overrides = ADMIN_FORMFIELD_OVERRIDES  # dates typed in พ.ศ., as on the portal's pages

    def _allowed(self, request: HttpRequest, access: str) -> bool:
        actions: dict[str, str] = {
            Access.NATIONAL: "portal.national",
            Access.ROLE_HOLDERS: "portal.use",
            Access.PROVINCE_WRITERS: "province.write_any",
        }
        action = actions.get(access)
        return action is not None and can(request.user, action)

    # --- querysets -----------------------------------------------------------------------------
    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def _writable(self, request, obj) -> bool:
        return self.model._default_manager.writable_by(request.user).filter(pk=obj.pk).exists()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model._default_manager
        if "queryset" not in kwargs and hasattr(related, "visible_to"):
            kwargs["queryset"] = related.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.remote_field.model._default_manager
        if "queryset" not in kwargs and hasattr(related, "visible_to"):
            kwargs["queryset"] = related.visible_to(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django admin redirects to its index for a missing object; the portal answers 404 for
        # missing and out-of-scope objects alike, so the two cannot be told apart.
        raise Http404

    # --- permissions from roles ----------------------------------------------------------------
    def has_module_permission(self, request) -> bool:
        return self._allowed(request, self.view_access)

    def has_view_permission(self, request, obj=None) -> bool:
        # An object reaching here came through get_queryset, so it is in scope.
        return self._allowed(request, self.view_access) or self.has_change_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return self._allowed(request, self.write_access)

    def has_change_permission(self, request, obj=None) -> bool:
        if not self._allowed(request, self.write_access):
            return False
        return obj is None or self._writable(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj)


class ScopedResource(ModelResource):
    """A django-import-export resource that reads and writes only within a user's scope.

    Its default queryset is the model's `visible_to(user)` (import-export's own is
    `objects.all()`): used to look up rows to update on import and for exports made
    without an explicit queryset.
    """

    def __init__(self, *, user: Principal | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user = user

    def get_queryset(self):
        return self._meta.model._default_manager.visible_to(self.user)

    def before_save_instance(self, instance, row, **kwargs):
        # A row may only create or change an object the user may write.
        if instance.pk and not self._meta.model._default_manager.writable_by(self.user).filter(pk=instance.pk):
            raise PermissionError("out of scope")
        super().before_save_instance(instance, row, **kwargs)


class ScopedExportMixin(ExportMixin):
    """django-import-export's export, through the access door: its rows are the change list's
    (`get_queryset`, so `visible_to(user)`, with the list's filters) and its resource knows the
    user. An admin whose export holds personal data logs it in `get_data_for_export` (the access
    log is audit's, a layer above this one: provinces.admin.WorkingGroupMemberAdmin)."""

    def get_resource_kwargs(self, request, **kwargs):
        return {**super().get_resource_kwargs(request, **kwargs), "user": request.user}

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def get_export_data(self, file_format, request, queryset, **kwargs):
        data = super().get_export_data(file_format, request, queryset, **kwargs)
        if file_format.get_extension() == "xlsx":  # date cells shown in พ.ศ. by Thai Excel
            data = with_excel_date_formats(data)
        return data

    def get_export_filename(self, request, queryset, file_format) -> str:
        # Model-2569-12-04.xlsx: the date in พ.ศ., as in the portal's own exports (buddhist_dates.file_date).
        return f"{self.model.__name__}-{file_date(timezone.localdate())}.{file_format.get_extension()}"

    def export_action(self, request):
        # The export page carries the change list's filters in its query string, and builds the same
        # ChangeList from them. A filter that is unknown or of the wrong type (?foo=1,
        # ?fiscal_year=abc) makes it raise IncorrectLookupParameters, which the change list turns
        # into its ?e=1 page and import-export leaves as a 500. Here it leads back to the list,
        # unfiltered, with a message, and nothing is exported.
        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            messages.error(
                request,
                _(
                    "Nothing was exported: the filters in the link are not valid for this list. "
                    "Filter the list again, then export."
                ),
            )
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
            )


class ScopedExportAdmin(ScopedExportMixin, ScopedModelAdmin):
    """Admin with spreadsheet export through the access door."""


class ScopedImportExportAdmin(ImportMixin, ScopedExportAdmin):
    """Admin with spreadsheet import and export, both through the access door."""

    # ImportExportMixin's template: the change list with both buttons.
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request)
