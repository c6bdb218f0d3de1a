"""The review queue of probable duplicates (duplicates/views.py): who sees which pairs, what of each record,
"not the same person" remembered, the merge link to identity's proposal, flat query counts."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import PROVINCE_A, PROVINCE_B
from duplicates import finder, generated
from duplicates.models import DuplicateCandidate, NotSamePerson
from targets.models import TargetRecord
from tests.builders import duplicate_pair, national_id


@pytest.mark.django_db
def test_a_coordinator_sees_their_provinces_pairs_and_eef_every_provinces(cast, client_for):
    mine, theirs = duplicate_pair(PROVINCE_A, 1), duplicate_pair(PROVINCE_B, 2)
    text = client_for(cast.coordinator_a).get("/duplicates/").content.decode()
    assert f"/duplicates/{mine.pk}/not-same/" in text
    assert f"/duplicates/{theirs.pk}/not-same/" not in text
    assert "ศรีสุข2" not in text
    # The identifier in full for the province's coordinator; masked for nobody else here (EEF reads in full too).
    assert national_id(PROVINCE_A * 1000 + 2) in text
    national = client_for(cast.eef_admin).get("/duplicates/").content.decode()
    assert f"/duplicates/{mine.pk}/not-same/" in national
    assert f"/duplicates/{theirs.pk}/not-same/" in national
    assert client_for(cast.viewer_a).get("/duplicates/").status_code == 403


@pytest.mark.django_db
def test_not_the_same_person_is_remembered_and_another_province_gets_404(cast, client_for):
    pair = duplicate_pair(PROVINCE_A, 1)
    assert client_for(cast.coordinator_b).post(f"/duplicates/{pair.pk}/not-same/").status_code == 404
    response = client_for(cast.coordinator_a).post(f"/duplicates/{pair.pk}/not-same/")
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.state == DuplicateCandidate.State.NOT_SAME
    assert pair.decided_by == cast.coordinator_a
    assert NotSamePerson.objects.filter(record_a=pair.record_a, record_b=pair.record_b).exists()
    assert f"/duplicates/{pair.pk}/not-same/" not in client_for(cast.coordinator_a).get("/duplicates/").content.decode()
    if connection.vendor == "postgresql":
        # The nightly run finds the pair again, and does not propose it.
        counts = finder.run()
        assert counts["candidates"] == 0
        assert DuplicateCandidate.objects.get().state == DuplicateCandidate.State.NOT_SAME


@pytest.mark.django_db
def test_the_merge_action_leads_to_identitys_proposal_of_theduplicate_pair(cast, client_for):
    pair = duplicate_pair(PROVINCE_A, 1)
    text = client_for(cast.coordinator_a).get("/duplicates/").content.decode()
    link = text.split('data-testid="merge-pair"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert link == f"/identity/records/{pair.record_a_id}/merge/?other={pair.record_b_id}"
    # The proposal page it leads to has the other record's identifier filled in for who may read it.
    page = client_for(cast.coordinator_a).get(link)
    other = TargetRecord.objects.get(pk=pair.record_b_id)
    assert page.status_code == 200
    assert f'value="{other.identifier}"' in page.content.decode()
    # Another province's coordinator gets 404 for the proposal page, whatever `other` names.
    assert client_for(cast.coordinator_b).get(link).status_code == 404


def _page_queries(client) -> list[str]:
    """The queries of one view of the queue, without the session's and the content types' (written or looked up
    now and then whatever the page shows)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/duplicates/").status_code == 200
    noise = ("django_session", "content_type", "SAVEPOINT")
    return [q["sql"] for q in queries.captured_queries if not any(word in q["sql"] for word in noise)]


@pytest.mark.django_db
def test_the_queue_costs_the_same_queries_for_two_pairs_or_twenty(cast, client_for):
    client = client_for(cast.eef_admin)
    for n in range(2):
        duplicate_pair(PROVINCE_A, n)
    client.get("/duplicates/")  # the session's first request writes it
    # user, memberships (the scope), the provinces with open pairs, the page's count, the page's pairs with both
    # records (one join), the access-log entry; the same whatever the number of pairs.
    few = _page_queries(client)
    assert len(few) <= 6, few
    for n in range(2, 20):
        duplicate_pair(PROVINCE_B, n)
    many = _page_queries(client)
    assert len(many) == len(few), (few, many)


@pytest.mark.django_db
def test_a_generated_pair_reaches_the_queue(cast, client_for):
    if connection.vendor != "postgresql":
        pytest.skip("pg_trgm: PostgreSQL only")
    born = datetime.date(2015, 3, 15)
    child = {
        "identifier_kind": "national_id",
        "name_prefix": "",
        "last_name": "ศรีสุข",
        "sex": "M",
        "birth_date": born,
        "province_id": PROVINCE_A,
        "district_id": None,
    }
    generated.save(
        [
            {**child, "identifier": national_id(1), "first_name": "ธนากร"},
            {**child, "identifier": "G644200000001", "identifier_kind": "g_code", "first_name": "ด.ช. ธนากร"},
        ]
    )
    finder.run()
    text = client_for(cast.coordinator_a).get("/duplicates/").content.decode()
    assert text.count('data-testid="duplicate-pair"') == 1
    assert "G-code" in text or "จี" in text or "G644200000001" in text
