from django.contrib import admin

from accounts.admin_access import Access, ScopedModelAdmin

from .models import Category, Outcome


class TargetReferenceAdmin(ScopedModelAdmin):
    """Tables admins extend: anyone with a role reads them, EEF/IPSR admins add, rename or retire rows.

    Retire a row (untick "in use") rather than delete it: plans' goals keep their rows (PROTECT).
    """

    view_access = Access.ROLE_HOLDERS
    write_access = Access.NATIONAL
    list_display = ("code", "name_th", "name_en", "sort_order", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name_th", "name_en")
    ordering = ("sort_order", "code")


@admin.register(Category)
class CategoryAdmin(TargetReferenceAdmin):
    pass


@admin.register(Outcome)
class OutcomeAdmin(TargetReferenceAdmin):
    list_display = ("code", "name_th", "name_en", "group", "sort_order", "is_active")
    list_filter = ("group", "is_active")
