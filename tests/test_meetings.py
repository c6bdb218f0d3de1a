"""Meetings: who sees which meeting and its parts, who writes them, action items followed to
closure, the calendar feed, attachments checked by content, the sign-in sheet import, and the
demo meetings (meetings/)."""

import datetime
import io
import itertools
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from icalendar import Calendar
from openpyxl import Workbook

from accounts.models import Role
from audit.models import AccessLog
from conftest import PROVINCE_A, PROVINCE_B, make_user
from meetings import services
from meetings.attachments import sniff
from meetings.models import (
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
from meetings.resources import AttendanceResource, read_sign_in_sheet
from portal.demo.meetings import SEED_ALBUM, SEED_TITLE, load_demo_meetings
from portal.demo.provinces import DEMO_LEADS
from reports.models import ProgressReport
from tests.builders import download_export, uploaded_file
from universities.models import University

pytestmark = pytest.mark.django_db

SURIN = 32  # led by KKU, like A
LAMPANG = 52  # led by UP, like B
DAY = datetime.date(2024, 3, 10)  # FY 2567, Q2 (Jan–Mar) and H1 (Oct–Mar)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _uni(code: str) -> University:
    return University.objects.get(code=code)


def _meeting(user, *, title, kind, provinces=(), universities=(), day=DAY, **fields) -> Meeting:
    return services.save_meeting(
        user=user,
        fields={"title": title, "kind": kind, "starts_on": day, "ends_on": day, **fields},
        provinces=provinces,
        universities=[_uni(code) for code in universities],
    )


@pytest.fixture
def world(cast):
    """One meeting of each scope, organised by the EEF admin.

    national: everyone with a role; a_provincial: province A with KKU; b_provincial: province B
    with UP; kku_regional: KKU with Surin only (coordinator A sees it because KKU supports A);
    up_regional: UP with its provinces B and Lampang.
    """
    eef = cast.eef_admin
    return {
        "national": _meeting(eef, title="ประชุมระดับชาติ", kind=Kind.NATIONAL),
        "a_provincial": _meeting(
            eef, title="ประชุมคณะทำงานขอนแก่น", kind=Kind.PROVINCIAL, provinces=[PROVINCE_A], universities=["KKU"]
        ),
        "b_provincial": _meeting(
            eef, title="ประชุมคณะทำงานพะเยา", kind=Kind.PROVINCIAL, provinces=[PROVINCE_B], universities=["UP"]
        ),
        "kku_regional": _meeting(eef, title="ประชุมทีม มข.", kind=Kind.REGIONAL, provinces=[SURIN], universities=["KKU"]),
        "up_regional": _meeting(
            eef, title="ประชุมทีม ม.พะเยา", kind=Kind.REGIONAL, provinces=[PROVINCE_B, LAMPANG], universities=["UP"]
        ),
    }


def _titles(response) -> set[str]:
    return {m.title for m in [*response.context["upcoming"], *response.context["page"].object_list]}


def _attach(meeting, user, name="slides.pdf", content=PDF) -> MeetingAttachment:
    return services.add_attachment(user=user, meeting=meeting, file=uploaded_file(name, content))


# --- who sees which meeting ----------------------------------------------------------------------


def test_coordinator_sees_national_own_province_and_own_universitys_regional_meetings(cast, world, client_for):
    response = client_for(cast.coordinator_a).get("/meetings/")
    assert response.status_code == 200
    assert _titles(response) == {"ประชุมระดับชาติ", "ประชุมคณะทำงานขอนแก่น", "ประชุมทีม มข."}


def test_each_role_sees_its_meetings(cast, world):
    def visible(user) -> set[str]:
        return {k for k, m in world.items() if Meeting.objects.visible_to(user).filter(pk=m.pk).exists()}

    assert visible(cast.eef_admin) == set(world)
    assert visible(cast.coordinator_b) == {"national", "b_provincial", "up_regional"}
    assert visible(cast.university_member) == {"national", "a_provincial", "kku_regional"}
    assert visible(cast.viewer_a) == {"national", "a_provincial", "kku_regional"}
    assert visible(cast.no_role) == set()


def test_coordinator_of_other_province_gets_404_for_its_meeting_attachments_and_minutes(cast, world, client_for):
    meeting = world["b_provincial"]
    attachment = _attach(meeting, cast.coordinator_b)
    urls = [
        f"/meetings/{meeting.pk}/",
        f"/meetings/{meeting.pk}/attachments/{attachment.pk}/",
        f"/meetings/{meeting.pk}/minutes.pdf",
        f"/meetings/{meeting.pk}/minutes.docx",
        f"/meetings/{meeting.pk}/minutes.xlsx",
        f"/meetings/{meeting.pk}/edit/",
        f"/meetings/{meeting.pk}/attendance/import/",
    ]
    outsider, insider = client_for(cast.coordinator_a), client_for(cast.coordinator_b)
    for url in urls:
        assert outsider.get(url).status_code == 404, url
        assert insider.get(url).status_code == 200, url
    # Another meeting's attachment through this meeting's URL is missing too.
    other = _attach(world["a_provincial"], cast.coordinator_a)
    assert insider.get(f"/meetings/{meeting.pk}/attachments/{other.pk}/").status_code == 404


def test_attachment_is_served_as_a_download_with_its_checked_type(cast, world, client_for):
    attachment = _attach(world["a_provincial"], cast.coordinator_a, name="สไลด์ ขอนแก่น.pdf")
    response = client_for(cast.viewer_a).get(f"/meetings/{attachment.meeting_id}/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == PDF


def test_minutes_export_is_logged(cast, world, client_for):
    meeting = world["a_provincial"]
    response = download_export(client_for(cast.coordinator_a), f"/meetings/{meeting.pk}/minutes.xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    entry = AccessLog.objects.get()
    assert (entry.action, entry.object_id, entry.user) == (AccessLog.Action.EXPORT, str(meeting.pk), cast.coordinator_a)
    assert client_for(cast.coordinator_a).get(f"/meetings/{meeting.pk}/minutes.html").status_code == 404


# --- who writes ----------------------------------------------------------------------------------


def test_readers_get_403_on_write_pages_and_outsiders_404(cast, world, client_for):
    meeting = world["a_provincial"]
    paths = ["edit/", "delete/", "agenda/new/", "attendance/new/", "attendance/import/", "presentations/new/"]
    paths += ["lessons/new/", "actions/new/", "attachments/new/"]
    for path in paths:
        url = f"/meetings/{meeting.pk}/{path}"
        assert client_for(cast.viewer_a).get(url).status_code == 403, url
        assert client_for(cast.coordinator_b).get(url).status_code == 404, url
        assert client_for(cast.coordinator_a).get(url).status_code == 200, url
        assert client_for(cast.university_member).get(url).status_code == 200, url
    # A national meeting is read by coordinators, written by EEF only.
    national = world["national"]
    assert client_for(cast.coordinator_a).get(f"/meetings/{national.pk}/edit/").status_code == 403
    response = client_for(cast.coordinator_a).post(f"/meetings/{national.pk}/agenda/new/", {"title": "x"})
    assert response.status_code == 403
    assert not national.agenda.exists()
    assert client_for(cast.viewer_a).get("/meetings/new/").status_code == 403


def test_coordinator_organises_provincial_meetings_of_their_province_only(cast, world):
    meeting = _meeting(cast.coordinator_a, title="ครั้งที่ 2", kind=Kind.PROVINCIAL, provinces=[PROVINCE_A])
    assert meeting.created_by == cast.coordinator_a
    assert Meeting.objects.writable_by(cast.coordinator_a).filter(pk=meeting.pk).exists()
    with pytest.raises(ValidationError):
        _meeting(cast.coordinator_a, title="ของ B", kind=Kind.PROVINCIAL, provinces=[PROVINCE_B])
    with pytest.raises(ValidationError):
        _meeting(cast.coordinator_a, title="ระดับชาติ", kind=Kind.NATIONAL)
    with pytest.raises(PermissionDenied):
        services.save_meeting(user=cast.coordinator_a, meeting=world["b_provincial"], fields={"title": "x"})
    with pytest.raises(PermissionDenied):
        _meeting(cast.viewer_a, title="ผู้ดู", kind=Kind.PROVINCIAL, provinces=[PROVINCE_A])
    assert not Meeting.objects.filter(title__in=["ของ B", "ระดับชาติ", "ผู้ดู"]).exists()


def test_university_team_organises_regional_meetings_listing_its_university(cast):
    meeting = _meeting(cast.university_member, title="ทีม มข.", kind=Kind.REGIONAL, universities=["KKU"])
    assert Meeting.objects.writable_by(cast.university_member).filter(pk=meeting.pk).exists()
    with pytest.raises(ValidationError):
        _meeting(cast.university_member, title="ทีม ม.พะเยา", kind=Kind.REGIONAL, universities=["UP"])


def test_create_page_saves_a_meeting_and_shows_scope_errors(cast, client_for):
    client = client_for(cast.coordinator_a)
    form = client.get("/meetings/new/").context["form"]
    assert [k for k, _label in form.fields["kind"].choices] == [Kind.PROVINCIAL]
    assert list(form.fields["provinces"].queryset.values_list("code", flat=True)) == [PROVINCE_A]
    assert form.initial["provinces"] == [PROVINCE_A]  # a new meeting starts as the organiser's own
    data = {"title": "ประชุมคณะทำงาน", "kind": "provincial", "status": "planned"}
    data |= {"starts_on": "2026-12-01", "ends_on": "2026-12-02", "provinces": [PROVINCE_A]}
    response = client.post("/meetings/new/", data)
    meeting = Meeting.objects.get(title="ประชุมคณะทำงาน")
    assert response.status_code == 302
    assert response["Location"] == f"/meetings/{meeting.pk}/"
    assert list(meeting.provinces.values_list("code", flat=True)) == [PROVINCE_A]
    # Another province is not among the choices; ending before starting is an error.
    response = client.post("/meetings/new/", data | {"provinces": [PROVINCE_B], "ends_on": "2026-11-30"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"provinces", "ends_on"}


def test_parts_are_written_by_the_meetings_writers_through_the_pages(cast, world, client_for):
    meeting = world["a_provincial"]
    client = client_for(cast.coordinator_a)
    assert client.post(f"/meetings/{meeting.pk}/agenda/new/", {"title": "เรื่องแจ้ง"}).status_code == 302
    assert client.post(f"/meetings/{meeting.pk}/agenda/new/", {"title": "ความก้าวหน้า"}).status_code == 302
    assert list(meeting.agenda.values_list("order", "title")) == [(1, "เรื่องแจ้ง"), (2, "ความก้าวหน้า")]
    item = meeting.agenda.get(order=2)
    response = client.post(f"/meetings/{meeting.pk}/agenda/{item.pk}/", {"order": 1, "title": "ซ้ำ"})
    assert response.status_code == 200  # the order is taken
    assert client.post(f"/meetings/{meeting.pk}/agenda/{item.pk}/", {"delete": "1"}).status_code == 302
    assert list(meeting.agenda.values_list("title", flat=True)) == ["เรื่องแจ้ง"]
    response = client.post(f"/meetings/{meeting.pk}/attendance/new/", {"role": "participant"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    data = {"what": "ส่งข้อมูล", "owner_province": PROVINCE_A, "due_date": "2026-01-31", "status": "open"}
    assert client.post(f"/meetings/{meeting.pk}/actions/new/", data).status_code == 302
    assert meeting.action_items.get().owner_province_id == PROVINCE_A
    # An item of another meeting cannot be reached through this one.
    other = AgendaItem.objects.create(meeting=world["national"], order=1, title="อื่น")
    assert client.get(f"/meetings/{meeting.pk}/agenda/{other.pk}/").status_code == 404


# --- presentations link the province's report of the period ---------------------------------------


def test_presentation_links_the_provinces_report_of_the_meetings_period(cast, world, client_for):
    meeting = world["national"]  # 10 March 2024: FY 2567, Q2 and H1
    q1 = ProgressReport.objects.create(province_id=PROVINCE_A, fiscal_year=2567, period="Q1", created_by=cast.eef_admin)
    h1 = ProgressReport.objects.create(
        province_id=PROVINCE_A, fiscal_year=2567, period="H1", created_by=cast.eef_admin, situation="สถานการณ์"
    )
    q2 = ProgressReport.objects.create(province_id=PROVINCE_A, fiscal_year=2567, period="Q2", created_by=cast.eef_admin)
    presentation = services.save_part(
        user=cast.eef_admin, meeting=meeting, instance=Presentation(province_id=PROVINCE_A, presenter="ผู้ประสานงาน")
    )
    assert presentation.report == q2  # the quarter before the half-year
    presentation.report = q1  # another period
    with pytest.raises(ValidationError):
        services.save_part(user=cast.eef_admin, meeting=meeting, instance=presentation)
    presentation.report = h1
    services.save_part(user=cast.eef_admin, meeting=meeting, instance=presentation)
    assert Presentation.objects.get(pk=presentation.pk).report == h1
    # Linked, not copied: A's people read its sections; B's coordinator sees only that A presented.
    page = client_for(cast.coordinator_a).get(f"/meetings/{meeting.pk}/").content.decode()
    assert "สถานการณ์" in page
    page = client_for(cast.coordinator_b).get(f"/meetings/{meeting.pk}/").content.decode()
    assert "สถานการณ์" not in page
    assert "ขอนแก่น" in page


def test_presentation_form_offers_reports_of_the_period_only(cast, world, client_for):
    meeting = world["a_provincial"]
    ProgressReport.objects.create(province_id=PROVINCE_A, fiscal_year=2567, period="Q1", created_by=cast.eef_admin)
    q2 = ProgressReport.objects.create(province_id=PROVINCE_A, fiscal_year=2567, period="Q2", created_by=cast.eef_admin)
    form = client_for(cast.coordinator_a).get(f"/meetings/{meeting.pk}/presentations/new/").context["form"]
    assert list(form.fields["report"].queryset) == [q2]
    assert list(form.fields["province"].queryset.values_list("code", flat=True)) == [PROVINCE_A]


# --- action items followed to closure ------------------------------------------------------------


def _item(meeting, *, due_days: int, status=ActionItem.Status.OPEN, **owner) -> ActionItem:
    due = timezone.localdate() + datetime.timedelta(days=due_days)
    return ActionItem.objects.create(
        meeting=meeting, what=f"งาน {due_days} {owner}", due_date=due, status=status, **owner
    )


@pytest.mark.parametrize(
    ("owner", "member"),
    [("person", "coordinator_a"), ("province", "coordinator_a"), ("university", "university_member")],
)
def test_overdue_action_item_shows_on_its_owners_home_page(cast, world, client_for, owner, member):
    user = cast[member]
    owned = {
        "person": {"owner_user": user},
        "province": {"owner_province_id": PROVINCE_A},
        "university": {"owner_university": _uni("KKU")},
    }[owner]
    overdue = _item(world["national"], due_days=-3, **owned)
    ahead = _item(world["national"], due_days=10, **owned)
    _item(world["national"], due_days=-5, status=ActionItem.Status.DONE, **owned)
    b_item = _item(world["b_provincial"], due_days=-5, owner_province_id=PROVINCE_B)  # someone else's
    response = client_for(user).get("/")
    assert response.status_code == 200
    items = response.context["action_items"]
    assert [i.pk for i in items] == [overdue.pk, ahead.pk]
    assert [i.is_overdue for i in items] == [True, False]
    assert response.context["overdue_count"] == 1
    page = response.content.decode()
    assert page.count('data-testid="home-action-item"') == 2
    assert page.count('data-testid="overdue"') == 1
    # Another owner's home page lists only theirs.
    assert [i.pk for i in client_for(cast.coordinator_b).get("/").context["action_items"]] == [b_item.pk]


def test_owner_updates_status_and_note_readers_cannot(cast, world, client_for):
    item = _item(world["national"], due_days=-1, owner_province_id=PROVINCE_A)
    url = f"/meetings/actions/{item.pk}/"
    assert client_for(cast.viewer_a).get(url).status_code == 403  # reads A's items, does not update them
    assert client_for(cast.coordinator_b).get(url).status_code == 403  # sees the national meeting only
    client = client_for(cast.coordinator_a)  # owner through province A; the national meeting is EEF's
    response = client.post(url, {"status": "dropped", "note": ""})
    assert response.status_code == 200
    assert "note" in response.context["form"].errors
    assert client.post(url, {"status": "done", "note": "ส่งแล้ว"}).status_code == 302
    item.refresh_from_db()
    assert (item.status, item.note, item.is_overdue) == ("done", "ส่งแล้ว", False)
    with pytest.raises(PermissionDenied):
        services.update_action_item(user=cast.viewer_a, item=item, status="open")


def test_open_items_of_earlier_meetings_of_the_same_scope_are_listed_at_the_next(cast, world, client_for):
    eef = cast.eef_admin
    earlier_a = _meeting(eef, title="ขอนแก่น 1", kind=Kind.PROVINCIAL, provinces=[PROVINCE_A], day=DAY.replace(day=1))
    open_a = _item(earlier_a, due_days=-1, owner_province_id=PROVINCE_A)
    _item(earlier_a, due_days=-1, owner_province_id=PROVINCE_A, status=ActionItem.Status.DONE)
    earlier_national = _meeting(eef, title="ระดับชาติ 1", kind=Kind.NATIONAL, day=DAY.replace(day=2))
    open_national = _item(earlier_national, due_days=5, owner_university=_uni("KKU"))
    earlier_b = _meeting(eef, title="พะเยา 1", kind=Kind.PROVINCIAL, provinces=[PROVINCE_B], day=DAY.replace(day=1))
    _item(earlier_b, due_days=-1, owner_province_id=PROVINCE_B)
    later = _item(world["a_provincial"], due_days=-1, owner_province_id=PROVINCE_A)  # of the meeting itself

    def earlier_items(meeting, user=eef) -> list[int]:
        return [i.pk for i in client_for(user).get(f"/meetings/{meeting.pk}/").context["earlier_items"]]

    assert earlier_items(world["a_provincial"]) == [open_a.pk]
    assert earlier_items(world["a_provincial"], cast.coordinator_a) == [open_a.pk]
    assert earlier_items(world["national"]) == [open_national.pk]
    assert earlier_items(world["b_provincial"]) == [i.pk for i in earlier_b.action_items.all()]
    assert later.pk not in earlier_items(world["a_provincial"])


def test_action_items_list_filters_by_status_owner_and_overdue(cast, world, client_for):
    overdue = _item(world["a_provincial"], due_days=-2, owner_province_id=PROVINCE_A)
    ahead = _item(world["a_provincial"], due_days=2, owner_university=_uni("KKU"))
    done = _item(world["a_provincial"], due_days=-2, owner_province_id=PROVINCE_A, status=ActionItem.Status.DONE)
    _item(world["b_provincial"], due_days=-2, owner_province_id=PROVINCE_B)
    client = client_for(cast.coordinator_a)

    def listed(query="") -> set[int]:
        return {i.pk for i in client.get(f"/meetings/actions/{query}").context["page"].object_list}

    assert listed() == {overdue.pk, ahead.pk}  # open ones by default, B's never
    assert listed("?overdue=on") == {overdue.pk}
    assert listed("?status=done") == {done.pk}
    assert listed("?status=all") == {overdue.pk, ahead.pk, done.pk}
    assert listed("?owner=mine") == {overdue.pk}
    assert listed(f"?owner=u{_uni('KKU').pk}") == {ahead.pk}


# --- lessons learned -----------------------------------------------------------------------------


def test_lessons_are_searched_across_the_meetings_the_user_sees(cast, world, client_for):
    eef = cast.eef_admin
    lessons = [
        (world["national"], None, "ข้อมูล", "ใช้ข้อมูลร่วมกันระหว่างหน่วยงาน"),
        (world["a_provincial"], PROVINCE_A, "การส่งต่อ", "ส่งต่อเด็กให้ กศน. เร็วขึ้นเมื่อใช้ข้อมูลชุดเดียว"),
        (world["b_provincial"], PROVINCE_B, "ข้อมูล", "ข้อมูลของพะเยา"),
    ]
    for meeting, province, theme, text in lessons:
        services.save_part(
            user=eef, meeting=meeting, instance=LessonLearned(province_id=province, theme=theme, text=text)
        )
    client = client_for(cast.coordinator_a)

    def found(query="") -> list[str]:
        return sorted(lesson.text for lesson in client.get(f"/meetings/lessons/{query}").context["page"].object_list)

    assert found() == sorted(text for _m, _p, _t, text in lessons[:2])
    assert found("?q=ข้อมูล") == sorted(text for _m, _p, _t, text in lessons[:2])  # in theme or text
    assert found("?q=กศน") == [lessons[1][3]]
    assert found("?theme=ข้อมูล") == [lessons[0][3]]
    assert found(f"?province={PROVINCE_A}") == [lessons[1][3]]
    assert len(client_for(cast.coordinator_b).get("/meetings/lessons/?q=ข้อมูล").context["page"].object_list) == 2


# --- the calendar feed ---------------------------------------------------------------------------


def test_ics_feed_parses_and_lists_only_the_meetings_the_user_may_see(cast, world, client_for):
    ahead = timezone.localdate() + datetime.timedelta(days=7)
    Meeting.objects.update(starts_on=ahead, ends_on=ahead)
    long_ago = _meeting(cast.eef_admin, title="นานมาแล้ว", kind=Kind.NATIONAL, day=ahead.replace(year=ahead.year - 3))
    client = client_for(cast.coordinator_a)
    assert client.get("/meetings/feed/").context["feed"] is None
    assert client.post("/meetings/feed/").status_code == 302
    token = CalendarFeed.objects.get(user=cast.coordinator_a).token
    url = f"/meetings/feed/{token}.ics"
    assert url in client.get("/meetings/feed/").content.decode()

    response = client_for(None).get(url)  # calendar applications do not sign in
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    expected = {m.pk for m in Meeting.objects.visible_to(cast.coordinator_a).exclude(pk=long_ago.pk)}
    assert {int(str(e["UID"]).split("-")[1].split("@")[0]) for e in events} == expected
    assert {str(e["SUMMARY"]) for e in events} == {"ประชุมระดับชาติ", "ประชุมคณะทำงานขอนแก่น", "ประชุมทีม มข."}
    event = next(e for e in events if str(e["SUMMARY"]) == "ประชุมระดับชาติ")
    assert event.decoded("DTSTART") == ahead
    assert event.decoded("DTEND") == ahead + datetime.timedelta(days=1)  # all-day events end the day after
    assert str(event["URL"]).endswith(f"/meetings/{world['national'].pk}/")


def test_ics_feed_gives_meetings_with_times_their_start_and_end_in_bangkok(cast, world, client_for):
    ahead = timezone.localdate() + datetime.timedelta(days=7)
    Meeting.objects.update(starts_on=ahead, ends_on=ahead)
    timed = world["national"]
    services.save_meeting(
        user=cast.eef_admin,
        meeting=timed,
        fields={"start_time": datetime.time(9, 0), "end_time": datetime.time(12, 30)},
    )
    two_days = world["a_provincial"]
    services.save_meeting(
        user=cast.eef_admin,
        meeting=two_days,
        fields={
            "ends_on": ahead + datetime.timedelta(days=1),
            "start_time": datetime.time(13, 0),
            "end_time": datetime.time(12, 0),  # the last day ends earlier than the first began: allowed
        },
        provinces=[PROVINCE_A],
        universities=[_uni("KKU")],
    )
    feed = CalendarFeed.objects.create(user=cast.coordinator_a)
    calendar = Calendar.from_ical(client_for(None).get(f"/meetings/feed/{feed.token}.ics").content)
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    bangkok = datetime.timezone(datetime.timedelta(hours=7))

    event = events["ประชุมระดับชาติ"]
    assert event["DTSTART"].params["TZID"] == "Asia/Bangkok"
    assert event.decoded("DTSTART") == datetime.datetime.combine(ahead, datetime.time(9, 0), tzinfo=bangkok)
    assert event.decoded("DTEND") == datetime.datetime.combine(ahead, datetime.time(12, 30), tzinfo=bangkok)
    event = events["ประชุมคณะทำงานขอนแก่น"]
    assert event.decoded("DTEND") - event.decoded("DTSTART") == datetime.timedelta(hours=23)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Bangkok"]
    # A meeting without times stays an all-day event.
    assert events["ประชุมทีม มข."].decoded("DTSTART") == ahead
    assert b"DTSTART;VALUE=DATE:" in events["ประชุมทีม มข."].to_ical()

    with translation.override("th"):
        page = client_for(cast.coordinator_a).get(f"/meetings/{timed.pk}/").content.decode()
        assert "เวลา 09:00–12:30 น." in page
        listing = client_for(cast.coordinator_a).get("/meetings/").content.decode()
        assert "เวลา 13:00 น." in listing
        assert "เวลา 12:00 น." in listing


def test_meeting_times_come_together_and_a_one_day_meeting_ends_after_it_starts(cast, client_for):
    client = client_for(cast.coordinator_a)
    data = {"title": "ประชุมคณะทำงาน", "kind": "provincial", "status": "planned", "provinces": [PROVINCE_A]}
    data |= {"starts_on": "2026-12-01", "ends_on": "2026-12-01"}
    response = client.post("/meetings/new/", data | {"start_time": "09:00"})
    assert set(response.context["form"].errors) == {"end_time"}
    response = client.post("/meetings/new/", data | {"start_time": "13:00", "end_time": "09:00"})
    assert set(response.context["form"].errors) == {"end_time"}
    assert not Meeting.objects.exists()
    assert client.post("/meetings/new/", data | {"start_time": "09:00", "end_time": "16:30"}).status_code == 302
    meeting = Meeting.objects.get()
    assert (meeting.start_time, meeting.end_time) == (datetime.time(9, 0), datetime.time(16, 30))
    assert meeting.starts_at.isoformat() == "2026-12-01T09:00:00+07:00"
    assert 'type="time"' in client.get(f"/meetings/{meeting.pk}/edit/").content.decode()


@pytest.mark.parametrize(
    ("ends_on", "start_time", "end_time"),
    [
        (DAY, datetime.time(10, 0), datetime.time(9, 0)),
        (DAY, datetime.time(10, 0), None),
        (DAY, None, datetime.time(9)),
    ],
)
def test_the_database_refuses_impossible_meeting_times(cast, ends_on, start_time, end_time):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Meeting.objects.create(
            title="x", kind=Kind.NATIONAL, starts_on=DAY, ends_on=ends_on, start_time=start_time, end_time=end_time
        )


def test_resetting_the_feed_ends_the_old_link(cast, world, client_for):
    client = client_for(cast.coordinator_a)
    client.post("/meetings/feed/")
    old = CalendarFeed.objects.get(user=cast.coordinator_a).token
    client.post("/meetings/feed/")
    new = CalendarFeed.objects.get(user=cast.coordinator_a).token
    assert new != old
    assert client_for(None).get(f"/meetings/feed/{old}.ics").status_code == 404
    assert client_for(None).get(f"/meetings/feed/{new}.ics").status_code == 200
    # A deactivated account's link stops working too.
    cast.coordinator_a.is_active = False
    cast.coordinator_a.save(update_fields=["is_active"])
    assert client_for(None).get(f"/meetings/feed/{new}.ics").status_code == 404


# --- attachments: checked by content, limited in size --------------------------------------------


def _ooxml(main_part: str, content_type: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'<?xml version="1.0"?><Types><Override PartName="/{main_part}" ContentType="{content_type}"/></Types>',
        )
        archive.writestr(main_part, "<x/>")
    return buffer.getvalue()


def _real_docx() -> bytes:
    from docx import Document

    buffer = io.BytesIO()
    document = Document()
    document.add_paragraph("รายงานการประชุม")
    document.save(buffer)
    return buffer.getvalue()


def _real_xlsx() -> bytes:
    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32
ACCEPTED = [
    ("slides.pdf", PDF, "application/pdf"),
    ("photo.png", PNG, "image/png"),
    ("photo.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "image/jpeg"),
    ("minutes.docx", _real_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("budget.xlsx", _real_xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (
        "deck.pptx",
        _ooxml(
            "ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
        ),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("old.doc", OLE, "application/msword"),
    ("old.xls", OLE, "application/vnd.ms-excel"),
]
REFUSED = [
    ("program.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64),  # a Windows program renamed
    ("page.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),  # a web page renamed
    ("photo.pdf", PNG),  # a real PNG, misnamed
    ("archive.docx", _ooxml("other.xml", "application/zip")),  # a ZIP that is not an Office file
    (
        "macro.docx",  # a macro-enabled Word file renamed
        _ooxml("word/document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml"),
    ),
    ("old.exe", OLE),
    ("notes.txt", b"plain text"),
]


@pytest.mark.parametrize(("name", "content", "content_type"), ACCEPTED)
def test_attachment_of_an_accepted_kind_is_kept_with_its_sniffed_type(cast, world, name, content, content_type):
    attachment = _attach(world["a_provincial"], cast.coordinator_a, name=name, content=content)
    assert (attachment.original_name, attachment.content_type, attachment.size) == (name, content_type, len(content))
    assert not attachment.file.name.endswith(name)  # stored under a random name
    assert attachment.file.read() == content


@pytest.mark.parametrize(("name", "content"), REFUSED)
def test_attachment_is_refused_by_its_content_not_its_name(cast, world, client_for, name, content):
    meeting = world["a_provincial"]
    with pytest.raises(ValidationError):
        _attach(meeting, cast.coordinator_a, name=name, content=content)
    response = client_for(cast.coordinator_a).post(
        f"/meetings/{meeting.pk}/attachments/new/", {"file": uploaded_file(name, content)}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert not MeetingAttachment.objects.exists()


def test_attachment_larger_than_the_setting_is_refused(cast, world, client_for, settings):
    settings.ABE_MAX_ATTACHMENT_BYTES = 1000
    meeting = world["a_provincial"]
    with translation.override("en"), pytest.raises(ValidationError, match="too large"):
        _attach(meeting, cast.coordinator_a, content=PDF + b"0" * 1000)
    _attach(meeting, cast.coordinator_a, content=PDF + b"0" * (1000 - len(PDF)))  # exactly the limit
    response = client_for(cast.coordinator_a).post(
        f"/meetings/{meeting.pk}/attachments/new/", {"file": uploaded_file("big.pdf", PDF + b"0" * 2000)}
    )
    assert response.status_code == 200
    assert MeetingAttachment.objects.count() == 1


def test_attachment_upload_and_removal_through_the_pages(cast, world, client_for, django_capture_on_commit_callbacks):
    meeting = world["a_provincial"]
    client = client_for(cast.coordinator_a)
    response = client.post(f"/meetings/{meeting.pk}/attachments/new/", {"file": uploaded_file("slides.pdf", PDF)})
    assert response.status_code == 302
    attachment = meeting.attachments.get()
    assert attachment.uploaded_by == cast.coordinator_a
    assert (
        client_for(cast.viewer_a).post(f"/meetings/{meeting.pk}/attachments/{attachment.pk}/delete/").status_code == 403
    )
    storage, name = attachment.file.storage, attachment.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/meetings/{meeting.pk}/attachments/{attachment.pk}/delete/").status_code == 302
    assert not meeting.attachments.exists()
    assert not storage.exists(name)  # the file goes once the removal is committed


def test_sniffing_a_legacy_office_file_needs_its_extension():
    assert sniff(io.BytesIO(OLE), "report.ppt").content_type == "application/vnd.ms-powerpoint"
    assert sniff(io.BytesIO(OLE), "report.bin") is None


# --- attendance: the sign-in sheet ---------------------------------------------------------------


def _sheet(rows, *, title=True) -> SimpleUploadedFile:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append(["รายชื่อผู้เข้าร่วมประชุมคณะทำงานระดับจังหวัด"])
    sheet.append(["ลำดับ", "ชื่อ-สกุล", "หน่วยงาน", "ตำแหน่ง", "บทบาท", "ลายมือชื่อ"])
    for number, row in enumerate(rows, start=1):
        sheet.append([number, *row, ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("sign-in.xlsx", buffer.getvalue())


SIGN_IN = [
    ("นางสาวตัวอย่าง หนึ่ง", "สำนักงานศึกษาธิการจังหวัดขอนแก่น", "ศึกษานิเทศก์", "ผู้จัด"),
    ("นายตัวอย่าง สอง", "อบจ.ขอนแก่น", "นักวิชาการศึกษา", "ผู้นำเสนอ"),
    ("", "สำนักงานส่งเสริมการเรียนรู้ประจำจังหวัดขอนแก่น", "", ""),
]


def test_sign_in_sheet_import_previews_then_confirms_and_a_second_import_changes_nothing(cast, world, client_for):
    meeting = world["a_provincial"]
    client = client_for(cast.coordinator_a)
    url = f"/meetings/{meeting.pk}/attendance/import/"
    response = client.post(url, {"file": _sheet(SIGN_IN)})
    assert response.status_code == 200
    preview = response.context["preview"]
    assert not preview["has_errors"]
    assert [row["line"] for row in preview["rows"]] == [3, 4, 5]  # sheet lines, under the title and header
    assert [row["outcome"] for row in preview["rows"]] == ["new", "new", "new"]
    assert not meeting.attendance.exists()  # a dry run writes nothing

    response = client.post(url, {"payload": preview["payload"]})
    assert response.status_code == 302
    assert sorted(meeting.attendance.values_list("organisation", "role")) == sorted(
        [(SIGN_IN[0][1], "organiser"), (SIGN_IN[1][1], "presenter"), (SIGN_IN[2][1], "participant")]
    )

    again = client.post(url, {"file": _sheet(SIGN_IN)}).context["preview"]
    assert [row["outcome"] for row in again["rows"]] == ["skip", "skip", "skip"]
    changed = [(SIGN_IN[0][0], SIGN_IN[0][1], "ผู้อำนวยการ", "ผู้จัด"), *SIGN_IN[1:]]
    preview = client.post(url, {"file": _sheet(changed)}).context["preview"]
    assert [row["outcome"] for row in preview["rows"]] == ["update", "skip", "skip"]
    client.post(url, {"payload": preview["payload"]})
    assert meeting.attendance.count() == 3
    assert meeting.attendance.get(name=SIGN_IN[0][0]).position == "ผู้อำนวยการ"


def test_sign_in_sheet_rows_with_errors_are_shown_and_nothing_is_imported(cast, world, client_for):
    meeting = world["a_provincial"]
    client = client_for(cast.coordinator_a)
    url = f"/meetings/{meeting.pk}/attendance/import/"
    rows = [SIGN_IN[0], ("นายตัวอย่าง สาม", "อบต.", "", "ผู้สังเกตการณ์"), ("", "", "ตำแหน่งอย่างเดียว", "")]
    response = client.post(url, {"file": _sheet(rows)})
    preview = response.context["preview"]
    assert preview["has_errors"]
    assert [row["outcome"] for row in preview["rows"]] == ["new", "error", "error"]
    assert "ผู้สังเกตการณ์" in " ".join(preview["rows"][1]["errors"])
    assert preview["rows"][2]["errors"]
    page = response.content.decode()
    assert 'data-testid="confirm-import"' not in page
    assert 'data-testid="import-has-errors"' in page
    assert not meeting.attendance.exists()


def test_sign_in_sheet_in_english_csv(cast, world):
    csv = "Name,Organisation,Position,Role\nA Person,EEF,Officer,presenter\n,IPSR,,\n"
    dataset, lines = read_sign_in_sheet(SimpleUploadedFile("sheet.csv", csv.encode("utf-8-sig")))
    assert lines == [2, 3]
    result = services.import_attendance(user=cast.eef_admin, meeting=world["national"], dataset=dataset, dry_run=False)
    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert sorted(world["national"].attendance.values_list("organisation", "role")) == [
        ("EEF", "presenter"),
        ("IPSR", "participant"),
    ]
    with pytest.raises(ValidationError):
        read_sign_in_sheet(SimpleUploadedFile("sheet.csv", b"a,b,c\n1,2,3\n"))


def test_sign_in_sheet_import_is_refused_to_those_who_do_not_write_the_meeting(cast, world, client_for):
    meeting = world["a_provincial"]
    dataset, _lines = read_sign_in_sheet(_sheet(SIGN_IN))
    with pytest.raises(PermissionDenied):
        services.import_attendance(user=cast.viewer_a, meeting=meeting, dataset=dataset, dry_run=False)
    # The resource itself refuses, whoever calls it.
    result = AttendanceResource(user=cast.viewer_a, meeting=meeting).import_data(dataset, dry_run=False)
    assert result.has_errors()
    assert not Attendance.objects.exists()
    # A confirmation signed for another meeting (or user) is refused.
    client = client_for(cast.coordinator_a)
    payload = client.post(f"/meetings/{meeting.pk}/attendance/import/", {"file": _sheet(SIGN_IN)}).context["preview"][
        "payload"
    ]
    other = _meeting(cast.coordinator_a, title="อีกครั้ง", kind=Kind.PROVINCIAL, provinces=[PROVINCE_A])
    response = client.post(f"/meetings/{other.pk}/attendance/import/", {"payload": payload})
    assert response.status_code == 403
    assert not Attendance.objects.exists()


# --- query counts of the list pages --------------------------------------------------------------


def _grow(cast, times: int) -> None:
    """`times` meetings of each scope in the past and as many ahead, each with a lesson and action items."""
    today = timezone.localdate()
    for i, sign in itertools.product(range(times), (-1, 1)):
        day = today + datetime.timedelta(days=sign * (i + 1))
        for kind, province, university in [
            (Kind.NATIONAL, None, None),
            (Kind.PROVINCIAL, PROVINCE_A, "KKU"),
            (Kind.PROVINCIAL, PROVINCE_B, "UP"),
            (Kind.REGIONAL, SURIN, "KKU"),
        ]:
            meeting = Meeting.objects.create(title=f"{kind} {i}", kind=kind, starts_on=day, ends_on=day)
            if province:
                meeting.provinces.add(province, LAMPANG)
            if university:  # with a province
                meeting.universities.add(_uni(university))
            LessonLearned.objects.create(meeting=meeting, province_id=province, theme=f"ธีม {i % 3}", text="ข้อมูล")
            ActionItem.objects.create(
                meeting=meeting, what="งาน", owner_province_id=province or PROVINCE_A, due_date=day
            )
            ActionItem.objects.create(meeting=meeting, what="งาน", owner_university=_uni("KKU"), due_date=day)


LIST_PAGES = {
    # url: (queries for the EEF admin, for coordinator A)
    # Every page: 1 session, 2 user, 3 memberships (scope); coordinator A also 4 the universities
    # supporting A this year (meeting visibility). (The session is not written again within
    # SESSION_REFRESH_SECONDS.)
    "/meetings/": (
        # count of past meetings (paginator), upcoming meetings, their provinces, provinces (filter
        # choices), the page of past meetings, their provinces
        9,
        10,
    ),
    "/meetings/calendar/{year}/{month}/": (
        # the month's meetings
        4,
        5,
    ),
    "/meetings/lessons/?q=ข้อมูล": (
        # themes (filter choices), provinces (filter choices), count, the page with meetings and provinces
        7,
        8,
    ),
    "/meetings/actions/?status=all": (
        # provinces and universities (owner choices), count, the page with meetings and owners; for
        # coordinator A, which of their meetings A writes (the update links)
        7,
        9,
    ),
    "/": (
        # the home page: open action items of the user with meetings and owners, upcoming meetings,
        # memberships (roles card), this year's assignments with provinces and universities
        7,
        8,
    ),
}


@pytest.mark.parametrize("times", [1, 10])
@pytest.mark.parametrize("url", list(LIST_PAGES))
@pytest.mark.parametrize("member", ["eef_admin", "coordinator_a"])
def test_list_page_query_count_holds_as_meetings_grow(cast, client_for, django_assert_num_queries, times, url, member):
    _grow(cast, times)
    today = timezone.localdate()
    expected = LIST_PAGES[url][0 if member == "eef_admin" else 1]
    url = url.format(year=today.year, month=today.month)
    client = client_for(cast[member])
    client.get(url)  # warm up: the first request of a session writes it (and the two-factor mark)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200


def test_meeting_page_query_count_does_not_grow_with_its_parts(cast, world, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    meeting = world["a_provincial"]
    earlier = _meeting(
        cast.eef_admin, title="ครั้งก่อน", kind=Kind.PROVINCIAL, provinces=[PROVINCE_A], day=DAY.replace(day=1)
    )
    client = client_for(cast.coordinator_a)
    url = f"/meetings/{meeting.pk}/"
    client.get(url)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context.captured_queries)

    def add_parts(number: int) -> None:
        start = meeting.agenda.count()
        for i in range(number):
            AgendaItem.objects.create(meeting=meeting, order=start + i + 1, title=f"วาระ {i}")
            Attendance.objects.create(meeting=meeting, name=f"คน {start + i}", organisation="อบจ.")
            LessonLearned.objects.create(meeting=meeting, province_id=PROVINCE_A, theme="ข้อมูล", text="x")
            _item(meeting, due_days=-i, owner_province_id=PROVINCE_A, owner_user=cast.coordinator_a)
            _attach(meeting, cast.eef_admin)
        earlier.action_items.create(what="ค้าง", owner_university=_uni("KKU"))
        province = SURIN if meeting.presentations.exists() else PROVINCE_A
        meeting.provinces.add(province)
        Presentation.objects.get_or_create(meeting=meeting, province_id=province)

    add_parts(1)
    # Warm up again with parts: the first access-log entry for attendees' names looks up its content type once per
    # process (Django's ContentType cache), so whether an earlier test did so must not change the count.
    queries()
    once = queries()
    add_parts(9)
    assert queries() == once


# --- demo data -----------------------------------------------------------------------------------


def test_demo_meetings_hold_the_seed_meeting_and_follow_ups_in_every_state(cast):
    created = load_demo_meetings()
    assert created["meetings"] >= 10
    seed = Meeting.objects.get(title=SEED_TITLE)
    assert (seed.kind, seed.starts_on, seed.ends_on) == (
        Kind.NATIONAL,
        datetime.date(2023, 3, 30),
        datetime.date(2023, 3, 31),
    )
    assert seed.venue == "โรงแรมอัศวิน แกรนด์ คอนเวนชั่น กรุงเทพฯ"
    assert (seed.organised_by_eef, seed.organised_by_ipsr, seed.album_url, seed.is_demo) == (
        True,
        True,
        SEED_ALBUM,
        True,
    )
    assert set(seed.presentations.values_list("province_id", flat=True)) == set(DEMO_LEADS)
    teams = [a.organisation for a in seed.attendance.all() if a.organisation.startswith("ทีมส่งยิ้มภูมิภาค")]
    assert len(teams) == 8
    # Made-up people of real organisations, so that the minutes' name column is filled (issue 12).
    assert all(a.name.startswith(("นาย", "นาง")) for a in seed.attendance.all())
    assert not seed.organiser_universities.filter(code="MU-IPSR").exists()  # IPSR once: by its flag
    assert seed.agenda.count() >= 4
    assert seed.lessons.exists()
    assert Meeting.objects.filter(kind=Kind.REGIONAL, is_demo=True).count() == 8
    assert Meeting.objects.filter(kind=Kind.PROVINCIAL, is_demo=True).exists()
    demo_items = ActionItem.objects.filter(meeting__is_demo=True)
    assert set(demo_items.values_list("status", flat=True)) == set(ActionItem.Status.values)
    assert demo_items.overdue().exists()
    assert demo_items.open().exclude(pk__in=demo_items.overdue()).exists()
    assert not demo_items.filter(status="dropped", note="").exists()
    # Idempotent: a second run creates nothing.
    counts = {model: model.objects.count() for model in (Meeting, Attendance, AgendaItem, ActionItem, Presentation)}
    assert load_demo_meetings() == {}
    assert counts == {model: model.objects.count() for model in counts}


def test_demo_presentations_link_reports_that_appear_later(cast):
    load_demo_meetings()
    report = ProgressReport.objects.create(
        province_id=PROVINCE_A, fiscal_year=2566, period="Q2", created_by=cast.eef_admin
    )
    assert load_demo_meetings() == {"presentations_linked": 1}
    assert Presentation.objects.get(meeting__title=SEED_TITLE, province_id=PROVINCE_A).report == report


def test_demo_coordinator_owns_an_overdue_item_on_their_home_page(cast, client_for):
    coordinator = make_user("khonkaen@demo.abe-portal.local", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    load_demo_meetings()
    response = client_for(coordinator).get("/")
    assert any(item.owner_user_id == coordinator.pk and item.is_overdue for item in response.context["action_items"])
    assert response.context["overdue_count"] >= 1


# --- Django admin --------------------------------------------------------------------------------

INLINE_PREFIXES = ("agenda", "attendance", "presentations", "lessons", "action_items")


def _admin_meeting_data(**fields) -> dict:
    data: dict[str, object] = {"title": "ประชุมผ่านหน้าผู้ดูแล", "kind": "provincial", "status": "planned"}
    data |= {"starts_on": "2026-12-01", "ends_on": "2026-12-01"}
    for prefix in INLINE_PREFIXES:
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    return data | fields


def test_coordinator_adds_in_admin_only_meetings_of_their_province(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.post("/admin/meetings/meeting/add/", _admin_meeting_data(provinces=[PROVINCE_B]))
    assert response.status_code == 200  # the form says why
    assert not Meeting.objects.exists()
    response = client.post("/admin/meetings/meeting/add/", _admin_meeting_data(kind="national"))
    assert response.status_code == 200
    assert not Meeting.objects.exists()
    response = client.post("/admin/meetings/meeting/add/", _admin_meeting_data(provinces=[PROVINCE_A]))
    assert response.status_code == 302
    meeting = Meeting.objects.get()
    assert (meeting.created_by, list(meeting.provinces.values_list("code", flat=True))) == (
        cast.coordinator_a,
        [PROVINCE_A],
    )
    # Nor can they move their meeting to another province afterwards.
    response = client.post(f"/admin/meetings/meeting/{meeting.pk}/change/", _admin_meeting_data(provinces=[PROVINCE_B]))
    assert response.status_code == 200
    assert list(meeting.provinces.values_list("code", flat=True)) == [PROVINCE_A]
