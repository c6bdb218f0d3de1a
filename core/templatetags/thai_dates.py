"""Dates for people: พ.ศ. and Thai month names for Thai users, the usual form for English ones.

{% load thai_dates %} {{ report.submitted_at|be_date }} {{ meeting.starts_at|be_datetime }}
"""

import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language

from core.buddhist_dates import format_thai_date

register = template.Library()


def _thai() -> bool:
    return (get_language() or "th").startswith("th")


@register.filter
def be_date(value: datetime.date | datetime.datetime | None, style: str = "short") -> str:
    if not value:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if _thai():
        return format_thai_date(value, long=style == "long")
    return date_format(value, "j F Y" if style == "long" else "j M Y")


@register.filter
def be_datetime(value: datetime.datetime | None) -> str:
    if not value:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    clock = local.strftime("%H:%M")
    return f"{be_date(local)} {clock} น." if _thai() else f"{be_date(local)}, {clock}"
