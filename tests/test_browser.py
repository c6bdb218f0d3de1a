"""The main journeys in a real browser: Debian's Chromium (/usr/bin/chromium), headless, driven by Playwright.

No browser is ever downloaded (`playwright install` is not used): Playwright launches the system Chromium. Where
it is missing the test is skipped, except under REQUIRE_REAL_SERVICES=1 (CI), where that is a failure; `.ci/run`
installs it with apt-get. Each main step leaves a full-page PNG in SCREENSHOT_DIR (default: artifacts/screenshots/
under the project root), so a person can look at what the browser saw.
"""

import os
import re
from pathlib import Path

import pytest
from django.db import connections

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from provinces.demo_data import load_demo_assignments
from provinces.reference_data import load_admin_areas
from targets.reference_data import load_target_reference_data
from universities.reference_data import load_universities

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds --headless and a fresh, empty --user-data-dir of its own (a temporary profile per launch).
# The rest: running as root in a container without a GPU, on a closed network (no QUIC, no update or sync calls).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reference_data_restored_after(django_db_setup, django_db_blocker):
    """Put the reference data back once this module's tests are done.

    `live_server` needs a transactional test (the server thread must see committed rows), and a transactional test
    ends by flushing every table, which also removes the areas and universities that the root conftest loads once
    per session. pytest-django runs transactional tests after the others, but any later transactional test (or one
    that runs in another order) still expects them, so reload them here. Module scope is what makes this run after
    the flush: the flush belongs to the test's own (function-scoped) teardown.
    """
    yield
    with django_db_blocker.unblock():
        load_admin_areas()
        load_universities()
        load_target_reference_data()


@pytest.fixture(scope="module")
def screenshot_dir() -> Path:
    path = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "artifacts" / "screenshots").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(monkeypatch):
    """A fresh Chromium page with a Thai browser's settings; the whole browser is closed after the test."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian: apt-get install chromium fonts-thai-tlwg)"
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio event loop running in this (the test's) thread while the browser is
    # open, so Django's guard sees an "async context" and refuses ORM calls made here (SynchronousOnlyOperation).
    # Nothing runs concurrently with those calls (Playwright waits for each one), so the guard is lifted, for this
    # test only (monkeypatch restores the environment). The live server answers from its own thread, unaffected.
    # One side effect: in that "async context" Django keeps its database connections apart from the thread's usual
    # ones, so they are closed below while the loop still runs; left open, they stop the test database from being
    # dropped at the end of the session ("database ... is being accessed by other users").
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="th-TH", timezone_id="Asia/Bangkok"
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            yield page
        finally:
            connections.close_all()
            context.close()
            browser.close()


def test_user_signs_in_switches_language_and_signs_out(
    reference_data_restored_after, live_server, page, screenshot_dir, capsys
):
    from playwright.sync_api import expect

    with capsys.disabled():
        print(f"\nscreenshots: {screenshot_dir}")
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url} {req.failure}"))
    page.on("response", lambda resp: resp.status >= 400 and problems.append(f"HTTP {resp.status}: {resp.url}"))

    # This fiscal year's programme (the demo assignments `make run` loads), and the coordinator of province A
    # (without staff rights, so no two-factor step at sign-in).
    load_demo_assignments()
    email, password = "somchai@example.org", PASSWORD
    make_user(email, role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)

    html = page.locator("html")
    current_nav = page.locator("header nav a[aria-current=page]")
    url = live_server.url

    # The login page speaks Thai first.
    page.goto(f"{url}/accounts/login/")
    expect(html).to_have_attribute("lang", "th")
    expect(page.get_by_test_id("login-submit")).to_have_text("เข้าสู่ระบบ")
    shot("01-login-th")

    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_test_id("login-submit").click()

    # The home page, in Thai, signed in.
    expect(page).to_have_url(f"{url}/")
    expect(html).to_have_attribute("lang", "th")
    expect(page.get_by_test_id("lang-th")).to_have_attribute("aria-pressed", "true")
    expect(current_nav).to_have_text("หน้าหลัก")
    expect(page.get_by_test_id("logout")).to_have_text("ออกจากระบบ")
    # The coordinator's home lists their own province only.
    expect(page.locator("main table tbody tr")).to_have_count(1)
    expect(page.locator("main table tbody tr")).to_contain_text("ขอนแก่น")
    shot("02-home-th")

    # One click to English, and the same page comes back in English.
    page.get_by_test_id("lang-en").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{url}/")
    expect(page.get_by_test_id("lang-en")).to_have_attribute("aria-pressed", "true")
    expect(current_nav).to_have_text("Home")
    expect(page.get_by_test_id("logout")).to_have_text("Sign out")
    shot("03-home-en")

    # And back to Thai.
    page.get_by_test_id("lang-th").click()
    expect(html).to_have_attribute("lang", "th")
    expect(page).to_have_url(f"{url}/")
    expect(current_nav).to_have_text("หน้าหลัก")

    # Signing out lands on the (Thai) login page, and the home page is closed again.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}/accounts/login/")))
    expect(html).to_have_attribute("lang", "th")
    expect(page.get_by_test_id("login-submit")).to_have_text("เข้าสู่ระบบ")
    expect(page.get_by_test_id("logout")).to_have_count(0)
    shot("04-logged-out")
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(re.escape(f"{url}/accounts/login/?next=/")))

    assert problems == []
