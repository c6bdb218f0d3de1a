"""Drill-down in a real browser (Chromium, headless, driven by Playwright; skipped without it, as in
tests/test_browser.py): the province dashboard's district table, a district's page of sub-districts, and a
sub-district's count opening the records list filtered to it. Each step leaves a PNG in SCREENSHOT_DIR."""

import pytest

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from tests.conftest import watch_for_problems
from tests.test_drilldown import planted  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


def test_dashboard_district_and_sub_district_down_to_the_records(live_server, page, screenshot_dir, planted):  # noqa: F811
    from playwright.sync_api import expect

    problems = watch_for_problems(page)
    email = "drill.coordinator@example.org"
    make_user(email, role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    url = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/")

    page.goto(f"{url}/dashboards/province/{PROVINCE_A}/")
    districts = page.get_by_test_id("districts")
    expect(districts.get_by_test_id("area-row")).to_have_count(3)  # two districts and "not recorded"
    expect(districts.get_by_test_id("area-total-goal")).to_have_text("30.0% (3 / 10)")
    districts.screenshot(path=screenshot_dir / "drill-01-districts.png")

    districts.get_by_test_id("area-page").first.click()
    expect(page.locator("h1")).to_have_text(f"อำเภอ{planted.d1.name_th}")
    expect(page.get_by_test_id("breadcrumb")).to_contain_text(planted.d1.province.name_th)
    expect(page.get_by_test_id("area-row")).to_have_count(2)
    page.screenshot(path=screenshot_dir / "drill-02-district.png", full_page=True)

    page.get_by_test_id("area-records-link").first.click()
    expect(page.locator(".records-table tbody tr")).to_have_count(3)
    expect(page.locator("#id_sub_district")).to_have_value(str(planted.s1.pk))
    page.screenshot(path=screenshot_dir / "drill-03-records.png", full_page=True)
    assert problems == []
