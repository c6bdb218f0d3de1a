"""Partner systems and their API keys (docs/api.md).

A Partner is an organisation whose systems use the API (EEF's own systems, a provincial office's
tools, a university's analysis scripts), with an explicit province scope. Each of its keys carries
its permissions (read, or read and write, per resource), whether it may see full national IDs, and
an expiry at most a year after it was made. Keys are stored hashed (djangorestframework-api-key);
the plain key is shown once, when an EEF admin creates it.
"""

import datetime
from typing import ClassVar, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from accounts.access import Principal, can
from accounts.models import User
from provinces.models import Province

# What a key may be given, per resource: "read", or "read" and "write" ("write"). Reference data
# (areas, universities, support assignments, categories, outcomes) is readable with any valid key.
READ = "read"
WRITE = "write"
RESOURCES: dict[str, tuple] = {
    "working_groups": (_("working groups"), (READ,)),
    "plans": (_("provincial plans"), (READ,)),
    "progress_reports": (_("progress reports"), (READ,)),
    "support_activities": (_("support activities"), (READ,)),
    "capacity_requests": (_("capacity requests"), (READ,)),
    "meetings": (_("meetings"), (READ,)),
    "action_items": (_("action items"), (READ,)),
    "records": (_("target-group records, their history and help given"), (READ, WRITE)),
    "imports": (_("uploads of records (start one, read its report)"), (READ, WRITE)),
    "summaries": (_("progress summaries"), (READ,)),
    "cases": (_("case follow-up: cases, contacts, plans, referrals (an agency's key: its referrals)"), (READ, WRITE)),
    "transfers": (_("transfers of records between provinces (requests, answers)"), (READ, WRITE)),
}
REFERENCE = "reference"

# A key lives at most this long: expiry_date <= created + MAX_KEY_LIFETIME.
MAX_KEY_LIFETIME = datetime.timedelta(days=366)


class NationalOnlyQuerySet(models.QuerySet):
    """Partners and keys are EEF/IPSR's to see and manage (Django admin goes through these)."""

    def visible_to(self, user: Principal) -> Self:
        return self if can(user, "api.manage") else self.none()

    def writable_by(self, user: Principal) -> Self:
        return self.visible_to(user)


class Partner(models.Model):
    """An organisation whose systems use the API, and the provinces its keys may reach."""

    name = models.CharField(_("name"), max_length=200)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"))
    provinces = models.ManyToManyField(
        Province,
        related_name="+",
        verbose_name=_("provinces"),
        help_text=_("The provinces whose data the partner's keys may read (and write, where a key may write)."),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive partner's keys are refused on their next request.")
    )
    # An agency's own system (issue 14): its keys see only the referrals sent to the agency, whatever the provinces.
    agency = models.ForeignKey(
        "cases.Agency",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agency"),
        help_text=_(
            "For an agency's own system: its keys read and answer only the referrals sent to this agency, "
            "and nothing of the provinces."
        ),
    )
    # The account a partner's writes are attributed to (records' "updated by", an upload's "uploaded
    # by"): no role, no usable password, so it can neither sign in nor see anything by itself.
    service_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("service account"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = NationalOnlyQuerySet.as_manager()
    # The agency's province, read with the key (api.authentication): an agency key's scope names it.
    agency_province: int | None = None

    class Meta:
        ordering = ["name"]
        verbose_name = _("API partner")
        verbose_name_plural = _("API partners")

    def __str__(self) -> str:
        return self.name

    def get_service_user(self) -> User:
        """The partner's service account, made on first use."""
        if self.service_user_id is None:
            from django.contrib.auth import get_user_model
            from django.db import transaction

            with transaction.atomic():
                locked = Partner.objects.select_for_update().get(pk=self.pk)
                if locked.service_user_id is None:
                    user = get_user_model().objects.create_user(
                        f"api-partner-{self.pk}@partners.abe-portal.invalid",
                        None,  # an unusable password: the account never signs in
                        first_name=self.name[:150],
                        last_name="(API)",
                    )
                    locked.service_user = user
                    locked.save(update_fields=["service_user"])
                self.service_user = locked.service_user
        if self.service_user is None:  # made above, under the lock
            raise RuntimeError(f"Partner {self.pk} has no service account")
        return self.service_user


# The package's APIKeyManager (BaseAPIKeyManager, nothing added) with the door's filters; a module-level name is the
# form of from_queryset that django-stubs' plugin reads.
_PartnerKeyManagerBase = APIKeyManager.from_queryset(NationalOnlyQuerySet)


class PartnerKeyManager(_PartnerKeyManagerBase):
    pass


class PartnerKey(AbstractAPIKey):
    """One key of a partner: a hashed secret (prefix.secret), its permissions and its expiry."""

    # The package's fields again, with the portal's (translated) names.
    prefix = models.CharField(_("prefix"), max_length=8, unique=True, editable=False)
    created = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    name = models.CharField(_("name"), max_length=50, help_text=_("What the key is for, e.g. the system that uses it."))
    revoked = models.BooleanField(
        _("revoked"), blank=True, default=False, help_text=_("A revoked key is refused at once; this cannot be undone.")
    )
    partner = models.ForeignKey(Partner, models.PROTECT, related_name="keys", verbose_name=_("partner"))
    permissions = models.JSONField(
        _("permissions"),
        default=dict,
        blank=True,
        help_text=_('Per resource: "read" or "write" (read and write).'),
    )
    can_see_identifiers = models.BooleanField(
        _("may see full national IDs"),
        default=False,
        help_text=_("Without it, identifiers are masked (x-xxxx-xxxxx-12-1) in every response."),
    )
    # Required, unlike the package's: a key lives at most a year (MAX_KEY_LIFETIME).
    expiry_date = models.DateTimeField(
        _("expires"), help_text=_("At most a year after the key is created. An expired key is refused.")
    )

    objects: ClassVar[PartnerKeyManager] = PartnerKeyManager()

    class Meta(AbstractAPIKey.Meta):
        # The package's Meta has plain strs, which mypy holds its subclasses to.
        verbose_name = _("API key")  # type: ignore[assignment]
        verbose_name_plural = _("API keys")  # type: ignore[assignment]

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str | Promise]] = {}
        try:
            self.permissions = clean_permissions(self.permissions)
        except ValidationError as exc:
            errors["permissions"] = list(exc.messages)
        if self.expiry_date is not None:
            created = self.created or timezone.now()
            if self.expiry_date > created + MAX_KEY_LIFETIME:
                errors["expiry_date"] = [_("A key expires at most a year after it is created.")]
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        # The same rules however the key is made (admin, shell, tests): never a key without expiry,
        # never one that lives longer than a year.
        if self.expiry_date is None:
            raise ValidationError({"expiry_date": _("A key must have an expiry date.")})
        if self.expiry_date > (self.created or timezone.now()) + MAX_KEY_LIFETIME:
            raise ValidationError({"expiry_date": _("A key expires at most a year after it is created.")})
        self.permissions = clean_permissions(self.permissions)
        super().save(*args, **kwargs)

    def is_usable(self, now: datetime.datetime | None = None) -> bool:
        """Not revoked, not expired, no longer-lived than allowed, and its partner active."""
        now = now or timezone.now()
        return (
            not self.revoked
            and self.expiry_date is not None
            and now < self.expiry_date
            and self.expiry_date <= self.created + MAX_KEY_LIFETIME
            and self.partner.is_active
        )

    def allows(self, resource: str, *, write: bool) -> bool:
        if resource == REFERENCE:
            return not write
        level = self.permissions.get(resource)
        return level == WRITE if write else level in (READ, WRITE)

    @property
    def may_write_anything(self) -> bool:
        return WRITE in self.permissions.values()


def clean_permissions(value) -> dict:
    """{resource: "read" | "write"} with known resources and levels only."""
    if not isinstance(value, dict):
        raise ValidationError(_("Give the permissions as an object: {resource: level}."))
    cleaned = {}
    for resource, level in value.items():
        if resource not in RESOURCES:
            raise ValidationError(_("Unknown resource: %(resource)s") % {"resource": resource})
        if level in ("", None):
            continue
        if level not in RESOURCES[resource][1]:
            raise ValidationError(
                _("%(resource)s can be given: %(levels)s")
                % {"resource": resource, "levels": ", ".join(RESOURCES[resource][1])}
            )
        cleaned[resource] = level
    return cleaned


class IdempotentRequest(models.Model):
    """A POST made with an Idempotency-Key header, and the response it got: a retry with the same
    key and body gets the same response without anything being applied again (api/idempotency.py)."""

    # "key:<prefix>" for a partner key, "user:<id>" for a signed-in user.
    principal = models.CharField(_("client"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=255)
    request_hash = models.CharField(_("request checksum"), max_length=64)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=500)
    status_code = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    response_body = models.JSONField(_("response"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="api_idempotency_key_once_per_client"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"
