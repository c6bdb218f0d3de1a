"""Thai is the portal's first language: every message has a Thai translation, compiled and committed."""

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PROVINCE_A, PROVINCE_B

PO = Path(__file__).resolve().parent.parent / "locale" / "th" / "LC_MESSAGES" / "django.po"


def test_every_message_has_a_thai_translation():
    text = PO.read_text(encoding="utf-8")
    entries = re.findall(r'\nmsgid ((?:".*"\n)+)(?:msgid_plural (?:".*"\n)+)?msgstr(?:\[0\])? ((?:".*"\n?)+)', text)
    assert len(entries) > 10
    untranslated = [mid.strip() for mid, mstr in entries if mid.strip() != '""' and mstr.strip() == '""']
    assert untranslated == []
    assert "#, fuzzy" not in text.split("\n\n", 2)[2], "fuzzy translations are not used by Django"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_committed_mo_file_is_compiled_from_the_po_file(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(PO)], check=True)
    assert compiled.read_bytes() == PO.with_suffix(".mo").read_bytes(), "run `make messages` and commit the .mo"


# --- Rendered pages speak Thai ---------------------------------------------------------------------------------------

# English that has shown on Thai pages: Django admin texts its Thai catalog lacks or keeps in English, third-party
# apps' names, and the portal's own words. Matched as whole words in what a reader sees (text, placeholders, titles,
# labels read aloud), case-sensitively: "Records" is the untranslated menu, "records" may be part of a file name.
ENGLISH = (
    # third-party apps in admin's index
    "MFA", "Authenticators", "Authenticator", "Pghistory", "PGHISTORY", "Middleware events", "middleware events",
    "event model", "insert", "Pgh obj model", "Tracked",
    # Django admin
    "Start typing to filter", "Filter navigation items", "Show counts", "Hide counts", "Clear all filters",
    "sorting", "Toggle navigation", "Skip to main content", "Breadcrumbs", "Toggle theme", "Model name",
    "Add link", "Change or view list link", "Recent actions", "My actions", "View site", "Log out", "Welcome",
    "Django administration", "Django site admin", "Yes, I’m sure", "Select all objects",
    # the portal's shell and pages
    "Home", "Provinces", "Progress reports", "Records", "Uploads", "Universities", "Meetings", "Dashboards",
    "Administration", "Sign out", "Search", "Filter", "Save", "Delete", "History", "Status", "Province",
    "open", "accepted", "scheduled", "delivered", "closed", "declined", "achieved", "goal", "Sent", "Not sent",
    "In", "Not in", "Page not found", "Not Found", "Forbidden", "You do not have access",
)  # fmt: skip


def visible_text(html: str) -> str:
    """What a reader sees of a page, or hears: text outside scripts and styles, and the attributes read aloud."""
    import html as html_lib

    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    attributes = re.findall(r'\s(?:placeholder|title|aria-label|alt)="([^"]*)"', html)
    attributes += re.findall(r'<input[^>]*type="(?:submit|button)"[^>]*\svalue="([^"]*)"', html)
    text = re.sub(r"<[^>]+>", " ", html)
    return html_lib.unescape(" ".join([text, *attributes]))


def english_on(html: str) -> list[str]:
    text = visible_text(html)
    return [word for word in ENGLISH if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)]


def test_the_english_finder_finds_what_it_looks_for():
    assert english_on('<nav><a href="/records/">Records</a></nav><input placeholder="Start typing to filter…">') == [
        "Start typing to filter",
        "Records",
    ]
    assert english_on('<p>บันทึก</p><script>var Records = 1;</script><input type="hidden" value="Save">') == []
    assert english_on('<a href="/records/export/?format=csv">records-40.csv</a>') == []


@pytest.fixture
def programme_in_use(cast):
    """The demo programme's work (plans, support, requests, meetings), a few records and a summary of them."""
    from core.buddhist_dates import current_fiscal_year
    from portal.demo.meetings import load_demo_meetings
    from portal.demo.provinces import ensure_demo_admin, ensure_demo_users
    from portal.demo.provincial_work import load_demo_provincial_work
    from portal.demo.reports import load_demo_reports
    from portal.demo.support import load_demo_support
    from summaries.models import SummaryRun
    from summaries.services import run_summary
    from targets.models import Category, Outcome, TargetRecord

    ensure_demo_admin()
    ensure_demo_users()
    load_demo_provincial_work()
    load_demo_support()
    load_demo_reports()
    load_demo_meetings()
    category, outcome = Category.objects.get(code="out-of-school"), Outcome.objects.get(code="returned-to-school")
    TargetRecord.objects.bulk_create(
        TargetRecord(
            identifier=f"940{n:010d}",
            identifier_kind="national_id",
            first_name="ทดสอบ",
            province_id=PROVINCE_A,
            category=category,
            status=outcome,
        )
        for n in range(3)
    )
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)
    return cast


def _thai_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "th"
    return client


def test_main_pages_and_admin_speak_thai(programme_in_use, settings):
    from universities.models import CapacityRequest

    settings.DEBUG = False  # the 404 page is the portal's, not Django's technical one
    request_pk = CapacityRequest.objects.filter(province_id=PROVINCE_A).values_list("pk", flat=True).first()
    pages = {
        programme_in_use.eef_admin: [
            "/",
            "/provinces/",
            f"/provinces/{PROVINCE_A}/",
            "/reports/",
            "/records/",
            "/uploads/",
            "/uploads/new/",
            "/universities/",
            "/universities/requests/",
            f"/universities/requests/{request_pk}/",
            "/meetings/",
            "/dashboards/",
            f"/dashboards/province/{PROVINCE_A}/",
            "/admin/",
            "/admin/accounts/user/",
            "/admin/accounts/membership/",
            "/admin/mfa/authenticator/",
            "/admin/pghistory/middlewareevents/",
            "/admin/universities/supportassignment/",
            "/no-such-page/",
        ],
        programme_in_use.viewer_a: ["/", "/reports/new/"],  # 403
        programme_in_use.coordinator_a: ["/", f"/provinces/{PROVINCE_B}/"],  # 404
    }
    found = {}
    for user, urls in pages.items():
        client = _thai_client(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 403, 404), (url, response.status_code)
            if english := english_on(response.content.decode()):
                found[url] = english
    assert found == {}


def test_capacity_request_steps_use_the_requests_own_words(programme_in_use):
    from universities.models import CapacityRequest

    request_obj = CapacityRequest.objects.filter(province_id=PROVINCE_A, status="accepted").first()
    request_obj = request_obj or CapacityRequest.objects.filter(province_id=PROVINCE_A).first()
    page = _thai_client(programme_in_use.eef_admin).get(f"/universities/requests/{request_obj.pk}/").content.decode()
    steps = re.search(r'<ol class="steps".*?</ol>', page, re.S).group(0)
    assert "เปิดอยู่" in steps  # as the status badge says it; "ยังไม่เสร็จ" is an action item's "open"
    assert "ยังไม่เสร็จ" not in steps
    if request_obj.status != "declined":
        assert "รับคำขอแล้ว" in steps  # "รับรองแล้ว" is a progress report's "accepted"
        assert "รับรองแล้ว" not in steps


def test_dashboard_workbook_headers_are_thai(programme_in_use):
    from openpyxl import load_workbook

    from tests.builders import download_export

    response = download_export(_thai_client(programme_in_use.eef_admin), "/dashboards/export.xlsx?level=national")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    workbook = load_workbook(io.BytesIO(content))
    headers = [str(cell.value) for sheet in workbook.worksheets for cell in next(sheet.iter_rows(max_row=1))]
    assert any("ทำได้แล้ว" in header for header in headers)
    assert [h for h in headers if re.search(r"\b(achieved|goal)\b", h)] == []


def test_english_dashboard_says_whether_the_report_was_sent(programme_in_use):
    client = _thai_client(programme_in_use.coordinator_a)
    client.cookies["django_language"] = "en"
    page = client.get(f"/dashboards/province/{PROVINCE_A}/").content.decode()
    text = visible_text(page)
    assert re.search(r"(?<![\w-])(Sent|Not sent)(?![\w-])", text)
    # The old badge said a bare "In" / "Not in"; an outcome's name such as "In flexible or non-formal learning"
    # (a goal row since each goal names its outcome) is not that badge.
    assert not re.search(r"(?<![\w-])(In|Not in)(?![\w-])(?!\s+[a-z])", text)


def test_every_admin_text_the_portal_names_has_thai():
    from django.utils import translation

    from abe_portal.admin_catalog import ADMIN_PLURAL_TEXTS, ADMIN_TEXTS

    with translation.override("th"):
        untranslated = [text for text in ADMIN_TEXTS if translation.gettext(text) == text]
        untranslated += [str(text % {"n": 1}) for text in ADMIN_PLURAL_TEXTS if re.search("[A-Za-z]", text % {"n": 1})]
    assert untranslated == []
