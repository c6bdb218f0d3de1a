from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import sessions
from .access import can
from .admin_access import Access, ScopedModelAdmin
from .invitations import send_invitation
from .models import Membership, User

# Roles are Membership rows, not Django groups; the email address is the user's own field.
admin.site.unregister(Group)
admin.site.unregister(EmailAddress)
admin.site.unregister(Authenticator)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ("province", "university")
    fields = ("role", "province", "university", "created_at")
    readonly_fields = ("created_at",)

    # Inlines ask Django's permission table by default; roles are managed by EEF admins only.
    def _national(self, request) -> bool:
        return can(request.user, "portal.national")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._national(request)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


@admin.register(User)
class UserAdmin(ScopedModelAdmin, DjangoUserAdmin):
    """Accounts and their roles: EEF/IPSR admins only. New users are invited by email."""

    view_access = Access.NATIONAL
    write_access = Access.NATIONAL
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "roles", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_active", "memberships__role")
    search_fields = ("email", "first_name", "last_name")
    inlines = [MembershipInline]
    actions = ["invite_again", "end_sessions"]
    fieldsets = (
        (None, {"fields": ("email",)}),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "first_name", "last_name", "is_staff")}),)
    readonly_fields = ("last_login", "date_joined")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__province", "memberships__university")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return "; ".join(m.describe() for m in obj.memberships.all())

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            # The add form asks no password: the invited person chooses it.
            kwargs["form"] = self.model_form_for_invitation()
        return super().get_form(request, obj, **kwargs)

    @staticmethod
    def model_form_for_invitation():
        from django import forms

        class InviteForm(forms.ModelForm):
            class Meta:
                model = User
                fields = ("email", "first_name", "last_name", "is_staff")

        return InviteForm

    def save_model(self, request, obj, form, change):
        if not change:
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)
        if not change:
            send_invitation(user=obj, request=request, invited_by=request.user)
            self.message_user(request, _("An invitation was sent to %(email)s.") % {"email": obj.email})

    @admin.action(description=_("Send the invitation again"))
    def invite_again(self, request, queryset):
        for user in queryset:
            send_invitation(user=user, request=request, invited_by=request.user)
        count = len(queryset)
        self.message_user(
            request,
            ngettext("%(count)d invitation sent.", "%(count)d invitations sent.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("End every session (a lost or stolen device)"))
    def end_sessions(self, request, queryset):
        users = list(queryset)
        ended = sessions.end_sessions(user.pk for user in users)
        for user in users:  # in the admin's history of each account: who ended its sessions, and when
            self.log_change(request, user, gettext("Every session ended (a lost or stolen device)."))
        self.message_user(
            request,
            ngettext(
                "The sessions of %(users)d account were ended (%(sessions)d): its devices must sign in again, and the "
                "field app deletes the children it holds when it next reaches the portal.",
                "The sessions of %(users)d accounts were ended (%(sessions)d): their devices must sign in again, and "
                "the field app deletes the children it holds when it next reaches the portal.",
                len(users),
            )
            % {"sessions": ended, "users": len(users)},
            messages.SUCCESS,
        )


@admin.register(Membership)
class MembershipAdmin(ScopedModelAdmin):
    view_access = Access.NATIONAL
    write_access = Access.NATIONAL
    list_display = ("user", "role", "province", "university", "created_at")
    list_filter = ("role", "university")
    list_select_related = ("user", "province", "university")
    search_fields = ("user__email", "user__first_name", "user__last_name")
    autocomplete_fields = ("user", "province", "university")


class AuthenticatorTypeFilter(admin.SimpleListFilter):
    title = _("type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return Authenticator.Type.choices

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(Authenticator)
class AuthenticatorAdmin(ScopedModelAdmin):
    """Two-factor devices: an EEF admin can remove a lost one so its owner can set up a new one."""

    view_access = Access.NATIONAL
    write_access = Access.NATIONAL
    list_display = ("user", "kind", "created_at", "last_used_at")
    list_filter = (AuthenticatorTypeFilter,)
    search_fields = ("user__email",)
    fields = ("user", "kind", "created_at", "last_used_at")
    readonly_fields = fields

    # allauth's field has no verbose name, so Django would head the column and the filter "type" in English.
    @admin.display(description=_("type"), ordering="type")
    def kind(self, obj: Authenticator) -> str:
        return obj.get_type_display()

    def get_queryset(self, request):
        # Authenticators belong to users: visible as far as their users are.
        qs = admin.ModelAdmin.get_queryset(self, request)
        return qs.filter(user__in=User.objects.visible_to(request.user))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allowed(request, Access.NATIONAL)
