"""A browser journey through an export job (exports/): Chromium, Thai first. The coordinator asks for the records
list's Excel, sees the job's progress bar, the page turns to "your export is ready" by itself once a worker has
made the file (run here by the test, as a Celery worker would), the file downloads, and "My exports" lists it.
Screenshots: SCREENSHOT_DIR (artifacts/screenshots/), exports-*.png."""

import re

import pytest

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, make_user
from tests.api_support import make_records
from tests.conftest import watch_for_problems


@pytest.mark.django_db(transaction=True)
def test_coordinator_exports_a_large_list_as_a_job(live_server, page, screenshot_dir, settings, tmp_path):
    from playwright.sync_api import expect

    from exports.models import ExportJob
    from exports.services import run_export

    settings.EXPORTS_RECORDS_INLINE_ROWS = 5
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker's job: the test runs it below
    problems = watch_for_problems(page)
    email = "export.coordinator@example.org"
    make_user(email, role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    make_records(PROVINCE_A, 40)
    url = live_server.url

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)

    page.goto(f"{url}/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{url}/")

    page.goto(f"{url}/records/")
    shot("exports-0-records-th")
    page.get_by_test_id("export-xlsx").click()
    expect(page).to_have_url(re.compile(r"/exports/\d+/$"))
    expect(page.get_by_test_id("export-progress")).to_be_visible()
    expect(page.get_by_test_id("export-status")).to_have_text("รอเริ่ม")
    shot("exports-1-progress-th")

    job = ExportJob.objects.get()
    run_export(job_id=job.pk)
    # The page's script sees the job finish and reloads: the link appears without a click.
    expect(page.get_by_test_id("export-ready")).to_contain_text("ไฟล์ส่งออกของคุณพร้อมแล้ว", timeout=15_000)
    shot("exports-2-ready-th")
    with page.expect_download() as download_info:
        page.get_by_test_id("export-download").click()
    download = download_info.value
    assert download.suggested_filename.startswith("target-records-")
    assert download.suggested_filename.endswith(".xlsx")

    page.get_by_test_id("nav-exports").click()
    expect(page).to_have_url(f"{url}/exports/")
    expect(page.get_by_test_id("export-list")).to_contain_text("ข้อมูลกลุ่มเป้าหมาย")
    shot("exports-3-list-th")

    assert problems == []
