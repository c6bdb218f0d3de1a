"""The field app's sync (POST /field/api/sync/, fieldwork.sync; issue 18): a case worker's queued changes applied
exactly once through the one write path of each kind, a status merged field by field or answered as a conflict,
refusals with the server's reason (never where a record went), a newly found child, GPS on contacts, the choices
the device's forms offer offline, and what it costs in queries.

The browser side (offline queue, conflict shown and resolved): tests/test_browser_fieldwork.py."""

import datetime
import decimal
import json
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from accounts.models import Membership, Role
from audit.models import AccessLog, IdentifierProbeDay
from audit.tracking import event_model
from cases import services
from cases.models import Case, CaseEvent, Contact, Notification
from conftest import PROVINCE_A, PROVINCE_B, make_user
from fieldwork import selectors, sync
from fieldwork.models import SyncedChange
from provinces.models import CaseSettings, District, Province, SubDistrict
from targets import record_services
from targets.models import Assistance, AssistanceType, Category, Outcome, StatusChange, TargetRecord
from tests.builders import national_id, wrong_check_digit
from tests.test_fieldwork import _record

pytestmark = pytest.mark.django_db

URL = "/field/api/sync/"
NOT_IN_CARE_TH = "ข้อมูลของเด็กคนนี้ไม่อยู่ในความดูแลของคุณแล้ว: อาจย้ายไปจังหวัดอื่นหรือถูกลบออก"
NOT_ASSIGNED_TH = "เด็กคนนี้ไม่ได้มอบหมายให้คุณแล้ว"


@pytest.fixture
def worker(cast):
    return make_user("field.worker@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)


@pytest.fixture
def wclient(worker, client_for):
    return client_for(worker)


def _mine(cast, worker, n: int = 1, province: int = PROVINCE_A) -> TargetRecord:
    record = _record(n, province=province)
    services.assign(user=cast.coordinator_a if province == PROVINCE_A else cast.coordinator_b, records=[record],
                    worker=worker)  # fmt: skip
    record.refresh_from_db()
    return record


def _post(client: Client, changes: list[dict], **extra):
    return client.post(URL, data=json.dumps({"changes": changes}), content_type="application/json", **extra)


def _sync(client: Client, changes: list[dict]) -> list[dict]:
    response = _post(client, changes)
    assert response.status_code == 200, response.content
    body = response.json()
    assert datetime.datetime.fromisoformat(body["synced_at"])
    return body["results"]


def _key() -> str:
    return str(uuid.uuid4())


def _made_at() -> str:
    return timezone.now().isoformat()


def contact_change(record: TargetRecord, key: str | None = None, **contact) -> dict:
    return {
        "key": key or _key(),
        "kind": "contact",
        "made_at": _made_at(),
        "record": record.pk,
        "contact": {
            "kind": "home_visit",
            "happened_at": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
            "reached": True,
            "with_whom": "แม่",
            "findings": "อยากกลับไปเรียน",
            "next_step": "พาไปสมัคร กศน.",
            "next_due": None,
            "location": None,
            **contact,
        },
    }


def status_change(record: TargetRecord, to: str, *, frm: str = "in-follow-up", base_version: int | None = None,
                  key: str | None = None) -> dict:  # fmt: skip
    return {
        "key": key or _key(),
        "kind": "status",
        "made_at": _made_at(),
        "record": record.pk,
        "base_version": record.version if base_version is None else base_version,
        "from": frm,
        "to": to,
    }


def help_change(record: TargetRecord, key: str | None = None, **given) -> dict:
    return {
        "key": key or _key(),
        "kind": "help",
        "made_at": _made_at(),
        "record": record.pk,
        "help": {
            "type": "home-visit",
            "date": timezone.localdate().isoformat(),
            "given_by": "อบต.",
            "outcome": "",
            **given,
        },
    }


def child_change(n: int = 900, key: str | None = None, **child) -> dict:
    district = District.objects.filter(province_id=PROVINCE_A).order_by("code")[0]
    sub = SubDistrict.objects.filter(district=district).order_by("code")[0]
    return {
        "key": key or _key(),
        "kind": "new_child",
        "made_at": _made_at(),
        "child": {
            "province": PROVINCE_A,
            "identifier": national_id(n),
            "identifier_kind": "national_id",
            "name_prefix": "ด.ช.",
            "first_name": "พบใหม่",
            "last_name": "ในหมู่บ้าน",
            "sex": "M",
            "birth_date": "2013-02-01",
            "district": district.code,
            "sub_district": sub.code,
            "category": "out-of-school",
            "guardian_name": "ยาย",
            "phone": "0812345678",
            "notes": "พบระหว่างเยี่ยมบ้าน",
            **child,
        },
    }


# --- every kind applied ------------------------------------------------------------------------------------------


def test_a_contact_is_logged_by_the_worker_with_its_key(cast, worker, wclient):
    record = _mine(cast, worker)
    change = contact_change(record)

    (result,) = _sync(wclient, [change])

    assert result == {"key": change["key"], "result": "applied", "replayed": False, "record": record.pk,
                      "version": record.version}  # fmt: skip
    contact = Contact.objects.get(case_id=record.pk)
    assert (contact.client_key, contact.recorded_by, contact.findings) == (
        uuid.UUID(change["key"]),
        worker,
        "อยากกลับไปเรียน",
    )
    stored = SyncedChange.objects.get(key=change["key"])
    assert (stored.user, stored.kind, stored.record_id, stored.result) == (worker, "contact", record.pk, "applied")
    assert stored.made_at is not None


def test_a_status_change_is_applied_and_kept_in_the_history(cast, worker, wclient):
    record = _mine(cast, worker)

    (result,) = _sync(wclient, [status_change(record, "returned-to-school")])

    record.refresh_from_db()
    assert record.status.code == "returned-to-school"
    assert (result["result"], result["version"]) == ("applied", record.version)
    change = StatusChange.objects.get(record=record)
    assert (change.from_status.code, change.to_status.code, change.changed_by) == (
        "in-follow-up",
        "returned-to-school",
        worker,
    )


def test_help_given_is_recorded(cast, worker, wclient):
    record = _mine(cast, worker)

    (result,) = _sync(wclient, [help_change(record, outcome="ได้เงินค่าเดินทาง")])

    assert result["result"] == "applied"
    help_given = Assistance.objects.get(record=record)
    assert (help_given.type.code, help_given.given_by, help_given.outcome, help_given.recorded_by) == (
        "home-visit",
        "อบต.",
        "ได้เงินค่าเดินทาง",
        worker,
    )


def test_a_newly_found_child_becomes_a_record_assigned_to_the_worker(cast, worker, wclient):
    change = child_change()

    (result,) = _sync(wclient, [change])

    assert result["result"] == "applied", result
    record = TargetRecord.objects.get(pk=result["record"])
    assert result["version"] == record.version == 1
    assert (record.identifier, record.province_id, record.case_worker, record.status.code) == (
        national_id(900),
        PROVINCE_A,
        worker,
        "in-follow-up",
    )
    assert (record.first_name, record.last_name, record.name_prefix, record.sex) == ("พบใหม่", "ในหมู่บ้าน", "ด.ช.", "M")
    assert record.birth_date == datetime.date(2013, 2, 1)
    assert record.district_id == change["child"]["district"]
    assert record.sub_district_id == change["child"]["sub_district"]
    assert (record.phone, record.guardian_name, record.updated_by) == ("0812345678", "ยาย", worker)
    assert record.case_assigned_at is not None
    # Its case is open and the assignment is in its history, as when a coordinator assigns.
    case = Case.objects.get(record=record)
    assert case.is_open
    assert CaseEvent.objects.get(case=case).kind == CaseEvent.Kind.ASSIGNED
    # It is in the worker's next download.
    assert record.pk in {row["id"] for row in wclient.get("/field/api/my-cases/").json()["cases"]}
    # The province's coordinators are told, to check and complete it (nobody else, not the worker).
    told = set(Notification.objects.values_list("user_id", "kind", "case_id"))
    assert told == {(cast.coordinator_a.pk, Notification.Kind.CHILD_FOUND, record.pk)}


def test_the_coordinator_opens_the_found_child_from_the_thai_notification(cast, worker, wclient, client_for):
    (result,) = _sync(wclient, [child_change()])
    coordinator = client_for(cast.coordinator_a)
    page = coordinator.get("/cases/notifications/").content.decode()
    assert "ผู้ดูแลรายกรณีบันทึกเด็กที่พบใหม่ในจังหวัดของคุณ" in page
    note = Notification.objects.get(user=cast.coordinator_a)
    opened = coordinator.get(f"/cases/notifications/{note.pk}/open/")
    assert opened["Location"] == f"/records/{result['record']}/"
    assert coordinator.get(opened["Location"]).status_code == 200


def test_a_newly_found_child_may_be_given_a_status(cast, worker, wclient):
    (result,) = _sync(wclient, [child_change(908, status="vocational")])
    assert TargetRecord.objects.get(pk=result["record"]).status.code == "vocational"


def test_several_changes_apply_in_order_one_refusal_undoing_none(cast, worker, wclient):
    record = _mine(cast, worker)
    other = _mine(cast, cast.case_worker_a, n=2)
    changes = [contact_change(record), help_change(other), status_change(record, "vocational"), help_change(record)]

    results = _sync(wclient, changes)

    assert [r["key"] for r in results] == [c["key"] for c in changes]
    assert [r["result"] for r in results] == ["applied", "refused", "applied", "applied"]
    assert Contact.objects.filter(case_id=record.pk).count() == 1
    assert Assistance.objects.filter(record=record).count() == 1
    assert not Assistance.objects.filter(record=other).exists()


# --- exactly once ---------------------------------------------------------------------------------------------


def _counts(record: TargetRecord) -> tuple:
    return (
        Contact.objects.count(),
        StatusChange.objects.count(),
        Assistance.objects.count(),
        TargetRecord.objects.count(),
        SyncedChange.objects.count(),
        TargetRecord.objects.get(pk=record.pk).version,
    )


def test_the_same_request_sent_again_changes_nothing_and_answers_replayed(cast, worker, wclient):
    record = _mine(cast, worker)
    changes = [contact_change(record), status_change(record, "vocational"), help_change(record), child_change()]
    first = _sync(wclient, changes)
    before = _counts(record)

    again = _sync(wclient, changes)

    assert _counts(record) == before
    assert [r["replayed"] for r in first] == [False] * 4
    assert [r["replayed"] for r in again] == [True] * 4
    assert [{**r, "replayed": False} for r in again] == first


def test_a_key_sent_twice_in_one_request_is_applied_once(cast, worker, wclient):
    record = _mine(cast, worker)
    change = contact_change(record)

    first, second = _sync(wclient, [change, change])

    assert (first["replayed"], second["replayed"]) == (False, True)
    assert Contact.objects.filter(case_id=record.pk).count() == 1


def test_the_same_key_with_another_body_is_refused(cast, worker, wclient):
    record = _mine(cast, worker)
    change = contact_change(record)
    _sync(wclient, [change])
    changed = {**change, "contact": {**change["contact"], "findings": "อย่างอื่น"}}

    (result,) = _sync(wclient, [changed])

    assert (result["result"], result["replayed"]) == ("refused", False)
    assert "key" in result["errors"]
    assert list(Contact.objects.filter(case_id=record.pk).values_list("findings", flat=True)) == ["อยากกลับไปเรียน"]


def test_a_change_stored_meanwhile_by_another_request_undoes_this_ones_write(cast, worker):
    """Two requests with the same key at once: the second's look-up of keys seen found none, the first stored its row
    before the second's insert. The second's write goes with its failed insert, and it answers as a replay."""
    record = _mine(cast, worker)
    change = help_change(record)
    (first,) = sync.apply_changes(user=worker, changes=[change])
    batch = sync.Batch(user=worker)  # its keys seen: none, as read before the first committed

    second = sync._apply_one(batch, change, uuid.UUID(change["key"]))

    assert second == {**first, "replayed": True}
    assert Assistance.objects.filter(record=record).count() == 1
    assert SyncedChange.objects.filter(key=change["key"]).count() == 1


def test_a_key_used_by_another_user_is_refused(cast, worker, wclient, client_for):
    record = _mine(cast, worker)
    change = contact_change(record)
    _sync(wclient, [change])
    theirs = _mine(cast, cast.case_worker_a, n=2)

    (result,) = _sync(client_for(cast.case_worker_a), [{**change, "record": theirs.pk}])
    (same,) = _sync(client_for(cast.case_worker_a), [change])

    assert (result["result"], same["result"]) == ("refused", "refused")
    assert "key" in result["errors"]
    assert not Contact.objects.filter(case_id=theirs.pk).exists()
    assert SyncedChange.objects.get(key=change["key"]).user == worker


# --- the status: merged field by field, or a conflict -------------------------------------------------------------


def test_the_status_is_merged_when_another_field_changed_on_the_server(cast, worker, wclient):
    record = _mine(cast, worker)
    seen = record.version
    record_services.update_record(record=record, user=cast.coordinator_a, values={"phone": "0898765432"},
                                  version=seen)  # fmt: skip
    record.refresh_from_db()
    assert record.version > seen

    (result,) = _sync(wclient, [status_change(record, "kept-in-school", base_version=seen)])

    record.refresh_from_db()
    assert result["result"] == "applied"
    assert (record.status.code, record.phone) == ("kept-in-school", "0898765432")  # both changes kept
    assert result["version"] == record.version


def test_a_status_changed_on_the_server_meanwhile_is_a_conflict_and_nothing_is_written(cast, worker, wclient):
    record = _mine(cast, worker)
    seen = record.version
    record_services.change_status(record=record, user=cast.coordinator_a,
                                  status=Outcome.objects.get(code="flexible-learning"), version=seen)  # fmt: skip
    record.refresh_from_db()

    change = status_change(record, "vocational", base_version=seen)
    (result,) = _sync(wclient, [change])

    assert result["result"] == "conflict"
    assert result["conflict"] == {
        "field": "status",
        "base": {"code": "in-follow-up", "name": "อยู่ระหว่างติดตาม"},
        "yours": {"code": "vocational", "name": "ฝึกอาชีพ"},
        "theirs": {"code": "flexible-learning", "name": "การศึกษาทางเลือก/กศน."},
        "version": record.version,
        "changed_by": str(cast.coordinator_a),
    }
    record.refresh_from_db()
    assert record.status.code == "flexible-learning"
    assert StatusChange.objects.filter(record=record).count() == 1
    # A replay answers the same conflict.
    (again,) = _sync(wclient, [change])
    assert {**again, "replayed": False} == result
    assert again["replayed"] is True


def test_the_worker_keeps_theirs_by_sending_a_new_change_from_the_servers_status(cast, worker, wclient):
    record = _mine(cast, worker)
    seen = record.version
    record_services.change_status(record=record, user=cast.coordinator_a,
                                  status=Outcome.objects.get(code="flexible-learning"), version=seen)  # fmt: skip
    (conflict,) = _sync(wclient, [status_change(record, "vocational", base_version=seen)])

    keep_mine = status_change(record, "vocational", frm=conflict["conflict"]["theirs"]["code"],
                              base_version=conflict["conflict"]["version"])  # fmt: skip
    (result,) = _sync(wclient, [keep_mine])

    record.refresh_from_db()
    assert result["result"] == "applied"
    assert record.status.code == "vocational"
    last = StatusChange.objects.filter(record=record).latest("pk")
    assert (last.from_status.code, last.to_status.code, last.changed_by) == ("flexible-learning", "vocational", worker)


def test_a_status_already_set_on_the_server_is_applied_without_a_write(cast, worker, wclient):
    record = _mine(cast, worker)
    seen = record.version
    record_services.change_status(record=record, user=cast.coordinator_a,
                                  status=Outcome.objects.get(code="vocational"), version=seen)  # fmt: skip
    record.refresh_from_db()

    (result,) = _sync(wclient, [status_change(record, "vocational", base_version=seen)])

    assert (result["result"], result["version"]) == ("applied", record.version)
    assert StatusChange.objects.filter(record=record).count() == 1


# --- refusals -----------------------------------------------------------------------------------------------------


def test_a_record_moved_to_another_province_is_refused_without_saying_where(cast, worker, wclient):
    record = _mine(cast, worker)
    TargetRecord.objects.filter(pk=record.pk).update(province_id=PROVINCE_B)

    response = _post(wclient, [contact_change(record), status_change(record, "vocational"), help_change(record)])

    results = response.json()["results"]
    assert {r["result"] for r in results} == {"refused"}
    assert {r["reason"] for r in results} == {NOT_IN_CARE_TH}
    assert [r["record"] for r in results] == [record.pk] * 3
    assert {frozenset(r) for r in results} == {frozenset({"key", "result", "replayed", "record", "reason", "errors"})}
    assert [r["errors"] for r in results] == [{}] * 3
    assert "พะเยา" not in response.content.decode()
    assert not Contact.objects.exists()
    assert not Assistance.objects.exists()


def test_a_removed_record_is_refused_like_a_moved_one(cast, worker, wclient):
    record = _mine(cast, worker)
    change = contact_change(record)
    TargetRecord.objects.filter(pk=record.pk).delete()

    (result,) = _sync(wclient, [change])

    assert (result["result"], result["reason"], result["errors"]) == ("refused", NOT_IN_CARE_TH, {})
    stored = SyncedChange.objects.get(key=change["key"])
    assert (stored.result, stored.record_id) == ("refused", None)


def test_an_unassigned_record_is_refused(cast, worker, wclient):
    record = _mine(cast, worker)
    services.assign(user=cast.coordinator_a, records=[record], worker=None)

    (result,) = _sync(wclient, [status_change(record, "vocational")])

    assert (result["result"], result["reason"]) == ("refused", NOT_IN_CARE_TH)
    record.refresh_from_db()
    assert record.status.code == "in-follow-up"


def test_an_unassigned_record_the_worker_still_reads_by_area_says_it_is_no_longer_theirs(cast, worker, wclient):
    CaseSettings.objects.create(province_id=PROVINCE_A, case_workers_read_area=True)
    record = _mine(cast, worker)
    services.assign(user=cast.coordinator_a, records=[record], worker=cast.case_worker_a)

    results = _sync(wclient, [contact_change(record), status_change(record, "vocational"), help_change(record)])

    assert [(r["result"], r["reason"]) for r in results] == [("refused", NOT_ASSIGNED_TH)] * 3
    assert not Contact.objects.exists()
    assert not StatusChange.objects.exists()


def test_another_workers_child_is_refused(cast, worker, wclient):
    theirs = _mine(cast, cast.case_worker_a)

    results = _sync(wclient, [contact_change(theirs), status_change(theirs, "vocational"), help_change(theirs)])

    assert {r["result"] for r in results} == {"refused"}
    assert not Contact.objects.exists()
    assert not Assistance.objects.exists()
    theirs.refresh_from_db()
    assert theirs.status.code == "in-follow-up"


def test_a_closed_case_refuses_a_contact_with_the_services_reason(cast, worker, wclient):
    record = _mine(cast, worker)
    services.close_case(user=cast.coordinator_a, record=record, reason="moved", note="",
                        version=Case.objects.get(pk=record.pk).version)  # fmt: skip

    (result,) = _sync(wclient, [contact_change(record)])

    assert result["result"] == "refused"
    assert result["reason"] == "กรณีนี้ปิดแล้ว: เปิดกรณีอีกครั้งก่อนบันทึกการติดต่อ"
    assert result["errors"] == {"__all__": [result["reason"]]}


def test_validation_errors_come_in_thai_by_field(cast, worker, wclient):
    record = _mine(cast, worker)
    future = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    changes = [
        contact_change(record, happened_at=future, location={"lat": 95.0, "lon": 100.0, "accuracy": 5}),
        help_change(record, date=(timezone.localdate() + datetime.timedelta(days=3)).isoformat(), given_by=" "),
        status_change(record, "no-such-status"),
    ]

    contact, given, status = _sync(wclient, changes)

    assert contact["errors"] == {
        "happened_at": ["บันทึกการติดต่อได้เมื่อเกิดขึ้นแล้วเท่านั้น: เวลาที่ระบุยังมาไม่ถึง"],
        "location": ["ตำแหน่งไม่อยู่บนแผนที่: ละติจูด -90 ถึง 90 ลองจิจูด -180 ถึง 180"],
    }
    assert contact["reason"] == " ".join(contact["errors"]["happened_at"] + contact["errors"]["location"])
    assert set(given["errors"]) == {"date", "given_by"}
    assert status["errors"] == {"to": ["ไม่รู้จักสถานะนี้"]}
    assert not Contact.objects.exists()


def test_the_reasons_follow_the_users_language(cast, worker, wclient):
    record = _mine(cast, worker)
    TargetRecord.objects.filter(pk=record.pk).update(province_id=PROVINCE_B)
    wclient.cookies["django_language"] = "en"

    (result,) = _sync(wclient, [contact_change(record)])

    assert result["reason"] == (
        "This child's record is no longer in your care: it may have moved to another province or been removed."
    )


# --- a newly found child: refused where the form would refuse it ---------------------------------------------------


def test_an_identifier_held_elsewhere_is_refused_without_saying_where(cast, worker, wclient):
    _record(901, province=PROVINCE_B)

    response = _post(wclient, [child_change(901)])

    (result,) = response.json()["results"]
    assert result["result"] == "refused"
    assert result["record"] is None
    with translation.override("th"):
        held = record_services.identifier_taken_message(user=worker, holder=None)
    assert result["errors"] == {"identifier": [held]}
    assert "พะเยา" not in response.content.decode()
    assert TargetRecord.objects.filter(identifier=national_id(901)).count() == 1


def test_the_look_up_of_an_identifier_held_elsewhere_is_counted_though_the_change_is_refused(cast, worker, wclient):
    """The refusal's transaction must not take the identifier probe's count and log entry with it (targets.id_probes:
    the check runs before the write's transaction)."""
    _record(906, province=PROVINCE_B)

    (result,) = _sync(wclient, [child_change(906)])

    assert result["result"] == "refused"
    entry = AccessLog.objects.get(user=worker, action=AccessLog.Action.IDENTIFIER_PROBE)
    assert (entry.count, entry.path) == (1, URL)
    assert IdentifierProbeDay.objects.get(user=worker).asked == 1


def test_an_identifier_taken_between_the_check_and_the_write_is_refused_too(cast, worker):
    change = child_change(907)
    batch = sync.Batch(user=worker)
    prepared = sync._prepare_new_child(batch, change)
    _record(907, province=PROVINCE_B)  # another province records the child meanwhile

    answer, record_id = sync._write(batch, "new_child", change, uuid.UUID(change["key"]), prepared)

    assert (answer["result"], list(answer["errors"]), answer["record"], record_id) == (
        "refused",
        ["identifier"],
        None,
        None,
    )
    assert TargetRecord.objects.filter(identifier=national_id(907)).count() == 1


def test_a_new_childs_values_pass_the_record_forms_rules(cast, worker, wclient):
    change = child_change(902, identifier=wrong_check_digit(902), first_name="", sex="X", category="no-such")

    (result,) = _sync(wclient, [change])

    assert result["result"] == "refused"
    assert {"identifier", "first_name", "sex", "category"} <= set(result["errors"])
    assert not TargetRecord.objects.filter(first_name="พบใหม่").exists()


def test_a_new_child_only_where_the_worker_works(cast, worker, wclient):
    outside = child_change(903, province=PROVINCE_B, district=None, sub_district=None)
    # A worker limited to one district may not note a child in another.
    limited = make_user("limited.worker@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    districts = list(District.objects.filter(province_id=PROVINCE_A).order_by("code")[:2])
    Membership.objects.get(user=limited, role=Role.CASE_WORKER).districts.set([districts[1]])

    (result,) = _sync(wclient, [outside])
    other_client = Client()
    other_client.force_login(limited)
    (elsewhere,) = _sync(other_client, [child_change(904)])  # in districts[0]
    (inside,) = _sync(other_client, [child_change(905, district=districts[1].code, sub_district=None)])

    assert (result["result"], list(result["errors"])) == ("refused", ["province"])
    assert (elsewhere["result"], list(elsewhere["errors"])) == ("refused", ["district"])
    assert inside["result"] == "applied"
    assert TargetRecord.objects.get(pk=inside["record"]).case_worker == limited


def _found_values(district: District | None = None) -> dict:
    return {
        "first_name": "พบใหม่",
        "last_name": "",
        "category_id": Category.objects.get(code="out-of-school").pk,
        "district_id": district.pk if district else None,
    }


def test_only_a_case_worker_of_the_province_reports_a_found_child(cast, worker):
    province_a, province_b = Province.objects.get(pk=PROVINCE_A), Province.objects.get(pk=PROVINCE_B)
    for user, province in ((cast.coordinator_a, province_a), (worker, province_b), (cast.eef_admin, province_a)):
        with pytest.raises(PermissionDenied):
            record_services.report_found(user=user, province=province, identifier=national_id(910),
                                         identifier_kind="national_id", values=_found_values())  # fmt: skip
    record = record_services.report_found(user=worker, province=province_a, identifier=national_id(910),
                                          identifier_kind="national_id", values=_found_values())  # fmt: skip
    assert (record.case_worker, record.status.code, record.updated_by) == (worker, "in-follow-up", worker)


def test_a_worker_limited_to_districts_reports_only_there_and_never_without_a_district(cast):
    limited = make_user("limited.worker@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    mine, other = list(District.objects.filter(province_id=PROVINCE_A).order_by("code")[:2])
    Membership.objects.get(user=limited).districts.set([mine])
    province = Province.objects.get(pk=PROVINCE_A)
    for district in (other, None):
        with pytest.raises(PermissionDenied):
            record_services.report_found(user=limited, province=province, identifier=national_id(911),
                                         identifier_kind="national_id", values=_found_values(district))  # fmt: skip
    record = record_services.report_found(user=limited, province=province, identifier=national_id(911),
                                          identifier_kind="national_id", values=_found_values(mine))  # fmt: skip
    assert record.district == mine


# --- the request ----------------------------------------------------------------------------------------------


def test_without_a_session_the_answer_is_401(client_for):
    response = _post(client_for(None), [])
    assert (response.status_code, response.json()) == (401, {"detail": "not signed in", "code": "signed_out"})


@pytest.mark.parametrize("who", ["coordinator_a", "viewer_a", "agency_user_a", "no_role", "eef_admin"])
def test_no_one_but_a_case_worker_syncs(cast, who, client_for):
    assert _post(client_for(cast[who]), []).status_code == 403


def test_reading_is_not_allowed(wclient):
    assert wclient.get(URL).status_code == 405


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps([]),
        json.dumps({"changes": {}}),
        json.dumps({"changes": [{"key": "not-a-uuid", "kind": "contact"}]}),
        json.dumps({"changes": [{"kind": "contact"}]}),
        json.dumps({"changes": ["a string"]}),
        json.dumps({"changes": [{"key": "2b7c1f0e-8d1a-4c55-9a43-0f6e2d9b7a11", "kind": "delete"}]}),
        '{"changes": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nested deeper than Python's stack: still a 400
    ],
    ids=["text", "a list", "not a list", "bad key", "no key", "not an object", "unknown kind", "nested"],
)
def test_a_malformed_body_is_answered_400_in_thai(wclient, body):
    response = wclient.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert any("\u0e00" <= char <= "\u0e7f" for char in detail)  # Thai
    assert not SyncedChange.objects.exists()


def test_more_changes_than_the_limit_are_refused_whole(cast, worker, wclient, settings):
    settings.FIELDWORK_SYNC_MAX_CHANGES = 2
    record = _mine(cast, worker)

    response = _post(wclient, [contact_change(record) for _ in range(3)])

    assert response.status_code == 400
    assert not Contact.objects.exists()
    assert _post(wclient, [contact_change(record) for _ in range(2)]).status_code == 200


def test_csrf_is_enforced(cast, worker):
    record = _mine(cast, worker)
    client = Client(enforce_csrf_checks=True)
    client.force_login(worker)
    assert _post(client, [contact_change(record)]).status_code == 403
    assert not Contact.objects.exists()

    client.get("/field/")  # the shell sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = _post(client, [contact_change(record)], HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert Contact.objects.count() == 1
    # Without a session the device learns it is signed out (401), whatever the token.
    assert _post(Client(enforce_csrf_checks=True), []).status_code == 401


# --- GPS on contacts ---------------------------------------------------------------------------------------------


def test_a_contact_keeps_the_devices_location_and_the_case_page_shows_it(cast, worker, wclient, client_for):
    record = _mine(cast, worker)
    change = contact_change(record, location={"lat": 16.4419355, "lon": 102.835999, "accuracy": 12.6})

    (result,) = _sync(wclient, [change])

    assert result["result"] == "applied"
    contact = Contact.objects.get(case_id=record.pk)
    assert (contact.latitude, contact.longitude, contact.location_accuracy_m) == (
        decimal.Decimal("16.441936"),
        decimal.Decimal("102.835999"),
        13,
    )
    page = client_for(cast.coordinator_a).get(f"/records/{record.pk}/").content.decode()
    assert "บันทึกตำแหน่งแล้ว (±13 ม.)" in page
    assert "16.441936, 102.835999" in page


def test_a_contact_without_a_location_has_none(cast, worker, wclient, client_for):
    record = _mine(cast, worker)
    _sync(wclient, [contact_change(record)])
    contact = Contact.objects.get(case_id=record.pk)
    assert (contact.latitude, contact.longitude, contact.location_accuracy_m) == (None, None, None)
    assert (
        'data-testid="contact-location"'
        not in client_for(cast.coordinator_a).get(f"/records/{record.pk}/").content.decode()
    )


@pytest.mark.parametrize(
    ("location", "stored"),
    [
        ({"lat": -90, "lon": 180, "accuracy": None}, (decimal.Decimal("-90"), decimal.Decimal("180"), None)),
        ({"lat": 0.5, "lon": -0.25, "accuracy": 0}, (decimal.Decimal("0.5"), decimal.Decimal("-0.25"), 0)),
        ({"lat": None, "lon": None, "accuracy": 5}, (None, None, None)),
    ],
)
def test_locations_on_the_edges_are_kept(cast, worker, location, stored):
    record = _mine(cast, worker)
    contact = services.log_contact(user=worker, record=record, kind="phone", happened_at=timezone.now(),
                                   location=location)  # fmt: skip
    contact.refresh_from_db()
    assert (contact.latitude, contact.longitude, contact.location_accuracy_m) == stored


@pytest.mark.parametrize(
    "location",
    [
        {"lat": 91, "lon": 100},
        {"lat": 10, "lon": -180.5},
        {"lat": 10, "lon": None},
        {"lat": None, "lon": 100},
        {"lat": "16.4", "lon": 102.8},
        {"lat": True, "lon": 102.8},
        {"lat": 16.4, "lon": 102.8, "accuracy": -1},
        {"lat": 16.4, "lon": 102.8, "accuracy": "5"},
        "16.4,102.8",
    ],
)
def test_a_location_off_the_globe_or_half_given_is_refused_keyed_location(cast, worker, location):
    record = _mine(cast, worker)
    with translation.override("th"), pytest.raises(services.ValidationError) as refused:
        services.log_contact(user=worker, record=record, kind="phone", happened_at=timezone.now(), location=location)
    assert list(refused.value.message_dict) == ["location"]
    assert any("\u0e00" <= char <= "\u0e7f" for char in refused.value.message_dict["location"][0])
    assert not Contact.objects.exists()


# --- the audit trail ----------------------------------------------------------------------------------------------


def test_the_audit_trail_names_the_worker(cast, worker, wclient):
    record = _mine(cast, worker)
    _sync(wclient, [contact_change(record), status_change(record, "vocational"), help_change(record)])

    contact = Contact.objects.get(case_id=record.pk)
    contact_event = event_model(Contact).objects.select_related("pgh_context").get(pgh_obj_id=contact.pk)
    record_event = (
        event_model(TargetRecord).objects.select_related("pgh_context").filter(pgh_obj_id=record.pk).latest("pgh_id")
    )
    help_event = event_model(Assistance).objects.select_related("pgh_context").get(record_id=record.pk)
    for event in (contact_event, record_event, help_event):
        assert event.pgh_context.metadata["user"] == worker.pk
        assert event.pgh_context.metadata["url"] == URL
    assert record_event.status_id == Outcome.objects.get(code="vocational").pk


# --- queries ---------------------------------------------------------------------------------------------------


def _sync_queries(client: Client, changes: list[dict]) -> int:
    with CaptureQueriesContext(connection) as queries:
        results = _sync(client, changes)
    assert {r["result"] for r in results} == {"applied"}
    return len(queries)


def test_contacts_cost_a_fixed_number_of_queries_each(cast, worker, wclient):
    records = [_mine(cast, worker, n=n) for n in range(1, 51)]
    _sync(wclient, [contact_change(records[0])])  # the session's own reads and writes settle on a first request
    one = _sync_queries(wclient, [contact_change(records[1])])
    fifty = _sync_queries(wclient, [contact_change(record) for record in records])
    # Per contact (its case already open), 11: the change's transaction (a savepoint here, inside the test's
    # transaction; BEGIN and COMMIT in production, which the capture does not list) and its release; the record
    # through the door; log_contact's savepoint, its key's look-up, the case (case_for's read), the case locked, the
    # contact's insert, the case's save, the savepoint's release; the SyncedChange's insert. Per request, whatever
    # the number: the session, the user, their scope (two), the keys seen before.
    assert fifty - one == 49 * 11


def test_a_replay_costs_a_fixed_number_of_queries_whatever_the_number(cast, worker, wclient):
    records = [_mine(cast, worker, n=n) for n in range(1, 21)]
    few = [contact_change(record) for record in records[:2]]
    many = [contact_change(record) for record in records]
    _sync(wclient, few)
    _sync(wclient, many)
    with CaptureQueriesContext(connection) as small:
        _sync(wclient, few)
    with CaptureQueriesContext(connection) as large:
        _sync(wclient, many)
    assert len(small) == len(large)  # the keys seen before, in one query


# --- choices for the offline forms -------------------------------------------------------------------------------


def test_the_download_gives_the_choices_of_the_offline_forms(cast, worker, wclient):
    choices = wclient.get("/field/api/my-cases/").json()["choices"]

    assert {"code": "in-follow-up", "name": "อยู่ระหว่างติดตาม"} in choices["statuses"]
    assert [c["code"] for c in choices["contact_kinds"]][:2] == ["home_visit", "phone"]
    assert {"code": "home-visit", "name": "เยี่ยมบ้าน"} in choices["assistance_types"]
    assert {c["code"] for c in choices["categories"]} == set(
        Category.objects.filter(is_active=True).values_list("code", flat=True)
    )
    (province,) = choices["provinces"]
    assert province["code"] == PROVINCE_A
    assert len(province["districts"]) == District.objects.filter(province_id=PROVINCE_A).count()
    first = province["districts"][0]
    assert first["sub_districts"]
    assert {s["code"] for s in first["sub_districts"]} == set(
        SubDistrict.objects.filter(district_id=first["code"]).values_list("code", flat=True)
    )


def test_inactive_statuses_and_help_types_are_not_offered(cast, worker, wclient):
    Outcome.objects.filter(code="vocational").update(is_active=False)
    AssistanceType.objects.filter(code="travel").update(is_active=False)
    choices = wclient.get("/field/api/my-cases/").json()["choices"]
    assert "vocational" not in {c["code"] for c in choices["statuses"]}
    assert "travel" not in {c["code"] for c in choices["assistance_types"]}


def test_a_worker_limited_to_districts_is_offered_only_those(cast):
    limited = make_user("limited.worker@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    Membership.objects.create(user=limited, role=Role.CASE_WORKER, province_id=PROVINCE_B)
    district = District.objects.filter(province_id=PROVINCE_A).order_by("code").last()
    Membership.objects.get(user=limited, province_id=PROVINCE_A).districts.set([district])

    provinces = {p["code"]: p for p in selectors.choices(limited)["provinces"]}

    assert set(provinces) == {PROVINCE_A, PROVINCE_B}
    assert [d["code"] for d in provinces[PROVINCE_A]["districts"]] == [district.code]
    assert len(provinces[PROVINCE_B]["districts"]) == District.objects.filter(province_id=PROVINCE_B).count()


def test_the_choices_cost_a_fixed_number_of_queries(cast, worker):
    wide = make_user("wide.worker@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    Membership.objects.create(user=wide, role=Role.CASE_WORKER, province_id=PROVINCE_B)
    selectors.choices(worker)
    selectors.choices(wide)  # the scopes, computed once per user object
    with CaptureQueriesContext(connection) as one:
        selectors.choices(worker)
    with CaptureQueriesContext(connection) as two:
        selectors.choices(wide)
    # provinces, districts, sub-districts, statuses, help types, categories
    assert len(one) == len(two) == 6


@pytest.mark.parametrize("depth", [300, 700, 900, 995])
def test_a_change_nested_nearly_as_deep_as_the_stack_is_refused_not_a_500(wclient, depth):
    """Parsed by json (its limit is the recursion limit), then walked again for its checksum: the request is a 400,
    or the change is refused with its reason; never a 500."""
    deep = "[" * depth + "]" * depth
    body = '{"changes": [{"key": "5d0c8f6e-3b1a-4e7c-9a2f-1c3d5e7f9a0b", "kind": "contact", "contact": ' + deep + "}]}"
    response = wclient.post(URL, body, content_type="application/json")
    assert response.status_code in (200, 400)
    if response.status_code == 200:  # read: the change itself is refused, with its reason
        [result] = response.json()["results"]
        assert result["result"] == "refused"
