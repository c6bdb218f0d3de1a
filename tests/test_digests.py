"""The weekly and monthly digests (digests/): each rendered as HTML with a plain-text part in the person's
language, naming only what the person may see (a coordinator's digest names no other province), sent once per
person and period, to nobody who turned it off (whose pages keep the same things), and left for the next run
when the mail server is down; a batch costs the same queries for two people or five."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from cases import services as case_services
from cases.models import Case, EmailPreference
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.buddhist_dates import current_fiscal_year
from core.periods import quarter_of
from digests import kinds, monthly, weekly
from digests.models import DigestSent
from meetings.models import ActionItem, Kind, Meeting
from provinces.models import Province
from reports.models import ProgressReport
from summaries.models import SummaryRun
from summaries.services import run_summary
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _morning(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(8, 0)))


# This week's Monday morning in Bangkok, and this month's first: the beat's days.
MONDAY = _morning(timezone.localdate() - datetime.timedelta(days=timezone.localdate().weekday()))
FIRST = _morning(timezone.localdate().replace(day=1))


@pytest.fixture(autouse=True)
def _portal_address(settings):
    settings.PORTAL_BASE_URL = "http://testserver"


def _record(n: int, province: int, *, last_name: str = "ทดสอบ") -> TargetRecord:
    return TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=f"เด็ก{n}",
        last_name=last_name,
        phone="0812345678",
        consent=True,
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )


def _name(code: int) -> str:
    return Province.objects.get(pk=code).name_th


def _plant(province: int, coordinator, start: int, *, meeting_day: datetime.date) -> dict:
    """In one province: a record missing its last name (a quality issue new this week), an overdue
    follow-up, an open action item owned by the province, a draft report and an upcoming meeting."""
    issue = _record(start, province, last_name="")
    late = _record(start + 1, province)
    worker = make_user(f"worker{start}@example.org", role=Role.CASE_WORKER, province=province)
    case_services.assign(user=coordinator, records=[late], worker=worker)
    Case.objects.filter(pk=late.pk).update(due_on=meeting_day - 30 * DAY)
    meeting = Meeting.objects.create(
        title=f"ประชุมคณะทำงานจังหวัด{_name(province)}",
        kind=Kind.PROVINCIAL,
        starts_on=meeting_day,
        ends_on=meeting_day,
    )
    meeting.provinces.add(province)
    item = ActionItem.objects.create(
        meeting=meeting, what=f"ส่งแผนของจังหวัด{_name(province)}", owner_province_id=province, due_date=meeting_day
    )
    return {"issue": issue, "late": late, "meeting": meeting, "item": item}


@pytest.fixture
def planted(cast):
    day = timezone.localdate() + 10 * DAY
    a = _plant(PROVINCE_A, cast.coordinator_a, 100, meeting_day=day)
    b = _plant(PROVINCE_B, cast.coordinator_b, 200, meeting_day=day + DAY)
    # A's report of the current quarter is a draft; B's is not started.
    a["report"] = ProgressReport.objects.create(
        province_id=PROVINCE_A,
        fiscal_year=current_fiscal_year(),
        period=quarter_of(timezone.localdate()),
        created_by=cast.coordinator_a,
    )
    return {"a": a, "b": b}


def _mails_to(outbox, user) -> list:
    return [m for m in outbox if m.to == [user.email]]


def test_a_coordinators_weekly_digest_lists_their_province_and_names_no_other(cast, planted, mailoutbox):
    run = kinds.send_weekly()
    assert run is not None
    assert run.sent == 2  # the two coordinators; nobody else gets the weekly digest
    [mail] = _mails_to(mailoutbox, cast.coordinator_a)
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    a, b = planted["a"], planted["b"]
    for part in (mail.subject, mail.body, html):
        assert _name(PROVINCE_B) not in part
        assert b["meeting"].title not in part
        assert b["item"].what not in part
    for part in (mail.body, html):
        assert _name(PROVINCE_A) in part
        # Thai by default: the rule's Thai name and the section titles.
        assert "นามสกุล" in part  # "Last name missing"
        # One link to each thing, absolute.
        quality = reverse("quality:rule_records", kwargs={"code": PROVINCE_A, "rule": "last-name-missing"})
        assert f"http://testserver{quality}" in part
        assert f"http://testserver{reverse('targets:detail', kwargs={'pk': a['late'].pk})}" in part
        assert f"http://testserver{reverse('meetings:detail', kwargs={'pk': a['meeting'].pk})}" in part
        assert f"http://testserver{reverse('reports:detail', kwargs={'pk': a['report'].pk})}" in part
        assert a["item"].what in part
        assert a["meeting"].title in part
        assert f"http://testserver{reverse('cases:notifications')}" in part
    assert f"/records/{b['late'].pk}/" not in mail.body
    # B's digest: its report not started, A named nowhere.
    [mail_b] = _mails_to(mailoutbox, cast.coordinator_b)
    assert _name(PROVINCE_A) not in mail_b.body + mail_b.subject + mail_b.alternatives[0][0]
    assert f"fiscal_year={current_fiscal_year()}" in mail_b.body
    assert b["item"].what in mail_b.body


def test_the_weekly_digest_is_in_the_persons_language(cast, planted, mailoutbox):
    EmailPreference.objects.create(user=cast.coordinator_a, language="en")
    kinds.send_weekly()
    [mail] = _mails_to(mailoutbox, cast.coordinator_a)
    assert mail.subject.startswith("ABE Portal: your week in")
    assert "Last name missing" in mail.body
    [thai] = _mails_to(mailoutbox, cast.coordinator_b)
    assert "Last name missing" not in thai.body
    assert not thai.subject.startswith("ABE Portal: your week in")


def test_a_digest_goes_once_per_period_even_when_the_task_runs_twice(cast, planted, mailoutbox):
    assert kinds.send_weekly(now=MONDAY).sent == 2
    assert kinds.send_weekly(now=MONDAY + 3 * DAY).sent == 0  # the same week
    assert len(mailoutbox) == 2
    assert set(DigestSent.objects.values_list("kind", "period")) == {("weekly", MONDAY.date())}
    assert kinds.send_weekly(now=MONDAY + 7 * DAY).sent == 2  # the next week


def test_who_turned_the_weekly_digest_off_gets_no_mail_and_their_pages_keep_the_items(
    cast, planted, mailoutbox, client_for
):
    case_services.set_digests(user=cast.coordinator_a, weekly_digest=False)
    run = kinds.send_weekly()
    assert run.sent == 1
    assert _mails_to(mailoutbox, cast.coordinator_a) == []
    assert len(_mails_to(mailoutbox, cast.coordinator_b)) == 1
    # The things the digest would have listed are still on the coordinator's pages.
    a = planted["a"]
    client = client_for(cast.coordinator_a)
    quality = client.get(reverse("quality:rule_records", kwargs={"code": PROVINCE_A, "rule": "last-name-missing"}))
    assert quality.status_code == 200
    assert reverse("targets:detail", kwargs={"pk": a["issue"].pk}) in quality.content.decode()
    inbox = client.get(reverse("cases:inbox")).content.decode()
    assert reverse("targets:detail", kwargs={"pk": a["late"].pk}) in inbox
    actions = client.get(reverse("meetings:actions")).content.decode()
    assert a["item"].what in actions
    assert a["meeting"].title in client.get(reverse("meetings:list")).content.decode()
    # The daily digest's choice is left as it was.
    assert EmailPreference.objects.get(user=cast.coordinator_a).daily_digest is True


def test_a_mail_server_that_fails_leaves_the_unsent_for_the_next_run(cast, planted, mailoutbox, settings):
    settings.EMAIL_BACKEND = "tests.test_cases_digest.FailingBackend"
    run = kinds.send_weekly(now=MONDAY)
    assert (run.sent, run.failed) == (0, 2)
    assert not DigestSent.objects.exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert kinds.send_weekly(now=MONDAY + DAY).sent == 2
    assert len(mailoutbox) == 2


def test_a_batch_of_weekly_digests_costs_the_same_queries_for_two_people_or_five(cast, planted):
    coordinators = [cast.coordinator_a, cast.coordinator_b]
    more = [
        make_user(f"coord{i}@example.org", role=Role.PROVINCE_COORDINATOR, province=(PROVINCE_A, PROVINCE_B)[i % 2])
        for i in range(3)
    ]
    counts = []
    for people in (coordinators, coordinators + more):
        with CaptureQueriesContext(connection) as queries:
            digests = weekly.build([u.pk for u in people], now=timezone.now())
        assert [d.empty for d in digests] == [False] * len(people)
        counts.append(len(queries))
    # people, languages, scopes (memberships, case workers' districts, supporting universities), provinces,
    # rule settings, quality counts, overdue cases, action items (+ their meetings' provinces, universities),
    # reports, upcoming meetings (+ their provinces, universities)
    assert counts == [16, 16]


@pytest.fixture
def figures(planted):
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    return run_summary(run_id=run.pk)


def test_the_monthly_digest_puts_each_ones_provinces_side_by_side(cast, figures, mailoutbox):
    run = kinds.send_monthly(now=FIRST)
    assert run is not None
    # EEF and the university team; coordinators get no monthly digest.
    assert {m.to[0] for m in mailoutbox} == {cast.eef_admin.email, cast.university_member.email}
    [eef] = _mails_to(mailoutbox, cast.eef_admin)
    [kku] = _mails_to(mailoutbox, cast.university_member)
    for mail in (eef, kku):
        html = mail.alternatives[0][0]
        assert _name(PROVINCE_A) in mail.body
        assert _name(PROVINCE_A) in html
        assert f"http://testserver{reverse('summaries:province', kwargs={'code': PROVINCE_A})}" in html
    # EEF sees every province with figures; KKU's team the provinces it supports, not B (led by UP).
    assert _name(PROVINCE_B) in eef.body
    assert _name(PROVINCE_B) not in kku.body + kku.alternatives[0][0]
    assert reverse("summaries:province", kwargs={"code": PROVINCE_B}) not in kku.body
    # Each province's data-quality score, from the same snapshot, beside its figures (text and HTML).
    from summaries.figures import quality_of, quality_text

    [snapshot_a] = [s for s in monthly.latest_snapshots() if s.province_code == PROVINCE_A]
    score = quality_text(quality_of(snapshot_a.figures))
    assert snapshot_a.figures.quality is not None
    assert score != "–"
    assert f"คะแนนคุณภาพข้อมูล {score}" in kku.body
    assert f"data-quality-score>{score}</td>" in kku.alternatives[0][0]
    assert kinds.send_monthly(now=FIRST + 5 * DAY).sent == 0  # the same month


def test_who_turned_the_monthly_digest_off_gets_none(cast, figures, mailoutbox):
    case_services.set_digests(user=cast.university_member, monthly_digest=False)
    kinds.send_monthly(now=FIRST)
    assert {m.to[0] for m in mailoutbox} == {cast.eef_admin.email}


def test_a_batch_of_monthly_digests_costs_the_same_queries_for_two_people_or_five(cast, figures):
    people = [cast.eef_admin, cast.university_member]
    more = [make_user(f"uni{i}@example.org", role=Role.UNIVERSITY_MEMBER, university="KKU") for i in range(3)]
    counts = []
    for batch in (people, people + more):
        with CaptureQueriesContext(connection) as queries:
            digests = monthly.build([u.pk for u in batch], now=timezone.now())
        assert [d.empty for d in digests] == [False] * len(batch)
        counts.append(len(queries))
    # people, languages, scopes (memberships, case workers' districts, the universities' provinces), snapshots
    assert counts == [6, 6]


def test_the_notifications_page_has_a_toggle_for_each_digest_its_reader_gets(cast, client_for):
    coordinator = client_for(cast.coordinator_a)
    page = coordinator.get(reverse("cases:notifications")).content.decode()
    assert 'data-testid="weekly-digest"' in page
    assert 'data-testid="monthly-digest"' not in page
    coordinator.post(reverse("cases:notifications"), {"action": "digest", "daily_digest": "on", "monthly_digest": "on"})
    preference = EmailPreference.objects.get(user=cast.coordinator_a)
    assert (preference.daily_digest, preference.weekly_digest, preference.monthly_digest) == (True, False, True)
    eef = client_for(cast.eef_admin)
    page = eef.get(reverse("cases:notifications")).content.decode()
    assert 'data-testid="monthly-digest"' in page
    assert 'data-testid="weekly-digest"' not in page
    eef.post(reverse("cases:notifications"), {"action": "digest", "weekly_digest": "on"})
    preference = EmailPreference.objects.get(user=cast.eef_admin)
    assert (preference.daily_digest, preference.weekly_digest, preference.monthly_digest) == (False, True, False)


def test_the_door_answers_for_one_loaded_meeting_as_it_filters_the_list(cast):
    """meetings.read_loaded (the weekly digest's per-meeting question) agrees with Meeting.objects.visible_to."""
    from accounts.access import can, prime_scopes
    from universities.models import University

    day = timezone.localdate() + 5 * DAY
    meetings = []
    for kind, provinces, universities in (
        (Kind.NATIONAL, [], []),
        (Kind.PROVINCIAL, [PROVINCE_A], []),
        (Kind.PROVINCIAL, [PROVINCE_B], []),
        (Kind.REGIONAL, [], ["KKU"]),
        (Kind.REGIONAL, [], ["UP"]),
    ):
        meeting = Meeting.objects.create(
            title=f"{kind} {provinces}{universities}", kind=kind, starts_on=day, ends_on=day
        )
        meeting.provinces.set(provinces)
        meeting.universities.set(University.objects.filter(code__in=universities))
        meetings.append(meeting)
    loaded = list(Meeting.objects.prefetch_related("provinces", "universities"))
    people = [cast[name] for name in ("eef_admin", "university_member", "coordinator_a", "coordinator_b", "viewer_a")]
    people += [cast.case_worker_a, cast.agency_user_a, cast.no_role]
    prime_scopes(people, supporting=True)
    for person in people:
        visible = set(Meeting.objects.visible_to(person).values_list("pk", flat=True))
        assert {m.pk for m in loaded if can(person, "meetings.read_loaded", m)} == visible, person


def test_the_beat_sends_the_weekly_digest_on_mondays_and_the_monthly_on_the_first(settings):
    weekly_entry = settings.CELERY_BEAT_SCHEDULE["digests-weekly"]
    monthly_entry = settings.CELERY_BEAT_SCHEDULE["digests-monthly"]
    assert weekly_entry["task"] == "digests.tasks.weekly"
    assert monthly_entry["task"] == "digests.tasks.monthly"
    assert weekly_entry["schedule"].day_of_week == {1}
    assert monthly_entry["schedule"].day_of_month == {1}


def test_an_action_item_of_a_meeting_the_coordinator_may_not_see_is_not_listed(cast, planted, mailoutbox):
    # Owned by A's province, decided at B's provincial meeting, which A's coordinator does not see.
    hidden = ActionItem.objects.create(
        meeting=planted["b"]["meeting"], what="งานที่ไม่ควรปรากฏ", owner_province_id=PROVINCE_A, due_date=None
    )
    kinds.send_weekly()
    [mail] = _mails_to(mailoutbox, cast.coordinator_a)
    assert hidden.what not in mail.body
    assert planted["a"]["item"].what in mail.body


def test_the_retention_job_keeps_a_year_of_sent_rows_and_no_more(cast):
    from digests import retention

    now = timezone.now()
    today = timezone.localdate(now)
    old = DigestSent.objects.create(
        user=cast.coordinator_a,
        kind="weekly",
        period=today - datetime.timedelta(days=retention.KEEP_DAYS + 7),
        sent_at=now,
    )
    kept = DigestSent.objects.create(
        user=cast.coordinator_a,
        kind="monthly",
        period=today - datetime.timedelta(days=retention.KEEP_DAYS - 30),
        sent_at=now,
    )
    assert retention.prune_sent(now) == 1
    assert list(DigestSent.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not DigestSent.objects.filter(pk=old.pk).exists()
