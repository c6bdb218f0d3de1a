"""Issue 18's acceptance points 1, 2 and 7 in the real browser (Chromium, Thai, a 390x844 phone): a case worker
signs in and downloads their assigned children into the field app; the network goes offline, the page is reloaded
and the service worker serves the shell, which lists the children from IndexedDB; signing out clears the device's
store (read back from IndexedDB after sign-out: no database).

Launched as in tests/test_browser.py (Debian's /usr/bin/chromium; skipped where it is missing, a failure under
REQUIRE_REAL_SERVICES=1). The live server answers on localhost, where browsers allow service workers without HTTPS.
Each step leaves a PNG in SCREENSHOT_DIR (default: artifacts/screenshots/ under the project root).
"""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.models import Role
from cases import services
from conftest import PASSWORD, PROVINCE_A, make_user
from core.thai_id import mask_identifier
from portal.demo.provinces import load_demo_assignments
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id
from tests.conftest import watch_for_problems

pytestmark = pytest.mark.browser

# What the device holds: every object store's count, the download's time, and whether the database exists at all.
READ_STORE = """async () => {
  const names = (await indexedDB.databases()).map((db) => db.name);
  if (!names.includes("abe-field")) return { exists: false, names };
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("abe-field");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const result = { exists: true, names, counts: {}, identifiers: [] };
  for (const store of db.objectStoreNames) {
    result.counts[store] = await new Promise((resolve) => {
      const request = db.transaction(store).objectStore(store).count();
      request.onsuccess = () => resolve(request.result);
    });
  }
  result.meta = await new Promise((resolve) => {
    const request = db.transaction("meta").objectStore("meta").getAllKeys();
    request.onsuccess = () => resolve(request.result);
  });
  result.identifiers = await new Promise((resolve) => {
    const request = db.transaction("cases").objectStore("cases").getAll();
    request.onsuccess = () => resolve(request.result.map((row) => row.identifier));
  });
  db.close();
  return result;
}"""

# The page is under the service worker's control (wait_for_function would need eval, which the portal's CSP refuses).
CONTROLLED = """async () => {
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    const changed = (resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true });
    await new Promise(changed);
  }
  return true;
}"""


def test_a_case_worker_downloads_goes_offline_and_signs_out(live_server, page, screenshot_dir, capsys):
    from playwright.sync_api import expect

    with capsys.disabled():
        print(f"\nscreenshots: {screenshot_dir}")
    problems = watch_for_problems(page)
    load_demo_assignments()
    coordinator = make_user("coord.field@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    worker = make_user("kanya.field@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    other_worker = make_user("somjai.field@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    names = ["สมชาย", "สมหญิง", "มานะ", "ปิติ"]
    records = [
        TargetRecord.objects.create(
            identifier=national_id(n + 1),
            identifier_kind="national_id",
            first_name=name,
            last_name="รักเรียน",
            birth_date=datetime.date(2011, 3, n + 1),
            province_id=PROVINCE_A,
            category=Category.objects.get(code="out-of-school"),
            status=Outcome.objects.get(code="in-follow-up"),
        )
        for n, name in enumerate(names)
    ]
    services.assign(user=coordinator, records=records[:3], worker=worker)
    services.assign(user=coordinator, records=records[3:], worker=other_worker)
    records[0].refresh_from_db()
    services.log_contact(user=worker, record=records[0], kind="home_visit", findings="พบมารดา",
                         happened_at=timezone.now() - datetime.timedelta(days=2))  # fmt: skip

    url = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    context = page.context

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=False)

    # 1. The case worker signs in on the phone, opens the field app from My work and downloads their cases.
    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(worker.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/")
    page.goto(f"{url}/cases/")
    page.get_by_test_id("field-app-link").click()
    expect(page).to_have_url(f"{url}/field/")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.get_by_test_id("download").click()
    expect(page.get_by_test_id("field-message")).to_have_text("ดาวน์โหลดข้อมูลเด็ก 3 คนแล้ว")
    cards = page.get_by_test_id("case-card")
    expect(cards).to_have_count(3)  # their own three, never the other worker's child
    expect(page.get_by_test_id("case-list")).not_to_contain_text("ปิติ")
    expect(page.get_by_test_id("downloaded-at")).to_contain_text("ดาวน์โหลดล่าสุดเมื่อ")
    expect(page.get_by_test_id("pending-count")).to_have_text("0")
    expect(page.locator(f"[data-record='{records[0].pk}'] [data-testid=last-contact]")).to_contain_text("ติดต่อล่าสุด")
    expect(page.locator(f"[data-record='{records[1].pk}'] [data-testid=last-contact]")).to_have_text("ยังไม่เคยติดต่อ")
    store = page.evaluate(READ_STORE)
    assert store["exists"]
    assert store["counts"] == {"cases": 3, "contacts": 1, "meta": 4, "queue": 0, "referrals": 0, "steps": 0}
    assert sorted(store["meta"]) == ["choices", "downloaded_at", "synced_at", "user"]
    assert sorted(store["identifiers"]) == sorted(mask_identifier(r.identifier) for r in records[:3])
    # The service worker took the page over and cached the shell.
    page.evaluate(CONTROLLED)
    assert page.evaluate("caches.keys()")[0].startswith("abe-field-")
    assert not problems, problems
    shot("field-01-downloaded")

    # 2. Offline: the reload is answered by the service worker, and the children come from IndexedDB.
    context.set_offline(True)
    response = page.reload()
    assert response is not None
    assert response.from_service_worker
    # The page's own requests find no network (the API is never answered from the worker's cache).
    assert page.evaluate("() => fetch('/field/api/my-cases/').then(() => 'answered', () => 'offline')") == "offline"
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(cards).to_have_count(3)
    expect(page.get_by_test_id("field-message")).to_have_text("ออฟไลน์อยู่: แสดงข้อมูลที่ดาวน์โหลดไว้")
    expect(page.get_by_test_id("downloaded-at")).to_contain_text("ดาวน์โหลดล่าสุดเมื่อ")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    shot("field-02-offline")

    # 7. Back online, the worker signs out: the app deletes the device's store, and so does the sign-in page
    # reached by signing out.
    context.set_offline(False)
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}/accounts/login/?signed_out=1")))
    expect(page.locator("html")).to_have_attribute("data-field-store", "cleared")
    after = page.evaluate(READ_STORE)
    assert after["exists"] is False, after
    shot("field-03-signed-out")


AGE_THE_DOWNLOAD = """async (days) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("abe-field");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const when = new Date(Date.now() - days * 24 * 60 * 60 * 1000).toISOString();
  await new Promise((resolve) => {
    const tx = db.transaction("meta", "readwrite");
    tx.objectStore("meta").put({ key: "downloaded_at", value: when });
    tx.objectStore("meta").put({ key: "synced_at", value: when });
    tx.oncomplete = resolve;
  });
  db.close();
}"""


def test_the_app_forgets_after_days_without_a_download_and_when_the_session_is_gone(live_server, page):
    """FIELDWORK_DEVICE_DAYS (7) without a download or a sync: the app deletes what the device holds when it
    starts, even offline. The session ended on the server (an admin revoked it): the next download answers 401 and
    the app deletes the children the device held (with nothing waiting to sync, nothing is left)."""
    from django.contrib.sessions.models import Session
    from playwright.sync_api import expect

    load_demo_assignments()
    coordinator = make_user("coord.gone@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    worker = make_user("worker.gone@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    record = TargetRecord.objects.create(
        identifier=national_id(7),
        identifier_kind="national_id",
        first_name="มานี",
        province_id=PROVINCE_A,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )
    services.assign(user=coordinator, records=[record], worker=worker)
    url = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(worker.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/")
    page.goto(f"{url}/field/")
    cards = page.get_by_test_id("case-card")
    expect(cards).to_have_count(1)
    page.evaluate(CONTROLLED)
    assert page.evaluate(READ_STORE)["counts"]["cases"] == 1

    # Eight days since the last download, and no signal: on start, the app deletes the children.
    page.evaluate(AGE_THE_DOWNLOAD, 8)
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("field-message")).to_have_text("ลบข้อมูลในเครื่องนี้แล้ว เพราะไม่ได้ดาวน์โหลดมา 7 วัน")
    expect(cards).to_have_count(0)
    expect(page.get_by_test_id("downloaded-at")).to_have_text("ยังไม่ได้ดาวน์โหลด")
    assert page.evaluate(READ_STORE)["counts"]["cases"] == 0

    # Back online, a new download; then the session is revoked on the server.
    page.context.set_offline(False)
    page.get_by_test_id("download").click()
    expect(cards).to_have_count(1)
    Session.objects.all().delete()
    page.get_by_test_id("download").click()

    expect(page.locator("body")).to_have_attribute("data-state", "signed-out")
    expect(cards).to_have_count(0)
    expect(page.get_by_test_id("field-message")).to_contain_text("คุณออกจากระบบแล้ว")
    assert page.evaluate(READ_STORE).get("counts", {}).get("cases", 0) == 0
