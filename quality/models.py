"""What EEF/IPSR admins set of each data-quality rule (quality.rules): on or off, and its threshold.

A rule without a row here runs with its defaults (on, the rule's default threshold): a new rule in the code needs no
data migration, and an admin adds a row only to change something."""

from typing import Self

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.access import Principal, restrict
from audit.tracking import track


class RuleSettingQuerySet(models.QuerySet["RuleSetting"]):
    """Read and written by EEF/IPSR admins only."""

    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "quality.settings")

    def writable_by(self, user: Principal) -> Self:
        return self.visible_to(user)


@track()
class RuleSetting(models.Model):
    code = models.CharField(_("rule"), max_length=40, unique=True)
    enabled = models.BooleanField(_("on"), default=True)
    threshold = models.PositiveIntegerField(
        _("threshold"), null=True, blank=True, help_text=_("Empty: the rule's default.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RuleSettingQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("data-quality rule setting")
        verbose_name_plural = _("data-quality rule settings")

    def __str__(self) -> str:
        return self.code
