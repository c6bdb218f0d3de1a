"""The partner API's case follow-up (api/views/cases.py): a record's case, contacts, plan steps,
referrals and their state changes, the changes feed of cases, and agency keys (issue 14)."""

import datetime
import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from cases import services
from cases.models import Agency, AgencyType, Case, Contact, PlanStep, Referral, ReferralState
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.thai_id import mask_identifier
from targets.models import Outcome, TargetRecord
from tests.api_support import READ_ALL, key_client, make_key, make_records

API = "/api/v1"
pytestmark = pytest.mark.django_db


def _json(response) -> dict:
    return json.loads(response.content)


def _post(client, url: str, body: dict, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def _patch(client, url: str, body: dict, **headers):
    return client.patch(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture(autouse=True)
def _feed_settles_at_once(settings):
    settings.API_FEED_SETTLE_SECONDS = 0


@pytest.fixture
def worker(cast):
    return make_user("worker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)


def _agency(province: int, name: str) -> Agency:
    return Agency.objects.create(
        province_id=province, type=AgencyType.objects.get(code="non-formal-education"), name=name
    )


@pytest.fixture
def agency():
    return _agency(PROVINCE_A, "กศน.อำเภอเมืองขอนแก่น")


@pytest.fixture
def records(programme):
    return make_records(PROVINCE_A, 3, start=10)


@pytest.fixture
def client_a(programme):
    return key_client(make_key(provinces=[PROVINCE_A])[1])


def _agency_client(agency: Agency, *, permissions: dict | None = None):
    """A key of the agency's own system (given records too: it still reads none)."""
    permissions = permissions or {"cases": "write", "records": "read"}
    key, secret = make_key(provinces=[PROVINCE_A, PROVINCE_B], permissions=permissions)
    key.partner.agency = agency
    key.partner.save()
    return key_client(secret)


def _refer(user, record, agency, *, share: bool = False) -> Referral:
    return services.refer(
        user=user, record=record, agency=agency, reason="อยากเรียนต่อ", services="สมัครเรียน กศน.",
        deadline=timezone.localdate() + datetime.timedelta(days=14), share_identifier=share,
    )  # fmt: skip


# --- a record's case ---------------------------------------------------------------------------------------


def test_the_goal_is_set_from_the_version_read_and_a_stale_one_is_refused(client_a, records):
    url = f"{API}/records/{records[0].pk}/case/"
    body = _json(client_a.get(url))
    assert (body["opened_at"], body["version"], body["worker"], body["goal"]) == (None, None, None, None)
    assert _patch(client_a, url, {"goal": "returned-to-school"}).status_code == 428
    first = _patch(client_a, url, {"goal": "returned-to-school"}, HTTP_IF_MATCH="*")
    assert first.status_code == 200, first.content
    assert _json(first)["goal"] == "returned-to-school"
    version = _json(first)["version"]
    assert first["ETag"] == f'"{version}"'
    stale = _patch(client_a, url, {"goal": None}, HTTP_IF_MATCH=f'"{version - 1}"')
    assert stale.status_code == 412
    assert _json(stale)["error"]["details"]["version"] == version
    assert Case.objects.get(pk=records[0].pk).goal.code == "returned-to-school"
    cleared = _patch(client_a, url, {"goal": None, "version": version})
    assert (cleared.status_code, _json(cleared)["goal"]) == (200, None)
    # Only an achieved outcome is a goal.
    assert _patch(client_a, url, {"goal": "in-follow-up"}, HTTP_IF_MATCH="*").status_code == 400


def test_close_and_reopen_need_the_version(cast, client_a, records):
    record = records[0]
    services.set_goal(user=cast.coordinator_a, record=record, goal=None, version=None)
    version = Case.objects.get(pk=record.pk).version
    base = f"{API}/records/{record.pk}/case/"
    assert _post(client_a, base + "close/", {"reason": "moved"}).status_code == 428
    assert _post(client_a, base + "close/", {"reason": "moved", "version": version + 5}).status_code == 412
    closed = _post(client_a, base + "close/", {"reason": "moved", "note": "ย้ายไปกรุงเทพฯ", "version": version})
    assert closed.status_code == 200, closed.content
    assert _json(closed)["close_reason"] == "moved"
    again = _post(client_a, base + "close/", {"reason": "moved", "version": _json(closed)["version"]})
    assert again.status_code == 400
    assert _post(client_a, base + "reopen/", {"note": "", "version": _json(closed)["version"]}).status_code == 400
    reopened = _post(client_a, base + "reopen/", {"note": "กลับมา"}, HTTP_IF_MATCH=closed["ETag"])
    assert (reopened.status_code, _json(reopened)["closed_at"]) == (200, None)


def test_records_are_assigned_in_bulk_by_the_provinces_coordinator_only(cast, client_for, worker, records):
    coordinator = client_for(cast.coordinator_a)
    ids = [r.pk for r in records[:2]]
    answer = _post(coordinator, f"{API}/cases/assign/", {"records": ids, "worker": worker.pk})
    assert (answer.status_code, _json(answer)) == (200, {"changed": 2})
    assert set(TargetRecord.objects.filter(case_worker=worker).values_list("pk", flat=True)) == set(ids)
    assert _json(_post(coordinator, f"{API}/cases/assign/", {"records": ids, "worker": worker.pk})) == {"changed": 0}
    # A record of another province is not found, whoever asks; B's coordinator may not assign A's records.
    other = make_records(PROVINCE_B, 1, start=90)[0]
    refused = _post(coordinator, f"{API}/cases/assign/", {"records": [ids[0], other.pk], "worker": None})
    assert refused.status_code == 400
    assert "records" in _json(refused)["error"]["details"]
    assert (
        _post(client_for(cast.coordinator_b), f"{API}/cases/assign/", {"records": ids, "worker": None}).status_code
        == 400
    )
    # Someone who is not a case worker here cannot be given records.
    bad = _post(coordinator, f"{API}/cases/assign/", {"records": ids, "worker": cast.viewer_a.pk})
    assert bad.status_code == 400
    assert "worker" in _json(bad)["error"]["details"]
    # A viewer reads the province but may not assign (the service's door): 403.
    assert _post(client_for(cast.viewer_a), f"{API}/cases/assign/", {"records": ids, "worker": None}).status_code == 403
    read_only = key_client(make_key(provinces=[PROVINCE_A], permissions=READ_ALL)[1])
    assert _post(read_only, f"{API}/cases/assign/", {"records": ids, "worker": None}).status_code == 403
    taken_back = _post(coordinator, f"{API}/cases/assign/", {"records": ids, "worker": None})
    assert _json(taken_back) == {"changed": 2}


def test_a_case_worker_reads_only_the_cases_assigned_to_them(cast, client_for, worker, records, agency):
    services.assign(user=cast.coordinator_a, records=[records[0]], worker=worker)
    services.log_contact(user=cast.coordinator_a, record=records[1], kind="phone", happened_at=timezone.now())
    _refer(cast.coordinator_a, records[1], agency)
    mine = client_for(worker)
    body = _json(mine.get(f"{API}/records/{records[0].pk}/case/"))
    assert body["worker"]["id"] == worker.pk
    for suffix in ("case/", "contacts/", "steps/"):
        assert mine.get(f"{API}/records/{records[1].pk}/{suffix}").status_code == 404, suffix
    assert _json(mine.get(f"{API}/referrals/"))["results"] == []
    feed = _json(mine.get(f"{API}/cases/changes/"))
    assert [c["record"] for c in feed["results"]] == [records[0].pk]
    # They log their work on their own record.
    logged = _post(mine, f"{API}/records/{records[0].pk}/contacts/", {"kind": "home_visit",
                   "happened_at": timezone.now().isoformat(), "reached": False})  # fmt: skip
    assert logged.status_code == 201, logged.content
    assert _json(logged)["recorded_by"]["id"] == worker.pk


# --- contacts and the plan ---------------------------------------------------------------------------------


def test_a_contact_sent_twice_is_recorded_once(client_a, records, django_assert_max_num_queries):
    url = f"{API}/records/{records[0].pk}/contacts/"
    key = str(uuid.uuid4())
    body = {"kind": "phone", "happened_at": timezone.now().isoformat(), "findings": "ผู้ปกครองรับสาย", "client_key": key}
    first = _post(client_a, url, body)
    assert first.status_code == 201, first.content
    again = _post(client_a, url, body)
    assert (again.status_code, _json(again)["id"]) == (200, _json(first)["id"])
    # The Idempotency-Key header: the retry gets the first answer, nothing applied twice.
    header = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    other = {**body, "client_key": None}
    one = _post(client_a, url, other, **header)
    two = _post(client_a, url, other, **header)
    assert (one.status_code, two.status_code, two["Idempotent-Replayed"]) == (201, 201, "true")
    assert _json(one) == _json(two)
    assert _post(client_a, url, {**other, "findings": "อื่น"}, **header).status_code == 422
    assert Contact.objects.filter(case_id=records[0].pk).count() == 2
    # In the future: refused with the service's reason.
    future = {**other, "happened_at": (timezone.now() + datetime.timedelta(days=1)).isoformat()}
    assert "happened_at" in _json(_post(client_a, url, future))["error"]["details"]
    listed = _json(client_a.get(url))["results"]
    assert [c["id"] for c in listed] == sorted((c["id"] for c in listed), reverse=True)
    for n in range(5):
        _post(client_a, url, {**other, "findings": f"ครั้งที่ {n}"})
    with django_assert_max_num_queries(8):
        assert len(_json(client_a.get(url))["results"]) == 7


def test_plan_steps_are_added_and_marked_done(client_a, records):
    url = f"{API}/records/{records[0].pk}/steps/"
    made = _post(client_a, url, {"text": "ประสานโรงเรียนเดิม", "due_on": str(timezone.localdate())})
    assert made.status_code == 201, made.content
    step = _json(made)["id"]
    done = _post(client_a, f"{url}{step}/done/", {})
    assert done.status_code == 200
    assert _json(done)["done_at"] is not None
    undone = _post(client_a, f"{url}{step}/done/", {"done": False})
    assert _json(undone)["done_at"] is None
    assert [s["id"] for s in _json(client_a.get(url))["results"]] == [step]
    # A step of another record is not found under this one.
    assert _post(client_a, f"{API}/records/{records[1].pk}/steps/{step}/done/", {}).status_code == 404
    assert _post(client_a, url, {"text": ""}).status_code == 400


# --- referrals and agency keys ------------------------------------------------------------------------------


def test_a_referral_goes_from_sent_to_completed_and_its_outcome_becomes_the_status(client_a, records, agency):
    record = records[0]
    deadline = str(timezone.localdate() + datetime.timedelta(days=7))
    made = _post(client_a, f"{API}/referrals/", {"record": record.pk, "agency": agency.pk, "reason": "อยากเรียนต่อ",
                 "services": "สมัครเรียน", "deadline": deadline})  # fmt: skip
    assert made.status_code == 201, made.content
    referral = _json(made)
    assert (referral["state"], referral["next_states"]) == ("sent", ["accepted", "declined", "closed_unresolved"])
    assert PlanStep.objects.filter(referral_id=referral["id"]).exists()
    agency_key = _agency_client(agency)
    url = f"{API}/referrals/{referral['id']}/transitions/"
    assert _post(agency_key, url, {"to_state": "accepted"}).status_code == 428
    accepted = _post(agency_key, url, {"to_state": "accepted"}, HTTP_IF_MATCH=made["ETag"])
    assert accepted.status_code == 200, accepted.content
    # The same version again: stale, nothing written.
    stale = _post(agency_key, url, {"to_state": "in_progress", "version": referral["version"]})
    assert stale.status_code == 412
    assert _json(stale)["error"]["details"]["version"] == _json(accepted)["version"]
    assert _post(agency_key, url, {"to_state": "completed", "version": _json(accepted)["version"]}).status_code == 400
    completed = _post(agency_key, url, {"to_state": "completed", "outcome": "returned-to-school",
                      "feedback": "เข้าเรียนแล้ว", "version": _json(accepted)["version"]})  # fmt: skip
    assert completed.status_code == 200, completed.content
    assert [e["to_state"] for e in _json(completed)["events"]] == ["sent", "accepted", "completed"]
    # The referring side sets the record's status from it, from the record's version it read.
    apply = f"{API}/referrals/{referral['id']}/apply-outcome/"
    record.refresh_from_db()
    assert _post(client_a, apply, {"record_version": record.version - 1}).status_code == 412
    assert _post(agency_key, apply, {"record_version": record.version}).status_code == 403
    applied = _post(client_a, apply, {"record_version": record.version})
    assert (applied.status_code, _json(applied)["status_applied"]) == (200, True)
    record.refresh_from_db()
    assert record.status.code == "returned-to-school"


def test_an_agency_key_sees_only_its_referrals_and_the_childs_limited_fields(cast, records, agency):
    other_agency = _agency(PROVINCE_A, "อบต.บ้านเป็ด")
    agency_b = _agency(PROVINCE_B, "กศน.อำเภอเมืองพะเยา")
    record_b = make_records(PROVINCE_B, 1, start=70)[0]
    hidden = _refer(cast.coordinator_a, records[0], agency)
    shared = _refer(cast.coordinator_a, records[1], agency, share=True)
    elsewhere = _refer(cast.coordinator_a, records[2], other_agency)
    in_b = _refer(cast.coordinator_b, record_b, agency_b)
    client = _agency_client(agency)
    listed = _json(client.get(f"{API}/referrals/"))["results"]
    assert {r["id"] for r in listed} == {hidden.pk, shared.pk}
    by_id = {r["id"]: r for r in listed}
    assert by_id[hidden.pk]["child"]["identifier"] == mask_identifier(records[0].identifier)
    assert by_id[shared.pk]["child"]["identifier"] == records[1].identifier
    assert set(by_id[hidden.pk]["child"]) == {
        "identifier", "name_prefix", "first_name", "last_name", "sex", "birth_date", "district", "sub_district",
    }  # fmt: skip
    assert records[0].identifier not in json.dumps(listed)
    for referral in (elsewhere, in_b):
        assert client.get(f"{API}/referrals/{referral.pk}/").status_code == 404
        assert _post(client, f"{API}/referrals/{referral.pk}/transitions/", {"to_state": "accepted",
                     "version": referral.version}).status_code == 404  # fmt: skip
    # No record, no case, no province's data: the key reads nothing but its referrals.
    assert _json(client.get(f"{API}/records/"))["results"] == []
    assert _json(client.get(f"{API}/cases/changes/"))["results"] == []
    for path in (f"records/{records[0].pk}/", f"records/{records[0].pk}/case/", f"records/{records[0].pk}/contacts/",
                 f"provinces/{PROVINCE_A}/", f"records/{record_b.pk}/"):  # fmt: skip
        assert client.get(f"{API}/{path}").status_code == 404, path
    # It may not refer, nor log work on the child.
    assert _post(client, f"{API}/referrals/", {"record": records[0].pk, "agency": agency.pk, "reason": "x",
                 "services": "y", "deadline": str(timezone.localdate())}).status_code == 400  # fmt: skip
    # A key without the cases permission gets 403.
    assert _agency_client(agency, permissions={"records": "read"}).get(f"{API}/referrals/").status_code == 403
    declined = _post(client, f"{API}/referrals/{hidden.pk}/transitions/", {"to_state": "declined",
                     "note": "เต็มแล้ว", "version": hidden.version})  # fmt: skip
    assert declined.status_code == 200, declined.content
    assert Referral.objects.get(pk=hidden.pk).state == ReferralState.DECLINED


def test_the_referrals_list_filters_and_costs_the_same_for_more_rows(cast, client_a, agency):
    records = make_records(PROVINCE_A, 12, start=300)
    other = _agency(PROVINCE_A, "อบต.บ้านเป็ด")
    for record in records[:3]:
        _refer(cast.coordinator_a, record, agency)
    late = _refer(cast.coordinator_a, records[3], other)
    Referral.objects.filter(pk=late.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=1))
    assert {r["id"] for r in _json(client_a.get(f"{API}/referrals/?overdue=true"))["results"]} == {late.pk}
    assert len(_json(client_a.get(f"{API}/referrals/?agency={agency.pk}&state=sent"))["results"]) == 3
    assert _json(client_a.get(f"{API}/referrals/?state=accepted"))["results"] == []
    assert client_a.get(f"{API}/referrals/?state=nope").status_code == 400
    assert client_a.get(f"{API}/referrals/?overdue=maybe").status_code == 400
    with CaptureQueriesContext(connection) as few:
        client_a.get(f"{API}/referrals/")
    for record in records[4:]:
        _refer(cast.coordinator_a, record, agency)
    with CaptureQueriesContext(connection) as many:
        assert len(_json(client_a.get(f"{API}/referrals/"))["results"]) == 12
    assert len(many) == len(few) <= 8


# --- the changes feed -----------------------------------------------------------------------------------------


def _walk(client, url: str) -> tuple[list[dict], str]:
    """Every item from `url` on, following `next` while has_more, and the last link."""
    items: list[dict] = []
    while True:
        body = _json(client.get(url))
        items += body["results"]
        url = body["next"]
        if not body["has_more"]:
            return items, url


def test_the_cases_feed_follows_goals_steps_contacts_and_referrals(cast, client_a, records, agency):
    coordinator = cast.coordinator_a
    services.log_contact(user=coordinator, record=records[0], kind="phone", happened_at=timezone.now())
    services.add_step(user=coordinator, record=records[1], text="เยี่ยมบ้าน")
    body = _json(client_a.get(f"{API}/cases/changes/?page_size=1"))
    assert ([c["record"] for c in body["results"]], body["has_more"]) == ([records[0].pk], True)
    assert len(body["results"][0]["contacts"]) == 1
    body = _json(client_a.get(body["next"]))
    assert ([c["record"] for c in body["results"]], body["has_more"]) == ([records[1].pk], False)
    later = body["next"]
    assert _json(client_a.get(later))["results"] == []
    # A goal, a step done, a referral's answer: each brings its case back, once, with its new values.
    services.set_goal(user=coordinator, record=records[0], goal=Outcome.objects.get(code="returned-to-school"),
                      version=None)  # fmt: skip
    step = PlanStep.objects.get(case_id=records[1].pk)
    services.finish_step(user=coordinator, step=step)
    changed, later = _walk(client_a, later)
    by_record = {c["record"]: c for c in changed}
    assert len(changed) == 2
    assert set(by_record) == {records[0].pk, records[1].pk}
    assert by_record[records[0].pk]["goal"] == "returned-to-school"
    assert by_record[records[1].pk]["steps"][0]["done_at"] is not None
    referral = _refer(coordinator, records[2], agency)
    services.move_referral(user=coordinator, referral=referral, to_state="accepted", version=referral.version)
    last, _link = _walk(client_a, later)
    assert [c["record"] for c in last] == [records[2].pk]
    assert last[0]["referrals"][0]["state"] == "accepted"
    # Another province's key sees none of it.
    client_b = key_client(make_key(provinces=[PROVINCE_B])[1])
    assert _json(client_b.get(f"{API}/cases/changes/"))["results"] == []


def test_a_page_of_the_cases_feed_costs_the_same_for_more_cases(cast, client_a, agency):
    records = make_records(PROVINCE_A, 10, start=400)
    for record in records[:2]:
        services.log_contact(user=cast.coordinator_a, record=record, kind="phone", happened_at=timezone.now())
        _refer(cast.coordinator_a, record, agency)
    client_a.get(f"{API}/cases/changes/")  # warm: the audit context's content type is cached once per process
    with CaptureQueriesContext(connection) as few:
        assert len(_json(client_a.get(f"{API}/cases/changes/"))["results"]) == 2
    for record in records[2:]:
        services.log_contact(user=cast.coordinator_a, record=record, kind="phone", happened_at=timezone.now())
        _refer(cast.coordinator_a, record, agency)
    with CaptureQueriesContext(connection) as many:
        assert len(_json(client_a.get(f"{API}/cases/changes/"))["results"]) == 10
    assert len(many) == len(few) <= 10
