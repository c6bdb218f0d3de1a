import pgtrigger
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, User

from .tracking import event_model, track

# --- Audit trail -------------------------------------------------------------------------------
# The project's models are decorated with `@audit.tracking.track()` where they are declared. The
# user and memberships (accounts, below audit) are tracked through proxies declared here, so that their
# triggers are migrated by this app (django-pgtrigger's documented way for models one does not edit).
# Each gets the event model `<Model>Event` in this app (audit.UserEvent, audit.UniversityEvent, ...).


# The password hash is never copied into the history, and last_login is left out so that signing
# in writes no event (a change to only excluded fields fires no trigger).
@track(exclude=["password", "last_login"])
class TrackedUser(User):
    class Meta:
        proxy = True
        default_permissions = ()


# Who was given which role, and who took it away.
@track()
class TrackedMembership(Membership):
    class Meta:
        proxy = True
        default_permissions = ()


# The event models @track() created above, named here for imports (audit.admin, tests).
UserEvent = event_model(TrackedUser)
MembershipEvent = event_model(TrackedMembership)


# --- Access log --------------------------------------------------------------------------------


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an access log entry."""


class AccessLogQuerySet(models.QuerySet):
    # bulk_update() and the admin's bulk actions go through these two as well.
    def update(self, **kwargs) -> int:
        raise AppendOnlyError("The access log is append-only: entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The access log is append-only: entries cannot be deleted.")


class AccessLog(models.Model):
    """One view or export of personal data: who, what, when and from where.

    Written only through `audit.access_log.record_access`. Append-only: save() refuses to change
    a stored row, the queryset refuses update() and delete(), and on PostgreSQL a trigger refuses
    UPDATE and DELETE from any client, raw SQL included.
    """

    class Action(models.TextChoices):
        VIEW = "view", _("viewed")
        EXPORT = "export", _("exported")
        FULL_IDENTIFIER_VIEW = "full_identifier_view", _("viewed a full national ID")
        API_READ = "api_read", _("read through the API")
        # Probing for national IDs (targets.id_probes): told that identifiers it sent are recorded
        # in provinces it cannot see, or refused that answer (over the day's allowance).
        IDENTIFIER_PROBE = "identifier_probe", _("told of identifiers in other provinces")
        IDENTIFIER_PROBE_REFUSED = "identifier_probe_refused", _("refused: too many identifiers of other provinces")

    # Who. The user is PROTECTed: an account that has seen personal data is deactivated, not
    # deleted, so the log keeps pointing at it. API keys (a later issue) leave it empty.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    actor = models.CharField(_("actor"), max_length=254, help_text=_("The user's email or the API key's name."))
    # What.
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    content_type = models.ForeignKey(
        ContentType, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("object type")
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    description = models.CharField(
        _("description"),
        max_length=255,
        blank=True,
        help_text=_("What was seen, e.g. a page or a filter. Never a national ID."),
    )
    count = models.PositiveIntegerField(_("rows"), default=1, help_text=_("Records shown or exported."))
    # When.
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    # From where.
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=255, blank=True)
    path = models.CharField(_("path"), max_length=500, blank=True, help_text=_("Without the query string."))

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [
            # "Who looked at this record?" and "what did this person look at?"
            models.Index(fields=["content_type", "object_id"], name="audit_access_object_idx"),
            models.Index(fields=["user", "created_at"], name="audit_access_user_time_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update),
            # Deleting is refused too, except for the retention job (audit.retention): in its own
            # transaction it sets PRUNE_BEFORE_SETTING (SET LOCAL) to its cut-off, and only rows
            # older than that cut-off, and older than ACCESS_LOG_MIN_DAYS whatever it says, go.
            pgtrigger.Protect(
                name="prune_only_expired",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Condition(
                    'OLD."created_at" >= LEAST('
                    "COALESCE(NULLIF(current_setting('abe.access_log_prune_before', true), '')::timestamptz, "
                    "'-infinity'::timestamptz), now() - interval '90 days')"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.get_action_display()}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The access log is append-only: entries cannot be changed.")
        # Always an INSERT: a new instance given an existing pk must fail, not overwrite that row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The access log is append-only: entries cannot be deleted.")


# The transaction-local setting (SET LOCAL) that lets the retention job delete old access-log rows,
# and the floor under it: the trigger above keeps every row younger than ACCESS_LOG_MIN_DAYS (the
# 90 days of traffic data the Computer-Related Crime Act asks for) whatever the setting says.
PRUNE_BEFORE_SETTING = "abe.access_log_prune_before"
ACCESS_LOG_MIN_DAYS = 90


# --- Retention ---------------------------------------------------------------------------------


class RetentionRun(models.Model):
    """One run of the retention job (audit.retention.run): what each registered pruner removed.

    `results` maps each pruner's name to {"label", "count", "files", "error"}: files are what it
    wrote (the access log's archive in default_storage), error is empty when it succeeded.
    """

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    source = models.CharField(_("started by"), max_length=32, help_text=_("The nightly job or the prune command."))
    results = models.JSONField(_("results"), default=dict, blank=True)
    total = models.PositiveBigIntegerField(_("removed"), default=0)
    errors = models.PositiveSmallIntegerField(_("pruners that failed"), default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.total}"


# --- Probing for national IDs ------------------------------------------------------------------


class IdentifierProbeDay(models.Model):
    """How many identifiers recorded in provinces it cannot see one user or API key asked about on
    one day (Bangkok time), and whether that went over the day's allowance: the flag EEF/IPSR admins
    see in Django admin (and are mailed about, once a day per asker).

    Written only by targets.id_probes, one upsert per question; each question is also an entry of
    the access log (AccessLog.Action.IDENTIFIER_PROBE or IDENTIFIER_PROBE_REFUSED) with its path.
    """

    # "user:<id>" or "key:<prefix>" (api.authentication.PartnerPrincipal.label): whose allowance.
    asker = models.CharField(_("asker"), max_length=64)
    actor = models.CharField(_("actor"), max_length=254, help_text=_("The user's email or the API key's name."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    day = models.DateField(_("date"))
    asked = models.PositiveIntegerField(_("identifiers asked about"), default=0)
    answered = models.PositiveIntegerField(_("identifiers answered"), default=0)
    first_at = models.DateTimeField(_("first question"))
    last_at = models.DateTimeField(_("last question"))
    flagged_at = models.DateTimeField(
        _("over the limit since"), null=True, blank=True, help_text=_("Empty while within the day's allowance.")
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        ordering = ["-day", "-asked"]
        verbose_name = _("identifier look-ups of other provinces (per day)")
        verbose_name_plural = _("identifier look-ups of other provinces (per day)")
        constraints = [
            # One row per asker and day: the upsert of targets.id_probes counts on it.
            models.UniqueConstraint(fields=["asker", "day"], name="audit_probe_one_row_per_asker_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.actor} {self.asked}"

    @property
    def is_flagged(self) -> bool:
        return self.flagged_at is not None
