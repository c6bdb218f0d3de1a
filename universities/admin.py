from django.contrib import admin

from accounts.admin_access import ScopedImportExportAdmin, ScopedModelAdmin

from .models import SupportAssignment, University
from .resources import SupportAssignmentResource


@admin.register(University)
class UniversityAdmin(ScopedModelAdmin):
    list_display = ("code", "name_th", "name_en", "is_coordinating")
    search_fields = ("code", "name_th", "name_en")


@admin.register(SupportAssignment)
class SupportAssignmentAdmin(ScopedImportExportAdmin):
    resource_classes = [SupportAssignmentResource]
    list_display = ("fiscal_year", "province", "university", "is_lead", "is_demo")
    list_filter = ("fiscal_year", "is_lead", "university", "is_demo")
    list_select_related = ("province", "university")
    autocomplete_fields = ("province", "university")
    search_fields = ("province__name_th", "province__name_en", "university__code")
