"""Meeting pages: list and calendar, a meeting with all its parts, the forms of its organisers,
lessons learned and action items across meetings, attachments, the minutes export and the
personal calendar feed.

Everything goes through the access door: a meeting someone may not see answers 404 (as a
missing one does), and a page that writes answers 403 to those who see the meeting without
writing it. Writes go through meetings.services.
"""

import calendar
import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.access import get_object_for_user
from accounts.models import AnyUser
from audit.access_log import record_access
from audit.models import AccessLog
from core import stale_edits
from core.buddhist_dates import BE_OFFSET, THAI_MONTHS_LONG, fiscal_year_bounds, to_buddhist_year
from core.forms import add_service_errors
from core.previews import PreviewInvalid, SignedPreview
from core.versioning import StaleEdit
from exports import views as export_jobs
from reports.models import ProgressReport

from . import export_jobs as export_kinds
from . import figures as presentation_figures
from . import services
from .attachments import max_attachment_bytes
from .calendar import build_feed, feed_meetings, month_weeks
from .forms import (
    ActionFilterForm,
    ActionItemForm,
    ActionStatusForm,
    AgendaItemForm,
    AttachmentForm,
    AttendanceForm,
    AttendanceImportForm,
    LessonForm,
    LessonSearchForm,
    MeetingDeleteForm,
    MeetingFilterForm,
    MeetingForm,
    PresentationForm,
)
from .models import (
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
from .resources import read_sign_in_sheet

PAGE_SIZE = 50
MINUTES_FORMATS = ("pdf", "docx", "xlsx")


def _query_without_page(request) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])


# --- meetings: list, calendar, detail ------------------------------------------------------------
@login_required
def meeting_list(request):
    """Upcoming meetings (soonest first) and past ones (latest first, in pages), filtered."""
    user = request.user
    form = MeetingFilterForm(request.GET or None, user=user)
    meetings = Meeting.objects.visible_to(user)
    if form.is_valid():
        data = form.cleaned_data
        if data["kind"]:
            meetings = meetings.filter(kind=data["kind"])
        if data["status"]:
            meetings = meetings.filter(status=data["status"])
        if data["province"]:
            meetings = meetings.filter(
                Exists(Meeting.provinces.through.objects.filter(meeting=OuterRef("pk"), province=data["province"]))
            )
        if data["year"]:
            start, end = fiscal_year_bounds(data["year"])
            meetings = meetings.filter(starts_on__lte=end, ends_on__gte=start)
    today = timezone.localdate()
    upcoming = meetings.filter(ends_on__gte=today).order_by("starts_on", "pk").prefetch_related("provinces")
    past = meetings.filter(ends_on__lt=today).order_by("-starts_on", "-pk").prefetch_related("provinces")
    page = Paginator(past, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "meetings/list.html",
        {
            "form": form,
            "upcoming": list(upcoming),
            "page": page,
            "query": _query_without_page(request),
            "may_create": services.may_create_meetings(user),
            "today": today,
        },
    )


@login_required
def month(request, year: int, month: int):
    if 1 <= month <= 12 and 1900 + BE_OFFSET <= year <= 2200 + BE_OFFSET:
        # A พ.ศ. year, as Thai users type it (/meetings/calendar/2569/12/): the page's one address is in ค.ศ.
        # (a year of 2400 or more is พ.ศ., DOMAIN.md), so a link is the same in both languages.
        return redirect("meetings:month", year=year - BE_OFFSET, month=month, permanent=True)
    if not (1 <= month <= 12 and 1900 <= year <= 2200):
        raise Http404
    first = datetime.date(year, month, 1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    last = following - datetime.timedelta(days=1)
    previous = (first - datetime.timedelta(days=1)).replace(day=1)
    meetings = list(
        Meeting.objects.visible_to(request.user)
        .filter(starts_on__lte=last, ends_on__gte=first)
        .order_by("starts_on", "pk")
    )
    return render(
        request,
        "meetings/month.html",
        {
            "title": month_title(first),
            "weeks": month_weeks(year, month, meetings),
            "weekday_names": [WEEKDAYS_ABBR[(calendar.SUNDAY + i) % 7] for i in range(7)],
            "meetings": meetings,
            "previous": previous,
            "previous_title": month_title(previous),
            "following": following,
            "following_title": month_title(following),
            "today": timezone.localdate(),
        },
    )


def month_title(day: datetime.date) -> str:
    """พฤศจิกายน 2569 for Thai readers (พ.ศ.), November 2026 for English ones."""
    if (get_language() or "th").startswith("th"):
        return f"{THAI_MONTHS_LONG[day.month - 1]} {to_buddhist_year(day.year)}"
    return date_format(day, "F Y")


def earlier_open_action_items(*, meeting: Meeting, user: AnyUser):
    """Open action items of earlier meetings of the same scope, to be followed up at this one.

    Same scope: a national meeting follows up earlier national meetings; a regional or provincial
    meeting earlier meetings of the same kind sharing one of its provinces or universities.
    """
    items = (
        ActionItem.objects.visible_to(user)
        .open()
        .filter(meeting__kind=meeting.kind, meeting__starts_on__lt=meeting.starts_on)
    )
    if meeting.kind != Kind.NATIONAL:
        provinces = [p.pk for p in meeting.provinces.all()]
        universities = [u.pk for u in meeting.universities.all()]
        items = items.filter(
            Exists(Meeting.provinces.through.objects.filter(meeting=OuterRef("meeting"), province__in=provinces))
            | Exists(
                Meeting.universities.through.objects.filter(meeting=OuterRef("meeting"), university__in=universities)
            )
        )
    return items.select_related("meeting", "owner_user", "owner_province", "owner_university").order_by(
        "due_date", "meeting__starts_on", "pk"
    )


@login_required
def detail(request, pk: int):
    user = request.user
    meeting = get_object_for_user(
        Meeting.objects.select_related("created_by").prefetch_related(
            "provinces",
            "universities",
            "organiser_provinces",
            "organiser_universities",
            "agenda",
            Prefetch("attendance", queryset=Attendance.objects.select_related("user")),
            "presentations__province",
            "presentations__report",
            "lessons__province",
            "action_items__owner_user",
            "action_items__owner_province",
            "action_items__owner_university",
            "attachments",
        ),
        user,
        pk,
    )
    presentations = list(meeting.presentations.all())
    # The figures of each presenting province the user may see as of the meeting's day (the last summary on or
    # before it; a meeting of today or later: the latest): one query.
    figures_day = meeting.starts_on if meeting.starts_on < timezone.localdate() else None
    figures = presentation_figures.figures_on(user=user, codes=[p.province_id for p in presentations], on=figures_day)
    for presentation in presentations:
        presentation.latest_figures = figures.get(presentation.province_id)  # type: ignore[attr-defined]  # for the page
    report_ids = [p.report_id for p in presentations if p.report_id]
    # A province's report is shown to those who may read it; others see that it was presented.
    readable_reports = set(
        ProgressReport.objects.visible_to(user).filter(pk__in=report_ids).values_list("pk", flat=True)
    )
    action_items = list(meeting.action_items.all())
    earlier = list(earlier_open_action_items(meeting=meeting, user=user))
    attendees = len(meeting.attendance.all())
    if attendees:
        # The attendees' names, as the minutes export logs them (minutes below).
        record_access(
            request=request,
            action=AccessLog.Action.VIEW,
            obj=meeting,
            description="meeting page: attendance",
            count=attendees,
        )
    return render(
        request,
        "meetings/detail.html",
        {
            "meeting": meeting,
            "figures_day": figures_day,
            "may_write": services.may_write(meeting=meeting, user=user),
            "presentations": presentations,
            "readable_reports": readable_reports,
            "action_items": action_items,
            "earlier_items": earlier,
            "updatable": services.updatable_action_item_ids(user=user, items=action_items + earlier),
            "minutes_formats": MINUTES_FORMATS,
            "today": timezone.localdate(),
        },
    )


# --- meetings: create, edit, delete ----------------------------------------------------------------
def _writable_meeting(request, pk: int) -> Meeting:
    """The meeting for a write page: 404 for outsiders, 403 for those who only read it."""
    meeting = get_object_for_user(Meeting, request.user, pk)
    if not services.may_write(meeting=meeting, user=request.user):
        raise PermissionDenied
    return meeting


@login_required
def create(request):
    if not services.may_create_meetings(request.user):
        raise PermissionDenied
    form = MeetingForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.save_meeting(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The meeting is saved."))
            return redirect("meetings:detail", pk=meeting.pk)
    return render(request, "meetings/meeting_form.html", {"form": form, "meeting": None})


@login_required
def edit(request, pk: int):
    meeting = _writable_meeting(request, pk)
    form = MeetingForm(request.POST or None, instance=meeting, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_meeting(
                user=request.user, meeting=meeting, version=form.seen_version, **form.service_kwargs()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except StaleEdit:
            # Saved by someone else since the form was opened: nothing written; the form comes back with
            # the user's changes on top of the current values, and what changed.
            meeting = _writable_meeting(request, pk)
            fresh = MeetingForm(instance=meeting, user=request.user)
            data, stale = stale_edits.reconcile(posted=form, fresh=fresh)
            form = MeetingForm(data, instance=meeting, user=request.user)
            context = {"form": form, "meeting": meeting, "stale": stale}
            return render(request, "meetings/meeting_form.html", context, status=409)
        else:
            messages.success(request, _("The meeting is saved."))
            return redirect("meetings:detail", pk=meeting.pk)
    return render(request, "meetings/meeting_form.html", {"form": form, "meeting": meeting})


@login_required
def delete(request, pk: int):
    meeting = _writable_meeting(request, pk)
    form = MeetingDeleteForm(request.POST or None, meeting=meeting)
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_meeting(user=request.user, meeting=meeting, version=form.seen_version)
        except StaleEdit:
            # Changed since the page was opened: not deleted; the page says what changed.
            meeting = _writable_meeting(request, pk)
            data, stale = stale_edits.reconcile(posted=form, fresh=MeetingDeleteForm(meeting=meeting), kind="action")
            context = {"meeting": meeting, "object": meeting, "form": MeetingDeleteForm(data, meeting=meeting)}
            return render(request, "meetings/confirm_delete.html", {**context, "stale": stale}, status=409)
        messages.success(request, _("The meeting is deleted."))
        return redirect("meetings:list")
    return render(request, "meetings/confirm_delete.html", {"meeting": meeting, "object": meeting, "form": form})


# --- parts of a meeting --------------------------------------------------------------------------
PARTS = {
    # name (also the anchor of its section on the meeting's page): (model, form)
    "agenda": (AgendaItem, AgendaItemForm),
    "attendance": (Attendance, AttendanceForm),
    "presentation": (Presentation, PresentationForm),
    "lesson": (LessonLearned, LessonForm),
    "action": (ActionItem, ActionItemForm),
}


def _part(request, pk: int, item_pk: int | None, *, part: str):
    """Add (item_pk None) or edit a part of a meeting; a POST with `delete` removes it."""
    model, form_class = PARTS[part]
    meeting = _writable_meeting(request, pk)
    instance = (
        get_object_or_404(model._default_manager.filter(meeting=meeting), pk=item_pk)
        if item_pk
        else model(meeting=meeting)
    )
    if request.method == "POST" and item_pk and "delete" in request.POST:
        services.delete_part(user=request.user, instance=instance)
        messages.success(request, _("Deleted."))
        return redirect(reverse("meetings:detail", kwargs={"pk": meeting.pk}) + f"#{part}")
    form = form_class(request.POST or None, instance=instance, meeting=meeting, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_part(user=request.user, meeting=meeting, instance=form.save(commit=False))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect(reverse("meetings:detail", kwargs={"pk": meeting.pk}) + f"#{part}")
    return render(
        request,
        "meetings/part_form.html",
        {"form": form, "meeting": meeting, "part": part, "instance": instance if item_pk else None},
    )


@login_required
def part_add(request, pk: int, *, part: str):
    return _part(request, pk, None, part=part)


@login_required
def part_edit(request, pk: int, item_pk: int, *, part: str):
    return _part(request, pk, item_pk, part=part)


# --- attendance import ---------------------------------------------------------------------------
_IMPORT_PURPOSE = "meetings.attendance-import"


@login_required
def attendance_import(request, pk: int):
    """Upload a sign-in sheet, see what it would do row by row (a dry run), then confirm."""
    meeting = _writable_meeting(request, pk)
    form = AttendanceImportForm()
    preview = None
    if request.method == "POST":
        # The confirmation carries the previewed rows, signed for this meeting and user, so that
        # exactly what was seen is imported (and checked again, for real this time).
        signed = SignedPreview(_IMPORT_PURPOSE, object_pk=meeting.pk, user_pk=request.user.pk)
        if "payload" in request.POST:
            try:
                payload = signed.load(request.POST["payload"])
            except PreviewInvalid as error:
                raise PermissionDenied from error
            dataset = _dataset(payload["rows"])
            lines = payload["lines"]
            result = services.import_attendance(user=request.user, meeting=meeting, dataset=dataset, dry_run=False)
            if not (result.has_errors() or result.has_validation_errors()):
                totals = result.totals
                messages.success(
                    request,
                    _("Sign-in sheet imported: %(new)s added, %(update)s updated, %(skip)s unchanged.")
                    % {"new": totals["new"], "update": totals["update"], "skip": totals["skip"]},
                )
                return redirect(reverse("meetings:detail", kwargs={"pk": meeting.pk}) + "#attendance")
            preview = _preview(result, dataset, lines)
        else:
            form = AttendanceImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    dataset, lines = read_sign_in_sheet(form.cleaned_data["file"])
                except ValidationError as error:
                    form.add_error("file", error)
                else:
                    result = services.import_attendance(
                        user=request.user, meeting=meeting, dataset=dataset, dry_run=True
                    )
                    preview = _preview(result, dataset, lines)
                    preview["payload"] = signed.sign({"rows": [list(row) for row in dataset], "lines": lines})
    return render(request, "meetings/attendance_import.html", {"meeting": meeting, "form": form, "preview": preview})


def _dataset(rows):
    import tablib

    from .resources import COLUMNS

    dataset = tablib.Dataset(headers=list(COLUMNS))
    for row in rows:
        dataset.append(row)
    return dataset


def _preview(result, dataset, lines) -> dict:
    """Each row of the sheet with what the import does with it and its errors, by sheet line."""
    errors: dict[int, list[str]] = {}
    for row_number, row_errors in result.row_errors():
        errors.setdefault(row_number, []).extend(str(e.error) for e in row_errors)
    for invalid in result.invalid_rows:
        for field, messages_ in invalid.error_dict.items():
            for message in messages_:
                label = "" if field == "__all__" else f"{_column_label(field)}: "
                errors.setdefault(invalid.number, []).append(f"{label}{message}")
    for base in result.base_errors:
        errors.setdefault(0, []).append(str(base.error))
    kinds = {
        "new": _("new"),
        "update": _("updated"),
        "skip": _("unchanged"),
        "invalid": _("error"),
        "error": _("error"),
    }
    rows = []
    outcomes = [r.import_type for r in result.rows]
    for index, values in enumerate(dataset, start=1):
        outcome = outcomes[index - 1] if index - 1 < len(outcomes) else "error"
        row_errors = errors.get(index, [])
        rows.append(
            {
                "line": lines[index - 1] if index - 1 < len(lines) else index,
                "values": list(values),
                "outcome": "error" if row_errors else outcome,
                "outcome_label": kinds.get("error" if row_errors else outcome, outcome),
                "errors": row_errors,
            }
        )
    return {
        "rows": rows,
        "general_errors": errors.get(0, []),
        "has_errors": bool(errors),
        "totals": result.totals,
    }


def _column_label(field: str) -> str:
    labels = {
        "name": _("name"),
        "organisation": _("organisation"),
        "position": _("position"),
        "role": _("role"),
    }
    return labels.get(field, field)


# --- attachments ---------------------------------------------------------------------------------
@login_required
def attachment_add(request, pk: int):
    meeting = _writable_meeting(request, pk)
    form = AttachmentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_attachment(user=request.user, meeting=meeting, file=form.cleaned_data["file"])
        except ValidationError as error:
            form.add_error("file", error)
        else:
            messages.success(request, _("The file is attached."))
            return redirect(reverse("meetings:detail", kwargs={"pk": meeting.pk}) + "#attachments")
    return render(
        request,
        "meetings/attachment_form.html",
        {"form": form, "meeting": meeting, "max_bytes": max_attachment_bytes()},
    )


@login_required
def attachment(request, pk: int, attachment_pk: int):
    """The file, to those who may see the meeting, as a download with the type found at upload."""
    meeting = get_object_for_user(Meeting, request.user, pk)
    item = get_object_or_404(MeetingAttachment.objects.filter(meeting=meeting), pk=attachment_pk)
    try:
        handle = item.file.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    return FileResponse(handle, as_attachment=True, filename=item.original_name, content_type=item.content_type)


@login_required
def attachment_delete(request, pk: int, attachment_pk: int):
    meeting = _writable_meeting(request, pk)
    item = get_object_or_404(MeetingAttachment.objects.filter(meeting=meeting), pk=attachment_pk)
    if request.method == "POST":
        services.delete_attachment(user=request.user, attachment=item)
        messages.success(request, _("The file is removed."))
        return redirect(reverse("meetings:detail", kwargs={"pk": meeting.pk}) + "#attachments")
    return render(request, "meetings/confirm_delete.html", {"meeting": meeting, "object": item})


# --- the minutes export --------------------------------------------------------------------------
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def minutes(request, pk: int, fmt: str):
    """The minutes as PDF, Word or Excel (meetings/minutes.py), made by an export job (POST starts it; a GET
    offers it). They name the attendees: each download is logged (exports.views.download)."""
    if fmt not in MINUTES_FORMATS:
        raise Http404
    meeting = get_object_for_user(Meeting, request.user, pk)
    return export_jobs.ask(request, kind=export_kinds.KIND, file_format=fmt, params={"meeting": meeting.pk})


# --- lessons learned and action items across meetings --------------------------------------------
@login_required
def lessons(request):
    """Lessons learned of every meeting the user may see: searched by text, filtered by province and theme."""
    user = request.user
    visible = LessonLearned.objects.visible_to(user)
    themes = visible.order_by("theme").values_list("theme", flat=True).distinct()
    form = LessonSearchForm(request.GET or None, user=user, themes=list(themes))
    found = visible
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            found = found.filter(Q(theme__icontains=data["q"]) | Q(text__icontains=data["q"]))
        if data["province"]:
            found = found.filter(province=data["province"])
        if data["theme"]:
            found = found.filter(theme=data["theme"])
    found = found.select_related("meeting", "province").order_by("-meeting__starts_on", "theme", "pk")
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "meetings/lessons.html",
        {"form": form, "page": page, "query": _query_without_page(request), "searching": form.has_changed()},
    )


@login_required
def actions(request):
    """Action items of every meeting the user may see; open ones by default."""
    user = request.user
    form = ActionFilterForm(request.GET or None, user=user)
    items = ActionItem.objects.visible_to(user)
    status = ActionItem.Status.OPEN
    if form.is_valid():
        data = form.cleaned_data
        status = data["status"] or status
        owner = data["owner"]
        if owner == "mine":
            items = items.owned_by(user)
        elif owner[:1] == "p" and owner[1:].isdigit():
            items = items.filter(owner_province_id=int(owner[1:]))
        elif owner[:1] == "u" and owner[1:].isdigit():
            items = items.filter(owner_university_id=int(owner[1:]))
        if data["overdue"]:
            items = items.overdue()
            status = ActionItem.Status.OPEN
    if status != ActionFilterForm.STATUS_ALL:
        items = items.filter(status=status)
    items = items.select_related("meeting", "owner_user", "owner_province", "owner_university").order_by(
        "status", "due_date", "pk"
    )
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "meetings/actions.html",
        {
            "form": form,
            "page": page,
            "query": _query_without_page(request),
            "updatable": services.updatable_action_item_ids(user=user, items=page.object_list),
            "today": timezone.localdate(),
        },
    )


@login_required
def action_edit(request, pk: int):
    """Follow an action item up. The meeting's writers change all of it; its owner the status and note."""
    item = get_object_for_user(ActionItem.objects.select_related("meeting"), request.user, pk)
    meeting = item.meeting
    if services.may_write(meeting=meeting, user=request.user):
        return _part(request, meeting.pk, item.pk, part="action")
    if not services.may_update_action_item(item=item, user=request.user):
        raise PermissionDenied
    form = ActionStatusForm(request.POST or None, initial={"status": item.status, "note": item.note})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_action_item(user=request.user, item=item, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("meetings:detail", pk=meeting.pk)
    return render(request, "meetings/action_status_form.html", {"form": form, "item": item, "meeting": meeting})


# --- the calendar feed ---------------------------------------------------------------------------
@login_required
def feed_settings(request):
    """The user's personal calendar link; POST makes one, or a new one (the old one stops working)."""
    if request.method == "POST":
        services.reset_feed(user=request.user)
        messages.success(request, _("Your calendar link is ready. Any earlier link no longer works."))
        return redirect("meetings:feed_settings")
    feed = CalendarFeed.objects.filter(user=request.user).first()
    url = request.build_absolute_uri(reverse("meetings:feed", kwargs={"token": feed.token})) if feed else None
    return render(request, "meetings/feed_settings.html", {"feed": feed, "feed_url": url})


def feed(request, token: str):
    """The .ics feed of a personal link. No sign-in: the secret in the link is the credential."""
    found = CalendarFeed.objects.select_related("user").filter(token=token, user__is_active=True).first()
    if found is None:
        raise Http404
    content = build_feed(
        feed_meetings(found.user),
        base_url=request.build_absolute_uri("/"),
        name=_("ABE Portal meetings"),
    )
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(False, "abe-meetings.ics") or "inline"
    # The link is personal: no shared cache keeps it, no search engine lists it.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
