"""Identity merges (identity/, README.md "Identity merges"): a G-code record merged into the national-ID
record of the same child, the G-code kept as an alias that uploads, the API and the search find; the undo,
byte for byte; who confirms; what outsiders see."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from cases import services as case_services
from cases.models import Agency, AgencyType, Case
from conftest import PROVINCE_A, PROVINCE_B
from identity import services, snapshots
from identity.models import MergeProposal
from provinces.models import Province
from targets import record_services
from targets.models import AssistanceType, Category, Outcome, RecordAlias, TargetRecord
from tests.api_support import key_client, make_key
from tests.builders import OUT, national_id, upload_and_apply, xlsx

G_CODE = "G644200000001"
HEADER = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "สถานะ"]


def _record(user, province: int, identifier: str, *, first: str = "สมชาย") -> TargetRecord:
    return record_services.create_record(
        user=user,
        province=Province.objects.get(code=province),
        identifier=identifier,
        identifier_kind="g_code" if identifier.startswith("G") else "national_id",
        values={"first_name": first, "last_name": "ใจดี", "category_id": Category.objects.get(code="out-of-school").pk},
    )


def _history(user, record: TargetRecord, *, agency: Agency | None = None) -> None:
    """A status change, help given, a case with a contact, a plan step and (with `agency`) a referral."""
    record_services.change_status(
        record=record, user=user, status=Outcome.objects.get(code="returned-to-school"), version=record.version
    )
    record.refresh_from_db()
    record_services.record_help(
        record=record,
        user=user,
        type=AssistanceType.objects.order_by("pk")[0],
        date=datetime.date(2026, 6, 1),
        given_by="ครู",
    )
    case_services.log_contact(
        user=user, record=record, kind="home_visit", happened_at=timezone.now() - datetime.timedelta(days=2),
        findings="พบเด็ก",
    )  # fmt: skip
    case_services.add_step(user=user, record=record, text="พาไปสมัครเรียน", due_on=datetime.date(2027, 1, 10))
    if agency is not None:
        case_services.refer(
            user=user, record=record, agency=agency, reason="ต้องการทุน", services="ทุนการศึกษา",
            deadline=datetime.date(2027, 2, 1),
        )  # fmt: skip


@pytest.fixture
def pair(cast):
    """A G-code record and a national-ID record of the same child in province A, each with a history."""
    agency = Agency.objects.create(
        province_id=PROVINCE_A, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.เมือง"
    )
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_a, PROVINCE_A, national_id(1))
    _history(cast.coordinator_a, g, agency=agency)
    _history(cast.coordinator_a, nid)
    return nid, g


def _propose_and_merge(cast, nid, g) -> MergeProposal:
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="คนเดียวกัน")
    return services.confirm(user=cast.eef_admin, proposal=proposal)


# --- the merge and its undo -----------------------------------------------------------------------------------


def test_the_national_id_record_survives_with_both_histories_and_the_g_code_as_alias(cast, pair):
    nid, g = pair
    g_rows = snapshots.dump([g.pk])
    proposal = _propose_and_merge(cast, nid, g)

    assert proposal.state == MergeProposal.State.CONFIRMED
    assert (proposal.survivor_pk, proposal.merged_pk) == (nid.pk, g.pk)
    assert not TargetRecord.objects.filter(pk=g.pk).exists()
    alias = RecordAlias.objects.get()
    assert (alias.identifier, alias.record_id, alias.merge_id) == (G_CODE, nid.pk, proposal.pk)
    after = snapshots.dump([nid.pk])
    for label in ("targets.statuschange", "targets.assistance", "cases.contact", "cases.planstep", "cases.referral"):
        moved = {row["id"] for row in g_rows[label]}
        assert moved, label
        assert moved <= {row["id"] for row in after[label]}, label
    # Both had a case: one case, the survivor's, with both contacts.
    assert Case.objects.filter(pk__in=[nid.pk, g.pk]).count() == 1
    assert Case.objects.get(pk=nid.pk).contacts.count() == 2


def test_an_audit_event_names_the_merge(cast, pair):
    from audit.tracking import event_model

    nid, g = pair
    proposal = _propose_and_merge(cast, nid, g)
    events = event_model(TargetRecord).objects.filter(pgh_obj_id=nid.pk, pgh_label="update")
    contexts = [e.pgh_context.metadata for e in events.select_related("pgh_context") if e.pgh_context]
    assert any(c.get("identity_merge") == proposal.pk for c in contexts)


def test_undo_restores_both_records_byte_for_byte(cast, pair):
    nid, g = pair
    before = snapshots.dump([nid.pk, g.pk])
    proposal = _propose_and_merge(cast, nid, g)
    assert snapshots.dump([nid.pk, g.pk]) != before

    services.undo(user=cast.eef_admin, proposal=proposal)

    assert snapshots.dump([nid.pk, g.pk]) == before
    assert not RecordAlias.objects.exists()
    assert MergeProposal.objects.get(pk=proposal.pk).state == MergeProposal.State.UNDONE


def test_undo_restores_a_case_that_only_the_merged_record_had(cast):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_a, PROVINCE_A, national_id(1))
    _history(cast.coordinator_a, g)
    before = snapshots.dump([nid.pk, g.pk])
    proposal = _propose_and_merge(cast, nid, g)
    assert Case.objects.get(pk=nid.pk).contacts.count() == 1

    services.undo(user=cast.eef_admin, proposal=proposal)
    assert snapshots.dump([nid.pk, g.pk]) == before


def test_undo_is_refused_once_the_survivor_changed_after_the_merge(cast, pair):
    nid, g = pair
    proposal = _propose_and_merge(cast, nid, g)
    nid.refresh_from_db()
    record_services.change_status(
        record=nid, user=cast.coordinator_a, status=Outcome.objects.get(code="in-follow-up"), version=nid.version
    )
    with pytest.raises(ValidationError, match="changed after the merge"), translation.override("en"):
        services.undo(user=cast.eef_admin, proposal=proposal)
    assert MergeProposal.objects.get(pk=proposal.pk).state == MergeProposal.State.CONFIRMED


def test_undo_is_refused_after_the_period_and_to_coordinators(cast, pair, settings):
    nid, g = pair
    proposal = _propose_and_merge(cast, nid, g)
    with pytest.raises(PermissionDenied):
        services.undo(user=cast.coordinator_a, proposal=proposal)
    MergeProposal.objects.filter(pk=proposal.pk).update(
        merged_at=timezone.now() - datetime.timedelta(days=settings.IDENTITY_MERGE_UNDO_DAYS + 1)
    )
    with pytest.raises(ValidationError, match="within"), translation.override("en"):
        services.undo(user=cast.eef_admin, proposal=MergeProposal.objects.get(pk=proposal.pk))


# --- the alias: uploads, API, search, the database's rule ----------------------------------------------------


def test_an_upload_by_the_old_g_code_updates_the_survivor_and_creates_nothing(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    count = TargetRecord.objects.count()
    batch = upload_and_apply(
        cast.coordinator_a,
        xlsx(HEADER, [[G_CODE, "สมชาย", "ใจดีมาก", OUT, "กลับเข้าสู่ระบบการศึกษา"], [national_id(2), "ใหม่", "ก", OUT, ""]]),
    )
    assert (batch.rows_total, batch.created, batch.updated, batch.rejected) == (2, 1, 1, 0)
    assert TargetRecord.objects.count() == count + 1
    survivor = TargetRecord.objects.get(pk=nid.pk)
    assert (survivor.identifier, survivor.last_name) == (national_id(1), "ใจดีมาก")
    assert not TargetRecord.objects.filter(identifier=G_CODE).exists()


def test_one_file_naming_a_record_by_both_identifiers_changes_it_once(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    rows = [[national_id(1), "สมชาย", "หนึ่ง", OUT, ""], [G_CODE, "สมชาย", "สอง", OUT, ""]]
    batch = upload_and_apply(cast.coordinator_a, xlsx(HEADER, rows))
    assert (batch.updated, batch.rejected) == (1, 1)
    assert TargetRecord.objects.get(pk=nid.pk).last_name == "หนึ่ง"


def test_an_alias_of_another_province_is_rejected_like_its_record(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    batch = upload_and_apply(cast.coordinator_b, xlsx(HEADER, [[G_CODE, "ก", "ข", OUT, ""]]), province=PROVINCE_B)
    assert (batch.created, batch.rejected) == (0, 1)


def test_api_get_by_either_identifier_answers_the_same_record(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    _key, secret = make_key(provinces=[PROVINCE_A], permissions={"records": "read"})
    client = key_client(secret)
    by_own = client.get("/api/v1/records/lookup/", HTTP_X_IDENTIFIER=national_id(1))
    by_alias = client.get("/api/v1/records/lookup/", HTTP_X_IDENTIFIER=G_CODE)
    assert by_own.status_code == by_alias.status_code == 200
    assert by_own.json()["id"] == by_alias.json()["id"] == nid.pk
    _key_b, secret_b = make_key(provinces=[PROVINCE_B], permissions={"records": "read"})
    assert key_client(secret_b).get("/api/v1/records/lookup/", HTTP_X_IDENTIFIER=G_CODE).status_code == 404


def test_api_write_by_the_alias_updates_the_survivor(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    _key, secret = make_key(provinces=[PROVINCE_A], permissions={"records": "write"})
    response = key_client(secret).post(
        "/api/v1/records/bulk/",
        {"records": [{"identifier": G_CODE, "first_name": "สมชาย", "last_name": "API", "category": "out-of-school"}]},
        content_type="application/json",
    )
    assert response.status_code in (200, 201), response.content
    assert response.json()["results"][0]["status"] == "updated"
    assert TargetRecord.objects.get(pk=nid.pk).last_name == "API"


def test_the_records_search_finds_the_survivor_by_the_alias(cast, pair, client_for):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    response = client_for(cast.coordinator_a).get("/records/", {"q": G_CODE}, follow=True)
    assert [r["record"].pk for r in response.context["rows"]] == [nid.pk]


def test_the_database_refuses_an_identifier_that_is_both(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    with pytest.raises(IntegrityError), transaction.atomic():
        TargetRecord.objects.filter(pk=nid.pk).update(identifier=G_CODE)
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordAlias.objects.create(identifier=national_id(1), identifier_kind="national_id", record=nid)
    with pytest.raises(ValidationError):
        _record(cast.coordinator_a, PROVINCE_A, G_CODE)


# --- who proposes, who confirms, who sees --------------------------------------------------------------------


def test_a_two_province_merge_needs_both_coordinators(cast):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_b, PROVINCE_B, national_id(1))
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=national_id(1), reason="ย้ายมา")
    assert (proposal.survivor_pk, proposal.merged_province_id) == (nid.pk, PROVINCE_A)

    proposal = services.confirm(user=cast.coordinator_a, proposal=proposal)
    assert proposal.state == MergeProposal.State.PROPOSED
    with pytest.raises(PermissionDenied):  # their side is confirmed already
        services.confirm(user=cast.coordinator_a, proposal=proposal)
    proposal = services.confirm(user=cast.coordinator_b, proposal=proposal)
    assert proposal.state == MergeProposal.State.CONFIRMED
    assert TargetRecord.objects.get(identifier=national_id(1)).province_id == PROVINCE_B


def test_within_one_province_only_eef_confirms(cast, pair):
    nid, g = pair
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
    with pytest.raises(PermissionDenied):
        services.confirm(user=cast.coordinator_a, proposal=proposal)
    services.reject(user=cast.coordinator_a, proposal=proposal, note="คนละคน")
    assert MergeProposal.objects.get(pk=proposal.pk).state == MergeProposal.State.REJECTED


def test_an_outsider_gets_404_for_a_merge_of_another_province(cast, pair, client_for):
    nid, g = pair
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
    for user in (cast.coordinator_b, cast.viewer_a, cast.university_member, cast.case_worker_a):
        response = client_for(user).get(f"/identity/merges/{proposal.pk}/")
        assert response.status_code in (403, 404), user
        assert response.status_code == 404 or user is cast.university_member
    assert client_for(cast.coordinator_b).get(f"/identity/merges/{proposal.pk}/").status_code == 404
    assert client_for(cast.coordinator_a).get(f"/identity/merges/{proposal.pk}/").status_code == 200


def test_the_proposer_learns_nothing_of_the_other_provinces_record(cast, client_for):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    _record(cast.coordinator_b, PROVINCE_B, national_id(1), first="ความลับ")
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=national_id(1), reason="ย้ายมา")
    page = client_for(cast.coordinator_a).get(f"/identity/merges/{proposal.pk}/").content.decode()
    assert "ความลับ" not in page
    assert "พะเยา" not in page
    other = client_for(cast.coordinator_b).get(f"/identity/merges/{proposal.pk}/").content.decode()
    assert "ความลับ" in other


def test_proposing_for_a_record_one_cannot_write_is_refused(cast, pair):
    nid, g = pair
    with pytest.raises(PermissionDenied):
        services.propose(user=cast.coordinator_b, record=g, other_identifier=nid.identifier, reason="ซ้ำ")


# --- query counts ------------------------------------------------------------------------------------------


def test_the_upload_look_up_is_one_query_whatever_the_aliases(cast, django_assert_num_queries):
    from targets.upload import pipeline

    records = [_record(cast.coordinator_a, PROVINCE_A, national_id(i)) for i in range(1, 4)]
    identifiers = [r.identifier for r in records] + [G_CODE]
    with django_assert_num_queries(1):
        found = pipeline._existing(identifiers, ["first_name"])
    assert set(found) == set(identifiers[:3])


def test_the_proposals_list_costs_the_same_for_more_proposals(cast, client_for, django_assert_num_queries):
    client = client_for(cast.eef_admin)
    for n in (1, 4):
        for i in range(n):
            g = _record(cast.coordinator_a, PROVINCE_A, f"G64420{n}{i:06d}")
            nid = _record(cast.coordinator_a, PROVINCE_A, national_id(100 + 10 * n + i))
            services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
        client.get("/identity/merges/")  # the header's cached counts, filled again after the writes above
        # The session, the user, the scope (memberships), the proposals with both records, their provinces and
        # the users (one query, joined); no query per row.
        with django_assert_num_queries(4):
            response = client.get("/identity/merges/")
        assert len(response.context["rows"]) == (1 if n == 1 else 5)


# --- the API ----------------------------------------------------------------------------------------------


def test_api_proposes_lists_and_confirms_a_merge_within_scope(cast):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_b, PROVINCE_B, national_id(1), first="ความลับ")
    _key_a, secret_a = make_key(provinces=[PROVINCE_A], permissions={"records": "write"})
    client_a = key_client(secret_a)
    created = client_a.post(
        "/api/v1/merges/",
        {"record": g.pk, "identifier": national_id(1), "reason": "ย้ายมา"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["survivor"] is None  # province B's record: nothing of it until confirmed
    assert body["merged"]["id"] == g.pk
    assert "ความลับ" not in created.content.decode()
    pk = body["id"]
    assert [p["id"] for p in client_a.get("/api/v1/merges/").json()["results"]] == [pk]

    _key_b, secret_b = make_key(provinces=[PROVINCE_B], permissions={"records": "write"})
    client_b = key_client(secret_b)
    assert client_a.post(f"/api/v1/merges/{pk}/confirm/").json()["state"] == "proposed"
    confirmed = client_b.post(f"/api/v1/merges/{pk}/confirm/")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["state"] == "confirmed"
    assert TargetRecord.objects.by_identifier(G_CODE).get().pk == nid.pk


def test_api_an_outsider_key_gets_404_for_a_merge_of_other_provinces(cast, pair):
    nid, g = pair
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
    _key, secret = make_key(provinces=[PROVINCE_B], permissions={"records": "write"})
    client = key_client(secret)
    assert client.get(f"/api/v1/merges/{proposal.pk}/").status_code == 404
    assert client.post(f"/api/v1/merges/{proposal.pk}/confirm/").status_code == 404
    assert client.get("/api/v1/merges/").json()["results"] == []


def test_api_bulk_naming_a_record_by_both_identifiers_changes_it_once(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    _key, secret = make_key(provinces=[PROVINCE_A], permissions={"records": "write"})
    item = {"first_name": "สมชาย", "category": "out-of-school"}
    response = key_client(secret).post(
        "/api/v1/records/bulk/",
        {"records": [{**item, "identifier": national_id(1), "last_name": "หนึ่ง"}, {**item, "identifier": G_CODE}]},
        content_type="application/json",
    )
    assert [r["status"] for r in response.json()["results"]] == ["updated", "rejected"]
    assert TargetRecord.objects.get(pk=nid.pk).last_name == "หนึ่ง"


def test_a_two_province_merge_and_its_undo_byte_for_byte(cast):
    g = _record(cast.coordinator_a, PROVINCE_A, G_CODE)
    nid = _record(cast.coordinator_b, PROVINCE_B, national_id(1))
    _history(cast.coordinator_a, g)
    _history(cast.coordinator_b, nid)
    before = snapshots.dump([nid.pk, g.pk])
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=national_id(1), reason="ย้ายมา")
    services.confirm(user=cast.coordinator_a, proposal=proposal)
    proposal = services.confirm(user=cast.coordinator_b, proposal=proposal)
    assert proposal.state == MergeProposal.State.CONFIRMED
    assert set(Case.objects.values_list("province_id", flat=True)) == {PROVINCE_B}

    services.undo(user=cast.eef_admin, proposal=proposal)
    assert snapshots.dump([nid.pk, g.pk]) == before


# --- the pages ----------------------------------------------------------------------------------------------


def test_pages_propose_confirm_and_undo(cast, pair, client_for):
    nid, g = pair
    coordinator, eef = client_for(cast.coordinator_a), client_for(cast.eef_admin)
    page = coordinator.get(f"/records/{g.pk}/")
    assert f"/identity/records/{g.pk}/merge/" in page.content.decode()
    refused = coordinator.post(f"/identity/records/{g.pk}/merge/", {"identifier": "G999999999999", "reason": "ซ้ำ"})
    assert refused.status_code == 200
    assert "ไม่มีระเบียนที่ใช้เลขประจำตัวนี้" in refused.content.decode()
    response = coordinator.post(f"/identity/records/{g.pk}/merge/", {"identifier": nid.identifier, "reason": "ซ้ำ"})
    assert response.status_code == 302
    proposal = MergeProposal.objects.get()
    assert response["Location"] == f"/identity/merges/{proposal.pk}/"
    assert "เสนอรวมระเบียน" in coordinator.get(response["Location"]).content.decode()

    assert coordinator.post(f"/identity/merges/{proposal.pk}/confirm/").status_code == 403
    assert eef.post(f"/identity/merges/{proposal.pk}/confirm/").status_code == 302
    assert MergeProposal.objects.get().state == MergeProposal.State.CONFIRMED
    assert eef.post(f"/identity/merges/{proposal.pk}/undo/").status_code == 302
    assert MergeProposal.objects.get().state == MergeProposal.State.UNDONE
    assert TargetRecord.objects.filter(pk=g.pk, identifier=G_CODE).exists()


def test_an_alias_of_another_province_counts_as_an_answer_about_it(cast, pair):
    from targets import id_probes

    nid, g = pair
    _propose_and_merge(cast, nid, g)
    assert id_probes.unseen_holders(cast.coordinator_b, [G_CODE, national_id(1), national_id(2)]) == 2
    assert id_probes.unseen_holders(cast.coordinator_a, [G_CODE, national_id(1)]) == 0


def test_an_upload_by_the_old_g_code_assigns_the_survivor_to_its_case_worker(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "ผู้ดูแลรายกรณี (อีเมล)"]
    batch = upload_and_apply(
        cast.coordinator_a, xlsx(header, [[G_CODE, "สมชาย", "ใจดี", OUT, "caseworker.a@example.org"]])
    )
    assert batch.rejected == 0
    assert TargetRecord.objects.get(pk=nid.pk).case_worker == cast.case_worker_a


def test_a_record_moved_since_the_proposal_is_not_merged(cast, pair):
    nid, g = pair
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
    TargetRecord.objects.filter(pk=g.pk).update(province_id=PROVINCE_B)
    with pytest.raises(ValidationError), translation.override("en"):
        services.confirm(user=cast.eef_admin, proposal=proposal)
    assert TargetRecord.objects.filter(pk=g.pk).exists()
    assert MergeProposal.objects.get(pk=proposal.pk).state == MergeProposal.State.PROPOSED


def test_proposing_with_an_identifier_already_merged_says_so(cast, pair):
    nid, g = pair
    _propose_and_merge(cast, nid, g)
    other = _record(cast.coordinator_a, PROVINCE_A, national_id(3))
    with pytest.raises(ValidationError) as refused, translation.override("en"):
        services.propose(user=cast.coordinator_a, record=other, other_identifier=G_CODE, reason="ซ้ำ")
    assert "already merged" in str(refused.value)


def test_a_merge_while_an_upload_holds_the_national_key_is_refused_as_busy_and_changes_nothing(cast, pair, monkeypatch):
    """An apply under way holds the national key shared; the merge waits WRITE_LOCK_WAIT for it, then gives up
    (pipeline.take_national_lock): Busy, both records as they were, the session's lock_timeout put back."""
    import psycopg2
    from django.db import connection

    from targets.upload import pipeline

    if connection.vendor != "postgresql":
        pytest.skip("advisory locks: PostgreSQL only")
    monkeypatch.setattr(pipeline, "WRITE_LOCK_WAIT", "200ms")
    nid, g = pair
    proposal = services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="คนเดียวกัน")
    params = connection.get_connection_params()
    other = psycopg2.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s)", [pipeline.APPLY_LOCK_KEY])
        with pytest.raises(services.Busy):
            services.confirm(user=cast.eef_admin, proposal=proposal)
    finally:
        other.close()
    assert set(TargetRecord.objects.filter(pk__in=[nid.pk, g.pk]).values_list("pk", flat=True)) == {nid.pk, g.pk}
    assert not RecordAlias.objects.exists()
    proposal.refresh_from_db()
    assert proposal.state == MergeProposal.State.PROPOSED
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("0",)
