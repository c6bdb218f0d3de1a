"""The API's probable duplicates (api/views/duplicates.py): scoped, identifiers masked per the project's rules,
"not the same person" remembered, a flat number of queries per page."""

import pytest

from conftest import PROVINCE_A, PROVINCE_B
from duplicates.models import DuplicateCandidate, NotSamePerson
from tests.api_support import key_client, make_key
from tests.builders import duplicate_pair, national_id

pytestmark = pytest.mark.django_db


def test_a_coordinator_lists_their_provinces_pairs_with_full_identifiers(cast, client_for):
    mine, theirs = duplicate_pair(PROVINCE_A, 1), duplicate_pair(PROVINCE_B, 2)
    body = client_for(cast.coordinator_a).get("/api/v1/duplicates/").json()
    assert [c["id"] for c in body["results"]] == [mine.pk]
    records = body["results"][0]["records"]
    assert records[0]["identifier"] == national_id(PROVINCE_A * 1000 + 2)
    assert client_for(cast.coordinator_a).get(f"/api/v1/duplicates/{theirs.pk}/").status_code == 404
    national = client_for(cast.eef_admin).get("/api/v1/duplicates/").json()
    assert {c["id"] for c in national["results"]} == {mine.pk, theirs.pk}


def test_a_key_without_full_identifiers_sees_them_masked(cast):
    pair = duplicate_pair(PROVINCE_A, 1)
    _key, secret = make_key(provinces=[PROVINCE_A], permissions={"records": "write"}, can_see_identifiers=False)
    body = key_client(secret).get("/api/v1/duplicates/").json()
    identifier = body["results"][0]["records"][0]["identifier"]
    assert identifier != national_id(PROVINCE_A * 1000 + 2)
    assert identifier.startswith("x-xxxx")
    response = key_client(secret).post(f"/api/v1/duplicates/{pair.pk}/not-same/")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "not_same"


def test_not_the_same_person_through_the_api_is_remembered(cast, client_for):
    pair = duplicate_pair(PROVINCE_A, 1)
    assert client_for(cast.coordinator_b).post(f"/api/v1/duplicates/{pair.pk}/not-same/").status_code == 404
    client = client_for(cast.coordinator_a)
    response = client.post(f"/api/v1/duplicates/{pair.pk}/not-same/")
    assert response.status_code == 200
    assert NotSamePerson.objects.filter(record_a=pair.record_a, record_b=pair.record_b).exists()
    assert client.post(f"/api/v1/duplicates/{pair.pk}/not-same/").status_code == 409
    assert client.get("/api/v1/duplicates/").json()["results"] == []
    assert [c["id"] for c in client.get("/api/v1/duplicates/?state=not_same").json()["results"]] == [pair.pk]
    assert DuplicateCandidate.objects.get().decided_by == cast.coordinator_a


def test_the_list_costs_the_same_queries_for_two_pairs_or_twenty(
    cast, client_for, django_assert_num_queries, django_assert_max_num_queries
):
    client = client_for(cast.eef_admin)
    for n in range(2):
        duplicate_pair(PROVINCE_A, n)
    client.get("/api/v1/duplicates/")
    with django_assert_max_num_queries(5) as few:
        client.get("/api/v1/duplicates/")
    for n in range(2, 20):
        duplicate_pair(PROVINCE_B, n)
    # session, user, memberships, the page of pairs with both records (one join), the access log: flat.
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/api/v1/duplicates/")
