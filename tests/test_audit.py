"""The audit trail (row history by PostgreSQL triggers), the access log, and ID redaction.

Tests that need the triggers skip on SQLite (the embedded default records no history); CI runs
them on PostgreSQL (REQUIRE_REAL_SERVICES=1).
"""

import io
import logging
import sys

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.test import RequestFactory
from django.utils import translation
from django.utils.text import capfirst
from django.views.debug import get_default_exception_reporter_filter, get_exception_reporter_class
from pghistory.models import MiddlewareEvents

from audit import tracking
from audit.access_log import client_ip, record_access
from audit.models import AccessLog, AppendOnlyError, UserEvent
from audit.redaction import NATIONAL_ID_MASK, RedactIdsFilter, redact_ids
from provinces.models import Province
from universities.models import SupportAssignment, University

SupportAssignmentEvent = tracking.event_model(SupportAssignment)  # in the audit app, as every event model

pytestmark = pytest.mark.django_db

NATIONAL_ID = "1103702071811"
NATIONAL_ID_DASHED = "1-1037-02071-81-1"
FISCAL_YEAR = 2600  # far from the demo years, so no other assignment collides


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the audit trail is written by PostgreSQL triggers; SQLite records no history")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(email="auditor@example.org", password="not-used-9x")


@pytest.fixture
def admin_client(client, superuser, settings):
    # Two-factor for admins is accounts' rule, tested there; here it would only be in the way.
    settings.ABE_REQUIRE_MFA = False
    client.force_login(superuser)
    return client


def _assignment(university: str = "KKU", *, lead: bool = True) -> SupportAssignment:
    return SupportAssignment.objects.create(
        university=University.objects.get(code=university),
        province=Province.objects.get(code=40),
        fiscal_year=FISCAL_YEAR,
        is_lead=lead,
    )


def _events(obj) -> list:
    return list(
        SupportAssignmentEvent.objects.filter(pgh_obj_id=obj.pk).select_related("pgh_context").order_by("pgh_id")
    )


# --- the audit trail -----------------------------------------------------------------------------


def test_admin_create_change_delete_leave_values_user_and_url(postgresql, admin_client, superuser):
    kku = University.objects.get(code="KKU")
    base = "/admin/universities/supportassignment/"
    response = admin_client.post(
        f"{base}add/",
        {"university": kku.pk, "province": 40, "fiscal_year": FISCAL_YEAR, "is_lead": "on", "_save": "Save"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assignment = SupportAssignment.objects.get(university=kku, province_id=40, fiscal_year=FISCAL_YEAR)

    change_url = f"{base}{assignment.pk}/change/"
    response = admin_client.post(
        change_url, {"university": kku.pk, "province": 40, "fiscal_year": FISCAL_YEAR, "_save": "Save"}
    )
    assert response.status_code == 302
    delete_url = f"{base}{assignment.pk}/delete/"
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not SupportAssignment.objects.filter(pk=assignment.pk).exists()

    inserted, updated, deleted = _events(assignment)
    assert [inserted.pgh_label, updated.pgh_label, deleted.pgh_label] == ["insert", "update", "delete"]
    # Before and after of the change: the insert holds the old value, the update the new one,
    # and the delete the row as it was when it went.
    assert (inserted.is_lead, updated.is_lead, deleted.is_lead) == (True, False, False)
    assert deleted.university_id == kku.pk
    assert deleted.fiscal_year == FISCAL_YEAR
    # Who and where: every event carries the signed-in user and the admin page's path.
    assert [e.pgh_context.metadata for e in (inserted, updated, deleted)] == [
        {"user": superuser.pk, "url": f"{base}add/"},
        {"user": superuser.pk, "url": change_url},
        {"user": superuser.pk, "url": delete_url},
    ]
    # pghistory's aggregate view pairs them up: {field: [before, after]}.
    diff = MiddlewareEvents.objects.tracks(assignment).get(pgh_label="update")
    assert diff.pgh_diff == {"is_lead": [True, False]}
    assert diff.user_id == superuser.pk


def test_queryset_update_is_recorded_per_row(postgresql):
    first, second = _assignment("KKU"), _assignment("NU", lead=False)
    with tracking.context(command="test-bulk-update"):
        assert SupportAssignment.objects.filter(pk__in=[first.pk, second.pk]).update(fiscal_year=FISCAL_YEAR + 1) == 2
    for obj in (first, second):
        before, after = _events(obj)
        assert (before.pgh_label, after.pgh_label) == ("insert", "update")
        assert (before.fiscal_year, after.fiscal_year) == (FISCAL_YEAR, FISCAL_YEAR + 1)
        assert after.pgh_context.metadata == {"command": "test-bulk-update"}


def test_bulk_create_bulk_update_and_raw_sql_are_recorded(postgresql):
    kku, nu = University.objects.filter(code__in=["KKU", "NU"]).order_by("code")
    created = SupportAssignment.objects.bulk_create(
        [
            SupportAssignment(university=kku, province_id=40, fiscal_year=FISCAL_YEAR, is_lead=True),
            SupportAssignment(university=nu, province_id=40, fiscal_year=FISCAL_YEAR, is_lead=False),
        ]
    )
    for obj in created:
        obj.fiscal_year = FISCAL_YEAR + 1
    SupportAssignment.objects.bulk_update(created, ["fiscal_year"])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE universities_supportassignment SET fiscal_year = %s WHERE id = %s", [2700, created[1].pk]
        )

    assert [(e.pgh_label, e.fiscal_year, e.is_lead) for e in _events(created[0])] == [
        ("insert", FISCAL_YEAR, True),
        ("update", FISCAL_YEAR + 1, True),
    ]
    assert [(e.pgh_label, e.fiscal_year, e.is_lead) for e in _events(created[1])] == [
        ("insert", FISCAL_YEAR, False),
        ("update", FISCAL_YEAR + 1, False),
        ("update", 2700, False),
    ]


def test_user_history_leaves_out_password_and_sign_ins(postgresql, django_user_model):
    user = django_user_model.objects.create_user(email="somchai@example.org", password="first-password-1")
    assert "password" not in {f.name for f in UserEvent._meta.fields}
    user.set_password("second-password-2")
    user.save()
    user.last_login = user.date_joined
    user.save(update_fields=["last_login"])
    user.first_name = "Somchai"
    user.save()
    assert list(UserEvent.objects.filter(pgh_obj_id=user.pk).values_list("pgh_label", "first_name")) == [
        ("insert", ""),
        ("update", "Somchai"),
    ]


def test_history_cannot_be_rewritten(postgresql):
    event = _events(_assignment())[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        SupportAssignmentEvent.objects.filter(pk=event.pk).update(is_lead=False)
    with pytest.raises(DatabaseError), transaction.atomic():
        SupportAssignmentEvent.objects.filter(pk=event.pk).delete()
    assert SupportAssignmentEvent.objects.get(pk=event.pk).is_lead is True


def test_writes_inside_an_audit_context_work_on_every_database():
    # pghistory.context alone breaks every write on SQLite; audit.tracking.context must not.
    with tracking.context(command="test"):
        assignment = _assignment()
        SupportAssignment.objects.filter(pk=assignment.pk).update(is_lead=False)
    assignment.refresh_from_db()
    assert assignment.is_lead is False
    assert SupportAssignmentEvent.objects.filter(pgh_obj_id=assignment.pk).exists() is tracking.history_is_recorded()


def test_admin_form_posts_and_history_pages_work_on_every_database(admin_client):
    # The history middleware runs on every request; on SQLite it must stand aside.
    response = admin_client.post(
        "/admin/universities/supportassignment/add/",
        {"university": University.objects.get(code="KKU").pk, "province": 40, "fiscal_year": FISCAL_YEAR},
    )
    assert response.status_code == 302
    assert SupportAssignment.objects.filter(fiscal_year=FISCAL_YEAR).count() == 1
    # pghistory's page of all events is PostgreSQL SQL: on SQLite it lists nothing, but renders.
    for page in ("/admin/pghistory/middlewareevents/", "/admin/audit/supportassignmentevent/"):
        assert admin_client.get(page).status_code == 200


def test_history_in_admin_is_read_only(postgresql, admin_client, django_user_model):
    changer = django_user_model.objects.create_user(email="changer@example.org", password="not-used-9x")
    with tracking.context(user=changer.pk, url="/somewhere/"):
        assignment = _assignment()
    event = _events(assignment)[0]
    base = "/admin/audit/supportassignmentevent/"
    listing = admin_client.get(base).content.decode()
    assert "changer@example.org" in listing  # "changed by", from the event's context
    assert "/somewhere/" in listing
    assert admin_client.get(f"{base}{event.pk}/change/").status_code == 200
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(f"{base}{event.pk}/change/", {"is_lead": ""}).status_code == 403
    response = admin_client.get("/admin/pghistory/middlewareevents/")  # pghistory's page of all events
    assert response.status_code == 200
    page = response.content.decode()
    # Filtered and shown by what is recorded, in the reader's language (pghistory itself shows class names).
    assert "?event_model=audit.supportassignmentevent" in page
    with translation.override("th"):
        assert str(capfirst(SupportAssignment._meta.verbose_name)) in page
    assert "audit.TrackedSupportAssignment" not in page
    assert SupportAssignmentEvent.objects.get(pk=event.pk).is_lead is True


# --- the access log ------------------------------------------------------------------------------


def _request(path: str = "/targets/", **extra):
    return RequestFactory().get(path, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140", **extra)


def test_record_access_stores_who_what_when_and_where(superuser):
    request = _request(f"/targets/?q={NATIONAL_ID}&page=2")
    request.user = superuser
    entry = record_access(
        request=request,
        action=AccessLog.Action.EXPORT,
        model=University,
        description=f"search {NATIONAL_ID_DASHED} in province 40",
        count=25,
    )
    entry.refresh_from_db()
    assert (entry.user, entry.actor, entry.action, entry.count) == (superuser, "auditor@example.org", "export", 25)
    assert entry.content_type == ContentType.objects.get_for_model(University)
    assert entry.ip_address == "203.0.113.7"
    assert entry.user_agent == "Firefox/140"
    assert entry.path == "/targets/"  # the query string (a search, perhaps an ID) is never kept
    assert entry.description == f"search {NATIONAL_ID_MASK} in province 40"
    assert entry.created_at is not None


def test_record_access_of_one_object(superuser):
    university = University.objects.get(code="KKU")
    request = _request()
    request.user = superuser
    entry = record_access(request=request, action=AccessLog.Action.VIEW, obj=university)
    assert (entry.content_type.model, entry.object_id, entry.count) == ("university", str(university.pk), 1)


def test_record_access_refuses_an_unknown_action(superuser):
    request = _request()
    request.user = superuser
    with pytest.raises(ValueError, match="Unknown access log action"):
        record_access(request=request, action="peek")


def test_client_ip_trusts_x_forwarded_for_only_behind_the_proxy(settings):
    request = _request(HTTP_X_FORWARDED_FOR="198.51.100.9, 192.0.2.44")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "203.0.113.7"
    settings.TRUSTED_PROXY_COUNT = 1  # (tests/test_client_ip.py has the rest of the rule)
    # The proxy appends the address it saw; what comes before it is the client's own say.
    assert client_ip(request) == "192.0.2.44"
    assert client_ip(_request(HTTP_X_FORWARDED_FOR="not-an-ip")) is None


def test_access_log_refuses_changes_in_python(superuser):
    request = _request()
    request.user = superuser
    entry = record_access(request=request, action=AccessLog.Action.VIEW, model=University)
    entry.description = "edited"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.filter(pk=entry.pk).update(count=0)
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.filter(pk=entry.pk).delete()
    entry.description = ""
    # (bulk_update runs in its own atomic block, which an error marks for rollback.)
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AccessLog.objects.bulk_update([entry], ["description"])
    assert AccessLog.objects.get(pk=entry.pk).count == 1


def test_access_log_refuses_changes_in_the_database(postgresql, superuser):
    request = _request()
    request.user = superuser
    entry = record_access(request=request, action=AccessLog.Action.VIEW, model=University)
    refused = "Cannot (update|delete) rows"
    with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_accesslog SET actor = 'someone else' WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_accesslog WHERE id = %s", [entry.pk])
    # A plain QuerySet, without AccessLog's guards, meets the same trigger.
    unguarded = QuerySet(AccessLog).filter(pk=entry.pk)
    with pytest.raises(DatabaseError), transaction.atomic():
        unguarded.update(count=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        unguarded.delete()
    assert AccessLog.objects.get(pk=entry.pk).actor == "auditor@example.org"


def test_access_log_in_admin_is_read_only(admin_client, superuser):
    request = _request()
    request.user = superuser
    entry = record_access(request=request, action=AccessLog.Action.VIEW, model=University)
    base = "/admin/audit/accesslog/"
    assert admin_client.get(base).status_code == 200
    assert admin_client.get(f"{base}{entry.pk}/change/").status_code == 200
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{entry.pk}/change/", {"actor": "x"}).status_code == 403
    assert admin_client.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(base).content.decode()  # no bulk delete action
    admin_client.post(base, {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert AccessLog.objects.filter(pk=entry.pk).exists()


# --- IDs never reach logs or error reports -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [NATIONAL_ID, NATIONAL_ID_DASHED, "1 1037 02071 81 1", "G123456789012", "๑๑๐๓๗๐๒๐๗๑๘๑๑"],
)
def test_redact_ids_masks_every_written_form(text):
    masked = redact_ids(f"child {text}, row 7")
    assert masked.startswith("child ")
    assert masked.endswith(", row 7")
    assert text not in masked


def test_redact_ids_leaves_other_numbers_alone():
    text = "row 12, phone 0812345678, 14-digit 11037020718110, fiscal year 2567"
    assert redact_ids(text) == text


def test_console_log_handler_masks_ids_in_message_arguments_and_traceback():
    # The handler settings.LOGGING configures for the root logger, with its filter.
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactIdsFilter) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logger = logging.getLogger("tests.audit")
        logger.warning(f"lookup of {NATIONAL_ID_DASHED} failed")
        logger.warning("row %s has id %s", 7, int(NATIONAL_ID))
        try:
            raise ValueError(f"bad id {NATIONAL_ID}")
        except ValueError:
            logger.exception("import failed for %s", "G123456789012")
    finally:
        handler.setStream(previous)
    output = stream.getvalue()
    assert NATIONAL_ID not in output
    assert NATIONAL_ID_DASHED not in output
    assert "G123456789012" not in output
    assert "lookup of x-xxxx-xxxxx-xx-x failed" in output
    assert "row 7 has id x-xxxx-xxxxx-xx-x" in output
    assert "ValueError: bad id x-xxxx-xxxxx-xx-x" in output


def test_error_reports_mask_ids_in_form_posts_query_and_variables(settings):
    settings.DEBUG = False  # as in production: the report goes to ADMINS by mail
    request = RequestFactory().post(
        f"/targets/upload/?q={NATIONAL_ID}", {"national_id": NATIONAL_ID_DASHED, "school": "บ้านหนองบัว"}
    )
    reporter_filter = get_default_exception_reporter_filter()
    post = reporter_filter.get_post_parameters(request)
    assert post["national_id"] == NATIONAL_ID_MASK
    assert post["school"] == "บ้านหนองบัว"

    def failing_view(national_id: str) -> None:
        raise ValueError(f"no child with id {national_id}")

    try:
        failing_view(NATIONAL_ID)
    except ValueError:
        exc_type, exc_value, tb = sys.exc_info()
    frame = tb.tb_next.tb_frame  # failing_view's frame, with national_id among its variables
    variables = dict(reporter_filter.get_traceback_frame_variables(request, frame))
    assert variables["national_id"] == NATIONAL_ID_MASK

    reporter = get_exception_reporter_class(request)(request, exc_type, exc_value, tb)
    for report in (reporter.get_traceback_html(), reporter.get_traceback_text()):
        assert NATIONAL_ID not in report
        assert NATIONAL_ID_DASHED not in report
        assert NATIONAL_ID_MASK in report
        assert "บ้านหนองบัว" in report  # the rest of the report is untouched
