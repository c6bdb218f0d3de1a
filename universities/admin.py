from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.access import can, own_universities
from accounts.admin_access import ScopedImportExportAdmin, ScopedModelAdmin
from core.stale_edits import VersionedAdminMixin

from . import services
from .attachments import validate_attachment
from .models import CapacityRequest, SupportActivity, SupportAssignment, University
from .resources import CapacityRequestResource, SupportActivityResource, SupportAssignmentResource

# Admin access of the support teams' work: the university's team, or EEF/IPSR (see `_allowed`).
UNIVERSITY_TEAMS = "university_teams"


@admin.register(University)
class UniversityAdmin(ScopedModelAdmin):
    list_display = ("code", "short_name_th", "name_th", "name_en", "is_coordinating")
    search_fields = ("code", "short_name_th", "name_th", "name_en")


@admin.register(SupportAssignment)
class SupportAssignmentAdmin(ScopedImportExportAdmin):
    resource_classes = [SupportAssignmentResource]
    list_display = ("fiscal_year", "province", "university", "is_lead", "is_demo")
    list_filter = ("fiscal_year", "is_lead", "university", "is_demo")
    list_select_related = ("province", "university")
    autocomplete_fields = ("province", "university")
    search_fields = ("province__name_th", "province__name_en", "university__code")


class UniversityWorkAdmin(ScopedImportExportAdmin):
    """Work of a university's team: its team and EEF/IPSR write (per row: `handled_by`)."""

    write_access = UNIVERSITY_TEAMS

    def _allowed(self, request, access: str) -> bool:
        if access == UNIVERSITY_TEAMS:
            return can(request.user, "universities.record_any")
        return super()._allowed(request, access)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "university":
            # A team records its own university's work only.
            universities = University.objects.visible_to(request.user)
            if not can(request.user, "portal.national"):
                universities = universities.filter(pk__in=own_universities(request.user))
            kwargs["queryset"] = universities
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SupportActivityAdminForm(forms.ModelForm):
    """Checks an activity as `services.record_activity` does (the admin sets `user` on the class)."""

    user = None
    FIELDS = ("university", "province", "role", "date", "title", "description", "participants", "attachment")

    class Meta:
        model = SupportActivity
        fields = ("university", "province", "role", "date", "title", "description", "participants", "attachment")

    def clean_attachment(self):
        attachment = self.cleaned_data.get("attachment")
        if isinstance(attachment, UploadedFile):  # a new upload, not the file already kept
            validate_attachment(attachment)
        return attachment

    def clean(self):
        cleaned = super().clean()
        university, province, date = (cleaned.get(f) for f in ("university", "province", "date"))
        if university and not services.may_record_for(self.user, university):
            self.add_error("university", gettext("You may not record activities of this university."))
        elif university and province and date:
            try:
                services.check_activity_place(university=university, province=province, date=date)
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


@admin.register(SupportActivity)
class SupportActivityAdmin(UniversityWorkAdmin):
    form = SupportActivityAdminForm
    resource_classes = [SupportActivityResource]
    list_display = ("date", "title", "role", "university", "province", "participants", "is_demo")
    list_filter = ("role", "university", "is_demo")
    list_select_related = ("university", "province")
    search_fields = ("title", "description", "province__name_th", "province__name_en", "university__code")
    date_hierarchy = "date"
    readonly_fields = ("created_by", "created_at", "is_demo")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a class made for this request by modelform_factory
        return form

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new activity goes through the one path that records activities.
        recorded = services.record_activity(user=request.user, **{f: form.cleaned_data[f] for f in form.FIELDS})
        obj.pk, obj.created_by, obj.created_at = recorded.pk, recorded.created_by, recorded.created_at
        obj.attachment = recorded.attachment
        obj._state.adding = False


@admin.register(CapacityRequest)
class CapacityRequestAdmin(VersionedAdminMixin, UniversityWorkAdmin):
    """Requests are filed on the portal's page, and their status moves only through the services:
    here by the actions below; the fields of the workflow are read-only. A correction saved from an
    older version of the request is refused (core.stale_edits); the bulk actions act on each
    request as it is, and their state rules keep a second run from acting twice."""

    resource_classes = [CapacityRequestResource]
    list_display = ("topic", "province", "university", "desired_date", "status", "rating", "is_demo")
    list_filter = ("status", "university", "is_demo")
    list_select_related = ("province", "university")
    search_fields = ("topic", "need", "province__name_th", "province__name_en", "university__code")
    date_hierarchy = "desired_date"
    actions = ["accept_selected", "close_selected"]
    WORKFLOW_FIELDS = (
        "province",
        "university",
        "status",
        "scheduled_for",
        "decline_reason",
        "delivered_activity",
        "rating",
        "feedback",
        "requested_by",
        "created_at",
        "updated_at",
        "is_demo",
    )
    fields = ("topic", "need", "desired_date", "participants", *WORKFLOW_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        # EEF/IPSR may correct what was asked; nobody edits the workflow's fields by hand.
        if can(request.user, "universities.administer"):
            return self.WORKFLOW_FIELDS
        return self.fields

    def has_add_permission(self, request) -> bool:
        return False  # filed by the province through services.file_request (universities:request_create)

    def has_delete_permission(self, request, obj=None) -> bool:
        return can(request.user, "universities.administer") and super().has_delete_permission(request, obj)

    def has_import_permission(self, request) -> bool:
        return False

    def _move(self, request, queryset, move, done: str) -> None:
        moved = 0
        for request_obj in queryset:
            try:
                move(request_obj=request_obj, user=request.user)
            except (ValidationError, PermissionDenied) as error:
                messages.error(request, f"{request_obj}: {' '.join(getattr(error, 'messages', [str(error)]))}")
            else:
                moved += 1
        if moved:
            messages.success(request, done % {"n": moved})

    @admin.action(description=_("Accept the selected requests"), permissions=["change"])
    def accept_selected(self, request, queryset):
        self._move(request, queryset, services.accept_request, gettext("%(n)s request(s) accepted."))

    @admin.action(description=_("Close the selected delivered requests"), permissions=["change"])
    def close_selected(self, request, queryset):
        self._move(request, queryset, services.close_request, gettext("%(n)s request(s) closed."))
