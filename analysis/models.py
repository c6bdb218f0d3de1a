"""An analysis set asked for by a university team member or an EEF/IPSR admin: who asked, for which provinces and
why, where its build stands (received → building → ready → downloaded, or failed with a reason), its file (a zip
of Parquet and CSV tables, in default_storage) and the set's own secret, the key of its pseudonyms."""

import secrets
from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import can
from provinces.models import Province


def new_secret() -> str:
    return secrets.token_hex(32)


def set_path(analysis_set: "AnalysisSetRequest", filename: str) -> str:
    # A name that says nothing of its content; the download names the file.
    return f"analysis/{timezone.now():%Y/%m}/set-{analysis_set.pk}-{secrets.token_hex(8)}.zip"


class AnalysisSetRequestQuerySet(models.QuerySet):
    """The door of analysis sets: a set is seen by the one who asked for it while they may still ask for sets,
    and by nobody else (404), an EEF admin and the asker's own team included."""

    def visible_to(self, user: Any) -> Self:
        if not can(user, "analysis.request"):
            return self.none()
        return self.filter(requested_by_id=user.pk)

    def writable_by(self, user: Any) -> Self:
        return self.visible_to(user)

    def recent(self) -> Self:
        return self.order_by("-created_at", "-pk")


class AnalysisSetRequest(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        BUILDING = "building", _("being built")
        READY = "ready", _("ready to download")
        FAILED = "failed", _("failed")
        DOWNLOADED = "downloaded", _("downloaded")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="analysis_sets",
        verbose_name=_("requested by"),
    )
    provinces = models.ManyToManyField(Province, related_name="+", verbose_name=_("provinces"))
    purpose = models.TextField(_("purpose"))
    language = models.CharField(_("language"), max_length=8, default="th")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.RECEIVED)
    message = models.TextField(_("message"), blank=True)
    # The key of the set's pseudonyms (HMAC-SHA256 of a record's id): never shown, never in the file.
    secret = models.CharField(_("secret"), max_length=64, default=new_secret, editable=False)
    as_of = models.DateField(_("as of"), default=timezone.localdate)
    file = models.FileField(_("file"), upload_to=set_path, max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    row_count = models.PositiveIntegerField(_("records"), null=True, blank=True)
    withheld = models.PositiveIntegerField(_("records withheld"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    built_at = models.DateTimeField(_("built at"), null=True, blank=True)
    downloaded_at = models.DateTimeField(_("downloaded at"), null=True, blank=True)

    objects = AnalysisSetRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("analysis set")
        verbose_name_plural = _("analysis sets")
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="analysis_set_user_recent")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(purpose=""), name="analysis_set_purpose_given"),
            models.CheckConstraint(
                condition=~models.Q(status="failed") | ~models.Q(message=""), name="analysis_set_failure_says_why"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("analysis:detail", kwargs={"pk": self.pk})

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED, self.Status.DOWNLOADED)

    @property
    def filename(self) -> str:
        return f"analysis-set-{self.pk}-{self.as_of:%Y%m%d}.zip"
