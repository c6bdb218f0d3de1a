from django.contrib import admin

from .models import District, Province, Region, SubDistrict


class ReferenceAdmin(admin.ModelAdmin):
    """Reference data comes from `manage.py load_reference_data`; admin only looks it up."""

    search_fields = ("code", "name_th", "name_en")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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
