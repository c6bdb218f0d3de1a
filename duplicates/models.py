"""Probable duplicates: the finder's keys, the pairs it proposes, and the pairs people said are two children.

The records' normalised names are kept here (`NameKey`), not in a column of targets.TargetRecord: targets does not
know about duplicates, and an upload's COPY keeps writing the records' table without a third trigram index. The
keys are refreshed by the nightly job (all records, in batches) and, for the upload's province, by an upload's
dry run (records changed since the province's newest key). README.md, "Probable duplicates", says why.
"""

from typing import Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.access import Principal, ProvinceScopedQuerySet, restrict
from audit.tracking import track
from provinces.models import Province
from targets.models import TargetRecord


class NameKey(models.Model):
    """One record as the finder compares it. No database foreign key to the record: an upload or a deletion of
    records never waits for this table (DO_NOTHING); the nightly job removes the keys of records gone."""

    record = models.OneToOneField(
        TargetRecord, models.DO_NOTHING, primary_key=True, db_constraint=False, related_name="+"
    )
    province_id = models.PositiveSmallIntegerField()
    district_id = models.PositiveSmallIntegerField(null=True)
    # M, F, or "" (unknown: the sex column blank and no prefix that tells it).
    sex = models.CharField(max_length=1, blank=True)
    birth_date = models.DateField(null=True)
    birth_year = models.PositiveSmallIntegerField(null=True)
    # month * 100 + day: a year typo pairs records of the same day and month (finder's second pass).
    birth_md = models.PositiveSmallIntegerField(null=True)
    name = models.CharField(max_length=220)  # given + family, normalised (duplicates.normalise)
    given = models.CharField(max_length=110)
    family = models.CharField(max_length=110, blank=True)
    # The first letters of the normalised given and family names: the finder's cheap test before similarity()
    # (two names of one child start alike in one of the two, even with a typo in the other).
    given_initial = models.CharField(max_length=1, blank=True, default="")
    family_initial = models.CharField(max_length=1, blank=True, default="")
    record_updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("name key")
        verbose_name_plural = _("name keys")
        # The finder reads a province's keys through a covering index of its own, on PostgreSQL only
        # (dup_key_cover_idx: province, sex, birth year, and the columns the blocks compare; migration 0003).
        indexes = [
            # The dry run's incremental refresh: the province's newest key.
            models.Index(fields=["province_id", "record_updated_at"], name="dup_key_fresh_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id}: {self.name}"


class CandidateQuerySet(ProvinceScopedQuerySet):
    def visible_to(self, user: Principal) -> Self:
        """The pairs a reviewer sees: their province's (its coordinators), every province's (EEF/IPSR)."""
        return restrict(self, user, "duplicates.candidates")

    def open(self) -> Self:
        return self.filter(state=DuplicateCandidate.State.OPEN)


# Audit events for the decisions (state, decided_by, decided_at) and for the pairs the nightly run adds and removes;
# its re-finding of an open pair changes only last_seen_at, left out so that it writes no event. Statement-level:
# the nightly run upserts a province's pairs in one statement (duplicates.finder.run).
@track(exclude=["last_seen_at"], statement_level=True)
class DuplicateCandidate(models.Model):
    """Two records the finder thinks are one child (record_a < record_b), with its score and reasons.

    Open until a reviewer says "not the same person" (a NotSamePerson row remembers it) or the records are merged
    (identity; also when one record is gone). The nightly run updates the open pairs it finds again and deletes
    the open pairs it no longer finds; decided pairs stay as they were decided."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        MERGED = "merged", _("merged")
        NOT_SAME = "not_same", _("not the same person")

    # No database foreign keys (as NameKey): a merge or a deletion of records is not held up by these rows.
    record_a = models.ForeignKey(
        TargetRecord, models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("record")
    )
    record_b = models.ForeignKey(
        TargetRecord, models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("other record")
    )
    province = models.ForeignKey(Province, models.CASCADE, related_name="+", verbose_name=_("province"))
    score = models.FloatField(_("score"))
    # Why the pair was proposed: codes of duplicates.finder.REASONS, e.g. ["name_same", "date_same", "same_district"].
    reasons = models.JSONField(_("reasons"), default=list)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    found_at = models.DateTimeField(_("found at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last found at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )

    objects = CandidateQuerySet.as_manager()

    class Meta:
        ordering = ["province", "-score", "pk"]
        verbose_name = _("probable duplicate")
        verbose_name_plural = _("probable duplicates")
        constraints = [
            models.UniqueConstraint(fields=["record_a", "record_b"], name="dup_candidate_pair_unique"),
            models.CheckConstraint(condition=models.Q(record_a__lt=models.F("record_b")), name="dup_candidate_ordered"),
        ]
        indexes = [models.Index(fields=["province", "state", "-score"], name="dup_candidate_queue_idx")]

    def __str__(self) -> str:
        return f"{self.record_a_id} ~ {self.record_b_id} ({self.score:.2f})"


class NotSamePersonQuerySet(models.QuerySet["NotSamePerson"]):
    def visible_to(self, user: Principal) -> Self:
        """EEF/IPSR: all; a coordinator: the decisions about their province's records (duplicates/policies.py)."""
        return restrict(self, user, "duplicates.not_same")


@track()
class NotSamePerson(models.Model):
    """A reviewer's "not the same person" about two records (record_a < record_b): the finder never proposes
    the pair again."""

    record_a = models.ForeignKey(
        TargetRecord, models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("record")
    )
    record_b = models.ForeignKey(
        TargetRecord, models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("other record")
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("decided by")
    )
    decided_at = models.DateTimeField(_("decided at"), auto_now_add=True)

    objects = NotSamePersonQuerySet.as_manager()

    class Meta:
        verbose_name = _("not the same person")
        verbose_name_plural = _("not the same person")
        constraints = [
            models.UniqueConstraint(fields=["record_a", "record_b"], name="dup_not_same_pair_unique"),
            models.CheckConstraint(condition=models.Q(record_a__lt=models.F("record_b")), name="dup_not_same_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.record_a_id} ≠ {self.record_b_id}"
