"""Partners and their API keys, for EEF/IPSR admins only.

A new key's secret is shown once, in the message after saving; only its prefix is kept readable
(the rest is hashed). Revoking is for good. The package's own APIKey model is not used.
"""

import datetime

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey

from accounts.admin_access import Access, ScopedModelAdmin

from .models import MAX_KEY_LIFETIME, READ, RESOURCES, WRITE, Partner, PartnerKey, clean_permissions

admin.site.unregister(APIKey)

LEVEL_LABELS = {"": _("no access"), READ: _("read"), WRITE: _("read and write")}


@admin.register(Partner)
class PartnerAdmin(ScopedModelAdmin):
    view_access = Access.NATIONAL
    write_access = Access.NATIONAL
    list_display = ("name", "organisation", "contact_email", "province_list", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "organisation", "contact_email")
    filter_horizontal = ("provinces",)
    fields = (
        "name", "organisation", "contact_email", "provinces", "agency", "is_active", "service_user", "created_at",
    )  # fmt: skip
    readonly_fields = ("service_user", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("provinces")

    @admin.display(description=_("provinces"))
    def province_list(self, partner: Partner) -> str:
        return ", ".join(str(p) for p in partner.provinces.all())

    def has_delete_permission(self, request, obj=None) -> bool:
        # A partner whose keys have been used stays (deactivate it): keys are PROTECTed.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.keys.exists())


class _PartnerKeyFormBase(forms.ModelForm):
    """One choice per resource instead of raw JSON: no access, read, or read and write."""

    class Meta:
        model = PartnerKey
        fields = ("name", "partner", "can_see_identifiers", "expiry_date", "revoked")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.permissions or {}
        for resource in RESOURCES:
            if f"perm_{resource}" in self.fields:
                self.fields[f"perm_{resource}"].initial = current.get(resource, "")
        if "expiry_date" in self.fields and not self.instance.pk:
            self.fields["expiry_date"].initial = timezone.now() + datetime.timedelta(days=365)
            self.fields["expiry_date"].help_text = _("At most a year from today.")

    def clean(self):
        cleaned = super().clean()
        permissions = {r: cleaned.get(f"perm_{r}") for r in RESOURCES if cleaned.get(f"perm_{r}")}
        try:
            self.instance.permissions = clean_permissions(permissions)
        except forms.ValidationError as exc:
            self.add_error(None, exc)
        expiry = cleaned.get("expiry_date")
        created = self.instance.created or timezone.now()
        if expiry is not None and expiry > created + MAX_KEY_LIFETIME:
            self.add_error("expiry_date", _("A key expires at most a year after it is created."))
        if expiry is not None and expiry <= timezone.now() and not self.instance.pk:
            self.add_error("expiry_date", _("The expiry date is already past."))
        return cleaned


# The permission fields are declared on the class (admin's fieldsets name them).
PartnerKeyForm = type(
    "PartnerKeyForm",
    (_PartnerKeyFormBase,),
    {
        f"perm_{resource}": forms.ChoiceField(
            label=label, choices=[(level, LEVEL_LABELS[level]) for level in ("", *levels)], required=False
        )
        for resource, (label, levels) in RESOURCES.items()
    },
)


@admin.register(PartnerKey)
class PartnerKeyAdmin(ScopedModelAdmin):
    view_access = Access.NATIONAL
    write_access = Access.NATIONAL
    form = PartnerKeyForm
    list_display = ("prefix", "name", "partner", "permission_list", "can_see_identifiers", "expiry_date", "state")
    list_filter = ("revoked", "can_see_identifiers", "partner")
    search_fields = ("name", "prefix", "partner__name")
    list_select_related = ("partner",)
    autocomplete_fields = ()

    def get_fieldsets(self, request, obj=None):
        permissions = [f"perm_{r}" for r in RESOURCES]
        return (
            (None, {"fields": ("prefix", "name", "partner", "expiry_date", "revoked", "created")}),
            (_("What the key may do"), {"fields": (*permissions, "can_see_identifiers")}),
        )

    def get_readonly_fields(self, request, obj=None):
        fields = ["prefix", "created"]
        if obj is not None:
            fields.append("partner")
            if obj.revoked:  # revoked for good: nothing changes any more
                fields += ["name", "revoked", "expiry_date", "can_see_identifiers"]
        return fields

    @admin.display(description=_("permissions"))
    def permission_list(self, key: PartnerKey) -> str:
        return ", ".join(f"{r}: {level}" for r, level in sorted(key.permissions.items())) or "–"

    @admin.display(description=_("state"))
    def state(self, key: PartnerKey) -> str | Promise:
        if key.revoked:
            return _("revoked")
        if key.has_expired:
            return _("expired")
        return _("in use")

    def save_model(self, request, obj: PartnerKey, form, change) -> None:
        if change:
            obj.save()
            return
        secret = PartnerKey.objects.assign_key(obj)
        obj.save()
        messages.warning(
            request,
            format_html(
                "{} <code>{}</code> {}",
                _("The key is:"),
                secret,
                _("Copy it now and give it to the partner safely: it is not shown again."),
            ),
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the key's reads stay in the access log under its name
