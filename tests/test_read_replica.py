"""The read replica (DATABASE_REPLICA_URL, core/replica.py): dashboards, lists and exports read from it,
every write and every other page's reads go to default.

Tested against PostgreSQL with a "replica" alias that is a test mirror of default (Django's TEST MIRROR: a
second connection to the same database), so each query is seen on the connection that ran it.
"""

import pytest
from django.test.utils import CaptureQueriesContext

from conftest import PROVINCE_A
from tests.api_support import make_records


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup, django_db_blocker):
    """A "replica" alias that is a test mirror of default, as DATABASE_REPLICA_URL sets it (settings.py),
    for this module only. Made once the test database exists (its name is copied), and before each test's
    database set-up, which must be told of every alias the test may use."""
    from django.db import connections

    default = connections["default"].settings_dict
    connections.settings["replica"] = {**default, "TEST": {**default["TEST"], "MIRROR": "default"}}
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            connections["replica"].close()
        del connections["replica"]
        del connections.settings["replica"]


@pytest.fixture
def replica(settings):
    """The replica's connection, with the router on. Transactional tests (the mark below): the mirror is a
    connection of its own, so it sees only what default committed."""
    from django.db import connections

    settings.DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
    return connections["replica"]


pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """The SQL run, each without the audit context pghistory puts before a write in a request
    ("SELECT set_config('pghistory.context_id', ...); INSERT ..."), and without a union's parenthesis."""
    statements = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.startswith("SELECT set_config('pghistory."):
            sql = sql.split("; ", 1)[1]
        statements.append(sql.lstrip("("))
    return statements


def _run(replica, request):
    from django.db import connections

    with CaptureQueriesContext(connections["default"]) as primary, CaptureQueriesContext(replica) as copy:
        response = request()
        body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body, _statements(primary), _statements(copy)


def _reads_of(table: str, statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("SELECT") and f'FROM "{table}"' in s]


def test_the_records_list_reads_from_the_replica_and_logs_the_access_on_default(replica, cast, client_for):
    make_records(PROVINCE_A, 3)
    client = client_for(cast.coordinator_a)
    response, body, primary, copy = _run(replica, lambda: client.get("/records/"))
    assert response.status_code == 200
    assert "เด็ก0".encode() in body
    assert _reads_of("targets_targetrecord", copy)  # the list and its count
    assert not _reads_of("targets_targetrecord", primary)
    assert all(s.startswith("SELECT") for s in copy)  # nothing is ever written to the replica
    assert [s for s in primary if s.startswith('INSERT INTO "audit_accesslog"')]  # the access log: default
    assert _reads_of("django_session", primary)  # the session is read where it was written
    assert not _reads_of("django_session", copy)


def test_a_streamed_export_reads_its_rows_from_the_replica(replica, cast, client_for):
    make_records(PROVINCE_A, 3)
    client = client_for(cast.coordinator_a)
    response, body, primary, copy = _run(replica, lambda: client.get("/records/export/?format=csv"))
    assert response.status_code == 200
    assert response.streaming
    assert body.count("ทดสอบ".encode()) == 3
    assert _reads_of("targets_targetrecord", copy)  # the rows, read while the response streams
    assert not _reads_of("targets_targetrecord", primary)
    assert all(s.startswith(("SELECT", "DECLARE", "FETCH", "CLOSE")) for s in copy)


def test_dashboards_read_their_snapshots_from_the_replica(replica, cast, client_for):
    from core.buddhist_dates import current_fiscal_year
    from summaries.models import SummaryRun
    from summaries.services import run_summary

    make_records(PROVINCE_A, 3)
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)
    for user, path in ((cast.eef_admin, "/dashboards/"), (cast.coordinator_a, f"/dashboards/province/{PROVINCE_A}/")):
        response, _body, primary, copy = _run(replica, lambda u=user, p=path: client_for(u).get(p))
        assert response.status_code == 200, path
        assert _reads_of("summaries_snapshot", copy), path
        assert not _reads_of("summaries_snapshot", primary), path
        assert all(s.startswith("SELECT") for s in copy), path


def test_other_pages_and_every_write_stay_on_default(replica, cast, client_for):
    (record,) = make_records(PROVINCE_A, 1)
    client = client_for(cast.coordinator_a)
    response, _body, primary, copy = _run(replica, lambda: client.get(f"/records/{record.pk}/"))
    assert response.status_code == 200
    assert copy == []  # the record page is not marked: it reads what its forms just wrote
    assert _reads_of("targets_targetrecord", primary)
    # A search typed into the list's box is a POST of the list: stored in the session (default), no replica write.
    response, _body, primary, copy = _run(replica, lambda: client.post("/records/", {"q": "เด็ก0"}))
    assert response.status_code == 302
    assert all(s.startswith("SELECT") for s in copy)
    assert [s for s in primary if s.startswith(("UPDATE", "INSERT")) and "django_session" in s]
