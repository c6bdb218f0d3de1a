"""A meeting's minutes (PDF, Word, Excel) as export jobs (exports/): registered by MeetingsConfig.ready. The minutes
name the attendees: each download is logged as the minutes' export was (exports.views.download)."""

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from accounts.access import get_object_for_user

from .models import Meeting

KIND = "meetings.minutes"
FORMATS = ("pdf", "docx", "xlsx")


def _meeting(principal: Any, params: dict) -> Meeting:
    try:
        pk = int(params.get("meeting") or 0)
    except (TypeError, ValueError) as error:
        raise Http404 from error
    return get_object_for_user(Meeting, principal, pk)  # 404 for those who may not see it


def check(principal: Any, params: dict, file_format: str) -> dict:
    return {"meeting": _meeting(principal, params).pk}


def title(params: dict, file_format: str) -> str:
    meeting_title = Meeting.objects.filter(pk=params["meeting"]).values_list("title", flat=True).first() or ""
    return _("Minutes: %(title)s") % {"title": meeting_title}


def build(job) -> Any:
    from exports.registry import Built

    from .minutes import render_minutes

    meeting = _meeting(job.principal, job.params)
    job.progress(0, 2)
    content, content_type, filename = render_minutes(meeting, fmt=job.file_format, language=job.language)
    job.out.write(content)
    return Built(
        filename=filename,
        content_type=content_type,
        log_model=Meeting,
        log_object_id=str(meeting.pk),
        log_description=f"minutes ({job.file_format})",
    )


def register_export_kind() -> None:
    from exports.registry import Kind, register

    register(Kind(name=KIND, formats=FORMATS, title=title, check=check, build=build))
