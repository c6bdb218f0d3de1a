"""Transfers between provinces (transfers/): a coordinator asks for a record another province holds, the
holding province (or EEF/IPSR) accepts or declines, EEF/IPSR move a record directly. At each step: what
each side can see. Before acceptance the requesting side never learns the record's name nor which
province holds it; after it, the old province keeps only a line with the date, and gets 404 for the record.
"""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Role
from cases import services as case_services
from cases.models import Agency, AgencyType, Case, CaseEvent, Contact, Referral
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.versioning import StaleEdit
from provinces.models import District, Province, SubDistrict
from targets.models import Category, Outcome, StatusChange, TargetRecord
from tests.builders import national_id
from transfers import services
from transfers.figures import transfers_by_quarter
from transfers.models import TransferRequest, TransferState

pytestmark = pytest.mark.django_db

PROVINCE_C = 10  # กรุงเทพมหานคร: a third province, outside both sides
CHILD_FIRST, CHILD_LAST = "ปิ่นมณี", "ศรีสุข"


def _province_names(code: int) -> list[str]:
    province = Province.objects.get(code=code)
    return [province.name_th, province.name_en]


@pytest.fixture
def held_by_b(cast) -> TargetRecord:
    """A child's record in province B, with a district, a status change, a case worker, a contact and a
    referral to one of B's agencies."""
    district = District.objects.filter(province_id=PROVINCE_B).first()
    record = TargetRecord.objects.create(
        identifier=national_id(501),
        identifier_kind="national_id",
        first_name=CHILD_FIRST,
        last_name=CHILD_LAST,
        province_id=PROVINCE_B,
        district=district,
        sub_district=SubDistrict.objects.filter(district=district).first(),
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )
    StatusChange.objects.create(
        record=record, from_status=record.status, to_status=Outcome.objects.get(code="returned-to-school")
    )
    worker = make_user("worker.b@example.org", role=Role.CASE_WORKER, province=PROVINCE_B)
    case_services.assign(user=cast.coordinator_b, records=[record], worker=worker)
    record.refresh_from_db()
    case_services.log_contact(
        user=cast.coordinator_b, record=record, kind="phone", happened_at=timezone.now(), findings="โทรคุยกับยาย"
    )
    agency = Agency.objects.create(
        province_id=PROVINCE_B, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.อำเภอเมืองพะเยา"
    )
    case_services.refer(
        user=cast.coordinator_b,
        record=record,
        agency=agency,
        reason="ต้องการเรียนต่อ",
        services="การศึกษานอกระบบ",
        deadline=timezone.localdate() + datetime.timedelta(days=14),
    )
    record.refresh_from_db()
    return record


def _ask(cast, record, note="ย้ายมาอยู่กับยาย") -> TransferRequest:
    return services.request_transfer(user=cast.coordinator_a, identifier=record.identifier, note=note)


# --- the service: requested, accepted, declined, forced ------------------------------------------------------------


def test_a_request_records_only_what_the_requester_typed(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    assert (transfer.state, transfer.from_province_id, transfer.to_province_id) == ("requested", PROVINCE_B, PROVINCE_A)
    assert transfer.identifier == held_by_b.identifier
    # Nothing moved; A still reads nothing of the record.
    held_by_b.refresh_from_db()
    assert held_by_b.province_id == PROVINCE_B
    assert not TargetRecord.objects.visible_to(cast.coordinator_a).filter(pk=held_by_b.pk).exists()
    # Both sides and EEF/IPSR see the request; nobody else.
    for user in (cast.coordinator_a, cast.coordinator_b, cast.eef_admin):
        assert TransferRequest.objects.visible_to(user).filter(pk=transfer.pk).exists()
    for user in (cast.viewer_a, cast.university_member, cast.case_worker_a, cast.agency_user_a, cast.no_role):
        assert not TransferRequest.objects.visible_to(user).exists()
    assert list(TransferRequest.objects.incoming_for(cast.coordinator_b)) == [transfer]
    assert not TransferRequest.objects.incoming_for(cast.coordinator_a).exists()


def test_asking_twice_for_the_same_record_is_refused(cast, held_by_b):
    _ask(cast, held_by_b)
    with pytest.raises(ValidationError, match="ขอโอนย้ายระเบียนนี้ไว้แล้ว"):
        _ask(cast, held_by_b)


def test_asking_for_a_record_of_ones_own_province_or_none_is_refused(cast, held_by_b):
    with pytest.raises(ValidationError, match="อยู่ในจังหวัดของท่านแล้ว"):
        services.request_transfer(user=cast.coordinator_b, identifier=held_by_b.identifier)
    with pytest.raises(ValidationError, match="ไม่มีระเบียน"):
        services.request_transfer(user=cast.coordinator_a, identifier=national_id(999))
    with pytest.raises(ValidationError):
        services.request_transfer(user=cast.coordinator_a, identifier="12345")


def test_only_coordinators_ask(cast, held_by_b):
    for user in (cast.viewer_a, cast.university_member, cast.case_worker_a, cast.no_role, cast.eef_admin):
        with pytest.raises(PermissionDenied):
            services.request_transfer(user=user, identifier=held_by_b.identifier)


def test_accepted_the_record_moves_with_its_history_and_its_case_is_handed_over(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    referral = Referral.objects.get(case_id=held_by_b.pk)
    contacts = Contact.objects.filter(case_id=held_by_b.pk).count()
    with pytest.raises(PermissionDenied):  # the requester cannot answer its own request
        services.accept_transfer(user=cast.coordinator_a, transfer=transfer, version=transfer.version)
    services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)
    transfer.refresh_from_db()
    assert (transfer.state, transfer.answered_by) == (TransferState.ACCEPTED, cast.coordinator_b)
    record = TargetRecord.objects.get(pk=held_by_b.pk)
    assert record.province_id == PROVINCE_A
    assert (record.district_id, record.sub_district_id, record.case_worker_id) == (None, None, None)
    # The history, the case, its contacts and referrals went with it.
    assert StatusChange.objects.filter(record=record).count() == 1
    case = Case.objects.get(pk=record.pk)
    assert case.province_id == PROVINCE_A
    assert Contact.objects.filter(case=case).count() == contacts
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.UNASSIGNED).exists()
    assert list(Referral.objects.visible_to(cast.coordinator_a)) == [referral]
    # Visibility follows the province: A reads it, B no longer does.
    assert TargetRecord.objects.visible_to(cast.coordinator_a).filter(pk=record.pk).exists()
    assert not TargetRecord.objects.visible_to(cast.coordinator_b).filter(pk=record.pk).exists()
    assert record in TargetRecord.objects.visible_to(cast.coordinator_a).unassigned()


def test_declined_nothing_moves(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    with pytest.raises(ValidationError, match="ระบุเหตุผล"):
        services.decline_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version, reason=" ")
    services.decline_transfer(
        user=cast.coordinator_b, transfer=transfer, version=transfer.version, reason="เด็กยังอยู่ในพื้นที่"
    )
    transfer.refresh_from_db()
    assert (transfer.state, transfer.answer_reason) == (TransferState.DECLINED, "เด็กยังอยู่ในพื้นที่")
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_B
    # Asking again is possible once answered.
    assert _ask(cast, held_by_b).state == TransferState.REQUESTED


def test_a_stale_answer_is_refused(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    seen = transfer.version
    services.decline_transfer(user=cast.coordinator_b, transfer=transfer, version=seen, reason="ไม่ย้าย")
    with pytest.raises(StaleEdit):
        services.accept_transfer(user=cast.eef_admin, transfer=transfer, version=seen)
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_B


def test_an_answered_request_cannot_be_answered_again(cast, held_by_b):
    transfer = _ask(cast, held_by_b)
    services.withdraw_transfer(user=cast.coordinator_a, transfer=transfer, version=transfer.version)
    transfer.refresh_from_db()
    assert transfer.state == TransferState.CANCELLED
    with pytest.raises(ValidationError, match="ได้รับคำตอบหรือถูกถอนไปแล้ว"):
        services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)


def test_eef_moves_a_record_directly_with_a_reason(cast, held_by_b):
    pending = _ask(cast, held_by_b)
    with pytest.raises(PermissionDenied):
        services.force_move(user=cast.coordinator_b, record=held_by_b, to_province=PROVINCE_C, reason="x")
    with pytest.raises(ValidationError):
        services.force_move(user=cast.eef_admin, record=held_by_b, to_province=PROVINCE_C, reason="")
    transfer = services.force_move(
        user=cast.eef_admin, record=held_by_b, to_province=PROVINCE_C, reason="ย้ายตามคำสั่งศาล"
    )
    assert (transfer.state, transfer.forced, transfer.from_province_id) == ("accepted", True, PROVINCE_B)
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_C
    # A's open request asked about a record B no longer holds: declined, without naming anyone.
    pending.refresh_from_db()
    assert pending.state == TransferState.DECLINED
    assert not any(name in pending.answer_reason for name in _province_names(PROVINCE_C) + _province_names(PROVINCE_B))
    # Neither A nor B reads the record now.
    for user in (cast.coordinator_a, cast.coordinator_b):
        assert not TargetRecord.objects.visible_to(user).filter(pk=held_by_b.pk).exists()


# --- figures -------------------------------------------------------------------------------------------------------


def test_transfers_by_quarter_counts_in_and_out_in_constant_queries(cast, held_by_b, django_assert_num_queries):
    transfer = _ask(cast, held_by_b)
    services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)
    services.force_move(user=cast.eef_admin, record=held_by_b, to_province=PROVINCE_C, reason="ย้าย")
    with django_assert_num_queries(1):  # one aggregate over the accepted moves, grouped by province and month
        figures = transfers_by_quarter()
    transfer.refresh_from_db()
    from core.buddhist_dates import fiscal_year_of

    when = timezone.localtime(transfer.answered_at).date()
    year, quarter = fiscal_year_of(when), f"Q{(when.month + 2) % 12 // 3 + 1}"
    assert figures[(PROVINCE_A, year, quarter)] == {"in": 1, "out": 1}
    assert figures[(PROVINCE_B, year, quarter)] == {"in": 0, "out": 1}
    assert figures[(PROVINCE_C, year, quarter)] == {"in": 1, "out": 0}


# --- summaries: a snapshot keeps the province that held the child then -----------------------------------------------


def test_a_snapshot_taken_before_a_move_still_counts_the_child_in_the_old_province(cast, held_by_b):
    from core.buddhist_dates import current_fiscal_year
    from summaries.models import Snapshot, SummaryRun
    from summaries.services import run_summary

    def snapshot_totals(run) -> dict[int, int]:
        return {
            int(s.province_id or 0): s.data["records"]["total"]
            for s in Snapshot.objects.filter(run=run, level="province", province_id__in=[PROVINCE_A, PROVINCE_B])
        }

    year = current_fiscal_year()
    before = run_summary(run_id=SummaryRun.objects.create(fiscal_year=year, trigger=SummaryRun.Trigger.COMMAND).pk)
    assert snapshot_totals(before) == {PROVINCE_A: 0, PROVINCE_B: 1}
    transfer = _ask(cast, held_by_b)
    services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)
    after = run_summary(run_id=SummaryRun.objects.create(fiscal_year=year, trigger=SummaryRun.Trigger.COMMAND).pk)
    assert snapshot_totals(after) == {PROVINCE_A: 1, PROVINCE_B: 0}
    assert snapshot_totals(before) == {PROVINCE_A: 0, PROVINCE_B: 1}, "a past snapshot never changes"


# --- pages: what each side sees at each step -----------------------------------------------------------------


def _secrets_of(record: TargetRecord) -> list[str]:
    """What the requesting side must never read before acceptance: the child's name, the holding province."""
    return [record.first_name, record.last_name, *_province_names(record.province_id)]


def _shows_none_of(response, secrets: list[str]) -> None:
    text = response.content.decode()
    assert [s for s in secrets if s and s in text] == []


def test_the_requesting_side_learns_nothing_until_accepted_then_sees_the_record(cast, held_by_b, client_for):
    secrets = _secrets_of(held_by_b)
    a, b = client_for(cast.coordinator_a), client_for(cast.coordinator_b)
    response = a.post("/transfers/new/", {"identifier": held_by_b.identifier, "note": "ครอบครัวย้ายมาขอนแก่น"})
    assert response.status_code == 302
    transfer = TransferRequest.objects.get()
    url = f"/transfers/{transfer.pk}/"
    assert response["Location"] == url
    # Requested: A sees what it typed (masked) and the state; nothing of the record.
    for page in (a.get(url), a.get("/transfers/")):
        assert page.status_code == 200
        _shows_none_of(page, [*secrets, held_by_b.identifier])
    assert "x-xxxx-xxxxx-" in a.get(url).content.decode()
    # B, the holder, sees the child and who asks, in its inbox.
    inbox = b.get("/transfers/").content.decode()
    assert CHILD_FIRST in inbox
    assert Province.objects.get(code=PROVINCE_A).name_th in inbox
    # Accepted by B on its page.
    response = b.post(url, {"action": "accept", "seen_version": transfer.version, "reason": ""})
    assert response.status_code == 302
    record_url = f"/records/{held_by_b.pk}/"
    # A now reads the record, with its history; B gets 404 and keeps only a line with the date.
    page = a.get(record_url)
    assert page.status_code == 200
    assert CHILD_FIRST in page.content.decode()
    # Its page shows the move, without where from (its referral to B's agency came with it, named as it is).
    moves = page.content.decode().split('data-testid="record-moves"', 1)[1].split("</section>", 1)[0]
    assert "ย้ายเข้ามาจากจังหวัดอื่น" in moves
    assert [name for name in _province_names(PROVINCE_B) if name in moves] == []
    assert CHILD_FIRST in a.get(url).content.decode()
    assert b.get(record_url).status_code == 404
    for page in (b.get(url), b.get("/transfers/")):
        assert page.status_code == 200
        _shows_none_of(page, [CHILD_FIRST, CHILD_LAST, *_province_names(PROVINCE_A)])
    assert "moved-away" in b.get(url).content.decode()


def test_declined_the_requester_reads_the_reason_never_the_province(cast, held_by_b, client_for):
    transfer = _ask(cast, held_by_b)
    b = client_for(cast.coordinator_b)
    url = f"/transfers/{transfer.pk}/"
    page = b.get(url).content.decode()
    assert "จังหวัดที่ขอจะเห็นเหตุผลนี้" in page  # the holder is told the requester reads the reason
    response = b.post(url, {"action": "decline", "seen_version": transfer.version, "reason": ""})
    assert response.status_code == 200  # a reason is required: the form again
    response = b.post(url, {"action": "decline", "seen_version": transfer.version, "reason": "เด็กยังเรียนที่นี่"})
    assert response.status_code == 302
    a_page = client_for(cast.coordinator_a).get(url)
    assert "เด็กยังเรียนที่นี่" in a_page.content.decode()
    _shows_none_of(a_page, _secrets_of(held_by_b))
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_B


def test_forced_both_old_sides_lose_the_record_and_eef_sees_both_provinces(cast, held_by_b, client_for):
    eef = client_for(cast.eef_admin)
    response = eef.post(
        "/transfers/new/", {"identifier": held_by_b.identifier, "province": PROVINCE_A, "reason": "คำสั่ง กสศ."}
    )
    assert response.status_code == 302
    transfer = TransferRequest.objects.get()
    assert (transfer.forced, transfer.state) == (True, "accepted")
    page = eef.get(f"/transfers/{transfer.pk}/").content.decode()
    assert all(name in page for name in (CHILD_FIRST, Province.objects.get(code=PROVINCE_B).name_th))
    assert client_for(cast.coordinator_b).get(f"/records/{held_by_b.pk}/").status_code == 404
    assert client_for(cast.coordinator_a).get(f"/records/{held_by_b.pk}/").status_code == 200
    b_page = client_for(cast.coordinator_b).get(f"/transfers/{transfer.pk}/")
    _shows_none_of(b_page, [CHILD_FIRST, *_province_names(PROVINCE_A)])


def test_outsiders_get_404_for_a_transfer(cast, held_by_b, client_for):
    transfer = _ask(cast, held_by_b)
    coordinator_c = make_user("coord.c@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_C)
    for user in (coordinator_c, cast.university_member, cast.viewer_a, cast.case_worker_a, cast.agency_user_a):
        client = client_for(user)
        assert client.get(f"/transfers/{transfer.pk}/").status_code == 404, user
        assert client.post(f"/transfers/{transfer.pk}/", {"action": "accept", "seen_version": 1}).status_code == 404


def test_a_stale_answer_on_the_page_is_refused(cast, held_by_b, client_for):
    transfer = _ask(cast, held_by_b)
    seen = transfer.version
    services.withdraw_transfer(user=cast.coordinator_a, transfer=transfer, version=seen)
    response = client_for(cast.coordinator_b).post(
        f"/transfers/{transfer.pk}/", {"action": "accept", "seen_version": seen}
    )
    assert response.status_code == 409
    assert TargetRecord.objects.get(pk=held_by_b.pk).province_id == PROVINCE_B


def test_the_upload_report_offers_a_transfer_beside_a_row_held_elsewhere(cast, held_by_b, client_for):
    from targets.models import UploadBatch
    from tests.builders import xlsx

    client = client_for(cast.coordinator_a)
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"]
    response = client.post(
        "/uploads/new/",
        {
            "province": PROVINCE_A,
            "file": xlsx(header, [[held_by_b.identifier, "ปิ่น", "ขอนแก่น", "เด็กและเยาวชนนอกระบบการศึกษา"]]),
        },
    )
    batch = UploadBatch.objects.get(province_id=PROVINCE_A)
    page = client.get(f"/uploads/{batch.pk}/").content.decode()
    assert "นอกจังหวัดของท่านแล้ว" in page
    link = f"/transfers/new/?upload={batch.pk}&amp;row=2"
    assert link in page, response
    form = client.get(link.replace("&amp;", "&"))
    assert form.context["form"].initial["identifier"] == held_by_b.identifier
    _shows_none_of(form, _secrets_of(held_by_b))
    # Another coordinator's upload is 404 through the same link.
    assert client_for(cast.coordinator_b).get(link.replace("&amp;", "&")).status_code == 404


def test_the_record_form_offers_a_transfer_when_the_identifier_is_held_elsewhere(cast, held_by_b, client_for):
    client = client_for(cast.coordinator_a)
    data = {
        "identifier": held_by_b.identifier,
        "first_name": "สมชาย",
        "category": "out-of-school",
        "status": "in-follow-up",
    }
    page = client.post(f"/records/new/?province={PROVINCE_A}", data)
    assert page.status_code == 200
    assert page.context["transfer_identifier"] == held_by_b.identifier
    assert 'data-testid="offer-transfer"' in page.content.decode()
    form = client.post("/transfers/new/", {"identifier": held_by_b.identifier, "prefill": "1"})
    assert form.status_code == 200
    assert form.context["form"].initial["identifier"] == held_by_b.identifier
    assert not TransferRequest.objects.exists()


def test_the_transfer_list_costs_the_same_queries_at_any_size(cast, client_for, django_assert_num_queries):
    category, status = Category.objects.get(code="out-of-school"), Outcome.objects.get(code="in-follow-up")

    def make(start: int, count: int) -> None:
        for n in range(start, start + count):
            record = TargetRecord.objects.create(
                identifier=national_id(700 + n), identifier_kind="national_id", first_name=f"เด็ก{n}",
                province_id=PROVINCE_B, category=category, status=status,
            )  # fmt: skip
            transfer = services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
            if n % 2:
                services.accept_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version)

    clients = {name: client_for(cast[name]) for name in ("coordinator_a", "coordinator_b", "eef_admin")}
    counts = {}
    make(0, 3)
    for client in clients.values():
        client.get("/transfers/")  # sessions and caches warm
    for name, client in clients.items():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get("/transfers/").status_code == 200
        counts[name] = len(queries)
    make(3, 8)
    for client in clients.values():
        # The new requests and answers notified people (cases.Notification), which forgets their header's
        # cached unread count: one query to count it again on the next page, then cached.
        client.get("/transfers/")
    for name, client in clients.items():
        # session and user, the scope (memberships), the three sections (each one query while it has
        # fewer rows than it shows), the access-log entry: the same as with fewer requests.
        with django_assert_num_queries(counts[name]):
            assert client.get("/transfers/").status_code == 200


# --- the API -------------------------------------------------------------------------------------------------------


def _post_json(client, url: str, body: dict, **headers):
    import json

    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_the_api_asks_answers_and_shows_each_side_only_its_part(cast, held_by_b):
    import json
    import uuid

    from tests.api_support import key_client, make_key

    _key_a, secret_a = make_key(provinces=[PROVINCE_A], name="ระบบขอนแก่น")
    _key_b, secret_b = make_key(provinces=[PROVINCE_B], name="ระบบพะเยา")
    _key_c, secret_c = make_key(provinces=[PROVINCE_C], name="ระบบกรุงเทพ")
    a, b, c = key_client(secret_a), key_client(secret_b), key_client(secret_c)
    url = "/api/v1/transfers/"
    header = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    body = {"identifier": held_by_b.identifier, "note": "ย้ายตามครอบครัว"}
    first = _post_json(a, url, body, **header)
    assert first.status_code == 201, first.content
    again = _post_json(a, url, body, **header)
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert TransferRequest.objects.count() == 1
    created = json.loads(first.content)
    assert created["side"] == "requester"
    assert (created["record"], created["from_province"], created["state"]) == (None, None, "requested")
    secrets = _secrets_of(held_by_b)
    listed = a.get(url)
    assert [t["id"] for t in json.loads(listed.content)["results"]] == [created["id"]]
    for response in (listed, a.get(f"{url}{created['id']}/")):
        assert [s for s in secrets if s in response.content.decode()] == []
    # The requester cannot answer; a third province does not find it.
    assert _post_json(a, f"{url}{created['id']}/accept/", {"version": created["version"]}).status_code == 403
    assert c.get(f"{url}{created['id']}/").status_code == 404
    assert json.loads(c.get(url).content)["results"] == []
    # The holder's key finds it waiting, and accepts; a stale version is refused (412).
    incoming = json.loads(b.get(f"{url}?incoming=1").content)["results"]
    assert [(t["id"], t["side"], t["record"]) for t in incoming] == [(created["id"], "holder", held_by_b.pk)]
    assert _post_json(b, f"{url}{created['id']}/accept/", {"version": created["version"] + 5}).status_code == 412
    accepted = _post_json(b, f"{url}{created['id']}/accept/", {"version": created["version"]})
    assert accepted.status_code == 200, accepted.content
    after = json.loads(accepted.content)
    assert (after["state"], after["record"], after["to_province"], after["note"]) == ("accepted", None, None, "")
    moved = json.loads(a.get(f"{url}{created['id']}/").content)
    assert moved["record"] == held_by_b.pk
    assert a.get(f"/api/v1/records/{held_by_b.pk}/").status_code == 200
    assert b.get(f"/api/v1/records/{held_by_b.pk}/").status_code == 404


def _count_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_api_list_costs_the_same_queries_at_any_size(cast):
    from tests.api_support import key_client, make_key

    _key, secret = make_key(provinces=[PROVINCE_A])
    client = key_client(secret)
    category, status = Category.objects.get(code="out-of-school"), Outcome.objects.get(code="in-follow-up")

    def make(start: int, count: int) -> None:
        for n in range(start, start + count):
            record = TargetRecord.objects.create(
                identifier=national_id(900 + n), identifier_kind="national_id", first_name=f"เด็ก{n}",
                province_id=PROVINCE_B, category=category, status=status,
            )  # fmt: skip
            services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)

    make(0, 2)
    client.get("/api/v1/transfers/")
    few = _count_queries(client, "/api/v1/transfers/")
    make(2, 10)
    assert _count_queries(client, "/api/v1/transfers/") == few
