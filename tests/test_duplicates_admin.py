"""One child, one record in Django admin and in the audit trail: probable duplicates, "not the same person" decisions
and merge proposals are read in admin by those who see them on the portal, within their provinces, with the records
masked, and changed by nobody there; every decision leaves an audit event naming who made it."""

import pytest

from audit.tracking import event_model, history_is_recorded
from conftest import PROVINCE_A, PROVINCE_B
from core.thai_id import format_identifier, mask_identifier
from duplicates import finder
from duplicates.models import DuplicateCandidate, NotSamePerson
from duplicates.services import mark_not_same
from identity import services as identity_services
from identity.models import MergeProposal
from provinces.models import Province
from targets import record_services
from targets.models import Category, TargetRecord
from tests.builders import duplicate_pair, national_id

pytestmark = pytest.mark.django_db

needs_triggers = pytest.mark.skipif(not history_is_recorded(), reason="audit events need PostgreSQL's triggers")


def _record(user, province: int, identifier: str, *, first: str = "สมชาย") -> TargetRecord:
    return record_services.create_record(
        user=user,
        province=Province.objects.get(code=province),
        identifier=identifier,
        identifier_kind="g_code" if identifier.startswith("G") else "national_id",
        values={"first_name": first, "last_name": "ใจดี", "category_id": Category.objects.get(code="out-of-school").pk},
    )


# --- audit events --------------------------------------------------------------------------------------------


@needs_triggers
def test_not_the_same_person_through_the_service_leaves_events_naming_the_reviewer(cast):
    pair = duplicate_pair(PROVINCE_A, 1)
    mark_not_same(candidate=pair, user=cast.coordinator_a)

    decision = NotSamePerson.objects.get(record_a=pair.record_a, record_b=pair.record_b)
    inserted = event_model(NotSamePerson).objects.get(pgh_obj_id=decision.pk)
    assert inserted.pgh_label == "insert"
    assert inserted.decided_by_id == cast.coordinator_a.pk
    assert (inserted.record_a_id, inserted.record_b_id) == (pair.record_a_id, pair.record_b_id)
    changed = event_model(DuplicateCandidate).objects.filter(pgh_obj_id=pair.pk).order_by("pgh_id")
    assert [(e.pgh_label, e.state, e.decided_by_id) for e in changed] == [
        ("insert", "open", None),
        ("update", "not_same", cast.coordinator_a.pk),
    ]


@needs_triggers
def test_not_the_same_person_from_the_queue_page_records_the_user_in_the_events_context(cast, client_for):
    pair = duplicate_pair(PROVINCE_A, 1)
    assert client_for(cast.coordinator_a).post(f"/duplicates/{pair.pk}/not-same/").status_code == 302
    decision = NotSamePerson.objects.get()
    event = event_model(NotSamePerson).objects.select_related("pgh_context").get(pgh_obj_id=decision.pk)
    assert event.pgh_context.metadata["user"] == cast.coordinator_a.pk
    assert event.pgh_context.metadata["url"] == f"/duplicates/{pair.pk}/not-same/"


@needs_triggers
def test_the_nightly_run_finding_an_open_pair_again_writes_no_event():
    pair = duplicate_pair(PROVINCE_A, 1)
    events = event_model(DuplicateCandidate).objects.filter(pgh_obj_id=pair.pk)
    finder.run()  # the first run stores its own score and reasons for the pair: an update event
    before = events.count()
    pair.refresh_from_db()
    seen = pair.last_seen_at
    finder.run()  # the same pair again: only last_seen_at changes, which is not tracked
    pair.refresh_from_db()
    assert pair.last_seen_at > seen
    assert pair.state == DuplicateCandidate.State.OPEN
    assert events.count() == before


@needs_triggers
def test_each_step_of_a_merge_proposal_leaves_an_event_without_the_snapshot(cast):
    g = _record(cast.coordinator_a, PROVINCE_A, "G644200000001")
    nid = _record(cast.coordinator_a, PROVINCE_A, national_id(1))
    proposal = identity_services.propose(
        user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ"
    )
    identity_services.confirm(user=cast.eef_admin, proposal=proposal)
    events = event_model(MergeProposal).objects.filter(pgh_obj_id=proposal.pk).order_by("pgh_id")
    first, last = events.first(), events.last()
    assert (first.pgh_label, first.state, first.proposed_by_id) == ("insert", "proposed", cast.coordinator_a.pk)
    assert (last.pgh_label, last.state, last.decided_by_id) == ("update", "confirmed", cast.eef_admin.pk)
    # Both records as they were live in the proposal alone, not copied into its history.
    assert "snapshot" not in {f.name for f in event_model(MergeProposal)._meta.get_fields()}


# --- admin: probable duplicates and "not the same person" ------------------------------------------------------


def test_a_coordinator_reads_their_provinces_pairs_in_admin_masked_and_cannot_change_them(cast, client_for):
    mine, theirs = duplicate_pair(PROVINCE_A, 1), duplicate_pair(PROVINCE_B, 2)
    client = client_for(cast.coordinator_a)
    page = client.get("/admin/duplicates/duplicatecandidate/").content.decode()
    assert f"/admin/duplicates/duplicatecandidate/{mine.pk}/change/" in page
    assert f"/admin/duplicates/duplicatecandidate/{theirs.pk}/change/" not in page
    # Masked, and linked to the record's admin page; never in full.
    assert mine.record_a.identifier not in page
    assert format_identifier(mine.record_a.identifier) not in page
    assert mask_identifier(mine.record_a.identifier) in page
    assert f"/admin/targets/targetrecord/{mine.record_a_id}/change/" in page
    assert client.get(f"/admin/duplicates/duplicatecandidate/{theirs.pk}/change/").status_code == 404
    detail = client.get(f"/admin/duplicates/duplicatecandidate/{mine.pk}/change/")
    assert detail.status_code == 200
    assert mine.record_b.identifier not in detail.content.decode()
    assert (
        client.post(f"/admin/duplicates/duplicatecandidate/{mine.pk}/change/", {"state": "merged"}).status_code == 403
    )
    assert client.get("/admin/duplicates/duplicatecandidate/add/").status_code == 403
    national = client_for(cast.eef_admin).get("/admin/duplicates/duplicatecandidate/").content.decode()
    assert f"/admin/duplicates/duplicatecandidate/{theirs.pk}/change/" in national


def test_the_province_filter_offers_and_applies_only_the_users_provinces(cast, client_for):
    mine, theirs = duplicate_pair(PROVINCE_A, 1), duplicate_pair(PROVINCE_B, 2)
    national = client_for(cast.eef_admin).get(f"/admin/duplicates/duplicatecandidate/?province={PROVINCE_B}")
    assert [c.pk for c in national.context["cl"].result_list] == [theirs.pk]
    coordinator = client_for(cast.coordinator_a).get(f"/admin/duplicates/duplicatecandidate/?province={PROVINCE_B}")
    assert [c.pk for c in coordinator.context["cl"].result_list] == [mine.pk]


def test_not_the_same_person_decisions_are_read_within_the_province(cast, client_for):
    mine, theirs = duplicate_pair(PROVINCE_A, 1), duplicate_pair(PROVINCE_B, 2)
    mark_not_same(candidate=mine, user=cast.coordinator_a)
    mark_not_same(candidate=theirs, user=cast.coordinator_b)
    decision_a = NotSamePerson.objects.get(record_a=mine.record_a)
    decision_b = NotSamePerson.objects.get(record_a=theirs.record_a)
    client = client_for(cast.coordinator_a)
    response = client.get("/admin/duplicates/notsameperson/")
    assert [d.pk for d in response.context["cl"].result_list] == [decision_a.pk]
    assert mine.record_a.identifier not in response.content.decode()
    assert client.get(f"/admin/duplicates/notsameperson/{decision_b.pk}/change/").status_code == 404
    assert client.get(f"/admin/duplicates/notsameperson/{decision_a.pk}/change/").status_code == 200
    assert client.post(f"/admin/duplicates/notsameperson/{decision_a.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client_for(cast.viewer_a).get("/admin/duplicates/notsameperson/").status_code == 302  # not staff
    national = client_for(cast.eef_admin).get("/admin/duplicates/notsameperson/")
    assert {d.pk for d in national.context["cl"].result_list} == {decision_a.pk, decision_b.pk}


def test_a_pair_whose_record_was_merged_away_stays_in_the_list(cast, client_for):
    pair = duplicate_pair(PROVINCE_A, 1)
    TargetRecord.objects.filter(pk=pair.record_b_id).delete()  # no database foreign key: the pair remains
    response = client_for(cast.eef_admin).get("/admin/duplicates/duplicatecandidate/")
    assert [c.pk for c in response.context["cl"].result_list] == [pair.pk]


# Before each admin list: the session, the user, the scope (the user's memberships), the provinces of the filter.
ADMIN_OVERHEAD = 4


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        # The count, the page of pairs with their province and decider (joined), both records of the page with their
        # provinces (two prefetches).
        ("/admin/duplicates/duplicatecandidate/", 4),
        # The same for the decisions, and the date hierarchy's first and last day and its days.
        ("/admin/duplicates/notsameperson/", 6),
    ],
)
def test_the_admin_lists_cost_the_same_queries_for_two_rows_or_twenty(
    cast, client_for, django_assert_num_queries, url, queries
):
    client = client_for(cast.eef_admin)
    made = 0
    for n in (2, 20):
        for i in range(made, made + n):
            pair = duplicate_pair(PROVINCE_A if i % 2 else PROVINCE_B, 10 + i)
            if "notsameperson" in url:
                mark_not_same(candidate=pair, user=cast.eef_admin)
        made += n
        client.get(url)
        with django_assert_num_queries(ADMIN_OVERHEAD + queries):
            response = client.get(url)
        assert len(response.context["cl"].result_list) == made


# --- admin: merge proposals ------------------------------------------------------------------------------------


def test_the_proposer_learns_nothing_of_the_other_provinces_record_in_admin(cast, client_for):
    g = _record(cast.coordinator_a, PROVINCE_A, "G644200000001")
    other = _record(cast.coordinator_b, PROVINCE_B, national_id(1), first="ความลับ")
    proposal = identity_services.propose(
        user=cast.coordinator_a, record=g, other_identifier=other.identifier, reason="ย้ายมา"
    )
    client = client_for(cast.coordinator_a)
    for url in (
        "/admin/identity/mergeproposal/",
        f"/admin/identity/mergeproposal/?province={PROVINCE_B}",
        f"/admin/identity/mergeproposal/{proposal.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "ความลับ" not in page, url
        assert "พะเยา" not in page, url
        assert mask_identifier(other.identifier) not in page, url
        assert g.identifier not in page, url  # the proposer's own record: masked as well
    assert client.post(f"/admin/identity/mergeproposal/{proposal.pk}/change/", {"state": "rejected"}).status_code == 403
    # The other province's coordinator sees the proposer's record while deciding; the EEF admin sees both.
    other_side = client_for(cast.coordinator_b).get(f"/admin/identity/mergeproposal/{proposal.pk}/change/")
    assert mask_identifier(g.identifier) in other_side.content.decode()
    national = client_for(cast.eef_admin).get("/admin/identity/mergeproposal/").content.decode()
    assert "พะเยา" in national
    assert other.identifier not in national
    assert format_identifier(other.identifier) not in national


def test_the_proposals_admin_list_costs_the_same_queries_for_more_proposals(
    cast, client_for, django_assert_num_queries
):
    client = client_for(cast.eef_admin)
    for n in (1, 4):
        for i in range(n):
            g = _record(cast.coordinator_a, PROVINCE_A, f"G64420{n}{i:06d}")
            nid = _record(cast.coordinator_a, PROVINCE_A, national_id(100 + 10 * n + i))
            identity_services.propose(user=cast.coordinator_a, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
        client.get("/admin/identity/mergeproposal/")
        # The count, the proposals with both records and their provinces, both provinces and the people named
        # (one query, joined: list_select_related), the date hierarchy's first and last day and its days.
        with django_assert_num_queries(ADMIN_OVERHEAD + 4):
            response = client.get("/admin/identity/mergeproposal/")
        assert len(response.context["cl"].result_list) == (1 if n == 1 else 5)
