"""The partner API (api/, docs/api.md): keys, scope, records and their writes, the changes feed,
errors, throttling, masking and the access log.

Province A is ขอนแก่น (40), B is พะเยา (56) (conftest.py). A partner key of A reads and writes A
only; B's objects answer 404 to it, exactly as missing ones.
"""

import base64
import datetime
import json

import pytest
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext

from api.models import IdempotentRequest, Partner, PartnerKey
from audit.models import AccessLog
from conftest import PROVINCE_A, PROVINCE_B
from core.thai_id import IdentifierError, parse_identifier
from targets.models import StatusChange, TargetRecord
from tests.api_support import READ_ALL, key_client, make_key, make_records
from tests.builders import national_id

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def key_a(programme):
    return make_key(provinces=[PROVINCE_A], name="key-a")


@pytest.fixture
def client_a(key_a):
    return key_client(key_a[1])


@pytest.fixture
def client_b(programme):
    return key_client(make_key(provinces=[PROVINCE_B], name="key-b")[1])


def _json(response):
    return json.loads(response.content)


def _bulk_item(n: int, **fields) -> dict:
    return {
        "identifier": national_id(PROVINCE_A * 10_000_000 + 5_000_000 + n),
        "first_name": f"สมชาย{n}",
        "last_name": "ใจดี",
        "category": "out-of-school",
        "sex": "ชาย",
        "birth_date": "15/03/2553",
        **fields,
    }


# --- keys: revocation, expiry, scope ---------------------------------------------------------------


def test_a_valid_key_reads_its_provinces_records(client_a):
    make_records(PROVINCE_A, 3)
    make_records(PROVINCE_B, 2)
    response = client_a.get(f"{API}/records/")
    assert response.status_code == 200
    body = _json(response)
    assert len(body["results"]) == 3
    assert {r["province"] for r in body["results"]} == {PROVINCE_A}


def test_a_revoked_key_gets_401_on_its_next_request(key_a, client_a):
    assert client_a.get(f"{API}/records/").status_code == 200
    key, _secret = key_a
    key.revoked = True
    key.save()
    response = client_a.get(f"{API}/records/")
    assert response.status_code == 401
    assert _json(response)["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_an_expired_key_gets_401(key_a, client_a):
    PartnerKey.objects.filter(pk=key_a[0].pk).update(expiry_date=timezone.now() - datetime.timedelta(seconds=1))
    assert client_a.get(f"{API}/records/").status_code == 401


def test_a_key_without_expiry_or_living_longer_than_a_year_is_refused(key_a, client_a):
    # Written around the model's own checks (as a raw UPDATE could): the authentication refuses it too.
    key = key_a[0]
    PartnerKey.objects.filter(pk=key.pk).update(expiry_date=key.created + datetime.timedelta(days=400))
    assert client_a.get(f"{API}/records/").status_code == 401


def test_a_key_of_a_deactivated_partner_gets_401(key_a, client_a):
    Partner.objects.filter(pk=key_a[0].partner_id).update(is_active=False)
    assert client_a.get(f"{API}/records/").status_code == 401


def test_a_wrong_secret_with_a_real_prefix_gets_401(key_a):
    prefix = key_a[0].prefix
    assert key_client(f"{prefix}.not-the-secret").get(f"{API}/records/").status_code == 401


def test_no_credentials_get_401_with_the_error_body(db):
    from django.test import Client

    response = Client().get(f"{API}/records/")
    assert response.status_code == 401
    body = _json(response)
    assert body["error"]["code"] == "not_authenticated"
    assert set(body["error"]) == {"code", "message", "details"}


def test_a_key_cannot_be_made_without_expiry_or_for_longer_than_a_year(programme):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        make_key(provinces=[PROVINCE_A], expires_in=datetime.timedelta(days=367))
    partner = Partner.objects.create(name="x", contact_email="x@example.org")
    with pytest.raises(ValidationError):
        PartnerKey.objects.create_key(partner=partner, name="no expiry", expiry_date=None)


def test_key_of_province_a_reading_a_record_of_b_gets_404(client_a):
    [record_b] = make_records(PROVINCE_B, 1)
    response = client_a.get(f"{API}/records/{record_b.pk}/")
    assert response.status_code == 404
    assert _json(response)["error"]["code"] == "not_found"
    # The same answer as for a record that does not exist.
    assert client_a.get(f"{API}/records/999999999/").status_code == 404


def test_key_of_province_a_sees_only_a_in_every_list(client_a):
    from conftest import make_user
    from tests.matrix import province_b_work

    province_b_work(type("Cast", (), {"coordinator_b": make_user("b@example.org")})())
    for resource in (
        "working-group-members",
        "plans",
        "progress-reports",
        "support-activities",
        "capacity-requests",
        "districts",
        "assignments",
    ):
        response = client_a.get(f"{API}/{resource}/")
        assert response.status_code == 200, resource
        body = _json(response)
        rows = body["results"] if isinstance(body, dict) else body
        assert all(row["province"] == PROVINCE_A for row in rows), resource
    assert [p["code"] for p in _json(client_a.get(f"{API}/provinces/"))] == [PROVINCE_A]


def test_a_key_without_a_permission_for_a_resource_gets_403(programme):
    _key, secret = make_key(provinces=[PROVINCE_A], permissions={"plans": "read"})
    client = key_client(secret)
    assert client.get(f"{API}/plans/").status_code == 200
    response = client.get(f"{API}/records/")
    assert response.status_code == 403
    assert _json(response)["error"]["code"] == "permission_denied"
    # Reference data comes with any key.
    assert client.get(f"{API}/provinces/").status_code == 200


def test_a_read_only_key_cannot_write(programme):
    _key, secret = make_key(provinces=[PROVINCE_A], permissions=READ_ALL)
    response = key_client(secret).post(f"{API}/records/", _bulk_item(1), content_type="application/json")
    assert response.status_code == 403
    assert not TargetRecord.objects.exists()


# --- query counts: constant per page, whatever its size or depth -----------------------------------


@pytest.mark.parametrize(("size", "records"), [(10, 250), (100, 250), (100, 2500)])
def test_a_page_of_records_costs_the_same_queries_whatever_its_size_or_depth(
    client_a, django_assert_num_queries, size, records
):
    make_records(PROVINCE_A, records)
    client_a.get(f"{API}/records/?page_size=1")  # the access log's content type is cached from here on
    # 1 the key with its partner and the partner's provinces (on SQLite: 1 the key and its partner,
    # 2 the provinces), then the page, then the access log entry.
    expected = 3 if connection.vendor == "postgresql" else 4
    with django_assert_num_queries(expected):
        response = client_a.get(f"{API}/records/?page_size={size}")
    assert len(_json(response)["results"]) == size
    next_link = _json(response)["next"]
    with django_assert_num_queries(expected):
        deeper = client_a.get(next_link)
    assert len(_json(deeper)["results"]) == size


def test_a_page_of_the_changes_feed_costs_four_queries(client_a, django_assert_num_queries):
    make_records(PROVINCE_A, 120, updated_at=timezone.now() - datetime.timedelta(minutes=5))
    client_a.get(f"{API}/records/changes/?page_size=1")
    # PostgreSQL: 1 the key (with partner and provinces), 2 the oldest running transaction (the feed's
    # horizon), 3 the page, 4 the access log. SQLite: the provinces instead of the horizon.
    with django_assert_num_queries(4):
        response = client_a.get(f"{API}/records/changes/?page_size=100")
    assert len(_json(response)["results"]) == 100


def test_a_page_of_provincial_work_costs_the_same_queries_whatever_its_size(
    cast, client_for, django_assert_num_queries
):
    from meetings.models import Kind, Meeting

    coordinator = client_for(cast.coordinator_a)
    for n in range(30):
        meeting = Meeting.objects.create(
            title=f"ประชุม {n}",
            kind=Kind.PROVINCIAL,
            starts_on=datetime.date(2026, 1, 1),
            ends_on=datetime.date(2026, 1, 1),
        )
        meeting.provinces.add(PROVINCE_A)
    coordinator.get(f"{API}/meetings/")
    for size in (5, 30):
        # 1 the session, 2 the user, 3 the memberships, 4 the universities supporting the user's province
        # (who sees which meeting), 5 the meetings page, 6 their provinces, 7 their universities (the
        # session is not written again within SESSION_REFRESH_SECONDS).
        with django_assert_num_queries(7):
            response = coordinator.get(f"{API}/meetings/?page_size={size}")
        assert len(_json(response)["results"]) == size


def test_a_meeting_gives_its_thailand_times_or_none_when_all_day(cast, client_for):
    from meetings.models import Kind, Meeting

    timed = Meeting.objects.create(
        title="ประชุมคณะทำงาน",
        kind=Kind.PROVINCIAL,
        starts_on=datetime.date(2026, 11, 20),
        ends_on=datetime.date(2026, 11, 20),
        start_time=datetime.time(9, 0),
        end_time=datetime.time(12, 30),
    )
    all_day = Meeting.objects.create(
        title="อบรม", kind=Kind.PROVINCIAL, starts_on=datetime.date(2026, 11, 21), ends_on=datetime.date(2026, 11, 21)
    )
    for meeting in (timed, all_day):
        meeting.provinces.add(PROVINCE_A)
    results = {m["id"]: m for m in _json(client_for(cast.coordinator_a).get(f"{API}/meetings/"))["results"]}
    assert (results[timed.pk]["start_time"], results[timed.pk]["end_time"]) == ("09:00:00", "12:30:00")
    assert (results[all_day.pk]["start_time"], results[all_day.pk]["end_time"]) == (None, None)


# --- writes ----------------------------------------------------------------------------------------


def test_a_bulk_write_of_1000_with_10_bad_applies_990_and_reports_the_10(client_a):
    items = [_bulk_item(n) for n in range(1000)]
    bad = list(range(5, 1000, 100))  # ten of them
    for n in bad:
        items[n]["identifier"] = items[n]["identifier"][:-1] + str((int(items[n]["identifier"][-1]) + 1) % 10)
    response = client_a.post(
        f"{API}/records/bulk/", {"records": items}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="bulk-1"
    )
    assert response.status_code == 200
    body = _json(response)
    assert body["summary"] == {"created": 990, "updated": 0, "unchanged": 0, "rejected": 10}
    rejected = [r for r in body["results"] if r["status"] == "rejected"]
    assert [r["index"] for r in rejected] == bad
    # The upload's own reason, in the same words (Thai by default).
    with pytest.raises(IdentifierError) as reason:
        parse_identifier(items[bad[0]]["identifier"])
    assert all(r["errors"] == [{"field": "identifier", "message": str(reason.value)}] for r in rejected)
    assert TargetRecord.objects.filter(province_id=PROVINCE_A).count() == 990
    # The same request again with the same key: nothing more is applied; the same answer comes back.
    again = client_a.post(
        f"{API}/records/bulk/", {"records": items}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="bulk-1"
    )
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert _json(again) == body
    assert TargetRecord.objects.filter(province_id=PROVINCE_A).count() == 990
    assert IdempotentRequest.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_gets_422(client_a):
    first = client_a.post(f"{API}/records/", _bulk_item(1), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 201
    other = client_a.post(f"{API}/records/", _bulk_item(2), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 422
    assert _json(other)["error"]["code"] == "idempotency_key_reused"
    assert TargetRecord.objects.count() == 1


def test_bulk_results_say_created_updated_unchanged_and_why_rejected(client_a, client_b):
    [record_b] = make_records(PROVINCE_B, 1)
    client_a.post(f"{API}/records/bulk/", {"records": [_bulk_item(1), _bulk_item(2)]}, content_type="application/json")
    items = [
        _bulk_item(1),  # the same values: unchanged
        _bulk_item(2, status="returned-to-school"),  # updated, and its status change is kept
        _bulk_item(3),  # new
        _bulk_item(4, category="no-such-category"),  # rejected by the upload's validator
        {**_bulk_item(5), "identifier": record_b.identifier},  # B's child: rejected without saying where
        _bulk_item(6, province=PROVINCE_B),  # a province the key may not write
        _bulk_item(3),  # the same identifier twice in one request
        {"first_name": "ไม่มีเลข", "category": "out-of-school"},  # required fields missing
        _bulk_item(7, phone=["0812345678"]),  # not a scalar
        "not an object",
    ]
    response = client_a.post(f"{API}/records/bulk/", {"records": items}, content_type="application/json")
    body = _json(response)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["unchanged", "updated", "created", *["rejected"] * 7]
    errors = {r["index"]: r["errors"] for r in body["results"]}
    assert errors[3][0]["field"] == "category"
    with translation.override("th"):
        upload_words = gettext(
            "This identifier is already recorded outside your province; you can request a transfer of the record."
        )
    assert errors[4] == [{"field": "identifier", "message": upload_words}]  # the upload's words: nothing of B
    assert errors[5][0]["field"] == "province"
    assert errors[6][0]["field"] == "identifier"
    assert errors[7][0]["field"] is None
    assert errors[8][0]["field"] == "phone"
    assert body["summary"] == {"created": 1, "updated": 1, "unchanged": 1, "rejected": 7}
    updated = TargetRecord.objects.get(identifier=items[1]["identifier"])
    assert updated.status.code == "returned-to-school"
    change = StatusChange.objects.get(record=updated)
    assert (change.from_status.code, change.to_status.code) == ("in-follow-up", "returned-to-school")
    assert TargetRecord.objects.get(pk=record_b.pk).first_name == record_b.first_name  # B's record untouched
    # The key's writes are the partner's service account's.
    assert updated.updated_by.email.startswith("api-partner-")
    assert change.changed_by == updated.updated_by


def test_one_record_is_created_then_unchanged_then_changed_by_patch(client_a):
    item = _bulk_item(1)
    created = client_a.post(f"{API}/records/", item, content_type="application/json")
    assert created.status_code == 201
    record = _json(created)["record"]
    assert _json(created)["status"] == "created"
    assert record["identifier"] != item["identifier"]  # masked: the key may not see full IDs
    assert record["birth_date"] == "2010-03-15"  # 15/03/2553 in พ.ศ.
    again = client_a.post(f"{API}/records/", item, content_type="application/json")
    assert (again.status_code, _json(again)["status"]) == (200, "unchanged")
    patched = client_a.patch(
        f"{API}/records/{record['id']}/",
        {"status": "returned-to-school"},
        content_type="application/json",
        headers={"If-Match": created["ETag"]},  # from the version read (tests/test_stale_edits.py)
    )
    assert patched.status_code == 200
    assert _json(patched)["record"]["status"] == "returned-to-school"
    assert _json(patched)["record"]["first_name"] == item["first_name"]
    assert StatusChange.objects.filter(record_id=record["id"]).count() == 1
    moved = client_a.patch(f"{API}/records/{record['id']}/", {"province": PROVINCE_B}, content_type="application/json")
    assert moved.status_code == 400
    assert "province" in _json(moved)["error"]["details"]


def test_a_rejected_single_record_answers_400_with_field_errors(client_a):
    response = client_a.post(f"{API}/records/", _bulk_item(1, sex="ไม่ระบุ"), content_type="application/json")
    assert response.status_code == 400
    error = _json(response)["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == ["sex"]


def test_a_viewer_may_read_a_record_but_not_change_it(cast, client_for):
    [record] = make_records(PROVINCE_A, 1)
    viewer = client_for(cast.viewer_a)
    assert viewer.get(f"{API}/records/{record.pk}/").status_code == 200
    response = viewer.patch(f"{API}/records/{record.pk}/", {"status": "referred"}, content_type="application/json")
    assert response.status_code == 403


def test_a_coordinator_writes_through_the_session_as_on_the_pages(cast, client_for):
    coordinator = client_for(cast.coordinator_a)
    response = coordinator.post(f"{API}/records/", _bulk_item(1), content_type="application/json")
    assert response.status_code == 201
    record = TargetRecord.objects.get()
    assert (record.province_id, record.updated_by) == (PROVINCE_A, cast.coordinator_a)
    # A's coordinator sees A's IDs in full (as on the pages); B's coordinator cannot write A.
    assert _json(response)["record"]["identifier"] == record.identifier
    other = client_for(cast.coordinator_b).post(
        f"{API}/records/", _bulk_item(2, province=PROVINCE_A), content_type="application/json"
    )
    assert other.status_code == 400
    assert "province" in _json(other)["error"]["details"]


def test_someone_without_a_role_gets_403(cast, client_for):
    response = client_for(cast.no_role).get(f"{API}/records/")
    assert response.status_code == 403
    assert _json(response)["error"]["code"] == "permission_denied"


# --- the changes feed ---------------------------------------------------------------------------------


def _walk(client, url: str) -> list[dict]:
    seen = []
    while True:
        body = _json(client.get(url))
        seen += body["results"]
        url = body["next"]
        if not body["has_more"]:
            return seen


def test_the_changes_feed_walks_records_with_equal_updated_at_without_missing_or_repeating(client_a):
    # An upload gives all its records the same updated_at: 2,500 of them, pages of 100.
    same = timezone.now() - datetime.timedelta(hours=1)
    make_records(PROVINCE_A, 2500, updated_at=same)
    make_records(PROVINCE_B, 300, start=5000, updated_at=same)
    seen = _walk(client_a, f"{API}/records/changes/?page_size=100")
    ids = [r["id"] for r in seen]
    assert len(ids) == 2500
    assert len(set(ids)) == 2500
    assert set(ids) == set(TargetRecord.objects.filter(province_id=PROVINCE_A).values_list("id", flat=True))


def test_the_feed_continues_from_its_last_link_with_what_changed_since(client_a):
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    records = make_records(PROVINCE_A, 30, updated_at=an_hour_ago)
    body = _json(client_a.get(f"{API}/records/changes/?page_size=50"))
    assert (len(body["results"]), body["has_more"]) == (30, False)
    later = body["next"]
    assert _json(client_a.get(later))["results"] == []
    # Two records change; the link kept from the last walk gives exactly those, once.
    TargetRecord.objects.filter(pk__in=[records[3].pk, records[7].pk]).update(
        updated_at=timezone.now() - datetime.timedelta(minutes=1), school="โรงเรียนใหม่"
    )
    changed = _json(client_a.get(later))
    assert sorted(r["id"] for r in changed["results"]) == sorted([records[3].pk, records[7].pk])
    assert _json(client_a.get(changed["next"]))["results"] == []


def test_the_feed_starts_at_updated_since_and_holds_back_the_last_seconds(client_a):
    now = timezone.now()
    make_records(PROVINCE_A, 5, updated_at=now - datetime.timedelta(days=3))
    recent = make_records(PROVINCE_A, 4, start=100, updated_at=now - datetime.timedelta(hours=2))
    make_records(PROVINCE_A, 2, start=200, updated_at=now)  # not settled yet: the next poll gets them
    since = (now - datetime.timedelta(days=1)).isoformat()
    body = _json(client_a.get(f"{API}/records/changes/", {"updated_since": since}))
    assert sorted(r["id"] for r in body["results"]) == sorted(r.pk for r in recent)


def test_the_records_list_pages_in_either_order_without_repeats(client_a):
    make_records(PROVINCE_A, 45, updated_at=timezone.now() - datetime.timedelta(hours=1))
    for ordering in ("updated_at", "-updated_at"):
        url, ids = f"{API}/records/?page_size=10&ordering={ordering}", []
        while url:
            body = _json(client_a.get(url))
            ids += [r["id"] for r in body["results"]]
            url = body["next"]
        assert len(ids) == len(set(ids)) == 45
        assert ids == sorted(ids, reverse=ordering.startswith("-"))


def test_a_bad_cursor_or_date_answers_400(client_a):
    nested = base64.urlsafe_b64encode(b"[" * 2000).decode()  # arrays nested past Python's stack: a 400 too
    queries = ("cursor=not-a-cursor", f"cursor={nested}", "updated_since=yesterday", "page_size=5000",
               "ordering=name", "province=x")  # fmt: skip
    for query in queries:
        response = client_a.get(f"{API}/records/?{query}")
        assert response.status_code == 400, query
        assert _json(response)["error"]["code"] == "invalid"


# --- masking and the access log -------------------------------------------------------------------------


def test_identifiers_are_masked_unless_the_key_may_see_them(programme):
    [record] = make_records(PROVINCE_A, 1)
    masked = key_client(make_key(provinces=[PROVINCE_A])[1]).get(f"{API}/records/{record.pk}/")
    assert _json(masked)["identifier"] == f"x-xxxx-xxxxx-{record.identifier[10:12]}-{record.identifier[12]}"
    assert record.identifier not in masked.content.decode()
    full = key_client(make_key(provinces=[PROVINCE_A], can_see_identifiers=True, name="full")[1])
    assert _json(full.get(f"{API}/records/{record.pk}/"))["identifier"] == record.identifier


def test_a_university_member_sees_masked_identifiers(cast, client_for):
    [record] = make_records(PROVINCE_A, 1)  # KKU supports A this fiscal year
    body = _json(client_for(cast.university_member).get(f"{API}/records/"))
    assert body["results"][0]["identifier"].startswith("x-xxxx")
    assert record.identifier not in json.dumps(body)


def test_every_read_of_records_goes_to_the_access_log_without_identifiers(key_a, client_a):
    [record] = make_records(PROVINCE_A, 1)
    client_a.get(f"{API}/records/?province={PROVINCE_A}")
    client_a.get(f"{API}/records/{record.pk}/")
    client_a.get(f"{API}/records/changes/?updated_since=2020-01-01T00:00:00%2B07:00")
    client_a.get(f"{API}/records/{record.pk}/history/")
    client_a.get(f"{API}/records/{record.pk}/help/")
    entries = list(AccessLog.objects.order_by("pk"))
    assert [e.action for e in entries] == [AccessLog.Action.API_READ] * 5
    key = key_a[0]
    assert all(e.user is None and key.prefix in e.actor and key.name in e.actor for e in entries)
    assert [e.count for e in entries[:2]] == [1, 1]
    assert all(record.identifier not in f"{e.description} {e.path} {e.object_id}" for e in entries)
    assert all("?" not in e.path for e in entries)


def test_a_signed_in_users_read_is_logged_under_their_name(cast, client_for):
    make_records(PROVINCE_A, 2)
    client_for(cast.coordinator_a).get(f"{API}/records/")
    entry = AccessLog.objects.get()
    assert (entry.user, entry.count, entry.action) == (cast.coordinator_a, 2, AccessLog.Action.API_READ)


# --- errors, language, throttling ----------------------------------------------------------------------------


def test_errors_share_one_body_in_thai_or_english(client_a):
    thai = client_a.get(f"{API}/no-such-thing/")
    assert thai.status_code == 404
    assert _json(thai)["error"]["code"] == "not_found"
    english = client_a.get(f"{API}/no-such-thing/?lang=en")
    assert _json(english)["error"]["message"] == "Not found."
    assert _json(thai)["error"]["message"] != "Not found."
    not_allowed = client_a.delete(f"{API}/provinces/")
    assert (not_allowed.status_code, _json(not_allowed)["error"]["code"]) == (405, "method_not_allowed")
    bad_json = client_a.post(f"{API}/records/bulk/", "{not json", content_type="application/json")
    assert (bad_json.status_code, _json(bad_json)["error"]["code"]) == (400, "parse_error")
    too_many = client_a.post(
        f"{API}/records/bulk/", {"records": [_bulk_item(1)] * 1001}, content_type="application/json"
    )
    assert too_many.status_code == 400
    assert "records" in _json(too_many)["error"]["details"]


def test_throttling_answers_429_with_retry_after_per_key(settings, programme):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"partner_key": "3/minute", "portal_user": "100/minute"},
    }
    first = key_client(make_key(provinces=[PROVINCE_A], name="k1")[1])
    second = key_client(make_key(provinces=[PROVINCE_A], name="k2")[1])
    codes = [first.get(f"{API}/provinces/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = first.get(f"{API}/provinces/")
    assert int(response["Retry-After"]) > 0
    assert _json(response)["error"]["code"] == "throttled"
    assert _json(response)["error"]["details"]["retry_after"] == int(response["Retry-After"])
    assert second.get(f"{API}/provinces/").status_code == 200  # each key has its own budget


def test_throttling_per_signed_in_user(settings, cast, client_for):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"partner_key": "100/minute", "portal_user": "2/minute"},
    }
    viewer = client_for(cast.viewer_a)
    assert [viewer.get(f"{API}/provinces/").status_code for _ in range(3)] == [200, 200, 429]
    assert client_for(cast.coordinator_a).get(f"{API}/provinces/").status_code == 200


# --- uploads, summaries -------------------------------------------------------------------------------------


CSV = (
    "เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n"
    f"{national_id(40_000_001)},สมปอง,ทองดี,เด็กและเยาวชนนอกระบบการศึกษา\n"
    "1400000000019,ผิด,เลขผิด,เด็กและเยาวชนนอกระบบการศึกษา\n"
)


def test_a_key_uploads_a_file_reads_its_report_and_applies_it(key_a, client_a, client_b):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("ขอนแก่น.csv", CSV.encode(), content_type="text/csv")
    response = client_a.post(f"{API}/imports/", {"province": PROVINCE_A, "file": upload})
    assert response.status_code == 201, response.content
    report = _json(response)
    assert (report["status"], report["rows_total"], report["created"], report["rejected"]) == ("checked", 2, 1, 1)
    assert report["rejections"][0]["row_number"] == 3
    assert client_b.get(f"{API}/imports/{report['id']}/").status_code == 404
    applied = client_a.post(f"{API}/imports/{report['id']}/apply/")
    assert applied.status_code == 200
    assert _json(applied)["status"] == "applied"
    record = TargetRecord.objects.get()
    assert record.updated_by == Partner.objects.get(pk=key_a[0].partner_id).service_user
    # Applying again changes nothing.
    assert _json(client_a.post(f"{API}/imports/{report['id']}/apply/"))["created"] == 1
    assert TargetRecord.objects.count() == 1
    assert [u["id"] for u in _json(client_a.get(f"{API}/imports/"))["results"]] == [report["id"]]


def test_a_key_cannot_upload_for_another_province(client_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("พะเยา.csv", CSV.encode(), content_type="text/csv")
    response = client_a.post(f"{API}/imports/", {"province": PROVINCE_B, "file": upload})
    assert response.status_code == 403


def test_summaries_show_a_key_its_provinces_only(client_a):
    from core.buddhist_dates import current_fiscal_year
    from summaries.models import SummaryRun
    from summaries.services import run_summary

    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)
    rows = _json(client_a.get(f"{API}/summaries/"))
    assert rows
    assert {(r["level"], r["province"]) for r in rows} == {("province", PROVINCE_A)}


# --- schema and documentation ----------------------------------------------------------------------------------


def test_the_schema_documents_errors_and_thai_examples(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    records = schema["paths"]["/api/v1/records/"]["get"]
    assert {"200", "400", "401", "403", "429"} <= set(records["responses"])
    assert schema["paths"]["/api/v1/records/{id}/"]["get"]["responses"]["404"]
    text = json.dumps(schema, ensure_ascii=False)
    assert "เด็กชายนอกระบบการศึกษา" in text
    assert "apiKey" in schema["components"]["securitySchemes"]


def test_the_docs_page_is_served_without_a_cdn_or_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "<script>" not in html
    assert "<style>" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_fast_record_rows_match_the_documented_serializer(client_a):
    from api.serializers import TargetRecordDetailSerializer, TargetRecordSerializer

    [record] = make_records(PROVINCE_A, 1)
    listed = _json(client_a.get(f"{API}/records/"))["results"][0]
    assert set(listed) == set(TargetRecordSerializer().fields)
    detail = _json(client_a.get(f"{API}/records/{record.pk}/"))
    assert set(detail) == set(TargetRecordDetailSerializer().fields)


# --- admin: partners and keys -----------------------------------------------------------------------------------


def _key_form(partner: Partner, expiry: datetime.datetime, **permissions) -> dict:
    local = timezone.localtime(expiry)
    return {
        "name": "ระบบติดตามเด็ก",
        "partner": partner.pk,
        "expiry_date_0": local.date().isoformat(),
        "expiry_date_1": local.time().replace(microsecond=0).isoformat(),
        **{f"perm_{resource}": level for resource, level in permissions.items()},
    }


def test_an_eef_admin_makes_a_key_in_admin_and_sees_its_secret_once(cast, client_for):
    partner = Partner.objects.create(name="สำนักงานจังหวัดขอนแก่น", contact_email="it@kk.example.org")
    partner.provinces.set([PROVINCE_A])
    admin = client_for(cast.eef_admin)
    response = admin.post(
        "/admin/api/partnerkey/add/",
        _key_form(partner, timezone.now() + datetime.timedelta(days=200), records="write", plans="read"),
        follow=True,
    )
    assert response.status_code == 200
    key = PartnerKey.objects.get()
    assert key.permissions == {"records": "write", "plans": "read"}
    # Django's own "added" message, and the one with the secret.
    [message] = [str(m) for m in response.context["messages"] if "<code>" in str(m)]
    secret = message.split("<code>")[1].split("</code>")[0]
    assert secret.startswith(key.prefix + ".")
    assert key_client(secret).get(f"{API}/records/").status_code == 200
    # Listed by prefix; the secret and its hash are shown nowhere again.
    listing = admin.get("/admin/api/partnerkey/").content.decode()
    assert key.prefix in listing
    assert secret not in listing
    assert key.hashed_key not in listing
    assert secret not in admin.get(f"/admin/api/partnerkey/{key.pk}/change/").content.decode()


def test_the_admin_refuses_a_key_that_lives_longer_than_a_year(cast, client_for):
    partner = Partner.objects.create(name="x", contact_email="x@example.org")
    response = client_for(cast.eef_admin).post(
        "/admin/api/partnerkey/add/", _key_form(partner, timezone.now() + datetime.timedelta(days=400))
    )
    assert response.status_code == 200  # the form again, with its error
    assert "expiry_date" in response.context["adminform"].form.errors
    assert not PartnerKey.objects.exists()


def test_revoking_a_key_in_admin_takes_effect_on_the_next_request(cast, client_for, key_a, client_a):
    key = key_a[0]
    assert client_a.get(f"{API}/provinces/").status_code == 200
    form = _key_form(key.partner, key.expiry_date, **key.permissions)
    form["revoked"] = "on"
    del form["partner"]  # read-only once made
    response = client_for(cast.eef_admin).post(f"/admin/api/partnerkey/{key.pk}/change/", form)
    assert response.status_code == 302
    assert client_a.get(f"{API}/provinces/").status_code == 401


@pytest.mark.parametrize("given", ["abc", "9999", "2024", "", "-2567", "²"])
def test_summaries_refuse_a_fiscal_year_that_is_not_one(client_a, given):
    response = client_a.get(f"{API}/summaries/", {"fiscal_year": given})
    assert response.status_code == 400
    assert list(_json(response)["error"]["details"]) == ["fiscal_year"]
    assert client_a.get(f"{API}/summaries/", {"fiscal_year": "2567"}).status_code == 200


@pytest.mark.parametrize("depth", [100_000, 950])
def test_json_nested_past_the_stack_is_a_400_in_the_apis_shape(client_a, depth):
    """DRF's parser turns only ValueError into a 400; json's RecursionError (arrays nested past Python's stack), or
    the control-character walk over data nested nearly as deep, answered 500."""
    body = '{"records": ' + "[" * depth + "]" * depth + ', "x": "\\u0041"}'
    response = client_a.post(f"{API}/records/bulk/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="th")
    assert response.status_code == 400
    assert _json(response)["error"]["code"] == "parse_error"
    assert _json(response)["error"]["message"] == "เนื้อหาคำขอไม่ใช่ JSON ที่ถูกต้อง"
