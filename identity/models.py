"""Merges of two records of one person (README.md, "Identity merges"): a G-code record folded into the
national-ID record of the same child, proposed by a coordinator, confirmed by EEF/IPSR or by both provinces'
coordinators, undone by EEF/IPSR within IDENTITY_MERGE_UNDO_DAYS. The write path is identity.services."""

from typing import Self

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.access import Principal, restrict
from audit.tracking import track
from provinces.models import Province
from targets.models import TargetRecord


class MergeProposalQuerySet(models.QuerySet["MergeProposal"]):
    def visible_to(self, user: Principal) -> Self:
        """EEF/IPSR: all; a coordinator: those that involve a province they coordinate (identity/policies.py)."""
        return restrict(self, user, "identity.proposals")

    def writable_by(self, user: Principal) -> Self:
        return self.visible_to(user)

    def open(self) -> Self:
        return self.filter(state=MergeProposal.State.PROPOSED)

    def waiting_for(self, user: Principal) -> Self:
        """Open proposals waiting for the user's confirmation (identity/policies.py)."""
        return restrict(self, user, "identity.waiting")


# The snapshot is left out of the events: it is both records and all their rows, whose own history the audit trail
# keeps already (targets' TargetRecordEvent, ...), and it would be copied again at each confirmation and at the undo.
@track(exclude=["snapshot"])
class MergeProposal(models.Model):
    """That `merged` (normally the G-code record) and `survivor` (normally the national-ID record) are one
    person. Confirmed, the merge keeps the survivor with both identifiers and the whole history of both
    (identity.services.merge); `snapshot` holds both records and their rows as they were, for the undo."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        CONFIRMED = "confirmed", _("merged")
        REJECTED = "rejected", _("rejected")
        UNDONE = "undone", _("undone")

    # Both records by their pk, as plain numbers as well: the merged record is deleted by the merge and comes
    # back, same pk, with its undo. The foreign keys are for the pages while both exist (SET_NULL after).
    survivor = models.ForeignKey(
        TargetRecord, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("surviving record")
    )
    merged = models.ForeignKey(
        TargetRecord, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("merged record")
    )
    survivor_pk = models.BigIntegerField(_("surviving record (number)"))
    merged_pk = models.BigIntegerField(_("merged record (number)"))
    # The provinces of the two records when proposed: who confirms, and who sees the proposal.
    survivor_province = models.ForeignKey(
        Province, models.PROTECT, related_name="+", verbose_name=_("province of the surviving record")
    )
    merged_province = models.ForeignKey(
        Province, models.PROTECT, related_name="+", verbose_name=_("province of the merged record")
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    # The province the proposer proposed from (the record page they were on): the other side learns of the
    # proposal, and the proposer of the other record nothing until it is confirmed.
    proposed_from = models.ForeignKey(
        Province, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("proposed from")
    )
    reason = models.TextField(_("reason"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PROPOSED)
    created_at = models.DateTimeField(_("proposed at"), auto_now_add=True)
    # Each province's coordinator's confirmation (two provinces), or EEF/IPSR's alone.
    survivor_side_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("confirmed for the surviving record's province by"),
    )  # fmt: skip
    merged_side_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("confirmed for the merged record's province by"),
    )  # fmt: skip
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("note"), blank=True)
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("undone by")
    )
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    # Both records and every row of theirs as they were before the merge (identity.snapshots), and the
    # fingerprint of the survivor right after it: the undo restores the first if the second still holds.
    snapshot = models.JSONField(_("snapshot"), default=dict, blank=True, encoder=DjangoJSONEncoder, editable=False)
    survivor_fingerprint = models.CharField(_("fingerprint after the merge"), max_length=64, blank=True, editable=False)

    objects = MergeProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("merge proposal")
        verbose_name_plural = _("merge proposals")
        constraints = [
            models.CheckConstraint(condition=~models.Q(survivor_pk=models.F("merged_pk")), name="merge_two_records"),
            # One open proposal per pair of records.
            models.UniqueConstraint(
                fields=["survivor_pk", "merged_pk"],
                condition=models.Q(state="proposed"),
                name="merge_one_open_per_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["survivor_province", "state"], name="merge_survivor_province_idx"),
            models.Index(fields=["merged_province", "state"], name="merge_merged_province_idx"),
        ]

    def __str__(self) -> str:
        return _("Merge proposal %(pk)s") % {"pk": self.pk}

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("identity:detail", kwargs={"pk": self.pk})

    @property
    def provinces(self) -> set[int]:
        return {self.survivor_province_id, self.merged_province_id}

    @property
    def two_provinces(self) -> bool:
        return self.survivor_province_id != self.merged_province_id
