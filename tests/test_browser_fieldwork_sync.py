"""Issue 18's acceptance points 3 to 6 in the real browser (Chromium, Thai, a 390x844 phone, Playwright's offline
emulation): offline, a case worker logs three contacts and changes one status (the pending count shows 4); back
online the app syncs and the server has exactly those four changes, made by the worker in the audit trail; syncing
again, or replaying the very same requests, changes nothing; a status changed on the portal meanwhile comes back as
a conflict the worker sees with both values, chooses, and the choice is saved. A session that merely expired keeps
what waits: the worker signs in again and it is sent.

Launched as tests/test_browser_fieldwork.py (Debian's Chromium; the live server on localhost, where service workers
need no HTTPS). Screenshots in SCREENSHOT_DIR.
"""

import datetime
import re

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import Role
from cases import services
from cases.models import Contact
from conftest import PASSWORD, PROVINCE_A, PROVINCE_B, make_user
from portal.demo.provinces import load_demo_assignments
from targets import record_services
from targets.models import Assistance, Category, Outcome, StatusChange, TargetRecord
from tests.builders import national_id
from tests.conftest import watch_for_problems
from tests.test_browser_fieldwork import CONTROLLED, READ_STORE

pytestmark = pytest.mark.browser

SYNC = "/field/api/sync/"

# The requests the app sent to the sync endpoint, sent again by the page itself, byte for byte, with the CSRF token.
REPLAY = """async (bodies) => {
  const token = document.cookie.split("; ").find((part) => part.startsWith("csrftoken=")).split("=")[1];
  const answers = [];
  for (const body of bodies) {
    const response = await fetch("/field/api/sync/", {
      method: "POST", credentials: "same-origin", body,
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
    });
    answers.push({ status: response.status, json: await response.json() });
  }
  return answers;
}"""


READ_QUEUE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("abe-field");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const rows = await new Promise((resolve) => {
    const request = db.transaction("queue").objectStore("queue").getAll();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  return rows;
}"""


def _children(names: list[str]) -> list[TargetRecord]:
    return [
        TargetRecord.objects.create(
            identifier=national_id(100 + n),
            identifier_kind="national_id",
            first_name=name,
            last_name="ใจดี",
            birth_date=datetime.date(2010, 5, n + 1),
            province_id=PROVINCE_A,
            category=Category.objects.get(code="out-of-school"),
            status=Outcome.objects.get(code="in-follow-up"),
        )
        for n, name in enumerate(names)
    ]


def _sign_in(page, url: str, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/accounts/login/?next=/field/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/field/")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")


def _log_contact(page, record: TargetRecord, findings: str, *, gps: bool = False) -> None:
    from playwright.sync_api import expect

    page.locator(f"[data-record='{record.pk}'] [data-testid=log-contact]").click()
    sheet = page.get_by_test_id("sheet")
    expect(sheet).to_be_visible()
    sheet.locator("textarea[name=findings]").fill(findings)
    if gps:
        sheet.locator("input[name=gps]").check()
    sheet.get_by_test_id("sheet-save").click()
    expect(sheet).to_be_hidden()


def _change_status(page, record: TargetRecord, code: str) -> None:
    from playwright.sync_api import expect

    page.locator(f"[data-record='{record.pk}'] [data-testid=change-status]").click()
    sheet = page.get_by_test_id("sheet")
    sheet.locator("select[name=to]").select_option(code)
    sheet.get_by_test_id("sheet-save").click()
    expect(sheet).to_be_hidden()


def _events_by(model: str, user_id: int, **filters) -> int:
    events = apps.get_model("audit", model).objects.filter(**filters)
    return sum(1 for event in events if event.pgh_context and event.pgh_context.metadata.get("user") == user_id)


def test_offline_work_syncs_exactly_once_and_a_conflict_is_the_workers_to_resolve(live_server, page, screenshot_dir):
    from playwright.sync_api import expect

    problems = watch_for_problems(page)
    load_demo_assignments()
    coordinator = make_user("coord.sync@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    worker = make_user("kanya.sync@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    records = _children(["อรุณ", "บุญมี"])
    services.assign(user=coordinator, records=records, worker=worker)
    first, second = records
    url = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    context = page.context
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.post_data) if request.url.endswith(SYNC) else None)

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=False)

    _sign_in(page, url, worker.email)
    cards = page.get_by_test_id("case-card")
    expect(cards).to_have_count(2)
    page.evaluate(CONTROLLED)

    # 3. Offline (the shell from the service worker): three contacts with the first child, a status for the second.
    context.set_offline(True)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(cards).to_have_count(2)
    for findings in ("พบมารดา เด็กอยากกลับไปเรียน", "โทรนัดครูประจำชั้น", "พาไปสมัคร กศน."):
        _log_contact(page, first, findings)
    _change_status(page, second, "returned-to-school")
    expect(page.get_by_test_id("pending-count")).to_have_text("4")
    expect(page.get_by_test_id("queue-pending")).to_have_count(4)
    expect(page.locator(f"[data-record='{second.pk}'] [data-testid=status]")).to_contain_text("กลับเข้าสู่ระบบการศึกษา")
    expect(page.locator(f"[data-record='{second.pk}'] [data-testid=status]")).to_contain_text("รอซิงค์")
    assert page.evaluate(READ_STORE)["counts"]["queue"] == 4
    assert sent == [], "nothing leaves the device offline"
    assert not Contact.objects.filter(case_id=first.pk).exists()
    shot("field-04-offline-pending")

    # 4. Back online: the app sends what waits, then downloads the children again.
    context.set_offline(False)
    page.get_by_test_id("download").click()
    expect(page.get_by_test_id("pending-count")).to_have_text("0")
    expect(page.get_by_test_id("waiting")).to_be_hidden()
    expect(page.locator(f"[data-record='{second.pk}'] [data-testid=status]")).to_have_text("กลับเข้าสู่ระบบการศึกษา")
    contacts = Contact.objects.filter(case_id=first.pk)
    assert sorted(contacts.values_list("findings", flat=True)) == sorted(
        ["พบมารดา เด็กอยากกลับไปเรียน", "โทรนัดครูประจำชั้น", "พาไปสมัคร กศน."]
    )
    assert set(contacts.values_list("recorded_by", flat=True)) == {worker.pk}
    change = StatusChange.objects.get(record=second)
    assert (change.to_status.code, change.changed_by_id) == ("returned-to-school", worker.pk)
    assert not StatusChange.objects.filter(record=first).exists()
    # The audit trail names the worker (pghistory's context of each request).
    assert _events_by("ContactEvent", worker.pk, case_id=first.pk, pgh_label="insert") == 3
    assert _events_by("TargetRecordEvent", worker.pk, pgh_obj_id=second.pk) >= 1
    assert len(sent) == 1, sent
    shot("field-05-synced")

    # 5. Syncing again changes nothing; replaying the very requests answers them again and changes nothing.
    page.get_by_test_id("download").click()
    expect(page.get_by_test_id("field-message")).to_have_text("ดาวน์โหลดข้อมูลเด็ก 2 คนแล้ว")
    assert len(sent) == 1, "the second sync had nothing to send"
    answers = page.evaluate(REPLAY, sent[:1])
    assert [answer["status"] for answer in answers] == [200]
    results = answers[0]["json"]["results"]
    assert [(r["result"], r["replayed"]) for r in results] == [("applied", True)] * 4
    assert Contact.objects.filter(case_id=first.pk).count() == 3
    assert StatusChange.objects.filter(record=second).count() == 1

    # 6. A conflict: offline, the worker moves the first child to flexible learning, while the coordinator sets
    # vocational training on the portal.
    context.set_offline(True)
    _change_status(page, first, "flexible-learning")
    expect(page.get_by_test_id("pending-count")).to_have_text("1")
    first.refresh_from_db()
    record_services.change_status(record=first, user=coordinator, status=Outcome.objects.get(code="vocational"),
                                  version=first.version)  # fmt: skip
    context.set_offline(False)
    page.get_by_test_id("download").click()
    conflict = page.get_by_test_id("queue-conflict")
    expect(conflict).to_have_count(1)
    text = conflict.get_by_test_id("conflict-text")
    expect(text).to_contain_text("การศึกษาทางเลือก/กศน.")  # the worker's value
    expect(text).to_contain_text("ฝึกอาชีพ")  # the portal's value
    expect(text).to_contain_text(str(coordinator))  # and who set it
    expect(page.get_by_test_id("pending-count")).to_have_text("0")
    first.refresh_from_db()
    assert first.status.code == "vocational", "nothing overwritten before the worker chose"
    assert page.evaluate(READ_STORE)["counts"]["queue"] == 1
    shot("field-06-conflict")

    conflict.get_by_test_id("keep-mine").click()
    expect(page.get_by_test_id("field-message")).to_contain_text("ส่งการเปลี่ยนแปลง 1 รายการแล้ว")
    expect(page.get_by_test_id("waiting")).to_be_hidden()
    first.refresh_from_db()
    assert first.status.code == "flexible-learning"
    changes = StatusChange.objects.filter(record=first).order_by("pk")
    assert list(changes.values_list("to_status__code", "changed_by")) == [
        ("vocational", coordinator.pk),
        ("flexible-learning", worker.pk),
    ]
    expect(page.locator(f"[data-record='{first.pk}'] [data-testid=status]")).to_have_text("การศึกษาทางเลือก/กศน.")
    assert not problems, problems
    shot("field-07-conflict-resolved")


def test_what_waits_survives_an_expired_session_and_a_refusal_stays_until_seen(live_server, page, screenshot_dir):
    """The session ends while the worker is offline with work to send: the app keeps the queue (the downloaded
    children go), the worker signs in again and it is sent. A change the server refuses (the child was given to
    another worker meanwhile) stays on the device with the server's reason until the worker has read it."""
    from playwright.sync_api import expect

    load_demo_assignments()
    coordinator = make_user("coord.expired@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    worker = make_user("worker.expired@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    other = make_user("other.expired@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    kept, taken = _children(["ดวงใจ", "ประเสริฐ"])
    services.assign(user=coordinator, records=[kept, taken], worker=worker)
    url = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, url, worker.email)
    expect(page.get_by_test_id("case-card")).to_have_count(2)
    page.evaluate(CONTROLLED)

    # The worker lets the app read the phone's position for one contact, and only for that one.
    page.context.grant_permissions(["geolocation"], origin=url)
    page.context.set_geolocation({"latitude": 16.441234, "longitude": 102.835678, "accuracy": 25})
    page.context.set_offline(True)
    _log_contact(page, kept, "เยี่ยมบ้าน พบเด็ก", gps=True)
    _log_contact(page, taken, "ไม่พบตัว")
    # A third, typed by mistake, is taken back before it is sent (the app asks first).
    _log_contact(page, kept, "พิมพ์ผิด")
    expect(page.get_by_test_id("pending-count")).to_have_text("3")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("queue-pending").nth(2).get_by_test_id("remove-pending").click()
    expect(page.get_by_test_id("pending-count")).to_have_text("2")
    queued = page.evaluate(READ_QUEUE)
    assert [item["body"]["contact"]["location"] for item in queued] == [
        {"lat": 16.441234, "lon": 102.835678, "accuracy": 25},
        None,
    ]
    Session.objects.all().delete()  # the session ended on the server meanwhile
    services.assign(user=coordinator, records=[TargetRecord.objects.get(pk=taken.pk)], worker=other)

    page.context.set_offline(False)
    page.get_by_test_id("download").click()
    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
    expect(page.get_by_test_id("field-message")).to_contain_text("การเปลี่ยนแปลง 2 รายการของคุณยังเก็บไว้")
    expect(page.get_by_test_id("case-card")).to_have_count(0)  # the children's data went with the session
    expect(page.get_by_test_id("pending-count")).to_have_text("2")  # what the worker recorded did not
    assert not Contact.objects.exists()

    # Signing in again (the sign-in page reached without signing out keeps the store) sends what waited.
    page.get_by_test_id("sign-in").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("html")).not_to_have_attribute("data-field-store", "cleared")
    page.locator("input[name=login]").fill(worker.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/field/")
    refused = page.get_by_test_id("queue-refused")
    expect(refused).to_have_count(1)
    expect(refused.get_by_test_id("refusal-reason")).to_contain_text("ไม่อยู่ในความดูแลของคุณแล้ว")
    expect(page.get_by_test_id("pending-count")).to_have_text("0")
    assert list(Contact.objects.values_list("case_id", "findings")) == [(kept.pk, "เยี่ยมบ้าน พบเด็ก")]
    contact = Contact.objects.get()
    assert (float(contact.latitude), float(contact.longitude)) == (16.441234, 102.835678)
    assert contact.location_accuracy_m == 25
    expect(page.get_by_test_id("case-card")).to_have_count(1)
    page.screenshot(path=screenshot_dir / "field-08-refused.png", full_page=False)

    # The refusal stays, across a reload, until the worker has read it and removes it.
    page.reload()
    expect(page.get_by_test_id("queue-refused")).to_have_count(1)
    page.get_by_test_id("queue-refused").get_by_test_id("dismiss").click()
    expect(page.get_by_test_id("waiting")).to_be_hidden()
    assert page.evaluate(READ_STORE)["counts"]["queue"] == 0


def test_a_newly_found_child_is_checked_on_the_device_and_again_on_the_server(live_server, page, screenshot_dir):
    """Offline, the worker notes two children found on a visit. The device refuses a mistyped national ID at once,
    with the server's words; an ID already recorded in another province only the server can know: that change comes
    back refused, saying nothing of where, and the first child is created in the worker's area, assigned to them."""
    from playwright.sync_api import expect

    load_demo_assignments()
    coordinator = make_user("coord.found@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    worker = make_user("worker.found@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    followed = _children(["สายใจ"])
    services.assign(user=coordinator, records=followed, worker=worker)
    elsewhere = TargetRecord.objects.create(
        identifier=national_id(555), identifier_kind="national_id", first_name="ที่อื่น", province_id=PROVINCE_B,
        category=Category.objects.get(code="out-of-school"), status=Outcome.objects.get(code="in-follow-up"),
    )  # fmt: skip
    url = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, url, worker.email)
    expect(page.get_by_test_id("case-card")).to_have_count(1)
    page.evaluate(CONTROLLED)
    page.context.set_offline(True)
    sheet = page.get_by_test_id("sheet")

    def note(identifier: str, first_name: str) -> None:
        page.get_by_test_id("new-child").click()
        expect(sheet).to_be_visible()
        sheet.locator("input[name=identifier]").fill(identifier)
        sheet.locator("input[name=first_name]").fill(first_name)
        sheet.locator("input[name=last_name]").fill("พบใหม่")
        sheet.locator("select[name=sex]").select_option("F")
        sheet.locator("input[name=birth_date]").fill("2012-02-03")
        sheet.get_by_test_id("sheet-save").click()

    good = national_id(777)
    mistyped = good[:12] + str((int(good[12]) + 1) % 10)
    note(mistyped, "น้ำฝน")
    expect(sheet.locator("[data-error=identifier]")).to_have_text("หลักตรวจสอบของเลขประจำตัวประชาชนไม่ตรง: มีตัวเลขที่พิมพ์ผิด")
    page.screenshot(path=screenshot_dir / "field-09-new-child-checked.png", full_page=False)
    sheet.locator("input[name=identifier]").fill(good)
    sheet.get_by_test_id("sheet-save").click()
    expect(sheet).to_be_hidden()
    note(elsewhere.identifier, "ฟ้าใส")
    expect(sheet).to_be_hidden()
    # And help given on the visit to the child already followed up (the worker's own name offered as the giver).
    page.locator(f"[data-record='{followed[0].pk}'] [data-testid=record-help]").click()
    expect(sheet.locator("input[name=given_by]")).to_have_value(str(worker))
    sheet.locator("input[name=given_by]").fill("ครูกานดา")
    sheet.locator("textarea[name=outcome]").fill("มอบชุดนักเรียน")
    sheet.get_by_test_id("sheet-save").click()
    expect(sheet).to_be_hidden()
    expect(page.get_by_test_id("pending-count")).to_have_text("3")

    page.context.set_offline(False)
    page.get_by_test_id("download").click()
    expect(page.get_by_test_id("case-card")).to_have_count(2)
    found = TargetRecord.objects.get(identifier=good)
    assert (found.province_id, found.case_worker_id) == (PROVINCE_A, worker.pk)
    assert (found.first_name, found.sex) == ("น้ำฝน", "F")
    assert found.birth_date == datetime.date(2012, 2, 3)
    expect(page.locator(f"[data-record='{found.pk}']")).to_contain_text("น้ำฝน พบใหม่")
    refused = page.get_by_test_id("queue-refused")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("ฟ้าใส")
    reason = refused.get_by_test_id("refusal-reason").inner_text()
    assert "ที่อื่น" not in reason, reason
    assert elsewhere.province.name not in reason, reason
    assert TargetRecord.objects.filter(identifier=elsewhere.identifier).count() == 1
    help_given = Assistance.objects.get(record=followed[0])
    assert (help_given.given_by, help_given.outcome, help_given.recorded_by_id) == ("ครูกานดา", "มอบชุดนักเรียน", worker.pk)
    assert help_given.date == timezone.localdate()
    page.screenshot(path=screenshot_dir / "field-10-new-child-synced.png", full_page=False)
