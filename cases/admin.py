"""Case follow-up in Django admin, through the door: agency types (admins extend the list), the agency
directory (kept by the province's coordinators, saved through cases.services) and notifications (read
only: each person their own)."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.admin_access import Access, ScopedModelAdmin

from . import services
from .models import Agency, AgencyType, Notification

REFUSED = "_cases_refused"  # set on the request when a service refused the save


@admin.register(AgencyType)
class AgencyTypeAdmin(ScopedModelAdmin):
    """Anyone with a role reads the types; EEF/IPSR admins add them or take them out of use."""

    view_access = Access.ROLE_HOLDERS
    write_access = Access.NATIONAL
    list_display = ("code", "name_th", "name_en", "sort_order", "is_active")
    list_filter = ("is_active",)
    ordering = ("sort_order", "code")


@admin.register(Agency)
class AgencyAdmin(ScopedModelAdmin):
    """A province's directory: its coordinators add and change agencies (through the service, which
    checks the door); deleting is EEF/IPSR's (take an agency out of use instead)."""

    view_access = Access.ROLE_HOLDERS
    write_access = Access.PROVINCE_WRITERS
    list_display = ("name", "type", "province", "district", "contact_name", "phone", "is_active")
    list_filter = ("type", "is_active")
    fields = ("province", "type", "name", "district", "contact_name", "phone", "email", "is_active")
    list_select_related = ("type", "province", "district")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("province",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, "portal.national") and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Agency, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in services.AGENCY_FIELDS if name in form.cleaned_data}
        try:
            if change:
                services.update_agency(user=request.user, agency=obj, **fields)
            else:
                saved = services.create_agency(user=request.user, province_id=obj.province_id, **fields)
                obj.pk = saved.pk
        except (PermissionDenied, ValidationError) as error:
            # Shown as a message on the form again, never a server error.
            text = " ".join(error.messages) if isinstance(error, ValidationError) else ""
            setattr(request, REFUSED, text or _("You may not change this province's agency directory."))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if not hasattr(request, REFUSED):
            super().save_related(request, form, formsets, change)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None if hasattr(request, REFUSED) else super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None if hasattr(request, REFUSED) else super().log_change(request, obj, message)

    def _refused(self, request: HttpRequest) -> HttpResponse | None:
        refused = getattr(request, REFUSED, None)
        if refused is None:
            return None
        self.message_user(request, refused, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        return self._refused(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        return self._refused(request) or super().response_change(request, obj)


@admin.register(Notification)
class NotificationAdmin(ScopedModelAdmin):
    """Read only: each person sees their own (written by cases.services)."""

    view_access = Access.ROLE_HOLDERS
    write_access = Access.NOBODY
    list_display = ("kind", "created_at", "read_at", "emailed_at")
    list_filter = ("kind",)
    readonly_fields = ("user", "kind", "case", "referral", "created_at", "read_at", "emailed_at")
    fields = readonly_fields
