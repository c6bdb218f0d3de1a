"""The daily job of case follow-up (cases/digest.py, cases.tasks.daily): due dates kept, overdue flagged
once to both sides, one digest mail per person in their language, naming only what they may see,
safe to run twice and when the mail server fails."""

import datetime

import psycopg2
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership, Role
from cases import digest, services
from cases.models import Agency, AgencyType, Case, EmailPreference, Notification
from cases.tasks import daily
from conftest import PROVINCE_A, make_user
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id
from tests.test_upload_worker import _database_url

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _record(n: int, province: int = PROVINCE_A) -> TargetRecord:
    return TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=f"เด็ก{n}",
        last_name="ทดสอบ",
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )


@pytest.fixture(autouse=True)
def _portal_address(settings):
    settings.PORTAL_BASE_URL = "http://testserver"


@pytest.fixture
def worker(cast):
    return make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)


@pytest.fixture
def agency():
    return Agency.objects.create(
        province_id=PROVINCE_A, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.อำเภอเมืองขอนแก่น"
    )


@pytest.fixture
def agency_user(agency):
    user = make_user("agency.a@example.org")
    Membership.objects.create(user=user, role=Role.AGENCY_USER, province_id=PROVINCE_A, agency=agency)
    return user


def _assign(coordinator, records: list[TargetRecord], worker) -> None:
    services.assign(user=coordinator, records=records, worker=worker)
    for record in records:
        record.refresh_from_db()


def _mails_to(outbox, address: str) -> list:
    return [m for m in outbox if m.to == [address]]


def test_an_overdue_referral_is_flagged_to_both_sides_once_and_the_next_digest_names_it_once(
    cast, worker, agency, agency_user, mailoutbox
):
    record = _record(1)
    _assign(cast.coordinator_a, [record], worker)
    referral = services.refer(
        user=worker, record=record, agency=agency, reason="ออกกลางคัน", services="เรียน กศน.",
        deadline=timezone.localdate() + DAY,
    )  # fmt: skip
    # The first day: what is new is mailed (assigned to the worker, received by the agency), nothing overdue.
    first = digest.run_daily()
    assert first is not None
    assert first.referrals_flagged == 0
    assert {m.to[0] for m in mailoutbox} == {worker.email, agency_user.email}
    mailoutbox.clear()

    later = timezone.now() + 3 * DAY  # the deadline has passed
    run = digest.run_daily(now=later)
    assert run is not None
    assert run.referrals_flagged == 2
    overdue = Notification.objects.filter(kind=Notification.Kind.REFERRAL_OVERDUE, referral=referral)
    assert set(overdue.values_list("user_id", flat=True)) == {worker.pk, agency_user.pk}
    for person in (worker, agency_user):
        [mail] = _mails_to(mailoutbox, person.email)
        text = mail.body
        assert text.count("กศน.อำเภอเมืองขอนแก่น") == 1, text
        assert f"ระเบียน {record.pk}" in text
        html, mimetype = mail.alternatives[0]
        assert mimetype == "text/html"
        assert html.count("กศน.อำเภอเมืองขอนแก่น") == 1
        assert "http://testserver/" in html
    # The worker's link is the record page, the agency's its referral page: absolute, one per item.
    assert f"http://testserver/records/{record.pk}/" in _mails_to(mailoutbox, worker.email)[0].body
    assert f"/cases/referrals/{referral.pk}/" in _mails_to(mailoutbox, agency_user.email)[0].body
    # Idempotent: the same day again, and the next days, flag and mail nothing new.
    mailoutbox.clear()
    assert digest.run_daily(now=later).referrals_flagged == 0
    assert digest.run_daily(now=later + DAY).referrals_flagged == 0
    assert overdue.count() == 2
    assert not [m for m in mailoutbox if "กศน.อำเภอเมืองขอนแก่น" in m.body]
    # The in-app list keeps them, unread.
    assert Notification.objects.filter(user=agency_user).unread().count() == 2


def test_a_case_that_becomes_overdue_is_flagged_to_its_worker_once_per_spell(cast, worker, mailoutbox):
    record = _record(1)
    _assign(cast.coordinator_a, [record], worker)
    flags = Notification.objects.filter(kind=Notification.Kind.CONTACT_OVERDUE, user=worker)
    late = timezone.now() + 31 * DAY  # CASES_CONTACT_EVERY_DAYS (30) without a contact
    assert digest.run_daily(now=late).cases_flagged == 1
    assert digest.run_daily(now=late + DAY).cases_flagged == 0
    assert flags.count() == 1
    # A contact ends the spell; when the next one passes, the worker is told again. (The job "ran" in
    # the future above; its flag goes back to before the contact, as it would be in real time.)
    flags.update(created_at=timezone.now() - DAY)
    services.log_contact(user=worker, record=record, kind="phone", happened_at=timezone.now())
    assert digest.run_daily(now=timezone.now() + 2 * DAY).cases_flagged == 0
    assert digest.run_daily(now=timezone.now() + 62 * DAY).cases_flagged == 1
    assert flags.count() == 2
    [mail] = [m for m in _mails_to(mailoutbox, worker.email) if "เลยกำหนดการติดต่อ" in m.body][:1]
    assert f"ระเบียน {record.pk}" in mail.body


def test_due_dates_follow_a_changed_rhythm_in_one_update(cast, worker, settings):
    records = [_record(n) for n in range(1, 4)]
    _assign(cast.coordinator_a, records, worker)
    settings.CASES_CONTACT_EVERY_DAYS = 10
    with CaptureQueriesContext(connection) as queries:
        assert digest.refresh_due_dates() == 3
    assert len(queries) == 1
    for case in Case.objects.all():
        assert case.due_on == services.due_on(case) == timezone.localdate(case.opened_at) + 10 * DAY
        assert case.version == 1  # not an edit of the case
    assert digest.refresh_due_dates() == 0


def test_who_turned_the_digest_off_gets_no_mail_but_keeps_the_in_app_list(cast, worker, mailoutbox):
    EmailPreference.objects.create(user=worker, daily_digest=False)
    _assign(cast.coordinator_a, [_record(1)], worker)
    run = digest.run_daily()
    assert run is not None
    assert run.digests.sent == 0
    assert mailoutbox == []
    mine = Notification.objects.filter(user=worker)
    assert mine.count() == 1
    assert mine.unread().count() == 1


def test_the_digest_is_in_the_persons_language_thai_by_default(cast, worker, mailoutbox):
    english = make_user("worker.en@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    EmailPreference.objects.create(user=english, language="en")
    _assign(cast.coordinator_a, [_record(1)], worker)
    _assign(cast.coordinator_a, [_record(2)], english)
    daily()  # the Celery task, as the beat runs it
    [thai] = _mails_to(mailoutbox, worker.email)
    [other] = _mails_to(mailoutbox, english.email)
    assert "มอบหมายให้คุณ" in thai.body
    assert "ระบบข้อมูล ABE" in thai.subject
    assert "assigned to you" in other.body
    assert "item to follow up" in other.subject
    assert "assigned to you" not in thai.body


def test_a_digest_names_only_what_the_person_may_still_see(cast, worker, mailoutbox):
    other = make_user("worker.b@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    kept, moved = _record(1), _record(2)
    _assign(cast.coordinator_a, [kept, moved], worker)
    _assign(cast.coordinator_a, [moved], other)  # taken away before the digest
    digest.run_daily()
    [mine] = _mails_to(mailoutbox, worker.email)
    assert f"ระเบียน {kept.pk} " in mine.body
    assert f"ระเบียน {moved.pk} " not in mine.body
    [theirs] = _mails_to(mailoutbox, other.email)
    assert f"ระเบียน {moved.pk} " in theirs.body
    assert f"ระเบียน {kept.pk} " not in theirs.body
    # Whatever was settled is marked, so the next run mails nothing again.
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_a_mail_server_that_fails_leaves_the_notifications_for_the_next_run(cast, worker, mailoutbox, settings):
    _assign(cast.coordinator_a, [_record(1)], worker)
    settings.EMAIL_BACKEND = "tests.test_cases_digest.FailingBackend"
    run = digest.run_daily()
    assert run is not None
    assert run.digests.failed == 1
    assert run.digests.sent == 0
    assert Notification.objects.filter(user=worker, emailed_at__isnull=True).count() == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert digest.run_daily().digests.sent == 1
    assert len(_mails_to(mailoutbox, worker.email)) == 1


class FailingBackend:
    def __init__(self, **kwargs) -> None:
        pass

    def send_messages(self, messages) -> int:
        raise ConnectionRefusedError("the mail server is down")


def test_a_second_run_while_one_is_at_work_does_nothing(cast, worker, mailoutbox):
    _assign(cast.coordinator_a, [_record(1)], worker)
    other = psycopg2.connect(_database_url())
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [digest.DAILY_LOCK_KEY])
        assert digest.run_daily() is None
        assert mailoutbox == []
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [digest.DAILY_LOCK_KEY])
    finally:
        other.close()
    assert digest.run_daily() is not None
    assert len(mailoutbox) == 1


def test_a_batch_of_digests_costs_the_same_queries_for_two_people_or_six(cast, agency, mailoutbox):
    def batch_of(n: int, start: int) -> list[int]:
        people = [make_user(f"w{start + i}@example.org", role=Role.CASE_WORKER, province=PROVINCE_A) for i in range(n)]
        for i, person in enumerate(people):
            records = [_record(start * 10 + i * 3 + k) for k in range(3)]
            _assign(cast.coordinator_a, records, person)
            services.refer(user=person, record=records[0], agency=agency, reason="r", services="s",
                           deadline=timezone.localdate())  # fmt: skip
        return [p.pk for p in people]

    counts = []
    for ids in (batch_of(2, 100), batch_of(6, 200)):
        with CaptureQueriesContext(connection) as queries:
            digests = digest.build_digests(ids, today=timezone.localdate(), until=timezone.now())
        assert [d.totals for d in digests] == [{"assigned": 3}] * len(ids)
        counts.append(len(queries))
    # people, preferences, their scopes (memberships, case workers' districts; a third with university
    # members), notifications, cases due this week
    assert counts == [6, 6]


def test_the_headers_unread_count_follows_the_flags_of_the_daily_job(cast, worker, agency, agency_user):
    from cases.unread import unread_count

    record = _record(1)
    _assign(cast.coordinator_a, [record], worker)
    services.refer(
        user=worker, record=record, agency=agency, reason="ออกกลางคัน", services="เรียน กศน.",
        deadline=timezone.localdate() + DAY,
    )  # fmt: skip
    before = {person: unread_count(person) for person in (worker, agency_user)}  # now cached
    assert before == {worker: 1, agency_user: 1}  # assigned; the referral received
    run = digest.run_daily(now=timezone.now() + 31 * DAY)  # the referral and the case are both overdue
    assert run is not None
    assert (run.referrals_flagged, run.cases_flagged) == (2, 1)
    assert unread_count(worker) == 3
    assert unread_count(agency_user) == 2
