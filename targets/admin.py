from typing import ClassVar

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.access import can, restrict
from accounts.admin_access import Access, ScopedModelAdmin
from audit.access_log import record_access
from audit.models import AccessLog
from core.date_input import ADMIN_FORMFIELD_OVERRIDES
from core.paginator import CappedPaginator
from core.stale_edits import VersionedAdminMixin
from core.thai_id import format_identifier, mask_identifier
from provinces.models import District, Province, SubDistrict

from . import exports, record_services
from .forms import NO, YES, record_facts, validate_record
from .models import Assistance, AssistanceType, Category, Outcome, TargetRecord


class TargetReferenceAdmin(ScopedModelAdmin):
    """Tables admins extend: anyone with a role reads them, EEF/IPSR admins add, rename or retire rows.

    Retire a row (untick "in use") rather than delete it: plans' goals keep their rows (PROTECT).
    """

    view_access = Access.ROLE_HOLDERS
    write_access = Access.NATIONAL
    list_display: tuple[str, ...] = ("code", "name_th", "name_en", "sort_order", "is_active")
    list_filter: ClassVar[tuple[str, ...]] = ("is_active",)
    search_fields = ("code", "name_th", "name_en")
    ordering = ("sort_order", "code")


@admin.register(Category)
class CategoryAdmin(TargetReferenceAdmin):
    pass


@admin.register(Outcome)
class OutcomeAdmin(TargetReferenceAdmin):
    list_display = ("code", "name_th", "name_en", "kind", "group", "sort_order", "is_active")
    list_filter = ("kind", "group", "is_active")


@admin.register(AssistanceType)
class AssistanceTypeAdmin(TargetReferenceAdmin):
    pass


# --- Target-group records -------------------------------------------------------------------------------
#
# Records come in through the upload pipeline (targets/upload/) and the portal's record form
# (targets:create); admin changes existing ones, with the same checks (targets.forms.validate_record)
# and through the same service (targets.record_services), and never adds one. There is no
# django-import-export here: the upload is the one way in for spreadsheets, and exports go through
# targets.exports (masked IDs, neutralised cells, the access log). There is no search box either:
# admin's search puts its text in the URL, and a name or an ID must never be in a URL (the portal's
# list has a search that keeps it out).


class TargetRecordAdminForm(forms.ModelForm):
    """The record's fields, checked as an upload row of its province (the same rules and messages)."""

    class Meta:
        model = TargetRecord
        fields = (
            "identifier", "name_prefix", "first_name", "last_name", "sex", "birth_date", "district", "sub_district",
            "category", "status", "education_status", "last_grade", "school", "guardian_name", "phone", "consent",
            "notes",
        )  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        record = self.instance
        district, sub = cleaned.get("district"), cleaned.get("sub_district")
        category, status = cleaned.get("category"), cleaned.get("status")
        born = cleaned.get("birth_date")
        data = {
            "identifier": cleaned.get("identifier") or record.identifier,
            "name_prefix": cleaned.get("name_prefix", ""),
            "first_name": cleaned.get("first_name", ""),
            "last_name": cleaned.get("last_name", ""),
            "sex": cleaned.get("sex", ""),
            "birth_date": born.isoformat() if born else "",
            "district": str(district.pk) if district else "",
            "sub_district": str(sub.pk) if sub else "",
            "category": category.code if category else "",
            "status": status.code if status else "",
            "education_status": cleaned.get("education_status", ""),
            "last_grade": cleaned.get("last_grade", ""),
            "school": cleaned.get("school", ""),
            "guardian_name": cleaned.get("guardian_name", ""),
            "phone": cleaned.get("phone", ""),
            "consent": YES if cleaned.get("consent") else NO,
            "notes": cleaned.get("notes", ""),
        }
        self.clean_row, messages = validate_record(province=record.province, data=data)
        for field, reasons in messages.items():
            target = {"district": "district", "sub_district": "sub_district"}.get(field, field)
            target = target if target in self.fields else None
            if target is not None and target in self._errors:
                continue
            for reason in reasons:
                self.add_error(target, reason)
        return cleaned


class AssistanceInlineForm(forms.ModelForm):
    class Meta:
        model = Assistance
        fields = ("type", "date", "given_by", "outcome")

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise ValidationError(_("Record help once it has been given: the date is in the future."))
        return date


class AssistanceInline(admin.TabularInline):
    """Help given, on its record's page; new rows are saved through targets.record_services.record_help."""

    model = Assistance
    form = AssistanceInlineForm
    formfield_overrides = ADMIN_FORMFIELD_OVERRIDES  # an inline is no ScopedModelAdmin: said again
    extra = 0
    fields = ("type", "date", "given_by", "outcome", "recorded_by")
    readonly_fields = ("recorded_by",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "type":
            kwargs["queryset"] = AssistanceType.objects.filter(is_active=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
            setattr(field.widget, flag, False)
        return field

    # Help follows its record: whoever may change the record may record help on it.
    def _record_admin(self):
        return self.admin_site._registry[TargetRecord]

    def has_view_permission(self, request, obj=None) -> bool:
        return self._record_admin().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return self._record_admin().has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._record_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._record_admin().has_change_permission(request, obj)


class VisibleProvinceFilter(admin.SimpleListFilter):
    """The provinces the user may see, from the provinces table: admin's RelatedOnlyFieldListFilter would ask
    for the records' DISTINCT provinces, a scan of every record on each page load.

    `province_fields`: the rows' province fields, any of which matches (a merge proposal's two provinces). A
    province the user may not see filters nothing: a hand-made ?province= must not tell which of the rows the
    user sees involve it (identity.admin: the other province of a merge its proposer may not know)."""

    title = _("province")
    parameter_name = "province"
    province_fields: tuple[str, ...] = ("province_id",)

    def lookups(self, request, model_admin):
        provinces = restrict(Province.objects.all(), request.user, "targets.record_provinces").order_by("name_th")
        return [(str(p.pk), p.name) for p in provinces]

    def queryset(self, request, queryset):
        value = self.value()
        # lookup_choices: the lookups above, evaluated once when the list builds its filters.
        if not value or value not in {code for code, _ in self.lookup_choices}:
            return queryset
        match = Q()
        for field in self.province_fields:
            match |= Q(**{field: int(value)})
        return queryset.filter(match)


def record_admin_link(user, record: TargetRecord | None) -> str:
    """A record named by its masked identifier, linked to its admin page for those who read its province; "–" for
    a record gone (merged into another, deleted). Never the full identifier: that is the record's page's (logged)."""
    if record is None:
        return "–"
    masked = mask_identifier(record.identifier)
    if not can(user, "targets.read", record.province_id):
        return masked
    return format_html('<a href="{}">{}</a>', reverse("admin:targets_targetrecord_change", args=[record.pk]), masked)


class IndexedOrderChangeList(ChangeList):
    """A ?o= (sort by a column) that the admin does not offer (get_sortable_by) is not honoured either: the
    list keeps its indexed order."""

    def get_ordering(self, request, queryset):
        if not self.model_admin.get_sortable_by(request):
            self.params.pop(ORDER_VAR, None)
        return super().get_ordering(request, queryset)


@admin.register(TargetRecord)
class TargetRecordAdmin(VersionedAdminMixin, ScopedModelAdmin):
    view_access = Access.ROLE_HOLDERS
    # A change saved from an older version of the record is refused (core.stale_edits); the
    # identifier is compared without putting it in the page twice, and shown masked.
    stale_exclude = ("identifier",)
    write_access = Access.PROVINCE_WRITERS
    form = TargetRecordAdminForm
    inlines = [AssistanceInline]
    list_display = ("identifier", "full_name", "province", "category", "status", "updated_at")
    list_display_links = ("full_name",)
    list_filter = ("category", "status", VisibleProvinceFilter, "is_demo")
    list_select_related = ("province", "category", "status")
    list_per_page = 50
    # Millions of rows: no second COUNT(*) for "n total", and the one count is capped (core/paginator.py).
    show_full_result_count = False
    paginator = CappedPaginator
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice would read every record
    ordering = ("province_id", "last_name", "first_name", "pk")  # target_record_name_idx
    actions = ["export_xlsx", "export_csv"]
    fieldsets = (
        (None, {"fields": ("identifier", "identifier_kind", "province")}),
        (_("Person"), {"fields": ("name_prefix", "first_name", "last_name", "sex", "birth_date")}),
        (_("Address"), {"fields": ("district", "sub_district")}),
        (_("Target group and education"),
         {"fields": ("category", "status", "education_status", "last_grade", "school")}),
        (_("Contact and consent"), {"fields": ("guardian_name", "phone", "consent", "notes")}),
        (None, {"fields": ("created_at", "updated_at", "updated_by", "is_demo")}),
    )  # fmt: skip

    # --- what each role sees -----------------------------------------------------------------------
    def get_list_display(self, request):
        # Full IDs for the provinces whose IDs the user's role may read ("targets.read_identifiers"),
        # masked for the rest; decided per request (an admin instance serves every request).
        user = request.user

        @admin.display(description=_("identifier"))
        def identifier(record: TargetRecord) -> str:
            full = can(user, "targets.read_identifiers", record.province_id)
            return format_identifier(record.identifier) if full else mask_identifier(record.identifier)

        return (identifier, *self.list_display[1:])

    def get_sortable_by(self, request):
        # Sorted by a column, admin orders by it alone (and pk): an index serves that only within one
        # province (target_record_name_idx, target_record_recent_idx). Nationally the list keeps its order.
        return ("full_name", "updated_at") if request.GET.get(VisibleProvinceFilter.parameter_name) else ()

    def get_changelist(self, request, **kwargs):
        return IndexedOrderChangeList

    @admin.display(description=_("name"), ordering="last_name")
    def full_name(self, record: TargetRecord) -> str:
        return str(record)

    @admin.display(description=_("identifier"))
    def masked_identifier(self, record: TargetRecord) -> str:
        return mask_identifier(record.identifier)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if can(request.user, "targets.move"):
            return fieldsets
        # The identifier is the person's key across the country: only EEF/IPSR change it (and see it here).
        first = (None, {"fields": ("masked_identifier", "identifier_kind", "province")})
        return (first, *fieldsets[1:])

    def get_readonly_fields(self, request, obj=None):
        # The province: a record moves on its page (targets:edit), where its district and sub-district
        # are chosen among the new province's.
        fields = ["identifier_kind", "province", "created_at", "updated_at", "updated_by", "is_demo"]
        if not can(request.user, "targets.move"):
            fields.append("masked_identifier")
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        record = getattr(request, "_targets_record", None)
        if db_field.name == "district" and record is not None:
            kwargs["queryset"] = District.objects.filter(province_id=record.province_id).order_by("name_th")
        elif db_field.name == "sub_district" and record is not None:
            kwargs["queryset"] = SubDistrict.objects.filter(district__province_id=record.province_id).order_by(
                "district_id", "name_th"
            )
        elif db_field.name in ("category", "status"):
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(is_active=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
            setattr(field.widget, flag, False)
        return field

    def get_form(self, request, obj=None, change=False, **kwargs):
        request._targets_record = obj  # the districts offered are the record's province's
        return super().get_form(request, obj, change, **kwargs)

    # --- permissions: never added here; deleted by EEF/IPSR only --------------------------------------
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return can(request.user, "targets.delete")

    def stale_facts(self, obj):
        return record_facts(obj)

    # --- writes through the service ----------------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        row = form.clean_row
        national = can(request.user, "targets.move")
        record_services.update_record(
            record=obj,
            user=request.user,
            values=row.values,
            version=form.seen_version,  # checked already by the form, with the row locked
            identifier=row.identifier if national else None,
            identifier_kind=row.identifier_kind,
        )
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        if formset.model is not Assistance:
            return super().save_formset(request, form, formset, change)
        instances = formset.save(commit=False)
        for removed in formset.deleted_objects:
            removed.delete()
        for help_given in instances:
            if help_given.pk is None:
                record_services.record_help(
                    record=form.instance,
                    user=request.user,
                    type=help_given.type,
                    date=help_given.date,
                    given_by=help_given.given_by,
                    outcome=help_given.outcome,
                )
            else:
                help_given.save()
        return None

    # --- the access log: who saw which records ----------------------------------------------------------
    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if changelist is not None:
            shown = list(changelist.result_list)
            if shown:
                full = any(can(request.user, "targets.read_identifiers", r.province_id) for r in shown)
                record_access(
                    request=request,
                    action=AccessLog.Action.FULL_IDENTIFIER_VIEW if full else AccessLog.Action.VIEW,
                    model=TargetRecord,
                    description="admin list",
                    count=len(shown),
                )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            record = getattr(request, "_targets_record", None)
            if record is not None:
                # EEF/IPSR see the identifier in full in the form (to correct it); others see it masked.
                national = can(request.user, "targets.move")
                record_access(
                    request=request,
                    action=AccessLog.Action.FULL_IDENTIFIER_VIEW if national else AccessLog.Action.VIEW,
                    obj=record,
                    description="admin record page",
                )
        return response

    # --- exports: the portal's (masked IDs, neutralised cells, logged) -----------------------------------
    @admin.action(description=_("Export the selected records (Excel)"))
    def export_xlsx(self, request, queryset):
        return exports.export_response(request=request, records=queryset, file_format="xlsx",
                                       description="admin selection")  # fmt: skip

    @admin.action(description=_("Export the selected records (CSV)"))
    def export_csv(self, request, queryset):
        return exports.export_response(request=request, records=queryset, file_format="csv",
                                       description="admin selection")  # fmt: skip
