from django.contrib import admin

from accounts.admin_access import Access, ScopedImportExportAdmin, ScopedModelAdmin
from audit.access_log import record_access
from audit.models import AccessLog

from .models import CaseSettings, District, Province, Region, SubDistrict, WorkingGroupMember
from .resources import WorkingGroupMemberResource


class ReferenceAdmin(ScopedModelAdmin):
    """Reference data comes from `manage.py load_reference_data`; admin only looks it up."""

    write_access = Access.NOBODY
    search_fields = ("code", "name_th", "name_en")


@admin.register(Region)
class RegionAdmin(ReferenceAdmin):
    list_display = ("code", "name_th", "name_en")


@admin.register(Province)
class ProvinceAdmin(ReferenceAdmin):
    list_display = ("code", "name_th", "name_en", "region")
    list_filter = ("region",)
    list_select_related = ("region",)


@admin.register(District)
class DistrictAdmin(ReferenceAdmin):
    list_display = ("code", "name_th", "name_en", "province")
    list_select_related = ("province",)


@admin.register(SubDistrict)
class SubDistrictAdmin(ReferenceAdmin):
    list_display = ("code", "name_th", "name_en", "postcode", "district")
    list_select_related = ("district",)


# --- the provincial working group --------------------------------------------------


class ProvinceWritersMixin:
    """Coordinators write their own province's rows in admin; the province field offers only those."""

    write_access: str = Access.PROVINCE_WRITERS

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "province":
            kwargs["queryset"] = Province.objects.writable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(WorkingGroupMember)
class WorkingGroupMemberAdmin(ProvinceWritersMixin, ScopedImportExportAdmin):
    resource_classes = [WorkingGroupMemberResource]
    list_display = ("name", "province", "group_role", "position", "organisation", "active_from", "active_until")
    list_filter = ("group_role", "is_demo")
    list_select_related = ("province",)
    search_fields = ("name", "position", "organisation", "province__name_th", "province__name_en")
    fields = (
        "province",
        "name",
        "position",
        "organisation",
        "group_role",
        "phone",
        "email",
        "active_from",
        "active_until",
    )

    # --- the access log: members' phones and emails, in a member's page and in exports ------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            record_access(
                request=request,
                action=AccessLog.Action.VIEW,
                model=WorkingGroupMember,
                object_id=object_id,
                description="admin working-group member page",
            )
        return response

    def get_data_for_export(self, request, queryset, **kwargs):
        data = super().get_data_for_export(request, queryset, **kwargs)
        record_access(
            request=request,
            action=AccessLog.Action.EXPORT,
            model=WorkingGroupMember,
            description="admin export of working-group members",
            count=len(data),
        )
        return data


# --- case follow-up: what a province allows its case workers ----------------------------------


@admin.register(CaseSettings)
class CaseSettingsAdmin(ProvinceWritersMixin, ScopedModelAdmin):
    list_display = ("province", "case_workers_read_area")
    list_select_related = ("province",)
    fields = ("province", "case_workers_read_area")
