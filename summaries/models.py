"""Progress summaries: figures computed by a run (summaries.compute), stored as snapshots.

One run computes every figure for all provinces, universities and the nation at once, in a
constant number of aggregate queries, and stores one Snapshot per province, per university and one
national. Pages read snapshots, never the records; trends come from the snapshots of earlier runs.
"""

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.access import Principal, restrict
from provinces.models import Province
from universities.models import University

from .schema import OLDEST_READABLE, SCHEMA_VERSION, Figures, parse

# The meaning and shape of Snapshot.data, owned by summaries.schema (its versions are listed there).
# Pages and exports read only snapshots that parse() reads as today's figures (SnapshotQuerySet.current):
# figures counted the old way are never shown beside new ones; the next run (nightly, after an upload,
# or "compute now") brings the pages back. A version that only added figures (3: case follow-up) stays
# readable, its new figures empty, until then.
READABLE_SCHEMAS = (OLDEST_READABLE, SCHEMA_VERSION)


class SummaryRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("schedule")
        ON_DEMAND = "on_demand", _("on demand")
        UPLOAD = "upload", _("after an upload")
        COMMAND = "command", _("command")

    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year (B.E.)"))
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    as_of = models.DateTimeField(_("figures as of"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    query_count = models.PositiveIntegerField(_("queries"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("summary run")
        verbose_name_plural = _("summary runs")
        indexes = [models.Index(fields=["status", "fiscal_year", "-as_of"])]

    def __str__(self) -> str:
        from django.utils import timezone

        return f"{self.fiscal_year} · {timezone.localtime(self.as_of or self.created_at):%Y-%m-%d %H:%M}"


class Level(models.TextChoices):
    NATIONAL = "national", _("national")
    UNIVERSITY = "university", _("university")
    PROVINCE = "province", _("province")


class SnapshotQuerySet(models.QuerySet):
    def visible_to(self, user: Principal) -> Self:
        """Who sees which snapshot: summaries/policies.py."""
        return restrict(self, user, "summaries.read")

    def current(self) -> Self:
        """Snapshots whose figures mean what today's pages say they mean (READABLE_SCHEMAS)."""
        return self.filter(schema__range=READABLE_SCHEMAS)

    def writable_by(self, user: Principal) -> Self:
        return self.none()  # written only by summaries.services.run_summary

    def latest_run(self, fiscal_year: int) -> Self:
        """The snapshots of the last finished run of a fiscal year."""
        last = (
            SummaryRun.objects.filter(
                fiscal_year=fiscal_year, status=SummaryRun.Status.DONE, snapshots__schema__range=READABLE_SCHEMAS
            )
            .order_by("-as_of")
            .values("pk")[:1]
        )
        return self.filter(run=models.Subquery(last))


class Snapshot(models.Model):
    run = models.ForeignKey(SummaryRun, models.CASCADE, related_name="snapshots", verbose_name=_("run"))
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    province = models.ForeignKey(
        Province, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("province")
    )
    university = models.ForeignKey(
        University, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("university")
    )
    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year (B.E.)"))
    as_of = models.DateTimeField(_("figures as of"))
    data = models.JSONField(_("figures"))
    # Snapshots stored before the figures had a schema are 1 (summaries.services sets the current one).
    schema = models.PositiveSmallIntegerField(_("figures schema"), default=1, editable=False)

    objects = SnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["run", "level", "province", "university"]
        verbose_name = _("summary snapshot")
        verbose_name_plural = _("summary snapshots")
        constraints = [
            models.CheckConstraint(
                condition=Q(level="national", province__isnull=True, university__isnull=True)
                | Q(level="university", province__isnull=True, university__isnull=False)
                | Q(level="province", province__isnull=False, university__isnull=True),
                name="snapshot_level_matches_its_subject",
            ),
            models.UniqueConstraint(
                fields=["run", "province"], condition=Q(level="province"), name="snapshot_one_per_province_run"
            ),
            models.UniqueConstraint(
                fields=["run", "university"], condition=Q(level="university"), name="snapshot_one_per_university_run"
            ),
            models.UniqueConstraint(fields=["run"], condition=Q(level="national"), name="snapshot_one_national_run"),
        ]
        indexes = [
            models.Index(fields=["level", "province", "-as_of"]),
            models.Index(fields=["level", "university", "-as_of"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.province or self.university or ''} · {self.as_of:%Y-%m-%d}"

    # The subject of a university's or a province's snapshot, never None there (the level's constraint above).
    @property
    def subject_university(self) -> University:
        if self.university is None:
            raise ValueError(f"Snapshot {self.pk} is not a university's")
        return self.university

    @property
    def subject_province(self) -> Province:
        if self.province is None:
            raise ValueError(f"Snapshot {self.pk} is not a province's")
        return self.province

    @property
    def province_code(self) -> int:
        """A province's snapshot's province, without loading it."""
        if self.province_id is None:
            raise ValueError(f"Snapshot {self.pk} is not a province's")
        return self.province_id

    @cached_property
    def figures(self) -> Figures:
        """The stored figures, typed and upgraded to today's schema (summaries.schema.parse); raises
        UnreadableSnapshot for a schema it cannot read (pages read only `current()` snapshots)."""
        return parse(self.data, self.schema)
