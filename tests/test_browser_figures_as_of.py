"""Figures as of a date in a real browser (Chromium, headless, driven by Playwright; skipped without it, as in
tests/test_browser.py): a province's dashboard as of a day of 2566, picked with its control, shows that day's
figures and marks the trend chart; a 2566 meeting shows the figures of its day. Each step leaves a PNG in
SCREENSHOT_DIR."""

import datetime

import pytest

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from meetings.models import Kind, Meeting, Presentation
from tests.conftest import watch_for_problems
from tests.test_dashboards import _records, summarize
from tests.test_figures_as_of import _move

pytestmark = pytest.mark.browser


def test_dashboard_and_meeting_as_of_a_day(live_server, page, screenshot_dir, programme):
    from playwright.sync_api import expect

    problems = watch_for_problems(page)
    email = "asof.coordinator@example.org"
    make_user(email, role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    _records(PROVINCE_A, {("out-of-school", "in-follow-up"): 2})
    _move(summarize(), datetime.date(2023, 3, 15))
    _records(PROVINCE_A, {("out-of-school", "returned-to-school"): 3})
    _move(summarize(), datetime.date(2023, 6, 30))
    _move(summarize(), datetime.date(2023, 9, 20))
    _records(PROVINCE_A, {("at-risk", "kept-in-school"): 4})
    summarize()
    day = datetime.date(2023, 3, 30)
    meeting = Meeting.objects.create(
        title="ประชุมชี้แจงแนวทางการดำเนินงาน 2566", kind=Kind.NATIONAL, starts_on=day, ends_on=day
    )
    meeting.provinces.add(PROVINCE_A)
    Presentation.objects.create(meeting=meeting, province_id=PROVINCE_A, order=1)

    url = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/")

    page.goto(f"{url}/dashboards/province/{PROVINCE_A}/?as_of=2566-07-15")
    expect(page.get_by_test_id("as-of-note")).to_contain_text("30 มิ.ย. 2566")
    expect(page.get_by_test_id("as-of-marker")).to_have_count(1)
    page.screenshot(path=screenshot_dir / "asof-01-dashboard.png", full_page=True)

    # The control: another day of the fiscal year's summaries.
    page.locator("#as-of-select").select_option("2566-03-15")
    page.get_by_test_id("as-of-form").get_by_role("button").click()
    expect(page.get_by_test_id("as-of-note")).to_contain_text("15 มี.ค. 2566")
    page.screenshot(path=screenshot_dir / "asof-02-dashboard-picked.png", full_page=True)

    page.goto(f"{url}/dashboards/province/{PROVINCE_A}/?as_of=ไม่ใช่วันที่")
    expect(page.get_by_test_id("as-of-error")).to_be_visible()

    page.goto(f"{url}/meetings/{meeting.pk}/")
    expect(page.get_by_test_id("figures-as-of")).to_have_text("ตัวเลข ณ วันที่ 15 มี.ค. 2566")
    page.get_by_test_id("presentation-figures").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "asof-03-meeting.png", full_page=True)
    assert problems == []
