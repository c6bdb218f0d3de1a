"""One export job: who asked (a user or an API key), what (a registered kind, its parameters, a format), where it
stands (queued → running → done or failed, with progress) and the file it made, kept in default_storage until
expires_at (EXPORTS_KEEP_HOURS)."""

from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportJobQuerySet(models.QuerySet):
    """The door of export jobs: a job is seen by the one who asked for it, and by nobody else (404), an EEF
    admin included. A user sees the jobs they asked for in the portal or through the API while signed in; an
    API key sees its own jobs only."""

    def visible_to(self, user: Any) -> Self:
        user_id, key = asker_of(user)
        if user_id is not None:
            return self.filter(user_id=user_id, api_key="")
        if key:
            return self.filter(api_key=key, user__isnull=True)
        return self.none()

    def writable_by(self, user: Any) -> Self:
        return self.visible_to(user)

    def recent(self) -> Self:
        return self.order_by("-created_at", "-pk")


def asker_of(principal: Any) -> tuple[int | None, str]:
    """(user id, "") for a signed-in user, (None, key prefix) for an API key's principal (api.authentication:
    it has no row of its own; `key.prefix` names it), (None, "") for anyone else."""
    if principal is None or not getattr(principal, "is_authenticated", False):
        return None, ""
    user_id = getattr(principal, "pk", None)
    if user_id is not None:
        return user_id, ""
    key = getattr(principal, "key", None)
    prefix = getattr(key, "prefix", "") if key is not None else ""
    return None, str(prefix or "")


def export_path(job: "ExportJob", filename: str) -> str:
    # A name that says nothing of its content; the download names the file (ExportJob.filename).
    return f"exports/{timezone.now():%Y/%m}/job-{job.pk}-{filename}"


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting to start")
        RUNNING = "running", _("being prepared")
        DONE = "done", _("ready")
        FAILED = "failed", _("failed")
        EXPIRED = "expired", _("expired")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="export_jobs",
        verbose_name=_("user"),
    )
    api_key = models.CharField(
        _("API key"), max_length=16, blank=True, help_text=_("The prefix of the key that asked.")
    )
    actor = models.CharField(_("asked by"), max_length=254)
    kind = models.CharField(_("kind"), max_length=64)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    file_format = models.CharField(_("format"), max_length=8)
    language = models.CharField(_("language"), max_length=8, default="th")
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(_("message"), blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to=export_path, max_length=255, blank=True)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    # What each download writes to the access log (audit.access_log.record_access): the builder says.
    log_model = models.CharField(_("logged model"), max_length=100, blank=True)
    log_object_id = models.CharField(_("logged object"), max_length=64, blank=True)
    log_description = models.CharField(_("logged description"), max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [
            models.Index(fields=["user", "-created_at"], name="export_job_user_recent"),
            models.Index(fields=["api_key", "-created_at"], name="export_job_key_recent"),
            models.Index(fields=["expires_at"], name="export_job_expires"),
            models.Index(
                fields=["status"], name="export_job_unfinished", condition=models.Q(status__in=["queued", "running"])
            ),
        ]
        constraints = [
            # Exactly one asker: a user, or an API key.
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False) & models.Q(api_key=""))
                | (models.Q(user__isnull=True) & ~models.Q(api_key="")),
                name="export_job_one_asker",
            ),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="export_job_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.file_format})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("exports:detail", kwargs={"pk": self.pk})

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.EXPIRED)

    def is_expired(self, now=None) -> bool:
        return self.status == self.Status.EXPIRED or self.expires_at <= (now or timezone.now())

    @property
    def downloadable(self) -> bool:
        return self.status == self.Status.DONE and bool(self.file) and not self.is_expired()
