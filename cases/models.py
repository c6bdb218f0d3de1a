"""Case follow-up (การติดตามรายกรณี): moving each child found to an outcome.

A record's case worker is the record's own field (targets.TargetRecord.case_worker: the upload and the
door read it). Here: the case that goes with the record (its goal, due dates, closure), the log of
contacts, the follow-up plan's steps, and referrals to the agencies of the province's directory, each
with its history of state changes. Writes go through cases.services; who may do what is
cases/policies.py, asked through the door.
"""

import datetime
from typing import Self

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.access import Principal, RoleHoldersQuerySet, restrict
from audit.tracking import track
from core.versioning import Versioned
from provinces.models import BilingualName, District, Province
from targets.models import Outcome, TargetRecord


class AgencyType(BilingualName):
    """A kind of agency children are referred to, e.g. the non-formal education office (สกร./กศน.).
    Admins extend the list (defaults: cases.reference_data)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    objects = RoleHoldersQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("agency type")
        verbose_name_plural = _("agency types")


class AgencyQuerySet(models.QuerySet["Agency"]):
    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "cases.agencies")

    def writable_by(self, user: Principal) -> Self:
        return restrict(self, user, "cases.agencies_write")


class Agency(models.Model):
    """An agency in a province's directory (หน่วยงานภาคี): the district กศน. office, a อบต., the พมจ."""

    province = models.ForeignKey(Province, models.PROTECT, related_name="agencies", verbose_name=_("province"))
    district = models.ForeignKey(
        District, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("district")
    )
    type = models.ForeignKey(AgencyType, models.PROTECT, related_name="agencies", verbose_name=_("agency type"))
    name = models.CharField(_("name"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("email"), blank=True)
    is_active = models.BooleanField(_("in use"), default=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AgencyQuerySet.as_manager()

    class Meta:
        ordering = ["province", "type__sort_order", "name"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        constraints = [
            models.UniqueConstraint(fields=["province", "name"], name="agency_name_unique_in_province"),
        ]

    def __str__(self) -> str:
        return self.name


class CloseReason(models.TextChoices):
    OUTCOME_REACHED = "outcome_reached", _("outcome reached")
    MOVED = "moved", _("moved to another province")
    AGED_OUT = "aged_out", _("aged out")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("consent withdrawn")
    NOT_FOUND = "not_found", _("not found after repeated attempts")


class CaseQuerySet(models.QuerySet["Case"]):
    def visible_to(self, user: Principal) -> Self:
        """The cases of the records the user sees (the door's "targets.records", through the record)."""
        return restrict(self, user, "cases.cases")

    def open(self) -> Self:
        return self.filter(closed_at__isnull=True)

    def overdue(self, today: datetime.date | None = None) -> Self:
        return self.open().filter(due_on__lt=today or timezone.localdate())


class Case(Versioned):
    """The follow-up of one record's child: its goal, when the next contact is due, and its closure.

    One per record (its primary key is the record's). `due_on` is when the case becomes overdue: the
    earlier of the next contact's due date and the last contact (or the opening) plus
    CASES_CONTACT_EVERY_DAYS; services keep it, so that "overdue" is one indexed comparison.
    """

    record = models.OneToOneField(
        TargetRecord, models.CASCADE, primary_key=True, related_name="case", verbose_name=_("record")
    )
    # The record's province, copied so that a province's inbox is one index range (kept by the services
    # and by the record's move: cases.receivers).
    province = models.ForeignKey(Province, models.PROTECT, related_name="+", verbose_name=_("province"))
    goal = models.ForeignKey(
        Outcome,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("goal"),
        help_text=_("The outcome the follow-up aims at, e.g. returned to school."),
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    next_contact_due = models.DateField(_("next contact due"), null=True, blank=True)
    failed_attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    due_on = models.DateField(_("overdue after"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_reason = models.CharField(_("reason for closing"), max_length=32, choices=CloseReason.choices, blank=True)
    close_note = models.TextField(_("note"), blank=True)
    # When the case or any of its parts (contacts, plan, referrals) last changed: the API's changes feed.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [
            # The inbox's sections read a province's open cases in (due_on, pk) order, 20 at a time: with the
            # record in the index they come in that order without a sort (make bench: 1,000,000 records).
            models.Index(
                fields=["province", "due_on", "record"], name="case_open_due_idx", condition=models.Q(closed_at=None)
            ),
            models.Index(fields=["province", "closed_at"], name="case_closed_idx"),
            models.Index(fields=["updated_at", "record"], name="case_feed_idx"),
            # A province's referrals (the coordinator's inbox) join their cases by province: read from this
            # index alone, not from the table (make bench: 240 ms at 1,000,000 records without it).
            models.Index(fields=["province", "record"], name="case_province_record_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closed_at__isnull=True, close_reason="")
                | models.Q(closed_at__isnull=False) & ~models.Q(close_reason=""),
                name="case_closed_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return str(self.record)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return self.is_open and self.due_on is not None and self.due_on < (today or timezone.localdate())


class CaseEvent(models.Model):
    """What happened to a case as a whole: assigned, closed, reopened, with who, when and why."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("assigned")
        UNASSIGNED = "unassigned", _("assignment ended")
        CLOSED = "closed", _("closed")
        REOPENED = "reopened", _("reopened")

    case = models.ForeignKey(Case, models.CASCADE, related_name="events", verbose_name=_("case"))
    kind = models.CharField(_("what"), max_length=16, choices=Kind.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("case worker"),
    )
    reason = models.CharField(_("reason"), max_length=32, choices=CloseReason.choices, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["case", "at", "pk"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d}"


class ContactKind(models.TextChoices):
    HOME_VISIT = "home_visit", _("home visit")
    PHONE = "phone", _("phone call")
    SCHOOL_VISIT = "school_visit", _("school visit")
    ONLINE = "online", _("LINE / online")
    FAMILY_MEETING = "family_meeting", _("meeting with the family")


class ContactQuerySet(models.QuerySet["Contact"]):
    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "cases.contacts")


@track()
class Contact(models.Model):
    """One contact with a child or their family, reached or not ("not found at home" counts)."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="contacts", verbose_name=_("case"))
    kind = models.CharField(_("type of contact"), max_length=16, choices=ContactKind.choices)
    happened_at = models.DateTimeField(_("date and time"))
    reached = models.BooleanField(
        _("reached"), default=True, help_text=_("Untick for a failed attempt, e.g. not found at home.")
    )
    with_whom = models.CharField(_("who"), max_length=200, blank=True, help_text=_("Whom the worker met or spoke to."))
    findings = models.TextField(_("what was found"), blank=True)
    next_step = models.TextField(_("next step"), blank=True)
    next_due = models.DateField(_("next contact due"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    # The key a device or partner gave the contact, so that sending it twice records it once.
    client_key = models.UUIDField(_("client key"), null=True, blank=True, unique=True, editable=False)
    # Where the contact happened, when the worker let the field app read the device's position (opt-in).
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True, editable=False)
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True, editable=False
    )
    location_accuracy_m = models.PositiveIntegerField(_("location accuracy (m)"), null=True, blank=True, editable=False)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["case", "-happened_at", "-pk"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["case", "happened_at"], name="contact_case_time_idx")]
        constraints = [
            # A position is both coordinates or none, on the globe (cases.services.log_contact says why not).
            models.CheckConstraint(
                condition=models.Q(latitude__isnull=True, longitude__isnull=True)
                | models.Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="contact_location_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.happened_at:%Y-%m-%d}"

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class PlanStepQuerySet(models.QuerySet["PlanStep"]):
    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "cases.plan_steps")


class PlanStep(models.Model):
    """A step of a child's follow-up plan: what, by when, by whom; a step can be a referral."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="steps", verbose_name=_("case"))
    text = models.CharField(_("step"), max_length=300)
    due_on = models.DateField(_("due date"), null=True, blank=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who does it"),
    )
    referral = models.OneToOneField(
        "Referral", models.SET_NULL, null=True, blank=True, related_name="step", verbose_name=_("referral")
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PlanStepQuerySet.as_manager()

    class Meta:
        ordering = ["case", "due_on", "pk"]
        verbose_name = _("plan step")
        verbose_name_plural = _("plan steps")

    def __str__(self) -> str:
        return self.text


class ReferralState(models.TextChoices):
    SENT = "sent", pgettext_lazy("referral", "sent")
    ACCEPTED = "accepted", pgettext_lazy("referral", "accepted")
    DECLINED = "declined", pgettext_lazy("referral", "declined")
    IN_PROGRESS = "in_progress", pgettext_lazy("referral", "in progress")
    COMPLETED = "completed", pgettext_lazy("referral", "completed")
    CLOSED_UNRESOLVED = "closed_unresolved", pgettext_lazy("referral", "closed unresolved")


# Where a referral may go from each state (cases.services.move_referral checks it).
REFERRAL_MOVES: dict[str, tuple[str, ...]] = {
    ReferralState.SENT: (ReferralState.ACCEPTED, ReferralState.DECLINED, ReferralState.CLOSED_UNRESOLVED),
    ReferralState.ACCEPTED: (ReferralState.IN_PROGRESS, ReferralState.COMPLETED, ReferralState.CLOSED_UNRESOLVED),
    ReferralState.IN_PROGRESS: (ReferralState.COMPLETED, ReferralState.CLOSED_UNRESOLVED),
    ReferralState.DECLINED: (),
    ReferralState.COMPLETED: (),
    ReferralState.CLOSED_UNRESOLVED: (),
}
OPEN_REFERRAL_STATES = (ReferralState.SENT, ReferralState.ACCEPTED, ReferralState.IN_PROGRESS)


class ReferralQuerySet(models.QuerySet["Referral"]):
    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "cases.referrals")

    def open(self) -> Self:
        return self.filter(state__in=OPEN_REFERRAL_STATES)

    def overdue(self, today: datetime.date | None = None) -> Self:
        return self.open().filter(deadline__lt=today or timezone.localdate())


@track()
class Referral(Versioned):
    """A child referred to an agency (ส่งต่อหน่วยงาน), with the reason, the services asked for and a
    deadline, followed through to its end: sent → accepted / declined → in progress → completed or
    closed unresolved (REFERRAL_MOVES)."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="referrals", verbose_name=_("case"))
    agency = models.ForeignKey(Agency, models.PROTECT, related_name="referrals", verbose_name=_("agency"))
    reason = models.TextField(_("reason"))
    services = models.TextField(_("services requested"))
    deadline = models.DateField(_("answer by"))
    share_identifier = models.BooleanField(
        _("share the identifier"),
        default=False,
        help_text=_("The agency sees the child's full identifier only when the referral needs it."),
    )
    state = models.CharField(_("state"), max_length=20, choices=ReferralState.choices, default=ReferralState.SENT)
    decline_reason = models.TextField(_("why declined"), blank=True)
    outcome = models.ForeignKey(
        Outcome,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("outcome"),
        help_text=_("Where the child stands after the agency's help."),
    )
    feedback = models.TextField(_("feedback"), blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("sent by")
    )
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Whether the completed referral's outcome was set as the record's status (asked for, with a confirmation).
    status_applied = models.BooleanField(_("status set from the outcome"), default=False)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-pk"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        indexes = [
            models.Index(
                fields=["agency", "deadline"],
                name="referral_open_idx",
                condition=models.Q(state__in=["sent", "accepted", "in_progress"]),
            ),
            models.Index(fields=["case", "state"], name="referral_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case} → {self.agency}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_REFERRAL_STATES

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        return self.is_open and self.deadline < (today or timezone.localdate())

    def next_states(self) -> tuple[str, ...]:
        return REFERRAL_MOVES[self.state]


class ReferralEvent(models.Model):
    """A referral's state change: the referring worker and the agency both see the list."""

    referral = models.ForeignKey(Referral, models.CASCADE, related_name="events", verbose_name=_("referral"))
    from_state = models.CharField(_("from"), max_length=20, choices=ReferralState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=20, choices=ReferralState.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["referral", "at", "pk"]
        verbose_name = _("referral state change")
        verbose_name_plural = _("referral state changes")

    def __str__(self) -> str:
        return f"{self.from_state or '-'} → {self.to_state}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def visible_to(self, user: Principal) -> Self:
        """Each person's own notifications."""
        if not user.is_authenticated or user.pk is None:
            return self.none()
        return self.filter(user_id=user.pk)

    def unread(self) -> Self:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """Something for one person to see: a case assigned to them, a referral waiting for their answer,
    a referral's answer, something overdue; a transfer request or a merge proposal waiting for them, or
    the answer to theirs. Listed in the portal (unread count in the header); the daily digest mails what
    is unmailed, one mail per person (cases.tasks)."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("case assigned")
        CHILD_FOUND = "child_found", _("new child noted by a case worker")
        REFERRAL_RECEIVED = "referral_received", _("referral received")
        REFERRAL_CHANGED = "referral_changed", _("referral answered")
        REFERRAL_OVERDUE = "referral_overdue", _("referral overdue")
        CONTACT_OVERDUE = "contact_overdue", _("contact overdue")
        # About the apps above cases (transfers, identity): `subject_id` is their row's number, and the
        # link comes from the app that owns the row (cases.notification_links).
        TRANSFER_REQUESTED = "transfer_requested", _("transfer requested")
        TRANSFER_ACCEPTED = "transfer_accepted", _("transfer accepted")
        TRANSFER_DECLINED = "transfer_declined", _("transfer declined")
        TRANSFER_WITHDRAWN = "transfer_withdrawn", _("transfer withdrawn")
        # EEF/IPSR's direct move: the province that gains the record, and the one that loses it.
        MOVED_IN = "moved_in", _("record moved in by EEF")
        MOVED_OUT = "moved_out", _("record moved out by EEF")
        MERGE_PROPOSED = "merge_proposed", _("merge proposed")
        MERGE_CONFIRMED = "merge_confirmed", _("merge confirmed")
        MERGE_REJECTED = "merge_rejected", _("merge rejected")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    # What it is about, without personal data: the page says the rest to whoever may read it.
    case = models.ForeignKey(Case, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("case"))
    referral = models.ForeignKey(
        Referral, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("referral")
    )
    # A row of an app above cases (a transfer request, a merge proposal: which one, the kind says), by its
    # number only: cases may not import those apps, and the number names nobody.
    subject_id = models.PositiveBigIntegerField(_("subject"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_idx"),
            models.Index(fields=["user"], name="notification_unread_idx", condition=models.Q(read_at__isnull=True)),
            models.Index(
                fields=["created_at"], name="notification_unmailed_idx", condition=models.Q(emailed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.user_id}"


class EmailPreference(models.Model):
    """Which digests a person gets by email (each on unless they turn it off; the in-app lists stay): the daily
    one of case follow-up (cases.digest), the weekly one of a coordinator's provinces and the monthly one of
    the provinces side by side (digests/)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, primary_key=True, related_name="case_email", verbose_name=_("user")
    )
    daily_digest = models.BooleanField(_("daily email digest"), default=True)
    weekly_digest = models.BooleanField(_("weekly email digest"), default=True)
    monthly_digest = models.BooleanField(_("monthly email digest"), default=True)
    # The digest's language (blank: the portal's, Thai); the pages go by the language switch instead.
    language = models.CharField(_("language of the emails"), max_length=8, choices=settings.LANGUAGES, blank=True)

    class Meta:
        verbose_name = _("email preference")
        verbose_name_plural = _("email preferences")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.daily_digest}"
