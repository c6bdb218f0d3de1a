"""Writing meetings and their parts: the one path for pages, admin, the attendance import, demo data and tests.

Who writes is meetings/policies.py's: a meeting's parts by whoever writes the meeting, an action
item's status and note also by its owner. A user who may not write gets PermissionDenied (403 on the
pages), bad input a ValidationError, and a meeting changed since the `version` the user saw a StaleEdit.
"""

import datetime
from pathlib import PurePath

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from accounts.access import Principal, can
from accounts.models import AnyUser, User
from core.buddhist_dates import fiscal_year_of
from core.periods import Period, period_bounds
from core.versioning import check_version
from reports.models import ProgressReport
from universities.models import University

from .attachments import validate_attachment
from .models import (
    IPSR_UNIVERSITY_CODE,
    ActionItem,
    AgendaItem,
    Attendance,
    CalendarFeed,
    Kind,
    LessonLearned,
    Meeting,
    MeetingAttachment,
    Presentation,
)

MEETING_FIELDS = frozenset(
    {
        "title",
        "kind",
        "starts_on",
        "ends_on",
        "start_time",
        "end_time",
        "venue",
        "online_link",
        "description",
        "status",
        "album_url",
        "organised_by_eef",
        "organised_by_ipsr",
    }
)
# The parts written by save_part / delete_part (presentations and attachments have their own path).
PART_MODELS = (AgendaItem, Attendance, Presentation, LessonLearned, ActionItem)


# --- who may -------------------------------------------------------------------------------------
def may_create_meetings(user: Principal) -> bool:
    """EEF admins, university teams and coordinators organise meetings (each of its own scope)."""
    return can(user, "meetings.create")


def allowed_kinds(user: Principal) -> list[str]:
    """The kinds of meeting the user may organise."""
    return [kind for kind in Kind.values if can(user, "meetings.organise_kind", kind)]


def may_write(*, meeting: Meeting, user: Principal) -> bool:
    return can(user, "meetings.write", meeting)


def updatable_action_item_ids(*, user: Principal, items) -> set[int]:
    """Which of `items` the user may update (status and note): one query at most, for list pages."""
    items = list(items)
    if can(user, "meetings.write_all"):
        return {item.pk for item in items}
    writable_meetings = set(
        Meeting.objects.writable_by(user)
        .filter(pk__in={item.meeting_id for item in items})
        .values_list("pk", flat=True)
    )
    return {
        item.pk for item in items if item.meeting_id in writable_meetings or can(user, "meetings.action_item.own", item)
    }


def may_update_action_item(*, item: ActionItem, user: Principal) -> bool:
    return bool(updatable_action_item_ids(user=user, items=[item]))


# --- which report a province presents ------------------------------------------------------------
def periods_covering(day: datetime.date) -> tuple[int, list[str]]:
    """The fiscal year of `day` and the report periods of that year that contain it (quarter first)."""
    fiscal_year = fiscal_year_of(day)
    periods = [p for p in Period.values if period_bounds(fiscal_year, p)[0] <= day <= period_bounds(fiscal_year, p)[1]]
    return fiscal_year, periods


def reports_covering(meeting: Meeting) -> models.QuerySet:
    """Progress reports (of any province) whose period covers the meeting's first day."""
    fiscal_year, periods = periods_covering(meeting.starts_on)
    return ProgressReport.objects.filter(fiscal_year=fiscal_year, period__in=periods)


def report_for(*, meeting: Meeting, province_id: int) -> ProgressReport | None:
    """The province's report of the meeting's period: the quarter's if there is one, else the half-year's."""
    _fiscal_year, periods = periods_covering(meeting.starts_on)
    found = {r.period: r for r in reports_covering(meeting).filter(province_id=province_id)}
    return next((found[p] for p in periods if p in found), None)


# --- meetings ------------------------------------------------------------------------------------
def _ids(values) -> set:
    return {getattr(v, "pk", v) for v in values or ()}


def organiser_university_ids(*, meeting: Meeting, universities) -> set:
    """The organising universities to store: MU-IPSR is left out when the meeting is organised by IPSR
    (the flag), so that IPSR is never listed twice as organiser (the minutes, the meeting page)."""
    ids = _ids(universities)
    if meeting.organised_by_ipsr and ids:
        ids -= set(University.objects.filter(code=IPSR_UNIVERSITY_CODE).values_list("pk", flat=True))
    return ids


def check_meeting_scope(*, user: Principal, kind: str, province_ids, university_ids) -> None:
    """ValidationError unless the user may write a meeting of this kind that concerns these provinces
    and universities: the meetings write rule (meetings/policies.py), asked before saving."""
    province_ids, university_ids = _ids(province_ids), _ids(university_ids)
    if kind == Kind.PROVINCIAL and not province_ids:
        raise ValidationError({"provinces": _("A provincial meeting concerns at least one province.")})
    if kind == Kind.REGIONAL and not university_ids:
        raise ValidationError({"universities": _("A regional meeting concerns at least one university team.")})
    if can(user, "meetings.write_all"):
        return
    if not can(user, "meetings.organise_kind", kind):
        raise ValidationError({"kind": _("You cannot organise a meeting of this kind.")})
    if can(user, "meetings.write_planned", (kind, province_ids, university_ids)):
        return
    raise ValidationError(
        _(
            "List your own university team (or, for a provincial meeting, your province) among those the meeting "
            "concerns: otherwise you could not edit it afterwards."
        )
    )


def _lock_for_writing(*, meeting: Meeting, user: Principal) -> Meeting:
    """The meeting's row, locked for this transaction; PermissionDenied unless the user writes it."""
    locked = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if not may_write(meeting=locked, user=user):
        raise PermissionDenied
    return locked


@transaction.atomic
def save_meeting(
    *,
    user: AnyUser,
    fields: dict,
    provinces=(),
    universities=(),
    organiser_provinces=(),
    organiser_universities=(),
    meeting: Meeting | None = None,
    version: int | None = None,
) -> Meeting:
    """Create a meeting (meeting=None) or change one (from `version`, None: no precondition), with the
    provinces and universities it concerns."""
    unknown = set(fields) - MEETING_FIELDS
    if unknown:
        raise ValueError(f"not fields of a meeting: {sorted(unknown)}")
    if meeting is None:
        if not may_create_meetings(user):
            raise PermissionDenied
        meeting = Meeting(created_by=user if user.is_authenticated else None)
    else:
        meeting = _lock_for_writing(meeting=meeting, user=user)
        check_version(meeting, version)
    for name, value in fields.items():
        setattr(meeting, name, value)
    check_meeting_scope(user=user, kind=meeting.kind, province_ids=provinces, university_ids=universities)
    meeting.full_clean()
    meeting.save()
    meeting.provinces.set(_ids(provinces))
    meeting.universities.set(_ids(universities))
    meeting.organiser_provinces.set(_ids(organiser_provinces))
    meeting.organiser_universities.set(organiser_university_ids(meeting=meeting, universities=organiser_universities))
    # One rule (meetings.policies), asked of the planned meeting above and of the saved rows here.
    if not may_write(meeting=meeting, user=user):
        raise PermissionDenied
    return meeting


@transaction.atomic
def delete_meeting(*, user: AnyUser, meeting: Meeting, version: int | None = None) -> None:
    """Delete the meeting and its parts, unless it changed since `version` (StaleEdit)."""
    meeting = _lock_for_writing(meeting=meeting, user=user)
    check_version(meeting, version)
    files = [a.file.name for a in meeting.attachments.all() if a.file.name]
    meeting.delete()
    _delete_files_on_commit(files)


# --- parts: agenda items, attendance, lessons, action items, presentations -----------------------
def _check_part(*, meeting: Meeting, instance) -> None:
    if type(instance) not in PART_MODELS:
        raise TypeError(f"not a part of a meeting: {type(instance).__name__}")
    if instance.pk and instance.meeting_id != meeting.pk:
        raise PermissionDenied


@transaction.atomic
def save_part(*, user: AnyUser, meeting: Meeting, instance):
    """Save an agenda item, attendance row, presentation, lesson or action item of `meeting`.

    `instance` carries the new values (a ModelForm's `save(commit=False)`, or built in code). An
    agenda item without an order goes last; a presentation without a report is linked to its
    province's report of the meeting's period, if there is one.
    """
    meeting = _lock_for_writing(meeting=meeting, user=user)
    _check_part(meeting=meeting, instance=instance)
    instance.meeting = meeting
    if isinstance(instance, AgendaItem) and not instance.order:
        last = meeting.agenda.aggregate(last=models.Max("order"))["last"] or 0
        instance.order = last + 1
    if isinstance(instance, Presentation):
        _check_presentation(meeting=meeting, presentation=instance, user=user)
    instance.full_clean()
    instance.save()
    return instance


def _check_presentation(*, meeting: Meeting, presentation: Presentation, user: Principal) -> None:
    report = presentation.report  # no query without a report_id
    if report is None:
        # Linked, not copied: readers who may see the report read it there.
        presentation.report = report_for(meeting=meeting, province_id=presentation.province_id)
        return
    if not ProgressReport.objects.visible_to(user).filter(pk=report.pk).exists():
        raise ValidationError({"report": _("Choose a report you can see.")})
    fiscal_year, periods = periods_covering(meeting.starts_on)
    if report.province_id != presentation.province_id:
        raise ValidationError({"report": _("This report is of another province.")})
    if report.fiscal_year != fiscal_year or report.period not in periods:
        raise ValidationError({"report": _("Link the province's report of the period in which the meeting is held.")})


@transaction.atomic
def delete_part(*, user: AnyUser, instance) -> None:
    meeting = _lock_for_writing(meeting=instance.meeting, user=user)
    _check_part(meeting=meeting, instance=instance)
    instance.delete()


@transaction.atomic
def update_action_item(*, user: AnyUser, item: ActionItem, status: str, note: str = "") -> ActionItem:
    """Follow an action item up: its status (open, done, dropped) and a note. Its owner or the
    meeting's writers; dropping it says why."""
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if not may_update_action_item(item=item, user=user):
        raise PermissionDenied
    if status not in ActionItem.Status.values:
        raise ValidationError({"status": _("Choose open, done or dropped.")})
    if status == ActionItem.Status.DROPPED and not note.strip():
        raise ValidationError({"note": _("Say why the action item is dropped.")})
    item.status = status
    item.note = note
    item.save(update_fields=["status", "note", "updated_at"])
    return item


# --- attachments ---------------------------------------------------------------------------------
def _clean_name(name: str) -> str:
    # The name as the user knows it, without any folder and without control characters.
    base = PurePath(name.replace("\\", "/")).name
    return "".join(ch for ch in base if ch.isprintable())[:255] or "file"


def _delete_files_on_commit(names: list[str]) -> None:
    storage = MeetingAttachment._meta.get_field("file").storage

    def delete() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete)


@transaction.atomic
def add_attachment(*, user: User, meeting: Meeting, file) -> MeetingAttachment:
    """Keep an uploaded file with the meeting, after checking what it is (meetings/attachments.py)."""
    meeting = _lock_for_writing(meeting=meeting, user=user)
    kind = validate_attachment(file)
    attachment = MeetingAttachment(
        meeting=meeting,
        original_name=_clean_name(file.name or ""),
        content_type=kind.content_type,
        size=file.size,
        uploaded_by=user,
    )
    attachment.file.save(attachment.original_name, file, save=False)
    try:
        attachment.save()
    except Exception:
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def delete_attachment(*, user: AnyUser, attachment: MeetingAttachment) -> None:
    _lock_for_writing(meeting=attachment.meeting, user=user)
    name = attachment.file.name
    attachment.delete()
    _delete_files_on_commit([name] if name else [])


# --- the calendar feed ---------------------------------------------------------------------------
@transaction.atomic
def reset_feed(*, user: AnyUser) -> CalendarFeed:
    """The user's personal calendar link: created on first use, a new secret on every later call
    (the old link stops working at once)."""
    if not user.is_authenticated:
        raise PermissionDenied
    feed, created = CalendarFeed.objects.select_for_update().get_or_create(user=user)
    if not created:
        feed.reset()
    return feed


# --- the attendance sign-in sheet ----------------------------------------------------------------
def import_attendance(*, user: AnyUser, meeting: Meeting, dataset, dry_run: bool):
    """Import a sign-in sheet (meetings.resources.read_sign_in_sheet) into the meeting's attendance.

    A dry run shows what would happen, row by row, and writes nothing; without errors, the same
    dataset is then imported for real. Returns import-export's Result.
    """
    from .resources import AttendanceResource

    if not may_write(meeting=meeting, user=user):
        raise PermissionDenied
    resource = AttendanceResource(user=user, meeting=meeting)
    with transaction.atomic():
        result = resource.import_data(dataset, dry_run=dry_run, raise_errors=False, use_transactions=True)
        if not dry_run and (result.has_errors() or result.has_validation_errors()):
            transaction.set_rollback(True)
    return result
