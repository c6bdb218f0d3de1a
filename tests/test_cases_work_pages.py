"""Case follow-up's pages outside one child's case (cases/views_work.py): my work, notifications and the
header's unread count, the agency's side of referrals (masking, 404s, the access log, answers and stale
answers), the agency directory and its admin."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership, Role
from audit.models import AccessLog
from cases import services, unread
from cases.models import Agency, AgencyType, EmailPreference, Notification, Referral, ReferralState
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.thai_id import format_identifier, mask_identifier
from provinces.models import District
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db


def _record(n: int, province: int = PROVINCE_A) -> TargetRecord:
    return TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=f"เด็ก{n}",
        last_name="ทดสอบ",
        sex="F",
        birth_date=datetime.date(2010, 1, 1),
        guardian_name=f"ผู้ปกครอง{n}",
        phone="0812345678",
        school="โรงเรียนลับ",
        notes="บันทึกลับ",
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )


def _agency(name: str = "กศน.อำเภอเมืองขอนแก่น", province: int = PROVINCE_A) -> Agency:
    return Agency.objects.create(
        province_id=province, type=AgencyType.objects.get(code="non-formal-education"), name=name
    )


def _agency_user(email: str, agency: Agency):
    user = make_user(email)
    Membership.objects.create(user=user, role=Role.AGENCY_USER, province_id=agency.province_id, agency=agency)
    return user


@pytest.fixture
def worker(cast):
    return make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)


@pytest.fixture
def agency():
    return _agency()


@pytest.fixture
def agency_user(agency):
    return _agency_user("agency.a@example.org", agency)


def _refer(worker, record: TargetRecord, agency: Agency, **extra) -> Referral:
    record.refresh_from_db()
    return services.refer(user=worker, record=record, agency=agency, reason="อยากเรียนต่อ", services="สมัครเรียน",
                          deadline=timezone.localdate() + datetime.timedelta(days=7), **extra)  # fmt: skip


def _query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# --- my work -----------------------------------------------------------------------------------------------


def test_my_work_shows_each_role_its_sections_in_a_fixed_number_of_queries(
    cast, client_for, worker, agency, agency_user
):
    records = [_record(n) for n in range(1, 26)]
    services.assign(user=cast.coordinator_a, records=records, worker=worker)
    long_ago = timezone.now() - datetime.timedelta(days=45)
    for record in records[:22]:
        record.refresh_from_db()
        services.log_contact(user=worker, record=record, kind="phone", happened_at=long_ago)
    referral = _refer(worker, records[-1], agency)

    pages = {}
    for name, user in (("worker", worker), ("coordinator", cast.coordinator_a), ("agency", agency_user)):
        client = client_for(user)
        base = _query_count(client, "/cases/notifications/")  # a page of the portal with the same header
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/cases/")
        assert response.status_code == 200
        # The sections (one query each, two for a full one), the children's prefetch, the access log; for the
        # coordinator also one COUNT each of the transfer requests and merge proposals waiting for them
        # (cases.waiting_elsewhere; exact: tests/test_transfer_merge_notifications.py).
        assert len(queries) <= base + 10, (name, len(queries), base)
        pages[name] = response.content.decode()

    worker_page = pages["worker"]
    for key in ("overdue", "due_this_week", "referrals_overdue", "new"):
        assert f'data-testid="section-{key}"' in worker_page
    assert 'data-testid="section-referrals_waiting"' not in worker_page
    assert f"/records/{records[0].pk}/" in worker_page
    # 22 overdue, the 20 most urgent listed.
    assert '<p class="stat">22</p>' in worker_page
    assert "งานของฉัน" in worker_page  # the nav link, Thai first

    coordinator_page = pages["coordinator"]
    assert 'data-testid="section-overdue"' in coordinator_page
    assert 'data-testid="section-new"' not in coordinator_page

    agency_page = pages["agency"]
    assert 'data-testid="section-referrals_waiting"' in agency_page
    assert 'data-testid="section-overdue"' not in agency_page
    assert f"/cases/referrals/{referral.pk}/" in agency_page
    assert f"/records/{records[-1].pk}/" not in agency_page
    assert AccessLog.objects.filter(user=agency_user, path="/cases/", action="view").count() == 1


def test_my_work_and_the_records_link_follow_the_door(cast, client_for, worker, agency_user):
    assert client_for(cast.viewer_a).get("/cases/").status_code == 403
    viewer_page = client_for(cast.viewer_a).get("/").content.decode()
    assert 'data-testid="nav-my-work"' not in viewer_page
    assert 'href="/records/"' in viewer_page
    worker_page = client_for(worker).get("/").content.decode()
    assert 'data-testid="nav-my-work"' in worker_page
    assert 'href="/records/"' in worker_page
    # Agency users read no records list: no link to it.
    agency_page = client_for(agency_user).get("/").content.decode()
    assert 'data-testid="nav-my-work"' in agency_page
    assert 'href="/records/"' not in agency_page
    assert 'href="/cases/referrals/"' in agency_page


# --- notifications ---------------------------------------------------------------------------------------


def test_notifications_say_what_happened_without_the_childs_identity(cast, client_for, worker, agency):
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    referral = _refer(cast.coordinator_a, record, agency)
    services.move_referral(user=cast.coordinator_a, referral=referral, to_state=ReferralState.ACCEPTED,
                           version=referral.version)  # fmt: skip
    page = client_for(worker).get("/cases/notifications/").content.decode()
    lines = page.split('data-testid="notification"')[1:]
    assert len(lines) == 2
    assert "answered" in lines[0] or "ตอบ" in lines[0]  # newest first: the referral's answer
    assigned = Notification.objects.get(user=worker, case=record.case, referral=None)
    assert lines[1].split('href="')[1].split('"')[0] == f"/cases/notifications/{assigned.pk}/open/"
    for secret in (record.first_name, record.identifier, mask_identifier(record.identifier), record.guardian_name):
        assert secret not in page
    assert 'data-testid="unread-count">2' in page


def test_the_unread_count_is_cached_and_follows_new_and_read_notifications(cast, client_for, worker):
    client = client_for(worker)
    client.get("/cases/notifications/")

    def header_count() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/").content.decode()
        asked = sum("cases_notification" in q["sql"] for q in queries.captured_queries)
        shown = page.split('data-testid="unread-count">')[1].split("<")[0] if "unread-count" in page else "0"
        return shown, asked

    assert header_count() == ("0", 0)  # cached by the first page
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    assert header_count() == ("1", 1)  # forgotten by the service: one query, then cached again
    assert header_count() == ("1", 0)
    services.notify([worker.pk], Notification.Kind.CONTACT_OVERDUE, case=record.case)
    assert unread.unread_count(worker) == 2
    response = client.post("/cases/notifications/", {"action": "read_all"})
    assert response.status_code == 302
    assert header_count() == ("0", 1)
    assert not Notification.objects.filter(user=worker, read_at__isnull=True).exists()


def test_opening_a_notification_marks_it_read_and_leads_to_its_child(cast, client_for, worker):
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    note = Notification.objects.get(user=worker, case=record.case)
    client = client_for(worker)
    assert client.head(f"/cases/notifications/{note.pk}/open/").status_code == 302
    note.refresh_from_db()
    assert note.read_at is None, "a HEAD (a link preview) leaves it unread"
    response = client.get(f"/cases/notifications/{note.pk}/open/")
    assert (response.status_code, response["Location"]) == (302, f"/records/{record.pk}/")
    note.refresh_from_db()
    assert note.read_at is not None
    assert unread.unread_count(worker) == 0, "the header's count follows"
    # Someone else's notification: 404, and it stays unread.
    services.notify([cast.coordinator_a.pk], Notification.Kind.CONTACT_OVERDUE, case=record.case)
    theirs = Notification.objects.get(user=cast.coordinator_a, kind=Notification.Kind.CONTACT_OVERDUE)
    assert client.get(f"/cases/notifications/{theirs.pk}/open/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_daily_email_is_switched_off_and_on(client_for, worker):
    client = client_for(worker)
    assert 'checked data-testid="daily-digest"' in client.get("/cases/notifications/").content.decode()  # on by default
    client.post("/cases/notifications/", {"action": "digest"})
    assert EmailPreference.objects.get(user=worker).daily_digest is False
    assert 'checked data-testid="daily-digest"' not in client.get("/cases/notifications/").content.decode()
    client.post("/cases/notifications/", {"action": "digest", "daily_digest": "on"})
    assert EmailPreference.objects.get(user=worker).daily_digest is True


# --- the agency's side -------------------------------------------------------------------------------------


def test_the_agency_sees_only_what_a_referral_needs_with_the_identifier_masked(
    cast, client_for, worker, agency, agency_user
):
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    referral = _refer(worker, record, agency)
    client = client_for(agency_user)
    page = client.get(f"/cases/referrals/{referral.pk}/").content.decode()
    assert mask_identifier(record.identifier) in page
    assert format_identifier(record.identifier) not in page
    assert record.identifier not in page
    for shown in (record.first_name, record.guardian_name, record.phone, "อยากเรียนต่อ", "สมัครเรียน"):
        assert shown in page
    for hidden in (record.school, record.notes):
        assert hidden not in page
    log = AccessLog.objects.filter(user=agency_user).latest("pk")
    assert (log.action, log.object_id, log.path) == ("view", str(record.pk), f"/cases/referrals/{referral.pk}/")
    # The list of the agency's referrals, with a state filter.
    listing = client.get("/cases/referrals/?state=sent").content.decode()
    assert listing.count('data-testid="referral-row"') == 1
    assert client.get("/cases/referrals/?state=accepted").content.decode().count('data-testid="referral-row"') == 0
    # A referral that shares the identifier shows it in full, and the log says so.
    shared = _refer(worker, record, agency, share_identifier=True)
    page = client.get(f"/cases/referrals/{shared.pk}/").content.decode()
    assert format_identifier(record.identifier) in page
    assert AccessLog.objects.filter(user=agency_user).latest("pk").action == "full_identifier_view"


def test_outsiders_get_404_for_a_referral_and_a_child(cast, client_for, worker, agency, agency_user):
    record, unreferred = _record(1), _record(2)
    services.assign(user=cast.coordinator_a, records=[record, unreferred], worker=worker)
    referral = _refer(worker, record, agency)
    other_agency_user = _agency_user("agency.other@example.org", _agency("อบต.หนองเรือ"))
    for user in (other_agency_user, cast.coordinator_b, cast.no_role):
        assert client_for(user).get(f"/cases/referrals/{referral.pk}/").status_code == 404
        assert client_for(user).get(f"/cases/children/{record.pk}/").status_code == 404
    # The child page: only the agency the child was referred to, and only for that child.
    client = client_for(agency_user)
    assert client.get(f"/cases/children/{unreferred.pk}/").status_code == 404
    page = client.get(f"/cases/children/{record.pk}/").content.decode()
    assert mask_identifier(record.identifier) in page
    assert record.identifier not in page
    assert record.school not in page
    assert page.count('data-testid="referral-row"') == 1
    log = AccessLog.objects.filter(user=agency_user).latest("pk")
    assert (log.action, log.object_id, log.path) == ("view", str(record.pk), f"/cases/children/{record.pk}/")
    # The coordinator reads the page, and may answer for the agency.
    assert client_for(cast.coordinator_a).get(f"/cases/referrals/{referral.pk}/").status_code == 200
    assert client_for(cast.viewer_a).post(f"/cases/referrals/{referral.pk}/", {"to_state": "accepted",
                                           "seen_version": referral.version}).status_code == 403  # fmt: skip


def test_the_agency_answers_a_referral_and_a_stale_answer_is_refused(cast, client_for, worker, agency, agency_user):
    record = _record(1)
    services.assign(user=cast.coordinator_a, records=[record], worker=worker)
    referral = _refer(worker, record, agency)
    client = client_for(agency_user)
    url = f"/cases/referrals/{referral.pk}/"
    seen = referral.version
    # Declining needs a reason.
    response = client.post(url, {"to_state": "declined", "seen_version": seen, "note": ""})
    assert response.status_code == 200
    referral.refresh_from_db()
    assert referral.state == ReferralState.SENT
    assert client.post(url, {"to_state": "accepted", "seen_version": seen}).status_code == 302
    # The same click again, from the page as it was: nothing is done.
    response = client.post(url, {"to_state": "accepted", "seen_version": seen})
    assert response.status_code == 409
    assert 'data-testid="stale-edit"' in response.content.decode()
    referral.refresh_from_db()
    assert referral.state == ReferralState.ACCEPTED
    assert client.post(url, {"to_state": "in_progress", "seen_version": referral.version}).status_code == 302
    referral.refresh_from_db()
    achieved = Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED, is_active=True).first()
    assert achieved is not None
    response = client.post(url, {"to_state": "completed", "seen_version": referral.version, "outcome": achieved.pk,
                                 "feedback": "กลับเข้าเรียนแล้ว"})  # fmt: skip
    assert response.status_code == 302
    referral.refresh_from_db()
    assert (referral.state, referral.outcome, referral.feedback) == ("completed", achieved, "กลับเข้าเรียนแล้ว")
    page = client.get(url).content.decode()
    assert page.split('data-testid="events"')[1].count("<li>") == 4
    assert 'data-testid="answer"' not in page  # nothing more to answer
    # The case worker was told of each answer.
    assert Notification.objects.filter(user=worker, kind="referral_changed").count() == 3


# --- the agency directory ----------------------------------------------------------------------------------


def test_coordinators_keep_their_provinces_directory(cast, client_for, agency):
    district = District.objects.filter(province_id=PROVINCE_A).first()
    client = client_for(cast.coordinator_a)
    response = client.post("/cases/agencies/new/", {
        "province": PROVINCE_A, "name": "อบต.บ้านเป็ด", "type": AgencyType.objects.get(code="non-formal-education").pk,
        "district": district.pk, "contact_name": "คุณสมศรี", "phone": "043000000", "email": "", "is_active": "on",
    })  # fmt: skip
    assert response.status_code == 302
    created = Agency.objects.get(name="อบต.บ้านเป็ด")
    assert (created.province_id, created.district, created.contact_name) == (PROVINCE_A, district, "คุณสมศรี")
    # The same name twice in a province is refused on the form.
    response = client.post("/cases/agencies/new/", {"province": PROVINCE_A, "name": "อบต.บ้านเป็ด",
                                                     "type": created.type_id})  # fmt: skip
    assert response.status_code == 200
    assert Agency.objects.filter(name="อบต.บ้านเป็ด").count() == 1
    response = client.post(f"/cases/agencies/{agency.pk}/edit/", {"name": agency.name, "type": agency.type_id,
                                                                 "phone": "043111111"})  # fmt: skip
    assert response.status_code == 302
    agency.refresh_from_db()
    assert (agency.phone, agency.is_active) == ("043111111", False)
    listing = client.get("/cases/agencies/").content.decode()
    in_a = Agency.objects.filter(province_id=PROVINCE_A).count()  # the cast's agency user's office too
    assert in_a == 3
    assert listing.count('data-testid="agency-row"') == in_a
    # Readers of the province read the directory and change nothing; another province's coordinator sees none.
    assert client_for(cast.viewer_a).get("/cases/agencies/").content.decode().count('data-testid="agency-row"') == in_a
    assert client_for(cast.viewer_a).get(f"/cases/agencies/{agency.pk}/edit/").status_code == 403
    assert client_for(cast.coordinator_b).get(f"/cases/agencies/{agency.pk}/edit/").status_code == 404
    assert client_for(cast.viewer_a).get("/cases/agencies/new/").status_code == 403
    # A coordinator adds to their own provinces only, never quietly to another.
    response = client.post(
        "/cases/agencies/new/", {"province": PROVINCE_B, "name": "อบต.แม่กา", "type": created.type_id}
    )
    assert response.status_code == 403
    assert not Agency.objects.filter(name="อบต.แม่กา").exists()
    assert f"/cases/agencies/{agency.pk}/edit/" in listing
    assert "/edit/" not in client_for(cast.viewer_a).get("/cases/agencies/").content.decode()


def test_admin_shows_a_refused_agency_save_as_a_message(cast, client_for):
    """A coordinator of A who also reads B is offered B in admin's choice; the service refuses it."""
    user = make_user("coordinator.reads.b@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A,
                     staff=True)  # fmt: skip
    Membership.objects.create(user=user, role=Role.PROVINCE_VIEWER, province_id=PROVINCE_B)
    client = client_for(user)
    data = {"province": PROVINCE_B, "type": AgencyType.objects.get(code="non-formal-education").pk,
            "name": "กศน.อำเภอเมืองพะเยา", "is_active": "on"}  # fmt: skip
    response = client.post("/admin/cases/agency/add/", data, follow=True)
    assert response.status_code == 200
    assert not Agency.objects.filter(name="กศน.อำเภอเมืองพะเยา").exists()
    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert [level for level, _text in shown] == ["error"]
    data["province"] = PROVINCE_A
    response = client.post("/admin/cases/agency/add/", data, follow=True)
    assert response.status_code == 200
    assert Agency.objects.filter(name="กศน.อำเภอเมืองพะเยา", province_id=PROVINCE_A).exists()
