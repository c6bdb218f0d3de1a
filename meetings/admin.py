"""Meetings in Django admin, through the access door (accounts/admin_access.py).

Admin shows what the user may see and lets them change what they may write
(Meeting.objects.writable_by): EEF admins every meeting, a coordinator their province's provincial
meetings, a university team its own. Attachments are uploaded on the meeting's page, where their
content is checked (meetings/attachments.py), so admin does not offer them.
"""

from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from accounts.admin_access import ScopedModelAdmin
from core.date_input import ADMIN_FORMFIELD_OVERRIDES
from core.stale_edits import VersionedAdminMixin

from . import services
from .models import ActionItem, AgendaItem, Attendance, LessonLearned, Meeting, Presentation

# What the mixin goes into, as mypy sees it (at run time, object).
if TYPE_CHECKING:
    _AdminBase = ScopedModelAdmin
else:
    _AdminBase = object


class MeetingWritersMixin(_AdminBase):
    """Adding is for those who organise meetings at all; changing for those who write the meeting."""

    def has_add_permission(self, request) -> bool:
        return services.may_create_meetings(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        if not services.may_create_meetings(request.user):
            return False
        return obj is None or self._writable(request, obj)


class PartInline(admin.options.InlineModelAdmin):
    """A part of the meeting, editable by whoever writes the meeting (the parent object)."""

    extra = 0
    # Long texts stay narrow in a table row; the meeting's page is where minutes are read.
    formfield_overrides = {
        **ADMIN_FORMFIELD_OVERRIDES,
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 36})},
        models.CharField: {"widget": forms.TextInput(attrs={"size": 22})},
    }

    def _writes(self, request, obj) -> bool:
        if not services.may_create_meetings(request.user):
            return False
        return obj is None or services.may_write(meeting=obj, user=request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return can(request.user, "portal.use")

    def has_add_permission(self, request, obj=None) -> bool:
        return self._writes(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._writes(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._writes(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model._default_manager
        if "queryset" not in kwargs and hasattr(related, "visible_to"):
            kwargs["queryset"] = related.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AgendaItemInline(PartInline, admin.StackedInline):
    """Stacked: minutes and decisions are the long texts of a meeting."""

    model = AgendaItem
    formfield_overrides = {
        **ADMIN_FORMFIELD_OVERRIDES,
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 4, "cols": 80})},
    }
    fields = ("order", "title", "presenter", "minutes", "decisions")


class AttendanceInline(PartInline, admin.TabularInline):
    model = Attendance
    fields = ("name", "organisation", "position", "role")


class PresentationAdminForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        province, report = cleaned.get("province"), cleaned.get("report")
        if province and report and report.province_id != province.pk:
            self.add_error("report", _("This report is of another province."))
        return cleaned


class PresentationInline(PartInline, admin.TabularInline):
    model = Presentation
    form = PresentationAdminForm
    fields = ("order", "province", "report", "presenter", "notes")
    autocomplete_fields = ("province",)


class LessonInline(PartInline, admin.TabularInline):
    model = LessonLearned
    fields = ("province", "theme", "text")
    autocomplete_fields = ("province",)


class ActionItemInline(PartInline, admin.StackedInline):
    model = ActionItem
    # The note and a person as owner are edited on the action item's own admin page.
    fields = ("what", "owner_province", "owner_university", "due_date", "status")
    autocomplete_fields = ("owner_province", "owner_university")
    show_change_link = True


@admin.register(Meeting)
class MeetingAdmin(VersionedAdminMixin, MeetingWritersMixin, ScopedModelAdmin):
    """A change saved from an older version of the meeting is refused (core.stale_edits)."""

    list_display = ("title", "kind", "starts_on", "ends_on", "status", "is_demo")
    list_filter = ("kind", "status", "is_demo")
    search_fields = ("title", "venue", "description")
    date_hierarchy = "starts_on"
    filter_horizontal = ("provinces", "universities", "organiser_provinces", "organiser_universities")
    readonly_fields = ("created_by", "created_at", "updated_at")
    inlines = [AgendaItemInline, AttendanceInline, PresentationInline, LessonInline, ActionItemInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        meeting = form.instance
        # IPSR named once as organiser, as save_meeting stores it (the flag, not also MU-IPSR's row).
        kept = services.organiser_university_ids(meeting=meeting, universities=meeting.organiser_universities.all())
        if kept != set(meeting.organiser_universities.values_list("pk", flat=True)):
            meeting.organiser_universities.set(kept)
        # The saved meeting must stay one the user writes (e.g. a coordinator cannot list another
        # province instead of theirs); admin's change view runs in a transaction, undone by this.
        if not services.may_write(meeting=form.instance, user=request.user):
            raise PermissionDenied

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        user = request.user

        class ScopedMeetingForm(form):
            def clean(self):
                cleaned = super().clean()
                kind = cleaned.get("kind")
                if kind:
                    try:
                        services.check_meeting_scope(
                            user=user,
                            kind=kind,
                            province_ids=cleaned.get("provinces") or (),
                            university_ids=cleaned.get("universities") or (),
                        )
                    except ValidationError as error:
                        self.add_error(None, error.messages)
                return cleaned

        return ScopedMeetingForm


@admin.register(ActionItem)
class ActionItemAdmin(MeetingWritersMixin, ScopedModelAdmin):
    list_display = ("what_short", "meeting", "owner_province", "owner_university", "owner_user", "due_date", "status")
    list_filter = ("status", "meeting__kind")
    list_select_related = ("meeting", "owner_province", "owner_university", "owner_user")
    search_fields = ("what", "note", "meeting__title")
    autocomplete_fields = ("meeting", "owner_province", "owner_university")
    raw_id_fields = ("owner_user",)
    date_hierarchy = "due_date"

    @admin.display(description=ActionItem._meta.get_field("what").verbose_name)
    def what_short(self, obj) -> str:
        return str(obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "meeting":
            kwargs["queryset"] = Meeting.objects.writable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(LessonLearned)
class LessonLearnedAdmin(MeetingWritersMixin, ScopedModelAdmin):
    list_display = ("theme", "meeting", "province")
    list_filter = ("meeting__kind",)
    list_select_related = ("meeting", "province")
    search_fields = ("theme", "text", "meeting__title")
    autocomplete_fields = ("meeting", "province")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "meeting":
            kwargs["queryset"] = Meeting.objects.writable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
