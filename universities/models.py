import datetime
from typing import Self

from django.db import models
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.access import Principal, ProvinceScopedQuerySet, RoleHoldersQuerySet, restrict
from audit.tracking import track
from core.buddhist_dates import FISCAL_YEAR_MAX, FISCAL_YEAR_MIN, current_fiscal_year
from core.versioning import Versioned
from provinces.models import BilingualName, Province


@track()
class University(BilingualName):
    """A university whose team is a regional support team (ทีมส่งยิ้มภูมิภาค)."""

    code = models.CharField(_("short code"), max_length=16, unique=True)
    # The abbreviation a Thai reader knows (มข., ม.อ.); pages show it where the Latin code (KKU, PSU) was shown.
    # The code stays the key in addresses, the API and exports.
    short_name_th = models.CharField(_("short name (Thai)"), max_length=30, blank=True)
    is_coordinating = models.BooleanField(
        _("coordinating team"), default=False, help_text=_("The team that coordinates the others (IPSR).")
    )

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("university")
        verbose_name_plural = _("universities")

    @property
    def short_name(self) -> str:
        """มข. in Thai, KKU in English (and where no Thai short name is set)."""
        if (get_language() or "th").startswith("en") or not self.short_name_th:
            return self.code
        return self.short_name_th


class SupportAssignmentQuerySet(ProvinceScopedQuerySet):
    def visible_to(self, user: Principal) -> Self:
        """The assignments of provinces the user may read, and every year of their own university's."""
        return restrict(self, user, "universities.read")

    def writable_by(self, user: Principal) -> Self:
        # Which university supports which province is decided by EEF/IPSR only.
        return restrict(self, user, "universities.assignment.write")

    def for_fiscal_year(self, fiscal_year: int) -> Self:
        return self.filter(fiscal_year=fiscal_year)

    def current(self) -> Self:
        return self.for_fiscal_year(current_fiscal_year())

    def leads(self) -> Self:
        return self.filter(is_lead=True)


@track()
class SupportAssignment(models.Model):
    """A university supports a province in a fiscal year; one of them leads.

    Which provinces take part and who supports them changes each year and is not public:
    admins enter it. A province takes part in the programme in a fiscal year when it has an
    assignment for that year.
    """

    university = models.ForeignKey(University, models.PROTECT, related_name="assignments", verbose_name=_("university"))
    province = models.ForeignKey(
        Province, models.PROTECT, related_name="support_assignments", verbose_name=_("province")
    )
    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year (B.E.)"))
    is_lead = models.BooleanField(_("lead university"), default=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SupportAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["-fiscal_year", "province"]
        verbose_name = _("support assignment")
        verbose_name_plural = _("support assignments")
        constraints = [
            models.UniqueConstraint(fields=["university", "province", "fiscal_year"], name="assignment_once_per_year"),
            models.UniqueConstraint(
                fields=["province", "fiscal_year"],
                condition=models.Q(is_lead=True),
                name="assignment_one_lead_per_province_year",
                violation_error_message=_("This province already has a lead university for that fiscal year."),
            ),
            models.CheckConstraint(
                condition=models.Q(fiscal_year__gte=FISCAL_YEAR_MIN, fiscal_year__lte=FISCAL_YEAR_MAX),
                name="assignment_fiscal_year_is_buddhist_era",
                violation_error_message=_("Give the fiscal year in the Buddhist Era (e.g. 2567)."),
            ),
        ]
        indexes = [models.Index(fields=["fiscal_year", "university"])]

    def __str__(self) -> str:
        role = _("lead") if self.is_lead else _("support")
        return f"{self.university.code} → {self.province} ({self.fiscal_year}, {role})"


# --- What the support teams do -------------------------------------------------------------------


class SupportRole(models.IntegerChoices):
    """The four roles of a support team toward its provinces (../shared/DOMAIN.md)."""

    COORDINATION = 1, _("1. Coordination and communication")
    CAPACITY = 2, _("2. Capacity development")
    DATA = 3, _("3. Data for planning")
    ACADEMIC = 4, _("4. Academic support")


class UniversityWorkQuerySet(ProvinceScopedQuerySet):
    """Work of a university in a province: seen by the province's people and by the university's
    team (in every year), written by the university's team and EEF/IPSR (universities/policies.py)."""

    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "universities.read")

    def handled_by(self, user: Principal) -> Self:
        """Rows the user may write as a member of the university's team (or as an EEF admin)."""
        return restrict(self, user, "universities.work.write")

    def writable_by(self, user: Principal) -> Self:
        return self.handled_by(user)


def activity_attachment_path(activity: "SupportActivity", filename: str) -> str:
    return f"activities/{activity.university_id}/{filename}"


@track()
class SupportActivity(models.Model):
    """A support team's activity with a province, under one of the four roles."""

    university = models.ForeignKey(University, models.PROTECT, related_name="activities", verbose_name=_("university"))
    province = models.ForeignKey(
        Province, models.PROTECT, related_name="support_activities", verbose_name=_("province")
    )
    role = models.PositiveSmallIntegerField(_("support role"), choices=SupportRole.choices)
    date = models.DateField(_("date"))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    participants = models.PositiveIntegerField(_("participants"), null=True, blank=True)
    attachment = models.FileField(_("attachment"), upload_to=activity_attachment_path, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)

    objects = UniversityWorkQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "-pk"]
        verbose_name = _("support activity")
        verbose_name_plural = _("support activities")
        indexes = [
            models.Index(fields=["university", "date"]),
            models.Index(fields=["province", "date"]),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.title}"


class CapacityRequestQuerySet(UniversityWorkQuerySet):
    def open(self) -> Self:
        return self.filter(status__in=CapacityRequest.OPEN_STATUSES)

    def overdue(self, today: datetime.date | None = None) -> Self:
        """Asked-for date passed and not delivered yet."""
        from django.utils import timezone

        return self.open().filter(desired_date__lt=today or timezone.localdate())

    def requested_by(self, user: Principal) -> Self:
        """Requests the user may act on for the province (file, rate): its coordinators, EEF admins."""
        return ProvinceScopedQuerySet.writable_by(self, user)


@track()
class CapacityRequest(Versioned):
    """A province asks its lead university for capacity development (role 2), handled like a ticket:
    open → accepted → scheduled → delivered → closed, or declined with a reason; the province rates
    a delivered request 1–5."""

    class Status(models.TextChoices):
        # Context: "open" and "accepted" mean other things for action items and reports.
        OPEN = "open", pgettext_lazy("capacity request", "open")
        ACCEPTED = "accepted", pgettext_lazy("capacity request", "accepted")
        SCHEDULED = "scheduled", _("scheduled")
        DELIVERED = "delivered", _("delivered")
        CLOSED = "closed", _("closed")
        DECLINED = "declined", _("declined")

    OPEN_STATUSES = (Status.OPEN, Status.ACCEPTED, Status.SCHEDULED)

    province = models.ForeignKey(Province, models.PROTECT, related_name="capacity_requests", verbose_name=_("province"))
    university = models.ForeignKey(
        University, models.PROTECT, related_name="capacity_requests", verbose_name=_("university")
    )
    topic = models.CharField(_("topic"), max_length=200)
    need = models.TextField(_("what is needed"))
    desired_date = models.DateField(_("desired date"))
    participants = models.PositiveIntegerField(_("participants"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    scheduled_for = models.DateField(_("scheduled for"), null=True, blank=True)
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    delivered_activity = models.OneToOneField(
        SupportActivity,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="capacity_request",
        verbose_name=_("delivered as"),
    )
    rating = models.PositiveSmallIntegerField(_("rating (1–5)"), null=True, blank=True)
    feedback = models.TextField(_("feedback"), blank=True)
    requested_by = models.ForeignKey(
        "accounts.User", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("requested by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)

    objects = CapacityRequestQuerySet.as_manager()

    class Meta:
        ordering = ["desired_date", "pk"]
        verbose_name = _("capacity request")
        verbose_name_plural = _("capacity requests")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="capacity_request_rating_1_to_5",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="declined") | ~models.Q(decline_reason=""),
                name="capacity_request_decline_has_reason",
                violation_error_message=_("Say why the request is declined."),
            ),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(status__in=["delivered", "closed"]),
                name="capacity_request_rated_after_delivery",
            ),
        ]
        indexes = [models.Index(fields=["university", "status"]), models.Index(fields=["province", "status"])]

    def __str__(self) -> str:
        return self.topic

    @property
    def is_overdue(self) -> bool:
        from django.utils import timezone

        return self.status in self.OPEN_STATUSES and self.desired_date < timezone.localdate()
