"""Issue 16's transfer walk in the real browser (Chromium, Thai), launched as in tests/test_browser.py (Debian's
/usr/bin/chromium; skipped where it is missing, a failure under REQUIRE_REAL_SERVICES=1).

Province A's coordinator uploads a file with a row whose child province B holds; the report refuses the row and
offers "request a transfer" beside it; the coordinator asks, and sees neither the child's name nor province B.
Province B's coordinator finds the request in their transfers list and accepts it. The record now opens in
province A with its history (its status change), and B gets 404 for it and keeps a line with the date only.
Each step leaves a full-page PNG in SCREENSHOT_DIR (default: artifacts/screenshots/ under the project root).
"""

import re

import pytest

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, PROVINCE_B, make_user
from portal.demo.provinces import load_demo_assignments
from tests.builders import national_id
from tests.conftest import watch_for_problems

pytestmark = pytest.mark.browser


def test_a_row_held_elsewhere_is_requested_accepted_and_moves_with_its_history(
    live_server, page, screenshot_dir, capsys, tmp_path
):
    from playwright.sync_api import expect

    from provinces.models import Province
    from targets.models import Category, Outcome, StatusChange, TargetRecord
    from transfers.models import TransferRequest

    with capsys.disabled():
        print(f"\nscreenshots: {screenshot_dir}")
    problems = watch_for_problems(page)

    load_demo_assignments()
    coordinator_a = make_user("somsri@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    coordinator_b = make_user("malai@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_B)
    child = TargetRecord.objects.create(
        identifier=national_id(4242),
        identifier_kind="national_id",
        first_name="ปิ่นมณี",
        last_name="ศรีสุข",
        province_id=PROVINCE_B,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="returned-to-school"),
    )
    StatusChange.objects.create(
        record=child, from_status=Outcome.objects.get(code="in-follow-up"), to_status=child.status
    )
    name_b = Province.objects.get(code=PROVINCE_B).name_th
    csv = tmp_path / "ขอนแก่น.csv"
    csv.write_text(
        "เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n"
        f"{child.identifier},ปิ่น,ย้ายมา,เด็กและเยาวชนนอกระบบการศึกษา\n"
        f"{national_id(4243)},มานะ,รักเรียน,เด็กและเยาวชนนอกระบบการศึกษา\n",
        encoding="utf-8",
    )

    url = live_server.url

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"{name}.png", full_page=True)

    def sign_in(email: str) -> None:
        page.goto(f"{url}/accounts/login/")
        page.locator("input[name=login]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        expect(page).to_have_url(f"{url}/")
        page.wait_for_load_state()

    def sign_out() -> None:
        page.get_by_test_id("logout").click()
        expect(page).to_have_url(re.compile(re.escape(f"{url}/accounts/login/")))

    def shows_nothing_of_the_child() -> None:
        text = page.locator("main").inner_text()
        assert [s for s in (child.first_name, child.last_name, name_b, child.identifier) if s in text] == []

    # 1. Coordinator A uploads the file: one row is refused as held elsewhere, with "request a transfer" beside it.
    sign_in(coordinator_a.email)
    page.goto(f"{url}/uploads/new/")
    page.locator("input[type=file]").set_input_files(str(csv))
    page.get_by_test_id("upload-submit").click()
    expect(page).to_have_url(re.compile(r"/uploads/\d+/$"))
    rejections = page.get_by_test_id("upload-rejections")
    expect(rejections).to_contain_text("เลขประจำตัวนี้มีระเบียนอยู่นอกจังหวัดของท่านแล้ว", timeout=30_000)
    offer = rejections.get_by_test_id("request-transfer")
    expect(offer).to_have_count(1)
    expect(offer).to_have_text("ขอโอนย้ายระเบียน")
    shows_nothing_of_the_child()
    shot("transfers-01-upload-rejection")

    # 2. The request form comes filled in with the row's identifier; A asks, and sees only what it typed.
    offer.click()
    expect(page.locator("input[name=identifier]")).to_have_value(child.identifier)
    page.locator("textarea[name=note]").fill("ครอบครัวย้ายมาอยู่อำเภอเมืองขอนแก่นแล้ว")
    shot("transfers-02-request-form")
    page.get_by_test_id("send-request").click()
    expect(page.get_by_test_id("transfer-state")).to_have_text("รอคำตอบ")
    expect(page.locator(".messages")).to_contain_text("ส่งคำขอแล้ว")
    shows_nothing_of_the_child()
    shot("transfers-03-requested")
    transfer = TransferRequest.objects.get()
    sign_out()

    # 3. Coordinator B finds it waiting in their transfers list (from My work) and accepts it.
    sign_in(coordinator_b.email)
    page.goto(f"{url}/cases/")
    page.get_by_test_id("transfers-link").click()
    incoming = page.get_by_test_id("section-incoming")
    expect(incoming).to_contain_text(child.first_name)
    expect(incoming).to_contain_text(Province.objects.get(code=PROVINCE_A).name_th)
    shot("transfers-04-holder-inbox")
    incoming.get_by_role("link", name=str(child)).click()
    expect(page.get_by_test_id("transfer-facts")).to_contain_text("ครอบครัวย้ายมา")
    shot("transfers-05-holder-answer")
    page.get_by_test_id("accept").click()
    expect(page.get_by_test_id("transfer-state")).to_have_text("ตอบรับแล้ว")
    expect(page.get_by_test_id("moved-away")).to_contain_text("ย้ายไปจังหวัดอื่นแล้ว")
    assert child.first_name not in page.locator("main").inner_text()
    shot("transfers-06-holder-after")
    # B's old record page is closed to B now (asked with B's session, outside the page: a 404 is expected).
    assert page.request.get(f"{url}/records/{child.pk}/").status == 404
    sign_out()
    child.refresh_from_db()
    assert child.province_id == PROVINCE_A

    # 4. The record now opens in province A, with its history.
    sign_in(coordinator_a.email)
    page.goto(f"{url}/transfers/{transfer.pk}/")
    expect(page.get_by_test_id("transfer-state")).to_have_text("ตอบรับแล้ว")
    page.get_by_test_id("record-link").click()
    expect(page).to_have_url(f"{url}/records/{child.pk}/")
    main = page.locator("main")
    expect(main).to_contain_text(child.first_name)
    expect(main).to_contain_text("กลับเข้าสู่ระบบการศึกษา")  # its status, and the change in its history
    expect(page.get_by_test_id("record-moves")).to_contain_text("ย้ายเข้ามาจากจังหวัดอื่น")
    assert name_b not in page.get_by_test_id("record-moves").inner_text()
    shot("transfers-07-record-in-a")
    sign_out()

    assert problems == []
