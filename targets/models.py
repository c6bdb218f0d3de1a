"""Target groups (กลุ่มเป้าหมาย): the reference tables of categories and outcomes.

Both are tables admins can extend; `targets.reference_data` loads the default set (Thai and
English). Provincial plans set goals per category and outcome (provinces.PlanGoal); the target-group
records and their upload come with their own issue.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.access import RoleHoldersQuerySet
from provinces.models import BilingualName


class Category(BilingualName):
    """A target-group category, e.g. out of school (เด็กและเยาวชนนอกระบบการศึกษา)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("target-group category")
        verbose_name_plural = _("target-group categories")


class Outcome(BilingualName):
    """Where a child or young person stands after the province's help, e.g. returned to school."""

    class Group(models.TextChoices):
        RETURNED_TO_LEARNING = "returned_to_learning", _("returned to learning")
        KEPT_IN_SCHOOL = "kept_in_school", _("kept in school")
        OTHER = "other", _("other")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    group = models.CharField(
        _("counts as"),
        max_length=32,
        choices=Group.choices,
        default=Group.OTHER,
        help_text=_("How the progress summaries count this outcome against the plan's goals."),
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")
