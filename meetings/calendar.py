"""The iCalendar (.ics) feed of a user's meetings, and the month grid of the calendar page.

Each user may have a personal secret link (meetings.CalendarFeed) that calendar applications poll
without signing in: the token is the credential, so the feed holds exactly the meetings its user
may see (Meeting.objects.visible_to), and resetting the token ends the old link at once.
"""

import calendar
import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from accounts.models import AnyUser

from .models import Meeting

# Calendar applications keep what they fetched; the feed covers the past year and everything ahead.
FEED_PAST_DAYS = 366
PRODID = "-//EEF and IPSR//ABE Portal meetings//TH"
_STATUS = {
    Meeting.Status.PLANNED: "CONFIRMED",
    Meeting.Status.HELD: "CONFIRMED",
    Meeting.Status.CANCELLED: "CANCELLED",
}


def feed_meetings(user: AnyUser, *, today: datetime.date | None = None):
    """The meetings in `user`'s feed: those they may see, from a year ago on."""
    today = today or timezone.localdate()
    return (
        Meeting.objects.visible_to(user)
        .filter(ends_on__gte=today - datetime.timedelta(days=FEED_PAST_DAYS))
        .order_by("starts_on", "pk")
    )


def build_feed(meetings, *, base_url: str, name: str) -> bytes:
    """An iCalendar document with one event per meeting: from its start to its end time in Thailand
    (DTSTART/DTEND with TZID=Asia/Bangkok and the zone's VTIMEZONE), or all day when it has no times
    (DTEND is then the day after its last day)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", settings.TIME_ZONE)
    for meeting in meetings:
        event = Event()
        event.add("uid", f"meeting-{meeting.pk}@abe-portal")
        event.add("dtstamp", meeting.updated_at)
        event.add("last-modified", meeting.updated_at)
        event.add("summary", meeting.title)
        if meeting.is_all_day:
            event.add("dtstart", meeting.starts_on)
            event.add("dtend", meeting.ends_on + datetime.timedelta(days=1))
        else:
            event.add("dtstart", meeting.starts_at)
            event.add("dtend", meeting.ends_at)
        event.add("status", _STATUS.get(meeting.status, "CONFIRMED"))
        event.add("transp", "TRANSPARENT")
        if meeting.venue:
            event.add("location", meeting.venue)
        url = base_url.rstrip("/") + reverse("meetings:detail", kwargs={"pk": meeting.pk})
        event.add("url", url)
        description = [meeting.description] if meeting.description else []
        if meeting.online_link:
            description.append(meeting.online_link)
        description.append(url)
        event.add("description", "\n\n".join(description))
        cal.add_component(event)
    # The VTIMEZONE of each TZID used, so that every calendar application reads the times alike.
    cal.add_missing_timezones()
    return cal.to_ical()


def month_weeks(year: int, month: int, meetings) -> list[list[dict]]:
    """The weeks of a month (Sunday first, as Thai calendars print them), each day with its meetings.

    Days of the neighbouring months fill the first and last week, marked `in_month=False`.
    """
    weeks = []
    for week in calendar.Calendar(firstweekday=calendar.SUNDAY).monthdatescalendar(year, month):
        weeks.append(
            [
                {
                    "date": day,
                    "in_month": day.month == month,
                    "meetings": [m for m in meetings if m.starts_on <= day <= m.ends_on],
                }
                for day in week
            ]
        )
    return weeks
