"""The main pages fit a laptop (1366 px) and a phone (390 px), with a compact navigation, in the real browser.

Debian's Chromium (/usr/bin/chromium), headless, driven by Playwright, launched as in tests/test_browser.py (no
browser is ever downloaded; skipped where Chromium is missing, a failure under REQUIRE_REAL_SERVICES=1). An EEF admin
with staff rights (the widest navigation: every link and "Administration") signs in with a TOTP code and opens the
home page, the records list, the national dashboard and an upload's dry-run report at both widths. Nothing may be
wider than the window, no card that does not scroll may overflow, and the top bar stays one row on the laptop and
folds its links behind a "Menu" button on the phone. Each page leaves a full-page PNG in SCREENSHOT_DIR (default:
artifacts/screenshots/ under the project root).
"""

import time

import pytest

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from core.buddhist_dates import current_fiscal_year
from portal.demo.provinces import load_demo_assignments
from portal.demo.records import load_demo_records
from provinces.models import Province
from summaries.models import SummaryRun
from summaries.services import run_summary
from targets.upload.services import receive_upload, start_check
from tests.builders import messy_file
from tests.conftest import watch_for_problems

pytestmark = pytest.mark.browser

# Top bar height limits (px), the menu closed: one row of links on a laptop, the brand and a button on a phone.
NAV_LIMITS = {1366: 80, 390: 70}

# What overflows: the page itself, and any card or table box that is wider inside than outside without scrolling
# (a .table-wrap scrolls on purpose: a wide table inside one is allowed on a phone).
MEASURE = """() => {
  const overflowing = [];
  for (const box of document.querySelectorAll("main .card, main .table-wrap, main section, main table")) {
    const style = getComputedStyle(box);
    const scrolls = ["auto", "scroll"].includes(style.overflowX);
    if (!scrolls && box.scrollWidth > box.clientWidth + 1) {
      overflowing.push(`${box.tagName.toLowerCase()}.${box.className} ${box.scrollWidth} > ${box.clientWidth}`);
    }
  }
  return {
    page: document.documentElement.scrollWidth,
    window: window.innerWidth,
    nav: document.querySelector("header.topbar").getBoundingClientRect().height,
    overflowing: overflowing,
  };
}"""


def _totp_code(secret: str) -> str:
    """The code an authenticator app would show now (allauth's own HOTP of the current 30-second step)."""
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))


def test_main_pages_fit_a_laptop_and_a_phone_with_a_compact_navigation(live_server, page, screenshot_dir, capsys):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from playwright.sync_api import expect

    with capsys.disabled():
        print(f"\nscreenshots: {screenshot_dir}")
    problems = watch_for_problems(page)

    # This year's programme with demo records, a computed summary, and a checked upload with rejections.
    load_demo_assignments()
    load_demo_records(count=300)
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)
    admin = make_user("eef.staff@example.org", role=Role.EEF_ADMIN, staff=True, totp=False)
    secret = generate_totp_secret()
    TOTP.activate(admin, secret)
    batch = receive_upload(user=admin, province=Province.objects.get(code=PROVINCE_A), uploaded_file=messy_file())
    start_check(batch=batch, user=admin)

    url = live_server.url
    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(admin.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.locator("input[name=code]").fill(_totp_code(secret))
    page.locator("form[action$='/2fa/authenticate/'] button[type=submit]").first.click()
    expect(page).to_have_url(f"{url}/")
    page.wait_for_load_state()

    pages = {
        "home": "/",
        "records": "/records/",
        "dashboard": "/dashboards/",
        "upload-report": f"/uploads/{batch.pk}/",
    }
    menu = page.get_by_test_id("nav-toggle")
    first_link = page.locator("header nav a").first
    for width, nav_limit in NAV_LIMITS.items():
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(f"{url}{path}")
            page.wait_for_load_state()
            expect(page.locator("html")).to_have_attribute("lang", "th")
            page.screenshot(path=screenshot_dir / f"layout-{width}-{name}.png", full_page=True)
            measured = page.evaluate(MEASURE)
            where = f"{name} at {width} px"
            assert measured["page"] <= measured["window"], f"{where}: the page is wider than the window {measured}"
            assert measured["overflowing"] == [], f"{where}: boxes overflow {measured['overflowing']}"
            assert measured["nav"] < nav_limit, f"{where}: the top bar is {measured['nav']} px high"
            if width == 1366:  # every link in the one row, no menu button
                expect(menu).to_be_hidden()
                expect(first_link).to_be_visible()
            else:  # the links behind the button, which opens them without any script of ours
                expect(first_link).to_be_hidden()
                menu.click()
                expect(first_link).to_be_visible()
                expect(page.locator("header nav a[href='/records/']")).to_be_visible()
                menu.click()
                expect(first_link).to_be_hidden()

    # The upload report speaks of what it refused and shows numbers as people read them.
    page.goto(f"{url}/uploads/{batch.pk}/")
    expect(page.get_by_test_id("upload-rejections")).to_contain_text("ค่าในไฟล์")
    # Its confirm button goes grey once pressed (static/js/submit_once.js). The test holds the form back, so that
    # the button's state can be seen before the next page replaces it.
    page.evaluate(
        "() => document.querySelector('form[data-submit-once]').addEventListener('submit', e => e.preventDefault())"
    )
    confirm = page.get_by_test_id("confirm-upload")
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(confirm).to_be_disabled()
    expect(confirm).to_have_text("กำลังบันทึก…")
    assert problems == []
