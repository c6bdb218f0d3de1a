from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeAlias

from django.contrib.auth.models import AbstractUser, AnonymousUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .access import Principal  # accounts.access imports this module


class UserQuerySet(models.QuerySet["User"]):
    def visible_to(self, user: "Principal") -> Self:
        """EEF admins manage every account; anyone else sees only their own."""
        from .access import can  # accounts.access imports this module

        if can(user, "portal.national"):
            return self
        return self.filter(pk=user.pk) if user.is_authenticated else self.none()

    def writable_by(self, user: "Principal") -> Self:
        from .access import can

        return self if can(user, "portal.national") else self.none()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    # UserQuerySet's filters, written out as Manager.from_queryset(UserQuerySet) would copy them: django-stubs'
    # plugin cannot read a from_queryset base in the module of the AUTH_USER_MODEL.
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def visible_to(self, user: "Principal") -> UserQuerySet:
        return self.get_queryset().visible_to(user)

    def writable_by(self, user: "Principal") -> UserQuerySet:
        return self.get_queryset().writable_by(user)

    def case_workers_of(self, province_id: int) -> UserQuerySet:
        """The active case workers of a province: whom a record there may be assigned to (the door still says
        whether one may take a given district: targets.may_take_case)."""
        return (
            self.get_queryset()
            .filter(is_active=True, memberships__role=Role.CASE_WORKER, memberships__province_id=province_id)
            .distinct()
        )

    def coordinators_of(self, province_ids: Iterable[int]) -> UserQuerySet:
        """The active coordinators of these provinces: who answers for a province's records (transfers, merges)."""
        return (
            self.get_queryset()
            .filter(
                is_active=True, memberships__role=Role.PROVINCE_COORDINATOR, memberships__province_id__in=province_ids
            )
            .distinct()
        )

    def national_admins(self) -> UserQuerySet:
        """The active EEF/IPSR admins: who answers when no coordinator of a province does."""
        return self.get_queryset().filter(is_active=True, memberships__role=Role.EEF_ADMIN).distinct()

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields: Any) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in. The email address is the login; there is no username."""

    username = None  # type: ignore[assignment]  # AbstractUser's field, removed
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # AbstractUser's stub types it as Django's own UserManager, which this one replaces.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # The login is case-insensitive: Somchai@x.th and somchai@x.th are one person.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = self.email.lower()
        super().save(*args, **kwargs)


# Whom a page, a task or a service acts for: request.user is one or the other.
AnyUser: TypeAlias = User | AnonymousUser


class Role(models.TextChoices):
    EEF_ADMIN = "eef_admin", _("EEF/IPSR admin")
    UNIVERSITY_LEAD = "university_lead", _("University team lead")
    UNIVERSITY_MEMBER = "university_member", _("University team member")
    PROVINCE_COORDINATOR = "province_coordinator", _("Provincial coordinator")
    PROVINCE_VIEWER = "province_viewer", _("Provincial viewer")
    # Case follow-up (cases/): a case worker of a province sees the records assigned to them; an agency
    # user sees the children referred to their agency, in the fields a referral needs.
    CASE_WORKER = "case_worker", _("Case worker")
    AGENCY_USER = "agency_user", _("Agency user")


NATIONAL_ROLES = frozenset({Role.EEF_ADMIN})
UNIVERSITY_ROLES = frozenset({Role.UNIVERSITY_LEAD, Role.UNIVERSITY_MEMBER})
PROVINCE_ROLES = frozenset({Role.PROVINCE_COORDINATOR, Role.PROVINCE_VIEWER})
# Held in a province like the provincial roles, but reading only the children given to them: never the
# province's records, dashboards or meetings as a whole.
CASE_ROLES = frozenset({Role.CASE_WORKER, Role.AGENCY_USER})


class MembershipQuerySet(models.QuerySet):
    def visible_to(self, user: "Principal") -> Self:
        from .access import can  # accounts.access imports this module

        if can(user, "portal.national"):
            return self
        return self.filter(user=user) if user.is_authenticated else self.none()

    def writable_by(self, user: "Principal") -> Self:
        from .access import can

        return self if can(user, "portal.national") else self.none()


class Membership(models.Model):
    """A user's role, and the province or university it applies to.

    Everything a user may see follows from these rows (accounts/access.py); a user without one
    sees nothing. Managed in Django admin by EEF admins only.
    """

    user = models.ForeignKey(User, models.CASCADE, related_name="memberships", verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    province = models.ForeignKey(
        "provinces.Province", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("province")
    )
    university = models.ForeignKey(
        "universities.University",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("university"),
    )
    # A case worker may be limited to some of the province's districts (none: the whole province).
    districts = models.ManyToManyField(
        "provinces.District",
        blank=True,
        related_name="+",
        verbose_name=_("districts"),
        help_text=_("Case workers only: the districts they work in. None: the whole province."),
    )
    # An agency user's agency (cases.Agency), in the membership's province.
    agency = models.ForeignKey(
        "cases.Agency",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("agency"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["user", "role"]
        verbose_name = _("role membership")
        verbose_name_plural = _("role memberships")
        constraints = [
            # The role decides which scope column is filled: none for national, one otherwise.
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=NATIONAL_ROLES, province__isnull=True, university__isnull=True)
                    | models.Q(role__in=UNIVERSITY_ROLES, province__isnull=True, university__isnull=False)
                    | models.Q(role__in=PROVINCE_ROLES, province__isnull=False, university__isnull=True)
                    | models.Q(role=Role.CASE_WORKER, province__isnull=False, university__isnull=True)
                    | models.Q(role=Role.AGENCY_USER, province__isnull=False, university__isnull=True)
                ),
                name="membership_scope_matches_role",
                violation_error_message=_(
                    "An EEF admin has no province or university; a university role needs a university; "
                    "a provincial role needs a province."
                ),
            ),
            # The agency goes with the agency-user role, and only with it.
            models.CheckConstraint(
                condition=models.Q(role=Role.AGENCY_USER, agency__isnull=False)
                | (~models.Q(role=Role.AGENCY_USER) & models.Q(agency__isnull=True)),
                name="membership_agency_only_for_agency_users",
                violation_error_message=_("An agency user needs an agency; other roles have none."),
            ),
            # One role per user and scope: never coordinator and viewer of the same province at once.
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(role__in=NATIONAL_ROLES), name="membership_one_national_role"
            ),
            models.UniqueConstraint(
                fields=["user", "university"],
                condition=models.Q(university__isnull=False),
                name="membership_one_role_per_university",
            ),
            models.UniqueConstraint(
                fields=["user", "province"],
                condition=models.Q(province__isnull=False),
                name="membership_one_role_per_province",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.describe()}"

    def clean(self) -> None:
        super().clean()
        agency = self.agency if self.agency_id is not None else None
        if agency is not None and self.province_id is not None and agency.province_id != self.province_id:
            raise ValidationError({"agency": _("The agency must be in the membership's province.")})

    def describe(self) -> str:
        """The role and its scope, e.g. "Provincial coordinator (ขอนแก่น)"; used by admin lists."""
        scope = self.province or self.university
        return f"{self.get_role_display()} ({scope})" if scope else str(self.get_role_display())
