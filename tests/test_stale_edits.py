"""Lost updates (issue 11): a write made from what someone saw earlier is refused, never applied.

Two people open the same edit form; the first saves; the second saves from the stale form. The
second is refused with a message (Thai first) and a table of what changed since their form was
opened (field, the value they saw, the value now), nothing of theirs is written, the first's change
is kept, and the form comes back with the current values under the second's own change, so that
saving it again keeps both. Workflow buttons carry the version too: a double click acts once.
The same for Django admin, the API (ETag / If-Match: 412, 428), and every writer bumps the version
(core/versioning.py, core/stale_edits.py).

Forms are read from the pages as a browser sends them (hidden fields included), so the templates
are tested too.
"""

import datetime
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone, translation

from conftest import PROVINCE_A, make_user
from provinces.models import Province
from targets.models import TargetRecord

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

pytestmark = pytest.mark.django_db

THAI_MESSAGE = "ระบบยังไม่ได้บันทึกการแก้ไขของคุณ"  # part of the refusal's Thai message


@pytest.fixture(autouse=True)
def _every_period_may_be_submitted(monkeypatch):
    """Reports are submitted from their period's last month on (reports.services.today): pinned to the
    last day of this fiscal year, so that submitting this year's Q1 here never depends on the calendar."""
    from core.buddhist_dates import current_fiscal_year
    from core.periods import period_bounds
    from reports import services

    last_day = period_bounds(current_fiscal_year(), "Q4")[1]
    monkeypatch.setattr(services, "today", lambda: last_day)


# --- reading a page's forms as a browser would send them -------------------------------------------


class _Forms(HTMLParser):
    """Every <form> of a page: its attributes and the (name, value) pairs a browser sends (no button)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = self._textarea = self._select = self._option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"attrs": a, "fields": []}
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input":
            kind, name = a.get("type", "text"), a.get("name")
            if not name or kind in ("submit", "button", "file", "reset", "image"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["fields"].append((name, a.get("value") or "on"))
                return
            self._form["fields"].append((name, a.get("value") or ""))
        elif tag == "textarea":
            self._textarea = [a.get("name"), ""]
        elif tag == "select":
            self._select = {"name": a.get("name"), "multiple": "multiple" in a, "chosen": [], "first": None}
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data
        elif self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self._form["fields"].append((name, text.removeprefix("\n")))  # as browsers read it
            self._textarea = None
        elif tag == "option" and self._option is not None:
            value, selected, text = self._option
            value = text.strip() if value is None else value
            if self._select["first"] is None:
                self._select["first"] = value
            if selected:
                self._select["chosen"].append(value)
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"]
            if not chosen and not self._select["multiple"] and self._select["first"] is not None:
                chosen = [self._select["first"]]
            self._form["fields"] += [(self._select["name"], value) for value in chosen]
            self._select = None
        elif tag == "form":
            self._form = None


def page_form(response, *, has: str = "seen_version", where=None) -> dict:
    """The POST data of the form of `response` that has a field named `has` (and for which
    `where(attrs, data)` holds), as a browser sends it: {name: value or [values]}."""
    reader = _Forms()
    reader.feed(response.content.decode())
    found = []
    for form in reader.forms:
        data: dict = {}
        for name, value in form["fields"]:
            if name in data:
                data[name] = [*data[name], value] if isinstance(data[name], list) else [data[name], value]
            else:
                data[name] = value
        if has in data and (where is None or where(form["attrs"], data)):
            found.append(data)
    assert len(found) == 1, f"{len(found)} forms with {has} on the page"
    data = found[0]
    data.pop("csrfmiddlewaretoken", None)
    return data


def stale_rows(response) -> list[tuple[str, str, str]]:
    """(label, seen, now) of the page's table of what changed."""
    changes = response.context["stale"].changes
    return [(change.label, change.seen, change.now) for change in changes]


# --- the cast of this file ---------------------------------------------------------------------------


@pytest.fixture
def second_coordinator(cast):
    """Another coordinator of province A: the second person at the same record."""
    from accounts.models import Role

    return make_user("coord.a2@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A, staff=True)


@pytest.fixture
def record(cast):
    """A record of province A, its school and guardian known."""
    return _record_make(cast)


# --- the record form: the scenario ------------------------------------------------------------


def test_a_stale_record_form_is_refused_and_shows_what_changed(cast, client_for, second_coordinator, record):
    url = f"/records/{record.pk}/edit/"
    first, second = client_for(cast.coordinator_a), client_for(second_coordinator)
    first_form = page_form(first.get(url))
    second_form = page_form(second.get(url))

    assert first.post(url, {**first_form, "school": "โรงเรียนบ้านใหม่"}).status_code == 302
    refused = second.post(url, {**second_form, "guardian_name": "นายสมศักดิ์ ใจดี"})

    assert refused.status_code == 409
    record.refresh_from_db()
    # The first's change kept, nothing of the second's written.
    assert (record.school, record.guardian_name) == ("โรงเรียนบ้านใหม่", "นางมาลี ใจดี")
    assert THAI_MESSAGE in refused.content.decode()
    assert stale_rows(refused) == [("สถานศึกษา", "โรงเรียนบ้านเก่า", "โรงเรียนบ้านใหม่")]
    # The form again: the current school, the second's guardian; saving it keeps both.
    again = page_form(refused)
    assert (again["school"], again["guardian_name"]) == ("โรงเรียนบ้านใหม่", "นายสมศักดิ์ ใจดี")
    assert second.post(url, again).status_code == 302
    record.refresh_from_db()
    assert (record.school, record.guardian_name) == ("โรงเรียนบ้านใหม่", "นายสมศักดิ์ ใจดี")
    # A fresh form works as ever.
    assert first.post(url, {**page_form(first.get(url)), "notes": "เยี่ยมบ้านแล้ว"}).status_code == 302
    record.refresh_from_db()
    assert (record.notes, record.version) == ("เยี่ยมบ้านแล้ว", 4)


# --- every edit form: the same scenario ----------------------------------------------------------------


def _thai(text) -> str:
    """A message in Thai: an English msgid translated, or a lazy text rendered."""
    with translation.override("th"):
        return translation.gettext(text) if isinstance(text, str) else str(text)


def _report(cast):
    from core.buddhist_dates import current_fiscal_year
    from reports import services

    report = services.create_report(
        user=cast.coordinator_a, province=PROVINCE_A, fiscal_year=current_fiscal_year(), period="Q1"
    )
    return services.update_report(
        report=report, user=cast.coordinator_a, version=report.version, situation="เดิม", progress="ยังไม่มี"
    )


def _meeting(cast):
    from meetings import services
    from meetings.models import Kind

    fields = {
        "title": "ประชุมคณะทำงานจังหวัดขอนแก่น",
        "kind": Kind.PROVINCIAL,
        "starts_on": datetime.date(2026, 11, 20),
        "ends_on": datetime.date(2026, 11, 20),
        "venue": "ศาลากลางจังหวัด",
        "description": "วาระปกติ",
    }
    return services.save_meeting(user=cast.coordinator_a, fields=fields, provinces=[PROVINCE_A])


def _plan(cast):
    from core.buddhist_dates import current_fiscal_year
    from portal.plans import save_plan

    province = Province.objects.get(code=PROVINCE_A)
    return save_plan(
        user=cast.coordinator_a, province=province, fiscal_year=current_fiscal_year(), strategy="เดิม", goals={},
        version=0,
    )  # fmt: skip


def _goal_field() -> str:
    from portal.forms import goal_field_name
    from targets.models import Category, Outcome

    category = Category.objects.get(code="out-of-school")
    outcome = Outcome.objects.get(code="returned-to-school")
    return goal_field_name(category.pk, outcome.pk)


def _goal_of(plan) -> int | None:
    goal = plan.goals.filter(category__code="out-of-school", outcome__code="returned-to-school").first()
    return goal.target if goal else None


@dataclass
class EditCase:
    """One edit form: how to make its object, its URL, what each of the two people changes, how to
    read the two fields back, and the label the table shows for the first's change."""

    name: str
    make: object
    url: object
    first: tuple  # (field, value)
    second: tuple
    read: object  # obj -> (first's field, second's field) as stored
    label: object  # () -> the Thai label of the first's field


def _record_make(cast):
    from tests.test_records import make_record

    return make_record(cast.coordinator_a, 1, first_name="สมชาย", school="โรงเรียนบ้านเก่า", guardian_name="นางมาลี ใจดี")


EDIT_CASES = [
    EditCase(
        "record",
        _record_make,
        lambda r: f"/records/{r.pk}/edit/",
        ("school", "โรงเรียนบ้านใหม่"),
        ("guardian_name", "นายสมศักดิ์ ใจดี"),
        lambda r: (r.school, r.guardian_name),
        lambda: _thai(TargetRecord._meta.get_field("school").verbose_name),
    ),
    EditCase(
        "report",
        _report,
        lambda r: f"/reports/{r.pk}/edit/",
        ("situation", "สถานการณ์ล่าสุด"),
        ("progress", "ความก้าวหน้าไตรมาสแรก"),
        lambda r: (r.situation, r.progress),
        lambda: "ภาพรวมสถานการณ์",
    ),
    EditCase(
        "meeting",
        _meeting,
        lambda m: f"/meetings/{m.pk}/edit/",
        ("venue", "ห้องประชุม 2 ศาลากลาง"),
        ("description", "เพิ่มวาระติดตามเด็กนอกระบบ"),
        lambda m: (m.venue, m.description),
        lambda: _thai(_meeting_field_label("venue")),
    ),
    EditCase(
        "plan",
        _plan,
        lambda p: f"/provinces/{PROVINCE_A}/plans/{p.fiscal_year}/",
        ("strategy", "ยุทธศาสตร์ใหม่"),
        (None, "120"),  # a goal cell: its field's name is known once the categories are
        lambda p: (p.strategy, str(_goal_of(p))),
        lambda: "ยุทธศาสตร์",
    ),
]


def _meeting_field_label(name: str) -> "StrOrPromise":
    from django.db import models
    from django.utils.text import capfirst

    from meetings.models import Meeting

    field = Meeting._meta.get_field(name)
    assert isinstance(field, models.Field)
    return capfirst(field.verbose_name)


def _stored(case, obj) -> tuple:
    obj.refresh_from_db()
    return case.read(obj)


@pytest.mark.parametrize("case", EDIT_CASES, ids=lambda case: case.name)
def test_each_edit_form_refuses_a_stale_save_and_keeps_the_first(case, cast, client_for, second_coordinator):
    obj = case.make(cast)
    url = case.url(obj)
    first_field, first_value = case.first
    second_field, second_value = case.second
    second_field = second_field or _goal_field()
    first, second = client_for(cast.coordinator_a), client_for(second_coordinator)
    first_form, second_form = page_form(first.get(url)), page_form(second.get(url))
    assert first_form["seen_version"] == str(obj.version)

    assert first.post(url, {**first_form, first_field: first_value}).status_code == 302
    after_first = _stored(case, obj)
    refused = second.post(url, {**second_form, second_field: second_value})

    assert refused.status_code == 409
    assert _stored(case, obj) == after_first  # the first's change kept, nothing of the second's written
    assert after_first[0] == first_value
    assert after_first[1] != second_value
    assert THAI_MESSAGE in refused.content.decode()
    assert (case.label(), first_form[first_field], first_value) in stale_rows(refused)
    # The form again: the first's value under the second's own change; saving it keeps both.
    again = page_form(refused)
    assert (again[first_field], again[second_field]) == (first_value, second_value)
    assert again["seen_version"] == str(obj.version)
    assert second.post(url, again).status_code == 302
    assert _stored(case, obj) == (first_value, second_value)
    # And a form opened now saves as ever.
    fresh = page_form(first.get(url))
    assert first.post(url, fresh).status_code == 302


def test_where_both_changed_the_same_field_the_form_keeps_yours_and_says_so(
    cast, client_for, second_coordinator, record
):
    url = f"/records/{record.pk}/edit/"
    first, second = client_for(cast.coordinator_a), client_for(second_coordinator)
    first_form, second_form = page_form(first.get(url)), page_form(second.get(url))
    assert first.post(url, {**first_form, "school": "โรงเรียน ก"}).status_code == 302
    refused = second.post(url, {**second_form, "school": "โรงเรียน ข"})
    assert refused.status_code == 409
    [change] = refused.context["stale"].changes
    assert (change.seen, change.now, change.yours) == ("โรงเรียนบ้านเก่า", "โรงเรียน ก", True)
    assert "คุณแก้ไขรายการนี้ด้วย" in refused.content.decode()
    assert page_form(refused)["school"] == "โรงเรียน ข"  # theirs, to save knowingly or not
    record.refresh_from_db()
    assert record.school == "โรงเรียน ก"


def test_a_new_plan_written_meanwhile_is_not_overwritten(cast, client_for, second_coordinator):
    from core.buddhist_dates import current_fiscal_year
    from provinces.models import ProvincialPlan

    url = f"/provinces/{PROVINCE_A}/plans/{current_fiscal_year()}/"
    first, second = client_for(cast.coordinator_a), client_for(second_coordinator)
    first_form, second_form = page_form(first.get(url)), page_form(second.get(url))
    assert second_form["seen_version"] == "0"  # no plan yet
    assert first.post(url, {**first_form, "strategy": "แผนของคนแรก"}).status_code == 302
    refused = second.post(url, {**second_form, "strategy": "แผนของคนที่สอง"})
    assert refused.status_code == 409
    plan = ProvincialPlan.objects.get(province_id=PROVINCE_A, fiscal_year=current_fiscal_year())
    assert (plan.strategy, plan.version) == ("แผนของคนแรก", 1)


def test_a_record_moved_meanwhile_by_eef_shows_the_province_and_masked_identifier(cast, client_for, record):
    from targets import record_services
    from tests.builders import national_id

    url = f"/records/{record.pk}/edit/"
    eef = client_for(cast.eef_admin)
    form = page_form(eef.get(url))
    new_identifier = national_id(77)
    record_services.update_record(
        record=record, user=cast.eef_admin, values={}, version=record.version, identifier=new_identifier,
        identifier_kind="national_id",
    )  # fmt: skip
    refused = eef.post(url, {**form, "notes": "x"})
    assert refused.status_code == 409
    rows = stale_rows(refused)
    assert ("เลขประจำตัว", "x-xxxx-xxxxx-01-" + national_id(1)[-1], "x-xxxx-xxxxx-77-" + new_identifier[-1]) in rows
    page = refused.content.decode()
    assert national_id(1) not in page  # masked, as the record pages do
    assert new_identifier not in page


def test_a_form_without_a_version_is_refused_and_comes_back_with_one(cast, client_for, record):
    url = f"/records/{record.pk}/edit/"
    client = client_for(cast.coordinator_a)
    form = page_form(client.get(url))
    blind = {k: v for k, v in form.items() if k not in ("seen_version", "seen_values")}
    refused = client.post(url, {**blind, "school": "ไม่ระบุฉบับ"})
    assert refused.status_code == 409
    assert refused.context["stale"].known is False
    record.refresh_from_db()
    assert record.school == "โรงเรียนบ้านเก่า"
    assert client.post(url, page_form(refused)).status_code == 302  # now with a version: a knowing save
    record.refresh_from_db()
    assert record.school == "ไม่ระบุฉบับ"


def test_the_refusal_reads_in_english_for_english_readers(cast, client_for, second_coordinator, record):
    url = f"/records/{record.pk}/edit/"
    first, second = client_for(cast.coordinator_a), client_for(second_coordinator)
    second.cookies["django_language"] = "en"
    first_form, second_form = page_form(first.get(url)), page_form(second.get(url))
    first.post(url, {**first_form, "school": "New school"})
    with translation.override("en"):
        refused = second.post(url, {**second_form, "notes": "x"})
    text = refused.content.decode()
    assert "someone else changed this after you opened the form" in text
    assert stale_rows(refused) == [("school", "โรงเรียนบ้านเก่า", "New school")]


# --- workflow buttons: a double click acts once, a stale page not at all ---------------------------------


def _transition(client, report, action: str, form: dict | None = None, **extra):
    """Press a step's button on the report's page (the form as shown, or `form` as shown earlier)."""
    form = form if form is not None else page_form(client.get(f"/reports/{report.pk}/"))
    return client.post(f"/reports/{report.pk}/transition/", {**form, "action": action, **extra})


def test_a_double_click_on_submit_submits_once(cast, client_for):
    from reports.models import ReportEvent

    report = _report(cast)
    client = client_for(cast.coordinator_a)
    shown = page_form(client.get(f"/reports/{report.pk}/"))
    assert _transition(client, report, "submit", shown).status_code == 302
    again = _transition(client, report, "submit", shown)
    assert again.status_code == 409
    assert "ระบบยังไม่ได้ดำเนินการ" in again.content.decode()
    assert ("สถานะ", "ฉบับร่าง", "ส่งแล้ว") in stale_rows(again)
    assert ReportEvent.objects.filter(report=report).count() == 1
    report.refresh_from_db()
    assert report.status == "submitted"


def test_a_review_from_a_page_opened_before_the_report_changed_is_refused(cast, client_for):
    from reports import services

    report = _report(cast)
    services.transition(report=report, user=cast.coordinator_a, action="submit", version=report.version)
    reviewer = client_for(cast.university_member)  # KKU leads province A
    shown = page_form(reviewer.get(f"/reports/{report.pk}/"))
    # Meanwhile EEF sends it back, the coordinator rewrites a section and submits again.
    report.refresh_from_db()
    report = services.transition(report=report, user=cast.eef_admin, action="return", version=report.version,
                                 comment="ขอข้อมูลเพิ่ม")  # fmt: skip
    report = services.update_report(report=report, user=cast.coordinator_a, version=report.version, progress="ใหม่")
    services.transition(report=report, user=cast.coordinator_a, action="submit", version=report.version)

    refused = _transition(reviewer, report, "review", shown, comment="ดีมาก")
    assert refused.status_code == 409
    assert (_thai("Progress"), "ยังไม่มี", "ใหม่") in stale_rows(refused)
    assert page_form(refused)["comment"] == "ดีมาก"  # the comment typed is kept for the next try
    report.refresh_from_db()
    assert report.status == "submitted"
    assert _transition(reviewer, report, "review", comment="ดีมาก").status_code == 302  # from the page as it is now


def test_a_double_click_on_a_status_change_changes_it_once(cast, client_for, record):
    from targets.models import Outcome, StatusChange

    client = client_for(cast.coordinator_a)
    shown = page_form(client.get(f"/records/{record.pk}/"), where=lambda attrs, data: "status" in data)
    status = str(Outcome.objects.get(code="returned-to-school").pk)
    assert client.post(f"/records/{record.pk}/status/", {**shown, "status": status}).status_code == 302
    again = client.post(f"/records/{record.pk}/status/", {**shown, "status": status})
    assert again.status_code == 409
    assert StatusChange.objects.filter(record=record).count() == 1
    assert (_thai(TargetRecord._meta.get_field("status").verbose_name), "อยู่ระหว่างติดตาม", "กลับเข้าสู่ระบบการศึกษา") in [
        (label, seen, now) for label, seen, now in stale_rows(again)
    ]


@pytest.fixture
def capacity_request(cast):
    """Province A's request to KKU, open."""
    return _capacity_request(cast)


def _step(client, request_obj, action: str, form: dict | None = None, **extra):
    url = f"/universities/requests/{request_obj.pk}/"
    if form is None:
        form = page_form(client.get(url), where=lambda attrs, data: data.get("action") == action)
    return client.post(f"{url}action/", {**form, **extra})


def test_a_double_click_on_accept_accepts_once(cast, client_for, capacity_request):
    client = client_for(cast.university_member)
    shown = page_form(
        client.get(f"/universities/requests/{capacity_request.pk}/"), where=lambda a, d: d.get("action") == "accept"
    )
    assert _step(client, capacity_request, "accept", shown).status_code == 302
    again = _step(client, capacity_request, "accept", shown)
    assert again.status_code == 409
    capacity_request.refresh_from_db()
    assert (capacity_request.status, capacity_request.version) == ("accepted", 2)


def test_a_schedule_from_a_stale_page_is_refused_and_shows_the_new_date(cast, client_for, capacity_request):
    from universities import services

    capacity_request = services.accept_request(request_obj=capacity_request, user=cast.university_member)
    client = client_for(cast.university_member)
    shown = page_form(
        client.get(f"/universities/requests/{capacity_request.pk}/"), where=lambda a, d: d.get("action") == "schedule"
    )
    day = timezone.localdate() + datetime.timedelta(days=10)
    services.schedule_request(
        request_obj=capacity_request, user=cast.eef_admin, scheduled_for=day, version=capacity_request.version
    )
    refused = _step(client, capacity_request, "schedule", shown, scheduled_for=str(day + datetime.timedelta(days=5)))
    assert refused.status_code == 409
    labels = [label for label, _seen, _now in stale_rows(refused)]
    assert _thai("scheduled for") in labels
    capacity_request.refresh_from_db()
    assert capacity_request.scheduled_for == day


def test_a_meeting_changed_since_the_delete_page_opened_is_not_deleted(cast, client_for):
    from meetings import services
    from meetings.models import Meeting

    meeting = _meeting(cast)
    client = client_for(cast.coordinator_a)
    shown = page_form(client.get(f"/meetings/{meeting.pk}/delete/"))
    services.save_meeting(
        user=cast.coordinator_a, meeting=meeting, version=meeting.version, provinces=[PROVINCE_A],
        fields={"title": "ประชุมเลื่อน", "kind": meeting.kind, "starts_on": meeting.starts_on, "ends_on": meeting.ends_on},
    )  # fmt: skip
    refused = client.post(f"/meetings/{meeting.pk}/delete/", shown)
    assert refused.status_code == 409
    assert Meeting.objects.filter(pk=meeting.pk).exists()
    assert client.post(f"/meetings/{meeting.pk}/delete/", page_form(refused)).status_code == 302
    assert not Meeting.objects.filter(pk=meeting.pk).exists()


# --- the API: ETag, If-Match, 412 and 428 ---------------------------------------------------------------

API = "/api/v1"


@pytest.fixture
def api_record(cast):
    from tests.api_support import make_records

    [made] = make_records(PROVINCE_A, 1)
    return made


@pytest.fixture
def partner(programme):
    from tests.api_support import key_client, make_key

    return key_client(make_key(provinces=[PROVINCE_A], name="ระบบของจังหวัด")[1])


def _patch(client, record, body: dict, if_match: str | None = None, **params):
    headers = {"If-Match": if_match} if if_match is not None else {}
    query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
    return client.patch(f"{API}/records/{record.pk}/{query}", body, content_type="application/json", headers=headers)


def test_the_api_answers_a_record_with_its_version_as_etag(partner, api_record):
    response = partner.get(f"{API}/records/{api_record.pk}/")
    assert response["ETag"] == '"1"'
    assert response.json()["version"] == 1
    assert partner.get(f"{API}/records/").json()["results"][0]["version"] == 1


def test_a_stale_api_patch_is_refused_with_412_and_what_changed(cast, partner, api_record):
    """The issue's scenario through the API: two clients read version 1; the first changes the school;
    the second's change of the guardian, made from version 1, is refused and writes nothing."""
    from audit.models import AccessLog

    etag = partner.get(f"{API}/records/{api_record.pk}/")["ETag"]
    first = _patch(partner, api_record, {"school": "โรงเรียนบ้านใหม่"}, etag)
    assert (first.status_code, first["ETag"]) == (200, '"2"')
    second = _patch(partner, api_record, {"guardian_name": "นายสมศักดิ์"}, etag)

    assert second.status_code == 412
    error = second.json()["error"]
    assert error["code"] == "precondition_failed"
    assert "ถูกแก้ไขหลังจากที่คุณอ่าน" in error["message"]  # Thai unless ?lang=en
    assert error["details"] == {"version": 2, "changed": [{"field": "school", "seen": "", "now": "โรงเรียนบ้านใหม่"}]}
    api_record.refresh_from_db()
    assert (api_record.school, api_record.guardian_name, api_record.version) == ("โรงเรียนบ้านใหม่", "", 2)
    assert AccessLog.objects.filter(object_id=str(api_record.pk), description="API record (refused write)").exists()
    # From the version now: applied.
    again = _patch(partner, api_record, {"guardian_name": "นายสมศักดิ์"}, first["ETag"])
    assert (again.status_code, again["ETag"], again.json()["record"]["version"]) == (200, '"3"', 3)
    api_record.refresh_from_db()
    assert (api_record.school, api_record.guardian_name) == ("โรงเรียนบ้านใหม่", "นายสมศักดิ์")


def test_a_patch_after_a_change_in_the_portal_is_refused_too(cast, partner, api_record):
    from targets import record_services

    etag = partner.get(f"{API}/records/{api_record.pk}/")["ETag"]
    record_services.update_record(
        record=api_record, user=cast.coordinator_a, values={"school": "จากหน้าเว็บ"}, version=api_record.version
    )
    response = _patch(partner, api_record, {"school": "จาก API"}, etag, lang="en")
    assert response.status_code == 412
    assert "changed after you read it" in response.json()["error"]["message"]
    api_record.refresh_from_db()
    assert api_record.school == "จากหน้าเว็บ"


@pytest.mark.parametrize(
    ("if_match", "body_version", "expected"),
    [
        (None, None, 428),  # nothing says which version: refused, nothing written
        (None, 1, 200),  # the version in the body instead of If-Match
        (None, 7, 412),
        ('"1"', None, 200),
        ('"7", "1"', None, 200),  # one of several
        ('W/"1"', None, 412),  # a weak ETag never matches (strong comparison)
        ("rubbish", None, 412),
        ("*", None, 200),  # any version
        ('"1"', 7, 412),  # header and body disagree
    ],
)
def test_if_match_and_version_in_the_body(partner, api_record, if_match, body_version, expected):
    body = {"notes": "ติดตามแล้ว"}
    if body_version is not None:
        body["version"] = body_version
    response = _patch(partner, api_record, body, if_match)
    assert response.status_code == expected, response.content
    api_record.refresh_from_db()
    assert api_record.notes == ("ติดตามแล้ว" if expected == 200 else "")
    if expected == 428:
        assert response.json()["error"]["code"] == "precondition_required"


def test_a_version_that_is_not_a_whole_number_is_a_400(partner, api_record):
    response = _patch(partner, api_record, {"notes": "x", "version": "1"}, None)
    assert (response.status_code, list(response.json()["error"]["details"])) == (400, ["version"])


def test_without_the_setting_a_blind_patch_is_applied_and_logged(partner, api_record, settings, caplog):
    settings.API_REQUIRE_IF_MATCH = False
    assert _patch(partner, api_record, {"notes": "ไม่ระบุฉบับ"}).status_code == 200
    assert "without If-Match" in caplog.text


def test_a_posted_or_bulk_record_with_a_stale_version_is_refused(partner, api_record):
    from tests.builders import national_id

    identifier = api_record.identifier
    item = {"identifier": identifier, "first_name": api_record.first_name, "last_name": api_record.last_name,
            "category": "out-of-school", "school": "ก", "version": 1}  # fmt: skip
    assert partner.post(f"{API}/records/", item, content_type="application/json").status_code == 200  # now 2
    stale = partner.post(f"{API}/records/", {**item, "school": "ข"}, content_type="application/json")
    assert stale.status_code == 412
    assert stale.json()["error"]["details"]["version"] == 2
    new = {**item, "identifier": national_id(99_999), "version": 1}  # a version for a record that is not there
    bulk = partner.post(
        f"{API}/records/bulk/", {"records": [{**item, "school": "ค"}, new]}, content_type="application/json"
    ).json()
    assert bulk["summary"] == {"created": 0, "updated": 0, "unchanged": 0, "rejected": 2}
    assert [e["field"] for r in bulk["results"] for e in r["errors"]] == ["version", "version"]
    api_record.refresh_from_db()
    assert (api_record.school, api_record.version) == ("ก", 2)
    # Without a version, a POST is an upsert like a spreadsheet row, as before.
    blind = {k: v for k, v in item.items() if k != "version"}
    assert partner.post(f"{API}/records/", {**blind, "school": "ง"}, content_type="application/json").status_code == 200


@pytest.mark.parametrize("path", ["plans", "progress-reports", "meetings", "capacity-requests"])
def test_the_other_edited_objects_answer_with_their_version_as_etag(cast, client_for, capacity_request, path):
    objects = {
        "plans": _plan(cast),
        "progress-reports": _report(cast),
        "meetings": _meeting(cast),
        "capacity-requests": capacity_request,
    }
    obj = objects[path]
    response = client_for(cast.eef_admin).get(f"{API}/{path}/{obj.pk}/")
    assert response.status_code == 200
    assert response["ETag"] == f'"{obj.version}"'
    assert response.json()["version"] == obj.version


# --- Django admin ----------------------------------------------------------------------------------------


@pytest.fixture
def second_eef_admin(cast):
    from accounts.models import Role

    return make_user("eef2@example.org", role=Role.EEF_ADMIN, staff=True)


ADMIN_CASES = [
    # (name, object, admin URL, first (field, value), second (field, value), read back, who edits)
    ("record", _record_make, "targets/targetrecord", ("school", "ใหม่"), ("guardian_name", "ใหม่"),
     lambda r: (r.school, r.guardian_name), "coordinators"),
    ("report", _report, "reports/progressreport", ("situation", "ใหม่"), ("progress", "ใหม่"),
     lambda r: (r.situation, r.progress), "coordinators"),
    ("meeting", _meeting, "meetings/meeting", ("venue", "ใหม่"), ("description", "ใหม่"),
     lambda m: (m.venue, m.description), "coordinators"),
    ("plan", _plan, "provinces/provincialplan", ("strategy", "ใหม่"), ("goals-0-target", "5"),
     lambda p: (p.strategy, str(_goal_of(p))), "coordinators"),
    ("capacity request", lambda cast: _capacity_request(cast), "universities/capacityrequest", ("topic", "ใหม่"),
     ("need", "ใหม่"), lambda c: (c.topic, c.need), "eef"),
]  # fmt: skip


def _capacity_request(cast):
    from universities import services

    return services.file_request(
        user=cast.coordinator_a,
        province=Province.objects.get(code=PROVINCE_A),
        topic="การใช้ข้อมูลเพื่อวางแผน",
        need="อบรมเจ้าหน้าที่ 20 คน",
        desired_date=timezone.localdate() + datetime.timedelta(days=30),
    )


def _admin_goal_row() -> dict:
    from targets.models import Category, Outcome

    return {
        "goals-0-category": str(Category.objects.get(code="out-of-school").pk),
        "goals-0-outcome": str(Outcome.objects.get(code="returned-to-school").pk),
    }


@pytest.mark.parametrize("case", ADMIN_CASES, ids=lambda case: case[0])
def test_django_admin_refuses_a_stale_change(case, cast, client_for, second_coordinator, second_eef_admin):
    name, make, path, (first_field, first_value), (second_field, second_value), read, who = case
    obj = make(cast)
    url = f"/admin/{path}/{obj.pk}/change/"
    users = (cast.coordinator_a, second_coordinator) if who == "coordinators" else (cast.eef_admin, second_eef_admin)
    first, second = (client_for(user) for user in users)
    first_form, second_form = page_form(first.get(url)), page_form(second.get(url))
    extra = _admin_goal_row() if name == "plan" else {}

    assert first.post(url, {**first_form, first_field: first_value}).status_code == 302
    refused = second.post(url, {**second_form, **extra, second_field: second_value})

    assert refused.status_code == 200  # admin shows its form again, with the error
    assert THAI_MESSAGE in refused.content.decode()
    obj.refresh_from_db()
    assert read(obj)[0] == first_value
    assert read(obj)[1] != second_value
    again = page_form(refused)
    assert again[first_field] == first_value  # the current value, under the second's own change
    assert second.post(url, {**again, **extra, second_field: second_value}).status_code == 302
    obj.refresh_from_db()
    assert read(obj) == (first_value, second_value)


# --- every writer makes a new version ----------------------------------------------------------------------


def test_the_upload_makes_a_new_version_of_each_changed_record_and_version_one_of_new_ones(cast):
    from tests.builders import national_id, upload_and_apply, xlsx

    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "สถานศึกษา"]
    rows = [
        [national_id(1), "สมชาย", "ใจดี", "out-of-school", "เดิม"],
        [national_id(2), "สมหญิง", "ใจดี", "out-of-school", ""],
    ]
    upload_and_apply(cast.coordinator_a, xlsx(header, rows))  # COPY: the column's database default
    assert sorted(TargetRecord.objects.values_list("version", flat=True)) == [1, 1]
    rows[0][4] = "ใหม่"
    upload_and_apply(cast.coordinator_a, xlsx(header, rows))  # UPDATE ... FROM: the changed one only
    versions = dict(TargetRecord.objects.values_list("identifier", "version"))
    assert versions == {national_id(1): 2, national_id(2): 1}


def test_the_orm_writer_of_the_embedded_database_makes_a_new_version_too(cast, record):
    from targets.upload.pipeline import _OrmWriter

    writer = _OrmWriter(type("Batch", (), {"province_id": PROVINCE_A})(), cast.coordinator_a.pk, ["school"], None)
    writer.write([], [(record.pk, ("ใหม่",))])
    record.refresh_from_db()
    assert (record.school, record.version) == ("ใหม่", 2)


def test_each_service_write_is_one_new_version(cast, record, capacity_request):
    from meetings import services as meetings
    from portal.plans import save_plan
    from reports import services as reports
    from targets import record_services
    from targets.models import Outcome
    from universities import services as universities

    record_services.change_status(
        record=record, user=cast.coordinator_a, status=Outcome.objects.get(code="referred"), version=1
    )
    record.refresh_from_db()
    assert record.version == 2

    report = _report(cast)  # created, then its sections written
    assert report.version == 2
    report = reports.transition(report=report, user=cast.coordinator_a, action="submit", version=2)
    assert report.version == 3

    plan = _plan(cast)
    goals = {(record.category_id, record.status_id): 10}
    plan = save_plan(user=cast.coordinator_a, province=plan.province, fiscal_year=plan.fiscal_year, strategy="ใหม่",
                     goals=goals, version=plan.version)  # fmt: skip
    assert plan.version == 2  # strategy and goals: one new version

    meeting = _meeting(cast)
    meeting = meetings.save_meeting(
        user=cast.coordinator_a, meeting=meeting, version=1, provinces=[PROVINCE_A],
        fields={"title": "เลื่อน", "kind": meeting.kind, "starts_on": meeting.starts_on, "ends_on": meeting.ends_on},
    )  # fmt: skip
    assert meeting.version == 2

    moved = universities.accept_request(request_obj=capacity_request, user=cast.university_member, version=1)
    assert moved.version == 2


def test_a_save_that_fails_leaves_the_version_as_stored(cast, record):
    from django.db import IntegrityError, transaction

    record.sex = "X"  # refused by the table's check constraint
    with pytest.raises(IntegrityError), transaction.atomic():
        record.save(update_fields=["sex"])
    assert record.version == 1


# --- the example client (docs/api_client.py) ----------------------------------------------------------------


def test_the_example_client_changes_a_record_from_the_version_it_read(cast, api_record, monkeypatch):
    """docs/api_client.py's `change`: GET for the ETag, then PATCH with If-Match; a change made in
    between is reported (412 with what changed), not undone. Its HTTP goes to the test server."""
    import importlib.util
    import io
    import urllib.error
    import urllib.request
    from pathlib import Path

    from django.test import Client

    from targets import record_services
    from tests.api_support import make_key

    spec = importlib.util.spec_from_file_location("api_client", Path(__file__).parent.parent / "docs" / "api_client.py")
    api_client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(api_client)
    server = Client()

    class Answer(io.BytesIO):
        def __init__(self, response):
            super().__init__(response.content)
            self.headers = response.headers

    def urlopen(request, timeout):
        url = urllib.parse.urlsplit(request.full_url)
        headers = {name.title(): value for name, value in request.header_items() if name.lower() != "content-type"}
        response = server.generic(
            request.get_method(), f"{url.path}?{url.query}", request.data or b"", "application/json", headers=headers
        )
        if response.status_code >= 400:
            raise urllib.error.HTTPError(request.full_url, response.status_code, "", response.headers, Answer(response))
        return Answer(response)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    client = api_client.Client("http://testserver/api/v1", make_key(provinces=[PROVINCE_A])[1])
    assert client.change(api_record.pk, {"notes": "โทรติดตามแล้ว"})["record"]["version"] == 2
    etag = client.get(f"records/{api_record.pk}/")["_etag"]
    api_record.refresh_from_db()
    record_services.update_record(record=api_record, user=cast.coordinator_a, values={"school": "ใหม่"}, version=2)
    with pytest.raises(api_client.ApiError) as refused:
        client.change(api_record.pk, {"school": "เก่า"}, etag=etag)
    assert refused.value.status == 412
    assert refused.value.body["error"]["details"]["changed"] == [{"field": "school", "seen": "", "now": "ใหม่"}]


# --- in the real browser ----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_the_browser_a_stale_save_shows_what_changed_and_saving_again_keeps_both(live_server, page, screenshot_dir):
    """A coordinator edits a record while someone else saves it: the page says so, in Thai, with the table of what
    changed, the form holds the other's school and the coordinator's guardian, and saving again keeps both.
    Screenshot: record-stale-edit.png in SCREENSHOT_DIR."""
    from playwright.sync_api import expect

    from accounts.models import Role
    from conftest import PASSWORD
    from portal.demo.provinces import load_demo_assignments
    from targets import record_services

    load_demo_assignments()
    coordinator = make_user("somchai@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    other = make_user("malee@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    record = _record_make(type("Cast", (), {"coordinator_a": coordinator})())
    url = live_server.url

    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(coordinator.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/")
    page.goto(f"{url}/records/{record.pk}/edit/")
    page.locator("input[name=guardian_name]").fill("นายสมศักดิ์ ใจดี")
    # Meanwhile the other coordinator saves a new school.
    record_services.update_record(record=record, user=other, values={"school": "โรงเรียนบ้านใหม่"}, version=record.version)
    page.get_by_role("button", name="บันทึก").click()

    notice = page.get_by_test_id("stale-edit")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(THAI_MESSAGE)
    expect(page.get_by_test_id("stale-change")).to_have_count(1)
    expect(page.get_by_test_id("stale-change")).to_contain_text("โรงเรียนบ้านใหม่")
    expect(page.locator("input[name=school]")).to_have_value("โรงเรียนบ้านใหม่")
    expect(page.locator("input[name=guardian_name]")).to_have_value("นายสมศักดิ์ ใจดี")
    page.screenshot(path=screenshot_dir / "record-stale-edit.png", full_page=True)

    page.get_by_role("button", name="บันทึก").click()
    expect(page).to_have_url(f"{url}/records/{record.pk}/")
    record.refresh_from_db()
    assert (record.school, record.guardian_name, record.version) == ("โรงเรียนบ้านใหม่", "นายสมศักดิ์ ใจดี", 3)
