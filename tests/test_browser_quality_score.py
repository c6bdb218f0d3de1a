"""The data-quality score beside every province figure, in a real browser (Chromium, headless, driven by Playwright;
skipped without it, as in tests/test_browser.py), Thai first: an EEF admin walks the national dashboard (cards,
province table, the map's tooltips, legend and table, the plan chart), a province's dashboard, a meeting's province
figures and the province's PDF meeting pack (its text read with pdftotext), and finds the score in each. Screenshots:
SCREENSHOT_DIR (artifacts/screenshots/), quality-*.png."""

import re
import shutil
import subprocess

import pytest
from django.utils import timezone

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from meetings.models import Kind, Meeting, Presentation
from tests.conftest import watch_for_problems
from tests.test_browser_layout import _totp_code
from tests.test_dashboards import summarize
from tests.test_quality_rules import _record

pytestmark = pytest.mark.browser

# Province A: three records no rule finds and one without consent: 3 of 4 pass, 75.0% ("fair").
SCORE = "75.0%"
LABEL = "คะแนนคุณภาพข้อมูล"


@pytest.mark.django_db(transaction=True)
def test_the_quality_score_is_beside_every_province_figure(live_server, page, screenshot_dir, programme, settings):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from playwright.sync_api import expect

    from exports.models import ExportJob
    from exports.services import run_export

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (Debian: apt-get install poppler-utils)")
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the pack is a worker's job: the test runs it below
    problems = watch_for_problems(page)
    email = "quality.eef@example.org"
    admin = make_user(email, role=Role.EEF_ADMIN, staff=True, totp=False)
    secret = generate_totp_secret()
    TOTP.activate(admin, secret)  # EEF admins sign in with a second factor
    for n in (1, 2, 3):
        _record(n)
    _record(4, consent=False)
    summarize()
    today = timezone.localdate()
    meeting = Meeting.objects.create(title="ประชุมติดตามคุณภาพข้อมูล", kind=Kind.NATIONAL, starts_on=today, ends_on=today)
    meeting.provinces.add(PROVINCE_A)
    Presentation.objects.create(meeting=meeting, province_id=PROVINCE_A, order=1)

    url = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"quality-{name}.png", full_page=True)

    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.locator("input[name=code]").fill(_totp_code(secret))
    page.locator("form[action$='/2fa/authenticate/'] button[type=submit]").first.click()
    expect(page).to_have_url(f"{url}/")

    # The national dashboard: the card, the province table (a link to the province's quality page), the plan chart.
    page.goto(f"{url}/dashboards/")
    expect(page.get_by_test_id("card-quality")).to_contain_text(LABEL)
    expect(page.get_by_test_id("card-quality").get_by_test_id("quality-score")).to_contain_text(SCORE)
    row = page.locator(f'[data-testid="province-row"][data-province="{PROVINCE_A}"]')
    badge = row.get_by_test_id("quality-score")
    expect(badge).to_contain_text(SCORE)
    expect(badge).to_have_attribute("href", f"/quality/{PROVINCE_A}/")
    expect(badge).to_have_attribute("title", re.compile(LABEL))
    expect(page.get_by_test_id("chart-progress-by-province").get_by_test_id("quality-score").first).to_be_visible()
    shot("1-national")

    # The map: each programme province's tooltip, the legend, and the table beside.
    area = page.locator(f'#map svg path.programme[data-province="{PROVINCE_A}"]')
    expect(area.locator("title")).to_contain_text(f"{LABEL} {SCORE}")
    expect(area).to_have_attribute("data-quality", "fair")
    expect(page.locator("#map svg [data-quality-band=fair]")).to_have_text("พอใช้ 70–89.9%")
    expect(page.get_by_test_id("map").locator("table").get_by_test_id("quality-score").first).to_be_visible()
    page.get_by_test_id("map").scroll_into_view_if_needed()
    shot("2-map")

    # The province's dashboard: the card links to its quality page; the plan's goals chart carries the score.
    page.goto(f"{url}/dashboards/province/{PROVINCE_A}/")
    card = page.get_by_test_id("card-quality").get_by_test_id("quality-score")
    expect(card).to_contain_text(SCORE)
    expect(page.get_by_test_id("chart-goals").get_by_test_id("chart-quality")).to_contain_text(SCORE)
    shot("3-province")
    card.click()
    expect(page).to_have_url(f"{url}/quality/{PROVINCE_A}/")

    # A meeting: the province's figures.
    page.goto(f"{url}/meetings/{meeting.pk}/")
    figures = page.get_by_test_id("presentation-figures")
    expect(figures).to_contain_text(LABEL)
    expect(figures.get_by_test_id("quality-score")).to_contain_text(SCORE)
    figures.scroll_into_view_if_needed()
    shot("4-meeting")

    # The province's PDF meeting pack, made by its export job.
    page.goto(f"{url}/dashboards/province/{PROVINCE_A}/")
    page.get_by_test_id("export-pdf").click()
    expect(page).to_have_url(re.compile(r"/exports/\d+/$"))
    run_export(job_id=ExportJob.objects.get().pk)
    expect(page.get_by_test_id("export-ready")).to_be_visible(timeout=15_000)
    with page.expect_download() as download_info:
        page.get_by_test_id("export-download").click()
    pdf = screenshot_dir / "quality-5-pack.pdf"
    download_info.value.save_as(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout
    text = " ".join(text.decode().split())
    assert f"{LABEL} {SCORE}" in text  # the facts' line
    assert f"{LABEL}: {SCORE}" in text  # beside the plan's goals chart
    assert problems == []
