"""One progress report walks draft → submitted → reviewed → accepted in the real browser.

Debian's Chromium (/usr/bin/chromium), headless, driven by Playwright, launched as in tests/test_browser.py (no
browser is ever downloaded; skipped where Chromium is missing, a failure under REQUIRE_REAL_SERVICES=1). Three
people sign in in turn: province A's coordinator writes and submits, a member of KKU (A's lead university) reviews,
and an EEF admin, who must pass the TOTP step (settings.ABE_REQUIRE_MFA is on in tests), accepts. Each step leaves a
full-page PNG in SCREENSHOT_DIR (default: artifacts/screenshots/ under the project root).
"""

import re
import time

import pytest
from django.core import mail

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from portal.demo.provinces import load_demo_assignments
from tests.conftest import watch_for_problems

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _every_period_may_be_submitted(monkeypatch):
    """Reports are submitted from their period's last month on (reports.services.today): pinned to the
    last day of this fiscal year, so that submitting this year's Q1 here never depends on the calendar."""
    from core.buddhist_dates import current_fiscal_year
    from core.periods import period_bounds
    from reports import services

    last_day = period_bounds(current_fiscal_year(), "Q4")[1]
    monkeypatch.setattr(services, "today", lambda: last_day)


# Seconds the browser may take from reading a code to the server checking it (fill, screenshot, submit, redirect).
TOTP_MARGIN = 10


def _totp_code(secret: str, *, clock=time.time, sleep=time.sleep) -> str:
    """The code an authenticator app shows, for a 30-second step that is still current when the server checks it.

    allauth accepts only the current step's code (MFA_TOTP_TOLERANCE 0), so a code read in the last seconds of a
    step is refused ("รหัสไม่ถูกต้อง") once the step has turned by the time the form arrives: the test failed now
    and then. As someone with a phone would, it waits for the next code when the shown one is about to change.
    """
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    period = app_settings.TOTP_PERIOD
    now = clock()
    left = period - now % period
    if left < TOTP_MARGIN:
        sleep(left + 0.1)
        now = clock()
    return format_hotp_value(hotp_value(secret, int(now) // period))


def test_report_walks_from_draft_to_accepted(live_server, page, screenshot_dir, capsys):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from playwright.sync_api import expect

    from reports.models import ProgressReport, ReportEvent

    with capsys.disabled():
        print(f"\nscreenshots: {screenshot_dir}")
    problems = watch_for_problems(page)

    # This fiscal year's programme: A (ขอนแก่น) is led by KKU. Nobody here is staff, so only the EEF admin (national
    # scope) has to pass the TOTP step; their authenticator's secret is known to the test, as to their phone.
    load_demo_assignments()
    coordinator = make_user("somsri@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    reviewer = make_user("kku.reviewer@example.org", role=Role.UNIVERSITY_MEMBER, university="KKU")
    eef = make_user("eef.officer@example.org", role=Role.EEF_ADMIN, staff=False, totp=False)
    secret = generate_totp_secret()
    TOTP.activate(eef, secret)

    url = live_server.url
    status = page.get_by_test_id("status")

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)

    def sign_in(email: str) -> None:
        page.goto(f"{url}/accounts/login/")
        page.locator("input[name=login]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()

    def sign_out() -> None:
        page.get_by_test_id("logout").click()
        expect(page).to_have_url(re.compile(re.escape(f"{url}/accounts/login/")))

    # 1. The coordinator opens the reports, starts a new one for this year's first quarter and writes it.
    sign_in(coordinator.email)
    expect(page).to_have_url(f"{url}/")
    page.wait_for_load_state()  # the home page's stylesheets, before leaving it
    page.locator("header nav a[href='/reports/']").click()
    expect(page.get_by_test_id("no-reports")).to_be_visible()
    page.get_by_test_id("new-report").click()
    expect(page.locator("select[name=province] option")).to_have_count(1)  # only their own province
    page.locator("select[name=period]").select_option("Q1")
    shot("report-01-new")
    page.get_by_test_id("create-report").click()
    expect(page).to_have_url(re.compile(r"/reports/\d+/edit/$"))
    report = ProgressReport.objects.get()
    texts = {
        "situation": "พบเด็กและเยาวชนนอกระบบการศึกษา 214 คน ใน 7 อำเภอ",
        "mechanisms": "คณะทำงานระดับจังหวัดประชุม 2 ครั้ง มีรองผู้ว่าราชการจังหวัดเป็นประธาน",
        "progress": "กลับเข้าสู่ระบบการศึกษา 41 คน เรียน กศน. 28 คน ฝึกอาชีพ 17 คน",
        "recommendations": "ขอทุนเสมอภาคสำหรับเด็กที่กลับเข้าเรียนกลางภาคเรียน",
        "lessons_learned": "การลงพื้นที่ร่วมกันของครูและอาสาสมัครทำให้พบตัวเด็กเร็วขึ้น",
    }
    for name, text in texts.items():
        page.locator(f"textarea[name={name}]").fill(text)
    shot("report-02-edit")
    page.get_by_test_id("save-report").click()
    expect(page).to_have_url(f"{url}/reports/{report.pk}/")
    expect(status).to_have_attribute("data-status", "draft")
    expect(page.locator("#section-progress")).to_contain_text(texts["progress"])
    expect(page.get_by_test_id("action-review")).to_have_count(0)
    shot("report-03-draft")
    page.get_by_test_id("action-submit").click()
    expect(status).to_have_attribute("data-status", "submitted")
    expect(page.get_by_test_id("edit-report")).to_have_count(0)
    expect(page.get_by_test_id("transition-form")).to_have_count(0)  # nothing more for the coordinator
    shot("report-04-submitted")
    sign_out()

    # 2. KKU's member (the lead university's team) reviews it from the list, with a comment.
    sign_in(reviewer.email)
    expect(page).to_have_url(f"{url}/")
    page.wait_for_load_state()
    page.goto(f"{url}/reports/")
    page.get_by_test_id("report-row").get_by_role("link").click()
    expect(status).to_have_attribute("data-status", "submitted")
    expect(page.get_by_test_id("action-accept")).to_have_count(0)
    page.locator("textarea[name=comment]").fill("ตรวจทานแล้ว ตัวเลขสอดคล้องกับแผนจังหวัด")
    shot("report-05-to-review")
    page.get_by_test_id("action-review").click()
    expect(status).to_have_attribute("data-status", "reviewed")
    expect(page.get_by_test_id("history")).to_contain_text("ตัวเลขสอดคล้องกับแผนจังหวัด")
    shot("report-06-reviewed")
    sign_out()

    # 3. The EEF admin signs in with password and TOTP code, and accepts the report.
    sign_in(eef.email)
    expect(page).to_have_url(re.compile(re.escape(f"{url}/accounts/2fa/authenticate/")))
    page.locator("input[name=code]").fill(_totp_code(secret))
    shot("report-07-totp")
    page.locator("form[action$='/2fa/authenticate/'] button[type=submit]").first.click()
    expect(page).to_have_url(f"{url}/")
    page.wait_for_load_state()
    page.goto(f"{url}/reports/{report.pk}/")
    expect(status).to_have_attribute("data-status", "reviewed")
    expect(page.get_by_test_id("action-accept")).to_be_visible()
    page.get_by_test_id("action-accept").click()
    expect(status).to_have_attribute("data-status", "accepted")
    expect(page.get_by_test_id("locked")).to_be_visible()
    expect(page.get_by_test_id("transition-form")).to_have_count(0)
    expect(page.get_by_test_id("edit-report")).to_have_count(0)
    expect(page.get_by_test_id("history-event")).to_have_count(3)
    shot("report-08-accepted")
    sign_out()

    # The steps as kept, and the mail each one sent to the next people.
    steps = list(ReportEvent.objects.filter(report=report).values_list("action", "actor__email"))
    assert steps == [("submit", coordinator.email), ("review", reviewer.email), ("accept", eef.email)]
    assert [m.to for m in mail.outbox] == [[reviewer.email], [eef.email], [coordinator.email]]
    assert f"{url}/reports/{report.pk}/" in mail.outbox[0].body
    assert problems == []


@pytest.mark.parametrize(
    ("seconds_into_step", "slept"),
    [(0.0, False), (19.9, False), (20.5, True), (29.9, True)],
)
def test_totp_code_is_never_read_in_the_last_seconds_of_its_step(seconds_into_step: float, slept: bool) -> None:
    """The flake's cause: a code read just before its step turns is stale by the time the server checks it."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, generate_totp_secret, hotp_value

    secret = generate_totp_secret()
    step = 57_000_000  # any 30-second step
    now = [step * 30 + seconds_into_step]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    code = _totp_code(secret, clock=lambda: now[0], sleep=sleep)
    expected_step = step + 1 if slept else step
    assert code == format_hotp_value(hotp_value(secret, expected_step))
    assert bool(sleeps) is slept
    # What the server will check (allauth's tolerance is 0): the step the code is for, TOTP_MARGIN seconds later.
    assert int(now[0] + TOTP_MARGIN - 0.01) // 30 == expected_step
