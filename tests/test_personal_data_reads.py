"""Reads of working-group members' personal data (names, phones, emails) and of a meeting's attendee
names go to the access log, as the minutes export does (audit.access_log.record_access): on the
province page, in its export and Django admin's, through the API, and on a meeting's page."""

import datetime
import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from openpyxl import load_workbook

from audit.models import AccessLog
from conftest import PROVINCE_A, PROVINCE_B
from meetings.models import Attendance, Kind, Meeting
from provinces.models import WorkingGroupMember
from tests.api_support import READ_ALL, key_client, make_key

API = "/api/v1"


@pytest.fixture
def members(cast):
    """Province A's working group: a current member with a phone and an email, a former member; one of B."""
    today = timezone.localdate()
    return [
        WorkingGroupMember.objects.create(
            province_id=PROVINCE_A, name="นายสมชาย ใจดี", phone="0812345678", email="somchai@example.org"
        ),
        WorkingGroupMember.objects.create(
            province_id=PROVINCE_A, name="นางสมหญิง รักงาน", active_until=today - datetime.timedelta(days=30)
        ),
        WorkingGroupMember.objects.create(province_id=PROVINCE_B, name="นายพะเยา", phone="0899999999"),
    ]


def _entries(**filters) -> list[AccessLog]:
    return list(AccessLog.objects.filter(**filters).order_by("id"))


def _member_entries() -> list[AccessLog]:
    return _entries(content_type=ContentType.objects.get_for_model(WorkingGroupMember))


# --- the province page and its export -----------------------------------------------------------------


def test_the_province_page_logs_who_saw_the_working_group(cast, client_for, members):
    response = client_for(cast.coordinator_a).get(f"/provinces/{PROVINCE_A}/")
    assert response.status_code == 200
    assert "0812345678" in response.content.decode()
    [entry] = _member_entries()
    assert (entry.user, entry.action, entry.count, entry.path) == (
        cast.coordinator_a,
        AccessLog.Action.VIEW,
        2,  # the current member with contacts, the former one by name
        f"/provinces/{PROVINCE_A}/",
    )


def test_a_province_page_without_a_working_group_logs_nothing(cast, client_for, members):
    assert client_for(cast.eef_admin).get("/provinces/10/").status_code == 200  # Bangkok: no members
    assert _member_entries() == []


def test_the_working_group_export_is_logged_with_its_row_count(cast, client_for, members):
    response = client_for(cast.viewer_a).get(f"/provinces/{PROVINCE_A}/working-group/export/")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(min_row=2, values_only=True))
    [entry] = _member_entries()
    assert (entry.user, entry.action, entry.count) == (cast.viewer_a, AccessLog.Action.EXPORT, len(rows))
    assert entry.count == 2


def test_an_outsider_asking_for_the_export_gets_404_and_no_entry(cast, client_for, members):
    assert client_for(cast.coordinator_b).get(f"/provinces/{PROVINCE_A}/working-group/export/").status_code == 404
    assert _member_entries() == []


def test_admin_export_and_member_page_of_the_working_group_are_logged(cast, client_for, members):
    client = client_for(cast.coordinator_a)
    export = "/admin/provinces/workinggroupmember/export/"
    form = client.get(export).context["form"]
    fields = {name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)}
    response = client.post(export, {"format": "0", "resource": "0", **fields})
    assert response.status_code == 200
    lines = [line for line in response.content.decode("utf-8-sig").splitlines()[1:] if line]
    assert client.get(f"/admin/provinces/workinggroupmember/{members[0].pk}/change/").status_code == 200
    exported, viewed = _member_entries()
    assert (exported.user, exported.action, exported.count) == (cast.coordinator_a, AccessLog.Action.EXPORT, 2)
    assert len(lines) == 2
    assert (viewed.user, viewed.action, viewed.object_id, viewed.count) == (
        cast.coordinator_a,
        AccessLog.Action.VIEW,
        str(members[0].pk),
        1,
    )


# --- the API -----------------------------------------------------------------------------------------


def test_the_api_list_and_detail_of_members_are_logged_for_keys_and_users(cast, client_for, members):
    key, secret = make_key(provinces=[PROVINCE_A], permissions=READ_ALL, name="ระบบจังหวัดขอนแก่น")
    client = key_client(secret)
    assert len(client.get(f"{API}/working-group-members/").json()["results"]) == 2
    assert client.get(f"{API}/working-group-members/{members[0].pk}/").json()["phone"] == "0812345678"
    listed, one = _member_entries()
    assert (listed.user, listed.action, listed.count) == (None, AccessLog.Action.API_READ, 2)
    assert listed.actor == f"{key.partner.name} · ระบบจังหวัดขอนแก่น ({key.prefix})", "the key is the actor"
    assert (one.action, one.object_id, one.count) == (AccessLog.Action.API_READ, str(members[0].pk), 1)

    client_for(cast.coordinator_b).get(f"{API}/working-group-members/")
    [by_user] = _member_entries()[2:]
    assert (by_user.user, by_user.count) == (cast.coordinator_b, 1)


def test_an_api_read_of_a_member_outside_the_scope_is_404_and_not_logged(cast, members):
    _key, secret = make_key(provinces=[PROVINCE_A], permissions=READ_ALL)
    assert key_client(secret).get(f"{API}/working-group-members/{members[2].pk}/").status_code == 404
    assert _member_entries() == []


@pytest.mark.parametrize("size", [5, 30])
def test_a_page_of_members_costs_the_same_queries_whatever_its_size(cast, client_for, django_assert_num_queries, size):
    WorkingGroupMember.objects.bulk_create(
        WorkingGroupMember(province_id=PROVINCE_A, name=f"สมาชิก {n}", phone="0812345678") for n in range(40)
    )
    client = client_for(cast.coordinator_a)
    client.get(f"{API}/working-group-members/")  # warm up: the session's first save, the log's content type
    # 1 the session, 2 the user, 3 the memberships (scope), 4 the page of members, 5 the access log's
    # row (the session is not written again within SESSION_REFRESH_SECONDS).
    with django_assert_num_queries(5):
        response = client.get(f"{API}/working-group-members/?page_size={size}")
    assert len(response.json()["results"]) == size
    assert _member_entries()[-1].count == size


# --- a meeting's page -------------------------------------------------------------------------------


def _meeting_with(attendees: int) -> Meeting:
    meeting = Meeting.objects.create(
        title="ประชุมคณะทำงาน",
        kind=Kind.PROVINCIAL,
        starts_on=datetime.date(2024, 3, 1),
        ends_on=datetime.date(2024, 3, 1),
    )
    meeting.provinces.add(PROVINCE_A)
    for n in range(attendees):
        Attendance.objects.create(meeting=meeting, name=f"ผู้เข้าประชุม {n}", organisation="อบจ.")
    return meeting


def test_the_meeting_page_logs_who_saw_the_attendee_names(cast, client_for):
    meeting = _meeting_with(3)
    response = client_for(cast.viewer_a).get(f"/meetings/{meeting.pk}/")
    assert "ผู้เข้าประชุม 2" in response.content.decode()
    [entry] = _entries(content_type=ContentType.objects.get_for_model(Meeting))
    assert (entry.user, entry.action, entry.object_id, entry.count, entry.path) == (
        cast.viewer_a,
        AccessLog.Action.VIEW,
        str(meeting.pk),
        3,
        f"/meetings/{meeting.pk}/",
    )


def test_a_meeting_page_without_attendance_logs_nothing(cast, client_for):
    meeting = _meeting_with(0)
    assert client_for(cast.viewer_a).get(f"/meetings/{meeting.pk}/").status_code == 200
    assert not AccessLog.objects.exists()


def test_a_meeting_outside_the_scope_is_404_and_not_logged(cast, client_for):
    meeting = _meeting_with(2)
    assert client_for(cast.coordinator_b).get(f"/meetings/{meeting.pk}/").status_code == 404
    assert not AccessLog.objects.exists()
