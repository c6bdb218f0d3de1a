"""Issue 14's acceptance walk in the real browser (Chromium, Thai): a child followed from assignment to outcome.

Launched as in tests/test_browser.py (Debian's /usr/bin/chromium; skipped where it is missing, a failure under
REQUIRE_REAL_SERVICES=1). Province A's coordinator assigns three children to a case worker on the bulk page; the
case worker logs a failed home visit and then a successful one, and refers one child to the district กศน. office;
the agency accepts and completes the referral with an outcome; the case worker sees the outcome, sets the record's
status from it and closes the case; the province dashboard's achieved figure goes up. Each step leaves a full-page
PNG in SCREENSHOT_DIR (default: artifacts/screenshots/ under the project root).

The agency user answers on the agency's referral page (/cases/referrals/<pk>/), reached from My work.
"""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from conftest import PASSWORD, PROVINCE_A, make_user
from portal.demo.provinces import load_demo_assignments
from tests.builders import national_id
from tests.conftest import watch_for_problems

pytestmark = pytest.mark.browser


def _summarize() -> None:
    """The figures computed now, as the nightly job (or the "compute now" button) would."""
    from core.buddhist_dates import current_fiscal_year
    from summaries.models import SummaryRun
    from summaries.services import run_summary

    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)


def test_a_child_is_followed_from_assignment_to_outcome(live_server, page, screenshot_dir, capsys):
    from playwright.sync_api import expect

    from cases.models import Agency, AgencyType, Case, Referral
    from provinces.models import District
    from targets.models import Category, Outcome, TargetRecord

    with capsys.disabled():
        print(f"\nscreenshots: {screenshot_dir}")
    problems = watch_for_problems(page)

    load_demo_assignments()
    district = District.objects.filter(province_id=PROVINCE_A).order_by("code").first()
    assert district is not None
    coordinator = make_user("somsri@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    worker = make_user("kanya@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    worker.first_name, worker.last_name = "กัญญา", "ใจดี"
    worker.save()
    agency = Agency.objects.create(
        province_id=PROVINCE_A,
        district=district,
        type=AgencyType.objects.get(code="non-formal-education"),
        name=f"กศน.อำเภอ{district.name_th}",
    )
    agency_user = make_user("nfe.office@example.org")
    Membership.objects.create(user=agency_user, role=Role.AGENCY_USER, province_id=PROVINCE_A, agency=agency)
    names = ["สมชาย", "สมหญิง", "มานะ", "ปิติ"]
    records = [
        TargetRecord.objects.create(
            identifier=national_id(n + 1),
            identifier_kind="national_id",
            first_name=name,
            last_name="รักเรียน",
            province_id=PROVINCE_A,
            district=district,
            category=Category.objects.get(code="out-of-school"),
            status=Outcome.objects.get(code="in-follow-up"),
        )
        for n, name in enumerate(names)
    ]
    child = records[0]
    _summarize()

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

    # 0. The province dashboard before: nobody has reached an outcome.
    sign_in(coordinator.email)
    page.goto(f"{url}/dashboards/province/{PROVINCE_A}/")
    achieved = page.get_by_test_id("card-achieved").locator(".stat-value")
    expect(achieved).to_have_text("0")
    shot("cases-00-dashboard-before")

    # 1. The coordinator lists the unassigned children, ticks three and gives them to the case worker.
    page.goto(f"{url}/cases/unassigned/")
    rows = page.get_by_test_id("assign-row")
    expect(rows).to_have_count(4)
    for record in records[:3]:
        page.locator(f"input[name=records][value='{record.pk}']").check()
    page.locator("select[name=worker]").select_option(str(worker.pk))
    shot("cases-01-assign")
    page.get_by_test_id("assign-submit").click()
    expect(rows).to_have_count(1)  # only the fourth child is left without a case worker
    expect(page.locator(".messages")).to_contain_text("มอบหมายแล้ว 3 ระเบียน")
    shot("cases-02-assigned")
    sign_out()
    assert set(TargetRecord.objects.filter(case_worker=worker)) == set(records[:3])

    # 2. The case worker opens the child's record: a failed home visit, then a successful one.
    sign_in(worker.email)
    page.goto(f"{url}/records/")
    expect(page.locator("table.records-table tbody tr")).to_have_count(3)  # their own three, nobody else's
    page.goto(f"{url}/records/{child.pk}/")
    section = page.get_by_test_id("case-section")
    expect(section).to_contain_text("การติดตามรายกรณี")
    expect(section.get_by_test_id("case-worker")).to_contain_text("กัญญา")

    def log_visit(*, reached: bool, findings: str, when: datetime.datetime) -> None:
        page.get_by_test_id("log-contact").click()
        page.locator("select[name=kind]").select_option("home_visit")
        page.locator("input[name=happened_at_0]").fill(f"{when.day:02d}/{when.month:02d}/{when.year + 543}")
        page.locator("input[name=happened_at_1]").fill(when.strftime("%H:%M"))
        page.locator("input[name=reached]").set_checked(reached)
        page.locator("textarea[name=findings]").fill(findings)
        shot(f"cases-03-contact-{'reached' if reached else 'failed'}")
        page.get_by_test_id("case-form-submit").click()
        expect(page).to_have_url(re.compile(rf"/records/{child.pk}/#case-contacts$"))

    now = timezone.localtime()
    log_visit(reached=False, findings="ไม่พบที่บ้าน เพื่อนบ้านบอกว่าไปทำงานต่างอำเภอ", when=now - datetime.timedelta(hours=3))
    expect(section.get_by_test_id("failed-attempts")).to_have_text("1")
    log_visit(reached=True, findings="พบเด็กและมารดา เด็กอยากเรียน กศน.", when=now - datetime.timedelta(hours=1))
    expect(section.get_by_test_id("contact-row")).to_have_count(2)
    expect(section.locator("[data-testid=contact-row][data-reached='0']")).to_have_count(1)
    expect(section.get_by_test_id("failed-attempts")).to_have_text("1")

    # 3. They refer the child to the district กศน. office.
    page.get_by_test_id("refer").click()
    page.locator("select[name=agency]").select_option(str(agency.pk))
    page.locator("textarea[name=reason]").fill("เด็กออกจากโรงเรียนกลางคัน ต้องการเรียนต่อ")
    page.locator("textarea[name=services]").fill("สมัครเรียนหลักสูตร กศน. ระดับมัธยมศึกษาตอนต้น")
    deadline = timezone.localdate() + datetime.timedelta(days=14)
    page.locator("input[name=deadline]").fill(f"{deadline.day:02d}/{deadline.month:02d}/{deadline.year + 543}")
    shot("cases-04-refer")
    page.get_by_test_id("case-form-submit").click()
    referral_box = section.get_by_test_id("referral")
    expect(referral_box).to_have_attribute("data-state", "sent")
    expect(referral_box).to_contain_text(agency.name)
    shot("cases-05-referred")
    sign_out()

    # 4. The agency user finds the referral in My work, accepts it, then completes it with an outcome.
    referral = Referral.objects.get()
    sign_in(agency_user.email)
    page.goto(f"{url}/cases/")
    page.locator(f"a[href='/cases/referrals/{referral.pk}/']").first.click()
    expect(page).to_have_url(f"{url}/cases/referrals/{referral.pk}/")
    expect(page.get_by_test_id("referral-state")).to_have_text("ส่งแล้ว")
    assert child.identifier not in page.content()  # masked: this referral does not share the identifier
    shot("cases-05a-agency-referral")
    page.get_by_test_id("accept").click()
    expect(page.get_by_test_id("referral-state")).to_have_text("รับเรื่องแล้ว")
    page.locator("select[name=outcome]").select_option(label="การศึกษาทางเลือก/กศน.")
    page.locator("textarea[name=feedback]").fill("สมัครเรียน กศน. แล้ว เริ่มเรียนภาคเรียนหน้า")
    shot("cases-05b-agency-complete")
    page.get_by_test_id("complete").click()
    expect(page.get_by_test_id("referral-state")).to_have_text("เสร็จสิ้น")
    sign_out()
    referral.refresh_from_db()
    assert (referral.state, referral.outcome.code) == ("completed", "flexible-learning")

    # 5. The case worker sees the outcome, sets the record's status from it (with a confirmation), closes the case.
    sign_in(worker.email)
    page.goto(f"{url}/records/{child.pk}/")
    expect(referral_box).to_have_attribute("data-state", "completed")
    expect(referral_box.get_by_test_id("referral-outcome")).to_contain_text("การศึกษาทางเลือก/กศน.")
    expect(referral_box).to_contain_text("เริ่มเรียนภาคเรียนหน้า")
    expect(referral_box.locator(".referral-history li")).to_have_count(3)
    shot("cases-06-outcome")
    referral_box.get_by_test_id("apply-outcome").click()
    expect(page.get_by_test_id("status-new")).to_contain_text("การศึกษาทางเลือก/กศน.")
    shot("cases-07-confirm-status")
    page.get_by_test_id("case-form-submit").click()
    expect(page.locator(".badge.status").first).to_have_text("การศึกษาทางเลือก/กศน.")
    page.get_by_test_id("close-case").click()
    page.locator("select[name=reason]").select_option("outcome_reached")
    page.locator("textarea[name=note]").fill("เด็กได้เรียน กศน. แล้ว")
    page.get_by_test_id("case-form-submit").click()
    expect(section.get_by_test_id("case-state")).to_have_attribute("data-state", "closed")
    expect(section.get_by_test_id("reopen-case")).to_be_visible()
    section.scroll_into_view_if_needed()
    shot("cases-08-closed")
    sign_out()
    case = Case.objects.get(pk=child.pk)
    assert case.close_reason == "outcome_reached"
    child.refresh_from_db()
    assert child.status.code == "flexible-learning"

    # 6. The province dashboard, once the figures are computed again: one more child at an achieved outcome.
    _summarize()
    sign_in(coordinator.email)
    page.goto(f"{url}/dashboards/province/{PROVINCE_A}/")
    expect(achieved).to_have_text("1")
    shot("cases-09-dashboard-after")
    assert problems == []
