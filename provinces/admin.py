from django.contrib import admin

from accounts.admin_access import Access, ScopedModelAdmin

from .models import District, Province, Region, SubDistrict


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
