"""What was mailed: one row per person, digest and period, so that a run that fires twice (or is run again by
hand) mails nobody twice, and a run cut short by a mail server that is down leaves the rest for the next."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DigestSent(models.Model):
    class Kind(models.TextChoices):
        WEEKLY = "weekly", _("weekly digest")
        MONTHLY = "monthly", _("monthly digest")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+", verbose_name=_("user"))
    kind = models.CharField(_("digest"), max_length=16, choices=Kind.choices)
    # The week's Monday, the month's first day (digests.mailing.period_of).
    period = models.DateField(_("period"))
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        verbose_name = _("digest sent")
        verbose_name_plural = _("digests sent")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "period"], name="digest_sent_once_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.period}"
