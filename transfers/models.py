"""A child's record moving to another province (README.md, "One child, one record: transfers").

A coordinator whose upload or form met an identifier held by another province asks for the record;
the holding province's coordinators (or EEF/IPSR) accept or decline it with a reason. EEF/IPSR may
also move a record directly: a request created already accepted (`forced`), with its reason.

What each side reads of a request is the door's and the pages' to decide (transfers/policies.py,
transfers/views.py): until it is accepted the requesting side sees only what it typed (the
identifier, masked) and the state, never the record nor the province that holds it.
"""

from typing import Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.access import Principal, restrict
from audit.tracking import track
from core.versioning import Versioned
from provinces.models import Province
from targets.models import TargetRecord


class TransferState(models.TextChoices):
    REQUESTED = "requested", pgettext_lazy("transfer", "requested")
    ACCEPTED = "accepted", pgettext_lazy("transfer", "accepted")
    DECLINED = "declined", pgettext_lazy("transfer", "declined")
    CANCELLED = "cancelled", pgettext_lazy("transfer", "cancelled")


class TransferRequestQuerySet(models.QuerySet["TransferRequest"]):
    def visible_to(self, user: Principal) -> Self:
        """Requests made by, or to, the provinces the user coordinates (every request for EEF/IPSR)."""
        return restrict(self, user, "transfers.requests")

    def writable_by(self, user: Principal) -> Self:
        # Nobody edits a request as a row (admin is read-only): answers go through transfers.services.
        return restrict(self, user, "transfers.requests").none()

    def pending(self) -> Self:
        return self.filter(state=TransferState.REQUESTED)

    def incoming_for(self, user: Principal) -> Self:
        """Waiting for the user's answer: requests for records their provinces hold."""
        return restrict(self, user, "transfers.incoming").pending()

    def outgoing_for(self, user: Principal) -> Self:
        """Requests the user's provinces made (the requesting side's view)."""
        return restrict(self, user, "transfers.outgoing")


@track()
class TransferRequest(Versioned):
    """A request that a record move to the requester's province, and its answer."""

    record = models.ForeignKey(TargetRecord, models.CASCADE, related_name="transfer_requests", verbose_name=_("record"))
    # What the requester typed (normalised): the one thing of the record their side ever sees before acceptance.
    identifier = models.CharField(_("identifier"), max_length=13)
    # The holder when the request was made, and the requester's province (where the record goes).
    from_province = models.ForeignKey(
        Province, models.PROTECT, related_name="transfers_out", verbose_name=_("from province")
    )
    to_province = models.ForeignKey(
        Province, models.PROTECT, related_name="transfers_in", verbose_name=_("to province")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    note = models.TextField(_("note"), blank=True, help_text=_("Why the child's record should move to your province."))
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    state = models.CharField(_("state"), max_length=12, choices=TransferState.choices, default=TransferState.REQUESTED)
    # EEF/IPSR's direct move: created accepted, the reason in answer_reason.
    forced = models.BooleanField(_("moved by EEF/IPSR"), default=False)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # Shown to the requesting side when declined (the form says so to the holder).
    answer_reason = models.TextField(_("reason"), blank=True)

    objects = TransferRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("transfer request")
        verbose_name_plural = _("transfer requests")
        constraints = [
            # One open request per record and requesting province: asking twice is one question.
            models.UniqueConstraint(
                fields=["record", "to_province"],
                condition=models.Q(state="requested"),
                name="transfer_one_open_request",
            ),
            models.CheckConstraint(
                condition=~models.Q(from_province=models.F("to_province")), name="transfer_between_provinces"
            ),
            models.CheckConstraint(
                condition=models.Q(state="requested", answered_at__isnull=True)
                | ~models.Q(state="requested") & models.Q(answered_at__isnull=False),
                name="transfer_answered_when_not_requested",
            ),
        ]
        indexes = [
            # The holder's inbox and the requester's list: a province's requests, newest first.
            models.Index(fields=["from_province", "state", "-requested_at"], name="transfer_incoming_idx"),
            models.Index(fields=["to_province", "-requested_at"], name="transfer_outgoing_idx"),
            # The figures: accepted moves by date.
            models.Index(fields=["answered_at"], name="transfer_answered_idx", condition=models.Q(state="accepted")),
        ]

    def __str__(self) -> str:
        # No name and no province: admin lists and logs show this.
        return f"{_('transfer request')} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state == TransferState.REQUESTED
