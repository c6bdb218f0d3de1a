"""Less writing per request (issue 15): the session is written only when it changed or its last
write is SESSION_REFRESH_SECONDS old (accounts.middleware.SessionRefreshMiddleware), and the
access-log entries of a request are one INSERT (audit.access_log, audit.middleware.AccessLogMiddleware).
"""

import re
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.middleware import SESSION_SAVED_AT
from audit.access_log import batched, record_access, write_access
from audit.models import AccessLog
from provinces.models import Province
from tests.api_support import make_records
from tests.builders import PROVINCE_A

pytestmark = pytest.mark.django_db

# pghistory's middleware may prefix a write with its context (SELECT set_config(...); INSERT ...).
SESSION_WRITE = re.compile(r'(^|;)\s*(INSERT INTO|UPDATE|DELETE FROM) "django_session"', re.IGNORECASE)
ACCESS_LOG_INSERT = re.compile(r'(^|;)\s*INSERT INTO "audit_accesslog"', re.IGNORECASE)
WRITE = re.compile(r'(^|;)\s*(INSERT INTO|UPDATE "|DELETE FROM)', re.IGNORECASE)


def _session_writes(queries) -> list[str]:
    return [q["sql"] for q in queries if SESSION_WRITE.search(q["sql"])]


def _view(client, path: str) -> tuple[int, list[dict]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    return response.status_code, ctx.captured_queries


@pytest.fixture
def coordinator_client(client_for, cast):
    return client_for(cast.viewer_a)


@pytest.fixture
def record(cast):
    return make_records(PROVINCE_A, 1)[0]


# --- the session ---------------------------------------------------------------------------------


def test_a_page_view_right_after_another_writes_no_session(coordinator_client, record):
    # The first view stamps a session signed in outside a request (force_login): one write.
    status, queries = _view(coordinator_client, f"/records/{record.pk}/")
    assert status == 200
    assert len(_session_writes(queries)) == 1
    for path in (f"/records/{record.pk}/", "/records/", f"/records/{record.pk}/"):
        status, queries = _view(coordinator_client, path)
        assert status == 200
        assert _session_writes(queries) == [], path


def test_a_view_after_the_refresh_interval_writes_the_session_and_moves_its_expiry(
    coordinator_client, record, settings
):
    _view(coordinator_client, "/records/")
    key = coordinator_client.session.session_key
    expiry_before = Session.objects.get(pk=key).expire_date
    # The last write was longer ago than the interval: the next view writes, and expires 30 min from now.
    store = SessionStore(session_key=key)
    store[SESSION_SAVED_AT] -= settings.SESSION_REFRESH_SECONDS + 1
    store.save()
    status, queries = _view(coordinator_client, "/records/")
    assert status == 200
    assert len(_session_writes(queries)) == 1
    expiry_after = Session.objects.get(pk=key).expire_date
    assert expiry_after >= expiry_before
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((expiry_after - expected).total_seconds()) < 60
    # And right after that, nothing again.
    assert _session_writes(_view(coordinator_client, "/records/")[1]) == []


def test_a_session_idle_past_its_expiry_is_signed_out(coordinator_client, record):
    assert _view(coordinator_client, "/records/")[0] == 200
    key = coordinator_client.session.session_key
    # Aged: the row's expiry (30 minutes after its last write) has passed.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = coordinator_client.get("/records/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_views_inside_the_interval_do_not_move_the_expiry(coordinator_client, record):
    _view(coordinator_client, "/records/")
    key = coordinator_client.session.session_key
    expiry = Session.objects.get(pk=key).expire_date
    _view(coordinator_client, "/records/")
    assert Session.objects.get(pk=key).expire_date == expiry


def test_the_absolute_age_still_ends_an_active_session(coordinator_client, record, settings):
    from accounts.middleware import SESSION_STARTED_AT

    _view(coordinator_client, "/records/")
    store = SessionStore(session_key=coordinator_client.session.session_key)
    store[SESSION_STARTED_AT] -= settings.SESSION_ABSOLUTE_AGE + 1
    store.save()
    response = coordinator_client.get("/records/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_changed_session_is_written_at_once(coordinator_client, record):
    # A search is POSTed and kept in the session (targets.views): written whatever the interval.
    _view(coordinator_client, "/records/")
    with CaptureQueriesContext(connection) as ctx:
        response = coordinator_client.post("/records/", {"q": "เด็ก"})
    assert response.status_code == 302
    assert len(_session_writes(ctx.captured_queries)) == 1
    assert coordinator_client.get(response["Location"]).status_code == 200


def test_an_anonymous_visit_stores_no_session(client):
    status, queries = _view(client, "/accounts/login/")
    assert status == 200
    assert _session_writes(queries) == []
    assert not Session.objects.exists()


def test_signing_out_ends_the_session_on_the_server(coordinator_client, record):
    _view(coordinator_client, "/records/")
    key = coordinator_client.session.session_key
    coordinator_client.post("/accounts/logout/")
    assert not Session.objects.filter(pk=key).exists()


# --- the access log ------------------------------------------------------------------------------


def _request(user):
    request = RequestFactory().get("/records/1/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140")
    request.user = user
    return request


def test_record_access_costs_one_insert_and_nothing_else(cast):
    request = _request(cast.coordinator_a)
    province = Province.objects.get(code=PROVINCE_A)
    ContentType.objects.get_for_model(Province)  # the process's cache, filled by any earlier request
    with CaptureQueriesContext(connection) as ctx:
        entry = record_access(request=request, action=AccessLog.Action.VIEW, obj=province)
    assert len(ctx.captured_queries) == 1
    assert ACCESS_LOG_INSERT.search(ctx.captured_queries[0]["sql"])
    assert entry.pk is not None


def test_entries_of_one_request_are_one_multi_row_insert(cast):
    request = _request(cast.coordinator_a)
    province = Province.objects.get(code=PROVINCE_A)
    ContentType.objects.get_for_model(Province)
    before = AccessLog.objects.count()
    with CaptureQueriesContext(connection) as ctx, batched():
        entries = [
            record_access(request=request, action=AccessLog.Action.VIEW, obj=province),
            record_access(request=request, action=AccessLog.Action.EXPORT, model=Province, count=5),
            write_access(principal=cast.coordinator_a, action=AccessLog.Action.IDENTIFIER_PROBE, path="/uploads/"),
        ]
        assert ctx.captured_queries == []  # nothing written while the request is answered
    assert len(ctx.captured_queries) == 1
    assert ACCESS_LOG_INSERT.search(ctx.captured_queries[0]["sql"])
    assert AccessLog.objects.count() == before + 3
    assert all(e.pk is not None for e in entries)
    stored = AccessLog.objects.get(pk=entries[1].pk)
    assert (stored.user, stored.action, stored.count) == (cast.coordinator_a, "export", 5)
    assert stored.ip_address == "203.0.113.7"


def test_entries_are_written_when_the_request_fails(cast):
    request = _request(cast.coordinator_a)

    def failing_view() -> None:
        with batched():
            record_access(request=request, action=AccessLog.Action.VIEW, model=Province)
            raise RuntimeError("the view broke after showing the data")

    with pytest.raises(RuntimeError):
        failing_view()
    assert AccessLog.objects.filter(actor=cast.coordinator_a.email, path="/records/1/").count() == 1


def test_outside_a_request_each_entry_is_written_at_once(cast):
    # Celery tasks and management commands: no batch, so the row is there when the call returns.
    entry = write_access(principal=cast.coordinator_a, action=AccessLog.Action.EXPORT, model=Province, count=2)
    assert AccessLog.objects.filter(pk=entry.pk).exists()


def test_a_page_writes_its_entries_in_one_insert_before_it_answers(coordinator_client, record):
    coordinator_client.get("/records/")  # warm the process's caches and the session stamp
    status, queries = _view(coordinator_client, f"/records/{record.pk}/")
    assert status == 200
    inserts = [q for q in queries if ACCESS_LOG_INSERT.search(q["sql"])]
    assert len(inserts) == 1
    # No SELECT of a content type or of the user for the entry.
    assert not [q for q in queries if '"django_content_type"' in q["sql"]]
    entry = AccessLog.objects.filter(object_id=str(record.pk)).latest("id")
    assert entry.path == f"/records/{record.pk}/"


def test_a_page_view_writes_only_its_access_log_entry(coordinator_client, record):
    """The figure of `python -m bench requests`: one write per page view of a record."""
    coordinator_client.get(f"/records/{record.pk}/")
    status, queries = _view(coordinator_client, f"/records/{record.pk}/")
    assert status == 200
    writes = [q["sql"] for q in queries if WRITE.search(q["sql"])]
    assert len(writes) == 1
    assert ACCESS_LOG_INSERT.search(writes[0])
