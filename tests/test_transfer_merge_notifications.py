"""Notifications of transfers and merges (issue 16): a transfer request tells the holding province's
coordinators (EEF/IPSR when it has none), its answer tells the requester; a merge proposal tells those who
may confirm it, its answer the proposer. Each goes to exactly those people, names no child and, before
acceptance, nothing of the record nor of the province that holds it; the notifications page says it in
Thai with a link the recipient may open, the daily digest mails it, and "My work" counts what waits."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Role
from cases import digest, unread
from cases import services as case_services
from cases.models import Notification
from conftest import PROVINCE_A, PROVINCE_B, make_user
from identity import services as identity_services
from identity.models import MergeProposal
from provinces.models import Province
from targets import record_services
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id
from transfers import services as transfer_services

pytestmark = pytest.mark.django_db

PROVINCE_C = 10  # กรุงเทพมหานคร: a third province
CHILD = "ปิ่นมณีลับ"
G_CODE = "G644200000001"
K = Notification.Kind


@pytest.fixture(autouse=True)
def _portal_address(settings):
    settings.PORTAL_BASE_URL = "http://testserver"


@pytest.fixture
def coordinator_b2(cast):
    """A second coordinator of province B: both are told."""
    return make_user("coord.b2@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_B)


@pytest.fixture
def coordinator_c(cast):
    return make_user("coord.c@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_C)


def _held(province: int, n: int = 501) -> TargetRecord:
    return TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=CHILD,
        last_name="ศรีสุข",
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )


def _record(user, province: int, identifier: str) -> TargetRecord:
    return record_services.create_record(
        user=user,
        province=Province.objects.get(code=province),
        identifier=identifier,
        identifier_kind="g_code" if identifier.startswith("G") else "national_id",
        values={"first_name": CHILD, "last_name": "ใจดี", "category_id": Category.objects.get(code="out-of-school").pk},
    )


def _told() -> set[tuple[int, str, int | None]]:
    return set(Notification.objects.values_list("user_id", "kind", "subject_id"))


def _secrets(*provinces: int) -> list[str]:
    names = [CHILD]
    for code in provinces:
        province = Province.objects.get(code=code)
        names += [province.name_th, province.name_en]
    return names


def _open_link(client, page: str) -> str:
    """The first notification's "Open" link on the notifications page, followed: where it leads."""
    line = page.split('data-testid="notification"')[1]
    link = line.split('href="')[1].split('"')[0]
    assert link.startswith("/cases/notifications/"), link
    response = client.get(link)
    assert response.status_code == 302
    return response["Location"]


# --- transfers ----------------------------------------------------------------------------------------------


def test_a_transfer_request_tells_the_holding_provinces_coordinators_and_nobody_else(
    cast, coordinator_b2, coordinator_c
):
    record = _held(PROVINCE_B)
    transfer = transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    assert _told() == {
        (cast.coordinator_b.pk, K.TRANSFER_REQUESTED, transfer.pk),
        (coordinator_b2.pk, K.TRANSFER_REQUESTED, transfer.pk),
    }
    # Not the requester, nor EEF/IPSR (B has coordinators), nor another province, nor anyone without a role.
    assert unread.unread_count(cast.coordinator_b) == 1
    assert unread.unread_count(cast.coordinator_a) == 0


def test_a_request_for_a_province_without_coordinators_tells_eef(cast, coordinator_b2):
    second_admin = make_user("eef2@example.org", role=Role.EEF_ADMIN)
    record = _held(PROVINCE_C)
    transfer = transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    assert _told() == {
        (cast.eef_admin.pk, K.TRANSFER_REQUESTED, transfer.pk),
        (second_admin.pk, K.TRANSFER_REQUESTED, transfer.pk),
    }


def test_a_refused_request_tells_nobody(cast):
    with pytest.raises(ValidationError):  # no record holds it
        transfer_services.request_transfer(user=cast.coordinator_a, identifier=national_id(999))
    assert not Notification.objects.exists()


def test_the_holder_opens_the_request_from_the_thai_notification(cast, client_for):
    record = _held(PROVINCE_B)
    transfer = transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    client = client_for(cast.coordinator_b)
    page = client.get("/cases/notifications/").content.decode()
    assert "มีคำขอโอนย้ายระเบียนรอคำตอบจากคุณ" in page
    assert 'data-testid="unread-count">1' in page
    assert _open_link(client, page) == f"/transfers/{transfer.pk}/"
    assert client.get(f"/transfers/{transfer.pk}/").status_code == 200
    assert Notification.objects.get(user=cast.coordinator_b).read_at is not None


def test_a_decline_tells_the_requester_only_and_names_nothing(cast, client_for, coordinator_b2):
    record = _held(PROVINCE_B)
    transfer = transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    Notification.objects.all().delete()
    transfer_services.decline_transfer(
        user=cast.coordinator_b, transfer=transfer, version=transfer.version, reason="เด็กยังอยู่ที่นี่"
    )
    assert _told() == {(cast.coordinator_a.pk, K.TRANSFER_DECLINED, transfer.pk)}

    client = client_for(cast.coordinator_a)
    page = client.get("/cases/notifications/").content.decode()
    assert "คำขอโอนย้ายระเบียนของคุณถูกปฏิเสธ" in page
    for secret in [*_secrets(PROVINCE_B), record.identifier]:
        assert secret not in page, secret
    target = _open_link(client, page)
    assert target == f"/transfers/{transfer.pk}/"
    opened = client.get(target)
    assert opened.status_code == 200
    for secret in _secrets(PROVINCE_B):
        assert secret not in opened.content.decode(), secret


def test_an_acceptance_tells_the_requester_and_the_other_requests_are_declined_to_theirs(
    cast, client_for, coordinator_c
):
    record = _held(PROVINCE_B)
    ours = transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    theirs = transfer_services.request_transfer(user=coordinator_c, identifier=record.identifier)
    Notification.objects.all().delete()
    transfer_services.accept_transfer(user=cast.coordinator_b, transfer=ours, version=ours.version)
    assert _told() == {
        (cast.coordinator_a.pk, K.TRANSFER_ACCEPTED, ours.pk),
        (coordinator_c.pk, K.TRANSFER_DECLINED, theirs.pk),
    }
    client = client_for(cast.coordinator_a)
    page = client.get("/cases/notifications/").content.decode()
    assert "คำขอโอนย้ายระเบียนของคุณได้รับการตอบรับ" in page
    assert client.get(_open_link(client, page)).status_code == 200


def test_a_withdrawn_request_tells_those_it_waited_for_and_names_nothing(cast, client_for, coordinator_b2):
    record = _held(PROVINCE_B)
    transfer = transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    before = _told()
    transfer_services.withdraw_transfer(user=cast.coordinator_a, transfer=transfer, version=transfer.version)
    assert _told() - before == {
        (cast.coordinator_b.pk, K.TRANSFER_WITHDRAWN, transfer.pk),
        (coordinator_b2.pk, K.TRANSFER_WITHDRAWN, transfer.pk),
    }
    client = client_for(cast.coordinator_b)
    page = client.get("/cases/notifications/").content.decode()
    assert "คำขอโอนย้ายที่รอคำตอบจากคุณถูกถอนแล้ว" in page
    assert not [secret for secret in _secrets(PROVINCE_A) if secret in page]


def test_a_direct_move_by_eef_tells_both_provinces_coordinators(cast, client_for, coordinator_b2, coordinator_c):
    record = _held(PROVINCE_B)
    moved = transfer_services.force_move(user=cast.eef_admin, record=record, to_province=PROVINCE_A, reason="คำสั่ง กสศ.")
    assert _told() == {
        (cast.coordinator_a.pk, K.MOVED_IN, moved.pk),  # the province that gains the record assigns it
        (cast.coordinator_b.pk, K.MOVED_OUT, moved.pk),
        (coordinator_b2.pk, K.MOVED_OUT, moved.pk),
    }  # not EEF/IPSR, who acted, nor another province
    gaining = client_for(cast.coordinator_a)
    page = gaining.get("/cases/notifications/").content.decode()
    assert "กสศ. ย้ายระเบียนเข้ามาในจังหวัดของคุณ" in page
    assert _open_link(gaining, page) == f"/transfers/{moved.pk}/"
    losing = client_for(cast.coordinator_b)
    page = losing.get("/cases/notifications/").content.decode()
    assert "กสศ. ย้ายระเบียนของจังหวัดคุณไปยังจังหวัดอื่น" in page
    assert not [secret for secret in _secrets(PROVINCE_A) if secret in page]


# --- merges ---------------------------------------------------------------------------------------------------


def test_a_two_province_proposal_tells_the_other_provinces_coordinators_and_its_answer_the_proposer(
    cast, client_for, coordinator_b2, coordinator_c
):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    _record(cast.coordinator_b, PROVINCE_B, national_id(1))
    proposal = identity_services.propose(
        user=cast.coordinator_a, record=g, other_identifier=national_id(1), reason="ย้ายมา"
    )
    assert _told() == {
        (cast.coordinator_b.pk, K.MERGE_PROPOSED, proposal.pk),
        (coordinator_b2.pk, K.MERGE_PROPOSED, proposal.pk),
    }
    # The proposer is told nothing meanwhile: nothing of the other record, nor of its province.
    client_a = client_for(cast.coordinator_a)
    assert 'data-testid="notification"' not in client_a.get("/cases/notifications/").content.decode()

    client_b = client_for(cast.coordinator_b)
    page = client_b.get("/cases/notifications/").content.decode()
    assert "มีข้อเสนอรวมระเบียนสองรายการรอการยืนยันจากคุณ" in page
    assert _open_link(client_b, page) == f"/identity/merges/{proposal.pk}/"
    assert client_b.get(f"/identity/merges/{proposal.pk}/").status_code == 200

    # One side's confirmation answers nothing yet; the second merges, and the proposer is told.
    identity_services.confirm(user=cast.coordinator_a, proposal=proposal)
    assert not Notification.objects.filter(user=cast.coordinator_a).exists()
    identity_services.confirm(user=cast.coordinator_b, proposal=proposal)
    assert Notification.objects.filter(kind=K.MERGE_CONFIRMED).count() == 1
    assert Notification.objects.get(kind=K.MERGE_CONFIRMED).user_id == cast.coordinator_a.pk
    page = client_a.get("/cases/notifications/").content.decode()
    assert "ข้อเสนอรวมระเบียนของคุณได้รับการยืนยัน" in page
    assert client_a.get(_open_link(client_a, page)).status_code == 200


def test_when_the_other_province_confirms_first_the_proposers_province_is_asked(cast, coordinator_b2):
    colleague = make_user("coord.a2@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    _record(cast.coordinator_b, PROVINCE_B, national_id(1))
    proposal = identity_services.propose(
        user=cast.coordinator_a, record=g, other_identifier=national_id(1), reason="ย้ายมา"
    )
    Notification.objects.all().delete()
    identity_services.confirm(user=cast.coordinator_b, proposal=proposal)
    # A's side still to confirm: A's coordinators, the proposer among them; B's were told at the proposal.
    assert _told() == {
        (cast.coordinator_a.pk, K.MERGE_PROPOSED, proposal.pk),
        (colleague.pk, K.MERGE_PROPOSED, proposal.pk),
    }
    identity_services.confirm(user=colleague, proposal=proposal)
    assert (cast.coordinator_a.pk, K.MERGE_CONFIRMED, proposal.pk) in _told()
    assert {kind for _u, kind, _s in _told()} == {K.MERGE_PROPOSED, K.MERGE_CONFIRMED}


def test_a_one_province_proposal_tells_eef_and_a_rejection_tells_the_proposer(cast, client_for, coordinator_b2):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_a, PROVINCE_A, national_id(1))
    proposal = identity_services.propose(
        user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ"
    )
    assert _told() == {(cast.eef_admin.pk, K.MERGE_PROPOSED, proposal.pk)}

    eef = client_for(cast.eef_admin)
    page = eef.get("/cases/notifications/").content.decode()
    assert _open_link(eef, page) == f"/identity/merges/{proposal.pk}/"
    assert eef.get(f"/identity/merges/{proposal.pk}/").status_code == 200

    identity_services.reject(user=cast.eef_admin, proposal=proposal, note="คนละคน")
    assert _told() - {(cast.eef_admin.pk, K.MERGE_PROPOSED, proposal.pk)} == {
        (cast.coordinator_a.pk, K.MERGE_REJECTED, proposal.pk)
    }
    client_a = client_for(cast.coordinator_a)
    page = client_a.get("/cases/notifications/").content.decode()
    assert "ข้อเสนอรวมระเบียนของคุณถูกปฏิเสธ" in page
    assert client_a.get(_open_link(client_a, page)).status_code == 200


def test_a_proposal_closed_by_another_merge_tells_its_proposer(cast):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_a, PROVINCE_A, national_id(1))
    other = _record(cast.coordinator_a, PROVINCE_A, national_id(2))
    first = identity_services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
    second = identity_services.propose(user=cast.eef_admin, record=g, other_identifier=other.identifier, reason="ซ้ำ")
    Notification.objects.all().delete()
    identity_services.confirm(user=cast.eef_admin, proposal=first)
    assert MergeProposal.objects.get(pk=second.pk).state == MergeProposal.State.REJECTED
    # The first's proposer is told it merged; the second's is EEF, who acted: nobody else.
    assert _told() == {(cast.coordinator_a.pk, K.MERGE_CONFIRMED, first.pk)}


def test_a_link_leads_nowhere_for_who_no_longer_has_the_role(cast, client_for):
    record = _held(PROVINCE_B)
    transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    cast.coordinator_b.memberships.all().delete()
    client = client_for(cast.coordinator_b)
    page = client.get("/cases/notifications/").content.decode()
    line = page.split('data-testid="notification"')[1]
    assert "/open/" not in line.split("</li>")[0]


# --- the digest -----------------------------------------------------------------------------------------------


def test_the_daily_digest_mails_them_in_thai_with_their_links(cast, mailoutbox):
    record = _held(PROVINCE_B)
    transfer = transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    transfer_services.decline_transfer(user=cast.coordinator_b, transfer=transfer, version=transfer.version,
                                       reason="เด็กยังอยู่ที่นี่")  # fmt: skip
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_a, PROVINCE_A, national_id(1))
    proposal = identity_services.propose(
        user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ"
    )

    run = digest.run_daily()
    assert run is not None
    mails = {m.to[0]: m for m in mailoutbox}
    assert set(mails) == {cast.coordinator_a.email, cast.coordinator_b.email, cast.eef_admin.email}

    holder = mails[cast.coordinator_b.email]
    assert f"คำขอโอนย้ายระเบียนเลขที่ {transfer.pk}: รอคำตอบจากคุณ" in holder.body
    assert f"http://testserver/transfers/{transfer.pk}/" in holder.body

    requester = mails[cast.coordinator_a.email]
    assert f"คำขอโอนย้ายระเบียนเลขที่ {transfer.pk}: ถูกปฏิเสธ" in requester.body
    assert "คำขอโอนย้ายและข้อเสนอรวมระเบียนที่ได้รับคำตอบ" in requester.body  # its section's title
    for secret in [*_secrets(PROVINCE_B), record.identifier]:
        assert secret not in requester.body, secret
        assert secret not in requester.alternatives[0][0], secret

    eef = mails[cast.eef_admin.email]
    assert f"ข้อเสนอรวมระเบียนเลขที่ {proposal.pk}: รอการยืนยันจากคุณ" in eef.body
    assert f"http://testserver/identity/merges/{proposal.pk}/" in eef.body
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_two_requests_to_one_person_are_two_lines_of_the_digest(cast, mailoutbox):
    first, second = _held(PROVINCE_B, 501), _held(PROVINCE_B, 502)
    one = transfer_services.request_transfer(user=cast.coordinator_a, identifier=first.identifier)
    two = transfer_services.request_transfer(user=cast.coordinator_a, identifier=second.identifier)
    digest.run_daily()
    [mail] = [m for m in mailoutbox if m.to == [cast.coordinator_b.email]]
    assert f"เลขที่ {one.pk}:" in mail.body
    assert f"เลขที่ {two.pk}:" in mail.body


# --- what it costs, and "My work" ---------------------------------------------------------------------------


def _notify_many(cast, start: int, count: int) -> None:
    """`count` notifications each of a case, a transfer request and a merge proposal, to coordinator B."""
    for n in range(start, start + count):
        record = _held(PROVINCE_B, 600 + n)
        case_services.notify([cast.coordinator_b.pk], K.CONTACT_OVERDUE, case=case_services.case_for(record))
        case_services.notify_about(
            [(cast.coordinator_b.pk, kind, 1000 + n) for kind in (K.TRANSFER_REQUESTED, K.MERGE_PROPOSED)]
        )


def test_the_notifications_page_costs_the_same_queries_with_transfers_and_merges(
    cast, client_for, django_assert_num_queries
):
    client = client_for(cast.coordinator_b)
    _notify_many(cast, 0, 2)
    client.get("/cases/notifications/")  # session, caches (the header's unread count) warm
    _notify_many(cast, 2, 12)
    client.get("/cases/notifications/")  # the new notifications forgot the cached count: counted again
    # session, user, memberships (the scope), the notifications' count (the paginator), the page of them (the
    # referral joined; a transfer's or a merge's link comes from its app and reads nothing), the email
    # preference: the same as a page of case notifications alone; the unread count is cached.
    with django_assert_num_queries(6):
        response = client.get("/cases/notifications/")
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="notification"') == 30


def test_my_work_counts_the_requests_and_proposals_waiting_for_the_user(cast, client_for, django_assert_num_queries):
    record = _held(PROVINCE_B)
    transfer_services.request_transfer(user=cast.coordinator_a, identifier=record.identifier)
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    _record(cast.coordinator_b, PROVINCE_B, national_id(1))
    proposal = identity_services.propose(
        user=cast.coordinator_a, record=g, other_identifier=national_id(1), reason="ย้ายมา"
    )
    client_b = client_for(cast.coordinator_b)
    page = client_b.get("/cases/").content.decode()
    b_transfers = page.split('data-testid="waiting-transfers"')[1].split("</a>")[0]
    assert '<p class="stat">1</p>' in b_transfers
    assert 'href="/transfers/"' in page.split('data-testid="waiting-transfers"')[0].rsplit("<a", 1)[1]
    assert '<p class="stat">1</p>' in page.split('data-testid="waiting-merges"')[1].split("</a>")[0]
    assert "คำขอโอนย้ายระเบียนที่รอคำตอบจากคุณ" in page

    # A's side: no request waits for A (theirs waits for B); their side of the proposal does.
    page_a = client_for(cast.coordinator_a).get("/cases/").content.decode()
    assert '<p class="stat">0</p>' in page_a.split('data-testid="waiting-transfers"')[1].split("</a>")[0]
    assert '<p class="stat">1</p>' in page_a.split('data-testid="waiting-merges"')[1].split("</a>")[0]
    identity_services.confirm(user=cast.coordinator_a, proposal=proposal)
    page_a = client_for(cast.coordinator_a).get("/cases/").content.decode()
    assert '<p class="stat">0</p>' in page_a.split('data-testid="waiting-merges"')[1].split("</a>")[0]

    # Case workers take no part in transfers or merges: no line for them.
    worker_page = client_for(cast.case_worker_a).get("/cases/").content.decode()
    assert "waiting-transfers" not in worker_page
    assert "waiting-merges" not in worker_page

    # What My work costs a coordinator with these two lines: session, user, memberships (the scope), the
    # overdue cases, the cases due this week, the overdue referrals (each section one query while it has
    # fewer rows than it shows; no access-log entry, no child listed), then one COUNT of the transfer
    # requests waiting (transfers' incoming_for) and one of the merge proposals waiting (identity's
    # waiting_for). The header's unread count is cached by the pages above.
    with django_assert_num_queries(8) as queries:
        assert client_b.get("/cases/").status_code == 200
    asked = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "transfers_transferrequest"' in sql for sql in asked) == 1
    assert sum('FROM "identity_mergeproposal"' in sql for sql in asked) == 1
