"""Thailand's administrative areas: reference data loaded by `manage.py load_reference_data`.

The official DOPA codes are the primary keys (province 2 digits, district 4, sub-district 6):
spreadsheets and partner systems use them, and an integer key keeps the joins of the large
target-group table cheap.
"""

import datetime
from typing import Self

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from accounts.access import ProvinceScopedQuerySet, RoleHoldersQuerySet
from audit.tracking import track
from core.versioning import Versioned


class ProvinceQuerySet(ProvinceScopedQuerySet):
    province_path = ""


class DistrictQuerySet(ProvinceScopedQuerySet):
    province_path = "province"


class SubDistrictQuerySet(ProvinceScopedQuerySet):
    province_path = "district__province"


class BilingualName(models.Model):
    """Thai and English names; `name` follows the active language (Thai by default)."""

    name_th = models.CharField(_("name (Thai)"), max_length=150)
    name_en = models.CharField(_("name (English)"), max_length=150, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        if (get_language() or "th").startswith("en") and self.name_en:
            return self.name_en
        return self.name_th


class Region(BilingualName):
    code = models.PositiveSmallIntegerField(_("code"), primary_key=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")


class Province(BilingualName):
    code = models.PositiveSmallIntegerField(_("DOPA code"), primary_key=True)
    region = models.ForeignKey(Region, models.PROTECT, related_name="provinces", verbose_name=_("region"))

    objects = ProvinceQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")
        constraints = [
            models.CheckConstraint(condition=models.Q(code__gte=10, code__lte=99), name="province_code_2_digits"),
        ]


class District(BilingualName):
    code = models.PositiveSmallIntegerField(_("DOPA code"), primary_key=True)
    province = models.ForeignKey(Province, models.PROTECT, related_name="districts", verbose_name=_("province"))

    objects = DistrictQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        constraints = [
            models.CheckConstraint(condition=models.Q(code__gte=1000, code__lte=9999), name="district_code_4_digits"),
        ]


class SubDistrict(BilingualName):
    code = models.PositiveIntegerField(_("DOPA code"), primary_key=True)
    district = models.ForeignKey(District, models.PROTECT, related_name="sub_districts", verbose_name=_("district"))
    postcode = models.CharField(_("postcode"), max_length=5, blank=True)

    objects = SubDistrictQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("sub-district")
        verbose_name_plural = _("sub-districts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__gte=100000, code__lte=999999), name="subdistrict_code_6_digits"
            ),
        ]


# --- The provincial working group and its plan ---------------------------------------------------


class WorkingGroupMemberQuerySet(ProvinceScopedQuerySet):
    def active(self, on: datetime.date | None = None) -> Self:
        """Members whose active period includes `on` (today by default)."""
        from django.utils import timezone

        on = on or timezone.localdate()
        return self.filter(
            models.Q(active_from__isnull=True) | models.Q(active_from__lte=on),
            models.Q(active_until__isnull=True) | models.Q(active_until__gte=on),
        )


@track()
class WorkingGroupMember(models.Model):
    """A member of a province's working group (คณะทำงานระดับจังหวัด)."""

    class GroupRole(models.TextChoices):
        CHAIR = "chair", _("chair")
        SECRETARY = "secretary", _("secretary")
        COORDINATOR = "coordinator", _("coordinator")
        MEMBER = "member", _("member")

    province = models.ForeignKey(Province, models.PROTECT, related_name="working_group", verbose_name=_("province"))
    name = models.CharField(_("name"), max_length=200)
    position = models.CharField(_("position"), max_length=200, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    group_role = models.CharField(
        _("role in the group"), max_length=16, choices=GroupRole.choices, default=GroupRole.MEMBER
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("email"), blank=True)
    active_from = models.DateField(_("active from"), null=True, blank=True)
    active_until = models.DateField(_("active until"), null=True, blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)

    objects = WorkingGroupMemberQuerySet.as_manager()

    class Meta:
        ordering = ["province", "group_role", "name"]
        verbose_name = _("working-group member")
        verbose_name_plural = _("working-group members")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(active_until__isnull=True)
                | models.Q(active_from__isnull=True)
                | models.Q(active_until__gte=models.F("active_from")),
                name="working_group_member_period_in_order",
                violation_error_message=_("The end of the active period is before its start."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_group_role_display()})"


@track()
class ProvincialPlan(Versioned):
    """A province's plan for one fiscal year: its strategy and numeric goals (PlanGoal)."""

    province = models.ForeignKey(Province, models.PROTECT, related_name="plans", verbose_name=_("province"))
    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year (B.E.)"))
    strategy = models.TextField(_("strategy"), blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ProvinceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-fiscal_year", "province"]
        verbose_name = _("provincial plan")
        verbose_name_plural = _("provincial plans")
        constraints = [
            models.UniqueConstraint(fields=["province", "fiscal_year"], name="plan_once_per_province_year"),
            models.CheckConstraint(
                condition=models.Q(fiscal_year__gte=2560, fiscal_year__lte=2700),
                name="plan_fiscal_year_is_buddhist_era",
                violation_error_message=_("Give the fiscal year in the Buddhist Era (e.g. 2567)."),
            ),
        ]

    def __str__(self) -> str:
        return _("Plan of %(province)s, fiscal year %(year)s") % {"province": self.province, "year": self.fiscal_year}


class PlanGoalQuerySet(ProvinceScopedQuerySet):
    province_path = "plan__province"


@track()
class PlanGoal(models.Model):
    """How many people of a category the plan means to bring to an outcome, e.g. 300 out-of-school
    children returned to learning. The progress summaries compare the records against these."""

    plan = models.ForeignKey(ProvincialPlan, models.CASCADE, related_name="goals", verbose_name=_("plan"))
    category = models.ForeignKey(
        "targets.Category", models.PROTECT, related_name="+", verbose_name=_("target-group category")
    )
    # Only an achieved outcome is a goal (targets.Outcome.Kind). A check cannot span tables: clean(),
    # the choices of the plan editor and of admin (PlanGoalInline) and portal.plans.save_plan,
    # the one write path, hold the rule. (No limit_choices_to: the audit event table copies this
    # field, and the choices are limited where they are offered.)
    outcome = models.ForeignKey("targets.Outcome", models.PROTECT, related_name="+", verbose_name=_("outcome"))
    target = models.PositiveIntegerField(_("goal (people)"))

    objects = PlanGoalQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "category__sort_order", "outcome__sort_order"]
        verbose_name = _("plan goal")
        verbose_name_plural = _("plan goals")
        constraints = [
            models.UniqueConstraint(fields=["plan", "category", "outcome"], name="plan_goal_once_per_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.category} → {self.outcome}: {self.target}"

    def clean(self) -> None:
        super().clean()
        if self.outcome_id is not None and not self.outcome.is_achieved:
            raise ValidationError({"outcome": not_achieved_message()})


def not_achieved_message() -> str:
    return gettext("A goal can only be an achieved outcome, not one still in progress or an exit without outcome.")


# --- What a province allows its case workers ----------------------------------------------------


@track()
class CaseSettings(models.Model):
    """A province's choice of how far its case workers read. By default a case worker reads only the
    records assigned to them; a province that works by area lets them also read (never change) every
    record of their area: their districts, or the whole province when their role names none. With no
    row, the default holds."""

    province = models.OneToOneField(
        Province,
        models.CASCADE,
        primary_key=True,
        related_name="case_settings",
        verbose_name=_("province"),
    )
    case_workers_read_area = models.BooleanField(
        _("case workers read their whole area"),
        default=False,
        help_text=_(
            "Off: a case worker reads only the children assigned to them. On: they also read, without changing, "
            "every record of their districts (or of the province, when their role names no district)."
        ),
    )

    objects = ProvinceScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("case follow-up setting")
        verbose_name_plural = _("case follow-up settings")

    def __str__(self) -> str:
        return str(self.province)
