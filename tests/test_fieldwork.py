"""The field app (fieldwork/, issue 18's first increment): the download of a case worker's assigned children
(GET /field/api/my-cases/: only theirs, through the door; identifiers masked unless the role reads them in full;
a fixed number of queries; 401/403 for the rest), the shell, its manifest and its service worker, and the link
from My work. The browser side (offline reload, the store cleared on sign-out): tests/test_browser_fieldwork.py."""

import datetime
import json

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership, Role
from audit.models import AccessLog
from cases import services
from cases.models import Agency, AgencyType
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.thai_id import format_identifier, mask_identifier
from fieldwork import selectors
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db

URL = "/field/api/my-cases/"


def _record(
    n: int, province: int = PROVINCE_A, born: datetime.date | None = datetime.date(2012, 6, 1), **fields
) -> TargetRecord:
    """A child in follow-up (tests/test_fieldwork_sync.py makes its records here too)."""
    return TargetRecord.objects.create(
        identifier=national_id(n),
        identifier_kind="national_id",
        first_name=f"เด็ก{n}",
        last_name="ทดสอบ",
        birth_date=born,
        province_id=province,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
        **fields,
    )


@pytest.fixture
def worker(cast):
    return make_user("field.worker@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)


def _assign(cast, records, worker) -> None:
    services.assign(user=cast.coordinator_a, records=records, worker=worker)


def _with_work(cast, worker, record: TargetRecord, agency: Agency, contacts: int = 4) -> None:
    """Contacts, an open and a done step, an open referral: every part the download reads."""
    now = timezone.now()
    for n in range(contacts):
        record.refresh_from_db()
        services.log_contact(user=worker, record=record, kind="home_visit", findings=f"ครั้งที่ {n}",
                             happened_at=now - datetime.timedelta(days=contacts - n))  # fmt: skip
    record.refresh_from_db()
    services.add_step(user=worker, record=record, text="พาไปสมัครเรียน")
    done = services.add_step(user=worker, record=record, text="โทรหาผู้ปกครอง")
    done.done_at = now
    done.save()
    record.refresh_from_db()
    services.refer(user=worker, record=record, agency=agency, reason="อยากเรียนต่อ", services="สมัครเรียน",
                   deadline=timezone.localdate() + datetime.timedelta(days=7))  # fmt: skip


@pytest.fixture
def agency():
    return Agency.objects.create(
        province_id=PROVINCE_A, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.อำเภอทดสอบ"
    )


def test_a_worker_downloads_only_the_children_assigned_to_them(cast, worker, client_for):
    mine = [_record(1), _record(2)]
    theirs = _record(3)
    unassigned = _record(4)
    _assign(cast, mine, worker)
    _assign(cast, [theirs], cast.case_worker_a)
    # Assigned to the worker but now in another province (moved): the door no longer lets them read it.
    moved = _record(5)
    _assign(cast, [moved], worker)
    TargetRecord.objects.filter(pk=moved.pk).update(province_id=PROVINCE_B)

    response = client_for(worker).get(URL)

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("no-store") or "no-cache" in response["Cache-Control"]
    ids = {row["id"] for row in response.json()["cases"]}
    assert ids == {mine[0].pk, mine[1].pk}
    assert not {theirs.pk, unassigned.pk, moved.pk} & ids
    # The other worker gets theirs, and not the worker's.
    other = client_for(cast.case_worker_a).get(URL).json()["cases"]
    assert [row["id"] for row in other] == [theirs.pk]


def test_each_child_carries_the_minimum_fields_with_a_masked_identifier(cast, worker, agency, client_for):
    record = _record(1)
    _assign(cast, [record], worker)
    _with_work(cast, worker, record, agency)
    record.refresh_from_db()

    response = client_for(worker).get(URL)

    (child,) = response.json()["cases"]
    assert child["id"] == record.pk
    assert child["version"] == record.version
    assert child["case_version"] == record.case.version
    assert child["name"] == str(record)
    assert child["age"] == selectors.age_on(datetime.date(2012, 6, 1), timezone.localdate())
    assert child["areas"]["province"] == record.province.name
    assert child["status"] == {"code": "in-follow-up", "name": record.status.name}
    assert child["identifier"] == mask_identifier(record.identifier)
    assert child["identifier_full"] is False
    assert record.identifier not in response.content.decode()
    assert format_identifier(record.identifier) not in response.content.decode()
    # The last three contacts, newest first, of the four.
    assert [c["findings"] for c in child["contacts"]] == ["ครั้งที่ 3", "ครั้งที่ 2", "ครั้งที่ 1"]
    assert child["last_contact_at"] == record.case.last_contact_at.isoformat()
    # Open steps only (the referral's own step and the one not done), open referrals with their agency.
    assert sorted(s["text"] for s in child["open_steps"]) == sorted(
        record.case.steps.filter(done_at=None).values_list("text", flat=True)
    )
    assert "โทรหาผู้ปกครอง" not in [s["text"] for s in child["open_steps"]]
    (referral,) = child["open_referrals"]
    assert (referral["agency"], referral["state"]) == ("กศน.อำเภอทดสอบ", "sent")


def test_a_child_without_a_case_or_birth_date_downloads_with_nulls(cast, worker, client_for):
    record = _record(1, born=None)
    TargetRecord.objects.filter(pk=record.pk).update(case_worker=worker, case_assigned_at=timezone.now())

    (child,) = client_for(worker).get(URL).json()["cases"]

    assert (child["age"], child["case_version"], child["last_contact_at"], child["contacts"]) == (None, None, None, [])


def test_identifiers_are_in_full_only_where_the_role_reads_them(cast, client_for):
    """A coordinator of province A who is also a case worker in B: full identifiers of their children in A, masked
    in B, and still only their own children."""
    worker = make_user("coord.worker@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    Membership.objects.create(user=worker, role=Role.CASE_WORKER, province_id=PROVINCE_B)
    in_a, in_b, other = _record(1), _record(2, province=PROVINCE_B), _record(3)
    TargetRecord.objects.filter(pk__in=[in_a.pk, in_b.pk]).update(case_worker=worker, case_assigned_at=timezone.now())
    _assign(cast, [other], cast.case_worker_a)

    rows = {row["id"]: row for row in client_for(worker).get(URL).json()["cases"]}

    assert set(rows) == {in_a.pk, in_b.pk}
    assert (rows[in_a.pk]["identifier"], rows[in_a.pk]["identifier_full"]) == (format_identifier(in_a.identifier), True)
    assert (rows[in_b.pk]["identifier"], rows[in_b.pk]["identifier_full"]) == (mask_identifier(in_b.identifier), False)


def _queries(client) -> int:
    client.get(URL)  # the session's own reads and writes settle on a first request
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return len(queries)


def test_the_download_costs_the_same_queries_for_2_or_10_children(cast, worker, agency, client_for):
    client = client_for(worker)
    records = [_record(n) for n in range(1, 11)]
    _assign(cast, records[:2], worker)
    for record in records[:2]:
        _with_work(cast, worker, record, agency, contacts=2)
    two = _queries(client)
    _assign(cast, records[2:], worker)
    for record in records[2:]:
        _with_work(cast, worker, record, agency, contacts=2)
    assert len(client.get(URL).json()["cases"]) == 10
    assert _queries(client) == two


def test_every_download_is_in_the_access_log(cast, worker, client_for):
    _assign(cast, [_record(1), _record(2)], worker)
    client_for(worker).get(URL)
    entry = AccessLog.objects.get(user=worker, path=URL)
    assert (entry.action, entry.count) == (AccessLog.Action.VIEW, 2)


@pytest.mark.parametrize("who", ["coordinator_a", "viewer_a", "agency_user_a", "no_role", "university_member"])
def test_no_one_but_a_case_worker_downloads(cast, who, client_for):
    _assign(cast, [_record(1)], cast.case_worker_a)
    client = client_for(cast[who])
    assert client.get(URL).status_code == 403
    assert client.get("/field/").status_code == 403


def test_without_a_session_the_download_answers_401_and_the_shell_asks_to_sign_in(cast, client_for):
    client = client_for(None)
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "not signed in", "code": "signed_out"}
    assert client.get("/field/")["Location"].startswith("/accounts/login/")


def test_the_shell_passes_its_words_and_settings_to_the_script(worker, client_for, settings):
    settings.FIELDWORK_DEVICE_DAYS = 3
    response = client_for(worker).get("/field/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'rel="manifest" href="/field/manifest.webmanifest"' in page
    config = json.loads(page.split('<script id="field-config" type="application/json">')[1].split("</script>")[0])
    assert config["deviceDays"] == 3
    assert config["myCasesUrl"] == URL
    assert config["syncUrl"] == "/field/api/sync/"
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=(self), payment=()"
    assert "geolocation=()" in client_for(worker).get("/cases/")["Permissions-Policy"]  # only here
    assert (config["userId"], config["workerName"]) == (worker.pk, str(worker))
    assert config["labels"]["never_downloaded"] == "ยังไม่ได้ดาวน์โหลด"
    # The device's checks say what the server says, in the same words.
    assert config["labels"]["id_checksum"] == "หลักตรวจสอบของเลขประจำตัวประชาชนไม่ตรง: มีตัวเลขที่พิมพ์ผิด"
    untranslated = [key for key, text in config["labels"].items() if text.isascii() and "%(" not in text]
    assert untranslated == [], untranslated
    assert "ซิงค์ตอนนี้" in page  # the button, in Thai


def test_the_service_worker_is_served_with_its_scope_and_a_versioned_cache(client_for):
    response = client_for(None).get("/field/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/field/"
    config = json.loads(response.content.decode().split("const CONFIG = ")[1].split(";\n")[0])
    assert config["cache_name"].startswith("abe-field-")
    assert len(config["cache_name"]) > len("abe-field-")
    assert config["shell_url"] == "/field/"
    assert "/field/" in config["assets"]
    assert any(a.endswith("js/field.js") for a in config["assets"])
    assert not any(a.startswith("/field/api/") for a in config["assets"])


def test_the_manifest_names_the_app_in_thai_with_local_icons(client_for):
    response = client_for(None).get("/field/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/field/", "/field/", "standalone")
    assert manifest["name"] == "ระบบข้อมูล ABE: แอปภาคสนาม"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/")
        assert finders.find(icon["src"].removeprefix("/static/"))


def test_my_work_links_to_the_field_app_for_case_workers_only(cast, worker, client_for):
    assert 'data-testid="field-app-link"' in client_for(worker).get("/cases/").content.decode()
    assert 'data-testid="field-app-link"' not in client_for(cast.coordinator_a).get("/cases/").content.decode()


def test_the_sign_in_page_clears_the_field_apps_store(client_for):
    assert "js/field-signout.js" in client_for(None).get("/accounts/login/").content.decode()
