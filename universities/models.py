from django.db import models
from django.utils.translation import gettext_lazy as _

from abe_portal.buddhist_dates import current_fiscal_year
from accounts.access import ProvinceScopedQuerySet, RoleHoldersQuerySet, scope_for
from provinces.models import BilingualName, Province

# Fiscal years are พ.ศ. years; this window keeps a ค.ศ. year (2024) from slipping in by mistake.
FISCAL_YEAR_MIN = 2560
FISCAL_YEAR_MAX = 2700


class University(BilingualName):
    """A university whose team is a regional support team (ทีมส่งยิ้มภูมิภาค)."""

    code = models.CharField(_("short code"), max_length=16, unique=True)
    is_coordinating = models.BooleanField(
        _("coordinating team"), default=False, help_text=_("The team that coordinates the others (IPSR).")
    )

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("university")
        verbose_name_plural = _("universities")


class SupportAssignmentQuerySet(ProvinceScopedQuerySet):
    def visible_to(self, user) -> "SupportAssignmentQuerySet":
        """The assignments of provinces the user may read, and every year of their own university's."""
        scope = scope_for(user)
        if scope.national or not scope.universities:
            return super().visible_to(user)
        return self.filter(
            models.Q(province__in=scope.readable_provinces) | models.Q(university__in=scope.universities)
        )

    def writable_by(self, user) -> "SupportAssignmentQuerySet":
        # Which university supports which province is decided by EEF/IPSR only.
        return self if scope_for(user).national else self.none()

    def for_fiscal_year(self, fiscal_year: int) -> "SupportAssignmentQuerySet":
        return self.filter(fiscal_year=fiscal_year)

    def current(self) -> "SupportAssignmentQuerySet":
        return self.for_fiscal_year(current_fiscal_year())

    def leads(self) -> "SupportAssignmentQuerySet":
        return self.filter(is_lead=True)


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
