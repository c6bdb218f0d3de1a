"""What the field app's sync has applied (POST /field/api/sync/, fieldwork.sync): one row per change a device sent,
written in the same transaction as the change's own write, so that a change sent again is answered from here and
never applied twice (README.md, "Field app (offline)")."""

from typing import Self

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.access import Principal, restrict
from targets.models import TargetRecord


class SyncedChangeQuerySet(models.QuerySet["SyncedChange"]):
    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "fieldwork.synced_changes")

    def writable_by(self, user: Principal) -> Self:
        return self.none()  # what a device's change got is history: nobody edits it


class SyncedChange(models.Model):
    """One change of a device's queue, by its key: who sent it, what it was, and the answer it got (applied,
    conflict or refused), which a change sent again with the same key gets again."""

    class Result(models.TextChoices):
        APPLIED = "applied", _("applied")
        CONFLICT = "conflict", _("conflict")
        REFUSED = "refused", _("refused")

    key = models.UUIDField(_("key"), unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="+", verbose_name=_("case worker"), editable=False
    )
    kind = models.CharField(_("type of change"), max_length=16, editable=False)
    record = models.ForeignKey(
        TargetRecord, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("record"),
        editable=False,
    )  # fmt: skip
    result = models.CharField(_("result"), max_length=16, choices=Result.choices, editable=False)
    # The answer the device got (fieldwork.sync: without "replayed"), given again to a change sent again.
    response = models.JSONField(_("answer"), editable=False)
    # sha256 of the change's canonical JSON: the same key with another body is refused, never answered as a replay.
    body_sha256 = models.CharField(_("digest of the change"), max_length=64, editable=False)
    made_at = models.DateTimeField(_("made on the device at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("synced at"), auto_now_add=True)

    objects = SyncedChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("synced change")
        verbose_name_plural = _("synced changes")
        indexes = [models.Index(fields=["user", "created_at"], name="syncedchange_user_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
