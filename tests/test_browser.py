"""The main journeys in a real browser: Debian's Chromium (/usr/bin/chromium), headless, driven by Playwright.

No browser is ever downloaded (`playwright install` is not used): Playwright launches the system Chromium. Where
it is missing the test is skipped, except under REQUIRE_REAL_SERVICES=1 (CI), where that is a failure; `.ci/run`
installs it with apt-get. Each main step leaves a full-page PNG in SCREENSHOT_DIR (default: artifacts/screenshots/
under the project root), so a person can look at what the browser saw.
"""

import re

import pytest

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from portal.demo.provinces import load_demo_assignments
from tests.conftest import watch_for_problems

pytestmark = pytest.mark.browser


def test_user_signs_in_switches_language_and_signs_out(live_server, page, screenshot_dir, capsys):
    from playwright.sync_api import expect

    with capsys.disabled():
        print(f"\nscreenshots: {screenshot_dir}")
    problems = watch_for_problems(page)

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
