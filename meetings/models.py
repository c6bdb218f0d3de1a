"""Meetings: how the programme steers (national, regional and provincial meetings).

Who sees and who writes a meeting (MeetingQuerySet.visible_to / writable_by) is said once, in
meetings/policies.py. The parts of a meeting (attendance, agenda, presentations, lessons, action
items, attachments) are seen by whoever sees the meeting.
"""

import datetime
import secrets
from typing import Self
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import Principal, restrict
from audit.tracking import track
from core.versioning import Versioned
from provinces.models import Province
from universities.models import University

# IPSR organises meetings as the programme's coordinator (Meeting.organised_by_ipsr) and is also one of
# the eight university teams (MU-IPSR): one organiser, named once (Meeting.organising_universities,
# meetings.services.save_meeting).
IPSR_UNIVERSITY_CODE = "MU-IPSR"

# Meetings take place in Thailand: their times are wall-clock times there, whatever the server's zone.
MEETING_TZ = ZoneInfo("Asia/Bangkok")


class Kind(models.TextChoices):
    NATIONAL = "national", _("national")
    REGIONAL = "regional", _("regional")
    PROVINCIAL = "provincial", _("provincial")


class MeetingQuerySet(models.QuerySet):
    # Who sees and who writes: meetings/policies.py, the one place of these rules.
    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "meetings.read")

    def writable_by(self, user: Principal) -> Self:
        return restrict(self, user, "meetings.write")

    def upcoming(self, today: datetime.date | None = None) -> Self:
        return self.filter(ends_on__gte=today or timezone.localdate()).exclude(status=Meeting.Status.CANCELLED)


@track()
class Meeting(Versioned):
    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        HELD = "held", _("held")
        CANCELLED = "cancelled", _("cancelled")

    title = models.CharField(_("title"), max_length=300)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    # The time it begins on its first day and ends on its last, in Thailand (MEETING_TZ). Both empty:
    # an all-day meeting, as every meeting made before times existed.
    start_time = models.TimeField(_("start time"), null=True, blank=True)
    end_time = models.TimeField(_("end time"), null=True, blank=True)
    venue = models.CharField(_("venue"), max_length=300, blank=True)
    online_link = models.URLField(_("online link"), blank=True)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    album_url = models.URLField(_("photo album link"), blank=True)
    # Organisers: EEF and IPSR by flag, universities and provinces by row.
    organised_by_eef = models.BooleanField(_("organised by EEF"), default=False)
    organised_by_ipsr = models.BooleanField(_("organised by IPSR"), default=False)
    organiser_universities = models.ManyToManyField(
        University, blank=True, related_name="organised_meetings", verbose_name=_("organising universities")
    )
    organiser_provinces = models.ManyToManyField(
        Province, blank=True, related_name="organised_meetings", verbose_name=_("organising provinces")
    )
    # Who the meeting concerns: decides who sees it (MeetingQuerySet.visible_to).
    provinces = models.ManyToManyField(Province, blank=True, related_name="meetings", verbose_name=_("provinces"))
    universities = models.ManyToManyField(
        University, blank=True, related_name="meetings", verbose_name=_("universities")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    is_demo = models.BooleanField(_("demo data"), default=False, editable=False)

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "title"]
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")),
                name="meeting_ends_after_it_starts",
                violation_error_message=_("The meeting ends before it starts."),
            ),
            models.CheckConstraint(
                condition=Q(start_time__isnull=True, end_time__isnull=True)
                | Q(start_time__isnull=False, end_time__isnull=False),
                name="meeting_times_together",
                violation_error_message=_("Give both the start and the end time, or neither."),
            ),
            # A one-day meeting ends after it starts; over several days the last day may end earlier.
            models.CheckConstraint(
                condition=Q(start_time__isnull=True)
                | Q(end_time__isnull=True)
                | Q(ends_on__gt=models.F("starts_on"))
                | Q(end_time__gt=models.F("start_time")),
                name="meeting_end_time_after_start_time",
                violation_error_message=_("The meeting ends before it starts."),
            ),
        ]
        indexes = [models.Index(fields=["kind", "starts_on"]), models.Index(fields=["starts_on"])]

    def __str__(self) -> str:
        return self.title

    def organising_universities(self) -> list[University]:
        """The organising universities, without MU-IPSR where the IPSR flag names it already (reads
        the prefetched rows where there are)."""
        universities = list(self.organiser_universities.all())
        if self.organised_by_ipsr:
            universities = [u for u in universities if u.code != IPSR_UNIVERSITY_CODE]
        return universities

    @property
    def is_all_day(self) -> bool:
        return self.start_time is None or self.end_time is None

    @property
    def starts_at(self) -> datetime.datetime | None:
        """The moment it begins, in Thailand (None for an all-day meeting)."""
        if self.is_all_day or self.start_time is None:
            return None
        return datetime.datetime.combine(self.starts_on, self.start_time, tzinfo=MEETING_TZ)

    @property
    def ends_at(self) -> datetime.datetime | None:
        """The moment it ends, in Thailand (None for an all-day meeting)."""
        if self.is_all_day or self.end_time is None:
            return None
        return datetime.datetime.combine(self.ends_on, self.end_time, tzinfo=MEETING_TZ)


class MeetingPartQuerySet(models.QuerySet):
    """Parts of a meeting are seen by whoever sees the meeting."""

    def visible_to(self, user: Principal) -> Self:
        return restrict(self, user, "meetings.part.read")

    def writable_by(self, user: Principal) -> Self:
        return self.filter(meeting__in=Meeting.objects.writable_by(user))


@track()
class Attendance(models.Model):
    class Role(models.TextChoices):
        ORGANISER = "organiser", _("organiser")
        PRESENTER = "presenter", _("presenter")
        PARTICIPANT = "participant", _("participant")

    meeting = models.ForeignKey(Meeting, models.CASCADE, related_name="attendance", verbose_name=_("meeting"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    position = models.CharField(_("position"), max_length=200, blank=True)
    role = models.CharField(_("role at the meeting"), max_length=16, choices=Role.choices, default=Role.PARTICIPANT)

    objects = MeetingPartQuerySet.as_manager()

    class Meta:
        ordering = ["meeting", "role", "organisation", "name"]
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(name="") | ~Q(organisation=""),
                name="attendance_names_someone",
                violation_error_message=_("Give a user, or a name or an organisation."),
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.organisation or str(self.user)


@track()
class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, models.CASCADE, related_name="agenda", verbose_name=_("meeting"))
    order = models.PositiveSmallIntegerField(_("order"))
    title = models.CharField(_("title"), max_length=300)
    presenter = models.CharField(_("presenter"), max_length=200, blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    decisions = models.TextField(_("decisions"), blank=True)

    objects = MeetingPartQuerySet.as_manager()

    class Meta:
        ordering = ["meeting", "order"]
        verbose_name = _("agenda item")
        verbose_name_plural = _("agenda items")
        constraints = [models.UniqueConstraint(fields=["meeting", "order"], name="agenda_item_order_unique")]

    def __str__(self) -> str:
        return f"{self.order}. {self.title}"


@track()
class Presentation(models.Model):
    """A province presents the five sections of its progress report at a meeting: the report is
    linked, never copied."""

    meeting = models.ForeignKey(Meeting, models.CASCADE, related_name="presentations", verbose_name=_("meeting"))
    province = models.ForeignKey(Province, models.PROTECT, related_name="+", verbose_name=_("province"))
    report = models.ForeignKey(
        "reports.ProgressReport",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="presentations",
        verbose_name=_("progress report"),
    )
    presenter = models.CharField(_("presenter"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    notes = models.TextField(_("notes"), blank=True)

    objects = MeetingPartQuerySet.as_manager()

    class Meta:
        ordering = ["meeting", "order", "province"]
        verbose_name = _("province presentation")
        verbose_name_plural = _("province presentations")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "province"], name="presentation_once_per_province"),
        ]

    def __str__(self) -> str:
        return f"{self.meeting}: {self.province}"


@track()
class LessonLearned(models.Model):
    meeting = models.ForeignKey(Meeting, models.CASCADE, related_name="lessons", verbose_name=_("meeting"))
    province = models.ForeignKey(
        Province, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("province")
    )
    theme = models.CharField(_("theme"), max_length=200)
    text = models.TextField(_("lesson"))

    objects = MeetingPartQuerySet.as_manager()

    class Meta:
        ordering = ["-meeting__starts_on", "theme"]
        verbose_name = _("lesson learned")
        verbose_name_plural = _("lessons learned")

    def __str__(self) -> str:
        return self.theme


class ActionItemQuerySet(MeetingPartQuerySet):
    def open(self) -> Self:
        return self.filter(status=ActionItem.Status.OPEN)

    def overdue(self, today: datetime.date | None = None) -> Self:
        return self.open().filter(due_date__lt=today or timezone.localdate())

    def owned_by(self, user: Principal) -> Self:
        """Items whose owner is the user, one of their provinces, or one of their universities."""
        return restrict(self, user, "meetings.action_item.owned")


@track()
class ActionItem(models.Model):
    """Something a meeting decided to do, followed until it is done or dropped."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        DROPPED = "dropped", _("dropped")

    meeting = models.ForeignKey(Meeting, models.CASCADE, related_name="action_items", verbose_name=_("meeting"))
    what = models.TextField(_("what"))
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="action_items",
        verbose_name=_("owner (person)"),
    )
    owner_province = models.ForeignKey(
        Province, models.PROTECT, null=True, blank=True, related_name="action_items", verbose_name=_("owner (province)")
    )
    owner_university = models.ForeignKey(
        University,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="action_items",
        verbose_name=_("owner (university)"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "pk"]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        constraints = [
            models.CheckConstraint(
                condition=Q(owner_user__isnull=False)
                | Q(owner_province__isnull=False)
                | Q(owner_university__isnull=False),
                name="action_item_has_an_owner",
                violation_error_message=_("Name an owner: a person, a province or a university."),
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"])]

    def __str__(self) -> str:
        return self.what[:80]

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_date is not None and self.due_date < timezone.localdate()


def attachment_path(attachment: "MeetingAttachment", filename: str) -> str:
    # A random name on disk: the original name is kept in the row, never trusted as a path.
    return f"meetings/{attachment.meeting_id}/{secrets.token_hex(16)}"


@track()
class MeetingAttachment(models.Model):
    """Slides or minutes of a meeting; served only through the meeting's access door."""

    meeting = models.ForeignKey(Meeting, models.CASCADE, related_name="attachments", verbose_name=_("meeting"))
    file = models.FileField(_("file"), upload_to=attachment_path)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    objects = MeetingPartQuerySet.as_manager()

    class Meta:
        ordering = ["meeting", "uploaded_at"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A user's personal secret link to the iCalendar feed of the meetings they may see."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="calendar_feed", verbose_name=_("user")
    )
    token = models.CharField(_("secret"), max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(_("created at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return str(self.user)

    def reset(self) -> None:
        """A new secret: the old link stops working at once."""
        self.token = new_feed_token()
        self.save(update_fields=["token", "created_at"])
