"""Provincial progress reports: the fixed agenda of every meeting (../shared/DOMAIN.md).

A report moves draft → submitted → reviewed (by the province's lead university team) → accepted
(by EEF/IPSR), or is sent back to draft with a comment at any step; an accepted report is locked.
Every move is one call of `reports.services.transition` and leaves a ReportEvent.
"""

import datetime
from typing import Self

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.access import ProvinceScopedQuerySet
from audit.tracking import track
from core.periods import Period, period_bounds
from core.versioning import Versioned
from provinces.models import Province

# The five sections of a report, in their fixed order: (field name, label).
SECTIONS = (
    ("situation", _("Situation overview")),
    ("mechanisms", _("Key mechanisms")),
    ("progress", _("Progress")),
    ("recommendations", _("Recommendations")),
    ("lessons_learned", _("Lessons learned")),
)


def submission_opens(fiscal_year: int, period: str) -> datetime.date:
    """The first day of the period's last month: a report is submitted from then on
    (reports.services; earlier only by an admin's override, with a reason)."""
    _first, last_day = period_bounds(fiscal_year, period)
    return last_day.replace(day=1)


class Status(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    REVIEWED = "reviewed", _("reviewed")
    ACCEPTED = "accepted", _("accepted")


class ProgressReportQuerySet(ProvinceScopedQuerySet):
    def for_period(self, fiscal_year: int, period: str) -> Self:
        return self.filter(fiscal_year=fiscal_year, period=period)


@track()
class ProgressReport(Versioned):
    province = models.ForeignKey(Province, models.PROTECT, related_name="progress_reports", verbose_name=_("province"))
    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year (B.E.)"))
    period = models.CharField(_("period"), max_length=2, choices=Period.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    situation = models.TextField(_("Situation overview"), blank=True)
    mechanisms = models.TextField(_("Key mechanisms"), blank=True)
    progress = models.TextField(_("Progress"), blank=True)
    recommendations = models.TextField(_("Recommendations"), blank=True)
    lessons_learned = models.TextField(_("Lessons learned"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)

    objects = ProgressReportQuerySet.as_manager()

    class Meta:
        ordering = ["-fiscal_year", "-period", "province"]
        verbose_name = _("progress report")
        verbose_name_plural = _("progress reports")
        constraints = [
            models.UniqueConstraint(
                fields=["province", "fiscal_year", "period"], name="report_once_per_province_period"
            ),
            models.CheckConstraint(
                condition=models.Q(fiscal_year__gte=2560, fiscal_year__lte=2700),
                name="report_fiscal_year_is_buddhist_era",
                violation_error_message=_("Give the fiscal year in the Buddhist Era (e.g. 2567)."),
            ),
        ]
        indexes = [models.Index(fields=["status", "fiscal_year"])]

    def __str__(self) -> str:
        return f"{self.province} · {self.fiscal_year} {self.get_period_display()}"

    @property
    def is_locked(self) -> bool:
        """An accepted report is final: nobody edits or moves it."""
        return self.status == Status.ACCEPTED

    @property
    def is_editable(self) -> bool:
        """Only a draft is written; a submitted report waits for review (or to be sent back)."""
        return self.status == Status.DRAFT

    def sections(self) -> list[tuple[str, str | Promise, str]]:
        """(field, label, text) of the five sections, in order."""
        return [(name, label, getattr(self, name)) for name, label in SECTIONS]


class ReportEventQuerySet(ProvinceScopedQuerySet):
    province_path = "report__province"


class ReportEvent(models.Model):
    """One step of a report's workflow: who moved it from where to where, when, and why."""

    class Action(models.TextChoices):
        SUBMIT = "submit", _("submitted")
        REVIEW = "review", _("reviewed")
        ACCEPT = "accept", _("accepted")
        RETURN = "return", _("sent back")

    report = models.ForeignKey(ProgressReport, models.CASCADE, related_name="events", verbose_name=_("report"))
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    from_status = models.CharField(_("from"), max_length=16, choices=Status.choices)
    to_status = models.CharField(_("to"), max_length=16, choices=Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("by"))
    comment = models.TextField(_("comment"), blank=True)
    # Why an EEF/IPSR admin submitted the report before its period's last month (reports.services).
    override_reason = models.TextField(_("reason for submitting early"), blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    objects = ReportEventQuerySet.as_manager()

    class Meta:
        ordering = ["report", "created_at", "pk"]
        verbose_name = _("report step")
        verbose_name_plural = _("report steps")
        constraints = [
            # Sending back always says why.
            models.CheckConstraint(
                condition=~models.Q(action="return") | ~models.Q(comment=""),
                name="report_return_has_comment",
            ),
            # Only a submission overrides the period's dates.
            models.CheckConstraint(
                condition=models.Q(action="submit") | models.Q(override_reason=""),
                name="report_override_only_on_submit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report}: {self.get_action_display()}"
