"""Access-matrix rows of the meeting pages (meetings/urls.py) and their admin models.

The objects are province B's (tests.matrix.province_b_work): a provincial meeting of พะเยา with one
row of each part, an attachment, and an overdue action item owned by province B. Who sees it: the
EEF admin and coordinator B (who also writes it). KKU's member sees province A only, so B's
meeting is a 404 for them as for coordinator A and viewer A.
"""

from tests.matrix import REDIRECT, Case, signed_in

WRITERS = ("eef_admin", "university_member", "coordinator_a", "coordinator_b")


def b_only(outcome=200) -> dict:
    """B's meeting: the EEF admin and coordinator B get `outcome`; every other role-holder a 404."""
    return signed_in(404, eef_admin=outcome, coordinator_b=outcome)


def _meeting(ctx) -> int:
    return ctx["objects"]["meetings.meeting"].pk


def _part(label: str, path: str):
    def url(ctx) -> str:
        return f"/meetings/{_meeting(ctx)}/{path}/{ctx['objects'][label].pk}/"

    return url


def _feed_of_coordinator_b(ctx) -> str:
    from meetings.models import CalendarFeed

    feed, _created = CalendarFeed.objects.get_or_create(user=ctx["cast"].coordinator_b)
    return f"/meetings/feed/{feed.token}.ics"


ROWS = {
    # Lists: everyone signed in (no role: empty lists).
    "meetings/": [Case("/meetings/", signed_in(200))],
    "meetings/calendar/<int:year>/<int:month>/": [
        Case("/meetings/calendar/2024/3/", signed_in(200)),
        Case("/meetings/calendar/2024/13/", signed_in(404)),
    ],
    "meetings/lessons/": [Case("/meetings/lessons/?q=ข้อมูล", signed_in(200))],
    "meetings/actions/": [Case("/meetings/actions/?overdue=on", signed_in(200))],
    # Organising a meeting: EEF admins, university teams, coordinators; viewers and no role cannot.
    "meetings/new/": [Case("/meetings/new/", signed_in(403, **dict.fromkeys(WRITERS, 200)))],
    # The personal calendar link: its page for everyone signed in; the feed answers its token only.
    "meetings/feed/": [
        Case("/meetings/feed/", signed_in(200)),
        Case("/meetings/feed/", signed_in(REDIRECT), "post"),
    ],
    "meetings/feed/<str:token>.ics": [
        Case("/meetings/feed/not-a-token.ics", signed_in(404, anonymous=404)),
        Case(_feed_of_coordinator_b, signed_in(200, anonymous=200)),
    ],
    # B's meeting and everything of it.
    "meetings/<int:pk>/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/", b_only())],
    "meetings/<int:pk>/edit/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/edit/", b_only())],
    "meetings/<int:pk>/delete/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/delete/", b_only())],
    "meetings/<int:pk>/minutes.<str:fmt>": [
        Case(lambda ctx: f"/meetings/{_meeting(ctx)}/minutes.xlsx", b_only()),
        Case(lambda ctx: f"/meetings/{_meeting(ctx)}/minutes.exe", b_only(404)),
        # POST starts an export job (exports/) and goes to its page.
        Case(lambda ctx: f"/meetings/{_meeting(ctx)}/minutes.pdf", b_only(REDIRECT), method="post"),
    ],
    "meetings/<int:pk>/agenda/new/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/agenda/new/", b_only())],
    "meetings/<int:pk>/agenda/<int:item_pk>/": [Case(_part("meetings.agendaitem", "agenda"), b_only())],
    "meetings/<int:pk>/attendance/new/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/attendance/new/", b_only())],
    "meetings/<int:pk>/attendance/import/": [
        Case(lambda ctx: f"/meetings/{_meeting(ctx)}/attendance/import/", b_only())
    ],
    "meetings/<int:pk>/attendance/<int:item_pk>/": [Case(_part("meetings.attendance", "attendance"), b_only())],
    "meetings/<int:pk>/presentations/new/": [
        Case(lambda ctx: f"/meetings/{_meeting(ctx)}/presentations/new/", b_only())
    ],
    "meetings/<int:pk>/presentations/<int:item_pk>/": [Case(_part("meetings.presentation", "presentations"), b_only())],
    "meetings/<int:pk>/lessons/new/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/lessons/new/", b_only())],
    "meetings/<int:pk>/lessons/<int:item_pk>/": [Case(_part("meetings.lessonlearned", "lessons"), b_only())],
    "meetings/<int:pk>/actions/new/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/actions/new/", b_only())],
    "meetings/actions/<int:pk>/": [
        Case(lambda ctx: f"/meetings/actions/{ctx['objects']['meetings.actionitem'].pk}/", b_only())
    ],
    "meetings/<int:pk>/attachments/new/": [Case(lambda ctx: f"/meetings/{_meeting(ctx)}/attachments/new/", b_only())],
    "meetings/<int:pk>/attachments/<int:attachment_pk>/": [
        Case(_part("meetings.meetingattachment", "attachments"), b_only())
    ],
    "meetings/<int:pk>/attachments/<int:attachment_pk>/delete/": [
        Case(lambda ctx: _part("meetings.meetingattachment", "attachments")(ctx) + "delete/", b_only())
    ],
}

# Admin: read within scope; the meeting's writers (EEF admins, coordinators of a provincial
# meeting's province, its university teams) add, change and delete, which for the staff of the cast
# is the province-writers pattern.
ADMIN_MODELS = {
    "meetings.meeting": "scoped_view_province_write",
    "meetings.actionitem": "scoped_view_province_write",
    "meetings.lessonlearned": "scoped_view_province_write",
}
