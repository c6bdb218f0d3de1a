"""No child outside a case worker's assignment reaches them: not in the portal's pages, not through the API
(with their session, as a browser would), not in exports, not in Django admin. An agency user reads no record.

The records (tests.matrix.case_work_a): one of province A assigned to A's case worker, one of A that is not
theirs, and one of province B.
"""

import csv
import datetime
import io
import re
from types import SimpleNamespace

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from conftest import PROVINCE_A, PROVINCE_B
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id
from tests.matrix import case_work_a

pytestmark = pytest.mark.django_db

RECORD_LINK = re.compile(r'href="/records/(\d+)/"')


@pytest.fixture
def children(cast) -> SimpleNamespace:
    objects = case_work_a(cast)
    elsewhere = TargetRecord.objects.create(
        identifier=national_id(5601, first="1"),
        identifier_kind="national_id",
        first_name="เด็กชายพะเยา",
        last_name="ทดสอบ",
        province_id=PROVINCE_B,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )
    # Changed an hour ago: inside the API's changes feed, which stops short of the last few seconds.
    TargetRecord.objects.update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    return SimpleNamespace(mine=objects["a.assigned_record"], other=objects["a.other_record"], elsewhere=elsewhere)


def _listed(response) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in RECORD_LINK.findall(response.content.decode())}


def _names(response) -> set[str]:
    return {c.first_name for c in TargetRecord.objects.all() if c.first_name in response.content.decode()}


# --- pages ------------------------------------------------------------------------------------------------


def test_the_records_list_shows_the_case_worker_their_own_child_only(cast, client_for, children):
    client = client_for(cast.case_worker_a)
    for query in ("", f"?province={PROVINCE_A}", f"?province={PROVINCE_B}", "?category=1&help=no", "?page=2"):
        response = client.get(f"/records/{query}")
        assert _listed(response) <= {children.mine.pk}, query
        assert children.other.first_name not in response.content.decode()
        assert children.elsewhere.first_name not in response.content.decode()
    assert _listed(client.get("/records/")) == {children.mine.pk}
    # "Show full IDs": nothing more (a case worker never sees the full ID).
    response = client.post("/records/", {"reveal": "1"})
    assert _listed(response) == {children.mine.pk}
    assert children.mine.identifier not in response.content.decode()
    # A's coordinator, for comparison, lists both of A's children.
    assert _listed(client_for(cast.coordinator_a).get("/records/")) == {children.mine.pk, children.other.pk}


@pytest.mark.parametrize("kind", ["identifier", "name"])
def test_searching_finds_no_other_child(cast, client_for, children, kind):
    client = client_for(cast.case_worker_a)
    for child, found in ((children.other, False), (children.elsewhere, False), (children.mine, True)):
        text = child.identifier if kind == "identifier" else child.first_name
        response = client.post("/records/", {"q": text})
        assert response.status_code == 302
        listed = _listed(client.get(response["Location"]))
        assert listed == ({child.pk} if found else set()), (child.first_name, kind)


def test_one_childs_pages_answer_404_for_a_child_not_assigned(cast, client_for, children):
    client = client_for(cast.case_worker_a)
    for child in (children.other, children.elsewhere):
        base = f"/records/{child.pk}/"
        assert client.get(base).status_code == 404
        assert client.post(base, {}).status_code == 404
        assert client.get(f"{base}edit/").status_code == 404
        assert client.post(f"{base}edit/", {"first_name": "x"}).status_code == 404
        assert client.get(f"{base}help/new/").status_code == 404
        assert client.post(f"{base}help/new/", {}).status_code == 404
        achieved = Outcome.objects.filter(kind="achieved").first()
        assert achieved is not None
        assert client.post(f"{base}status/", {"status": achieved.pk}).status_code == 404
        child.refresh_from_db()
        assert child.status.code == "in-follow-up"
        assert not child.assistance.exists()
    # Their own child: the page and the help form; the edit form is the province's writers' (403).
    mine = f"/records/{children.mine.pk}/"
    response = client.get(mine)
    assert response.status_code == 200
    assert children.mine.first_name in response.content.decode()
    assert client.get(f"{mine}help/new/").status_code == 200
    assert client.get(f"{mine}edit/").status_code == 403


# --- the API, with the session ------------------------------------------------------------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    return {row["id"] for row in (body["results"] if isinstance(body, dict) else body)}


def test_the_api_gives_the_case_worker_their_own_child_only(cast, client_for, children):
    client = client_for(cast.case_worker_a)
    assert _ids(client.get("/api/v1/records/")) == {children.mine.pk}
    assert _ids(client.get(f"/api/v1/records/?province={PROVINCE_A}&ordering=-updated_at")) == {children.mine.pk}
    assert _ids(client.get(f"/api/v1/records/?province={PROVINCE_B}")) == set()
    assert _ids(client.get("/api/v1/records/changes/?updated_since=2000-01-01T00:00:00")) == {children.mine.pk}
    for child in (children.other, children.elsewhere):
        for suffix in ("", "history/", "help/"):
            assert client.get(f"/api/v1/records/{child.pk}/{suffix}").status_code == 404, suffix
    mine = client.get(f"/api/v1/records/{children.mine.pk}/")
    assert mine.status_code == 200
    assert mine.json()["identifier"] != children.mine.identifier  # masked: not for a case worker in full
    for suffix in ("history/", "help/"):
        assert client.get(f"/api/v1/records/{children.mine.pk}/{suffix}").status_code == 200


def test_the_summaries_endpoint_shows_a_case_worker_nothing(cast, client_for, children):
    from core.buddhist_dates import current_fiscal_year
    from summaries.models import Level, SummaryRun
    from summaries.services import run_summary

    run = run_summary(run_id=SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger="command").pk)
    snapshot_a = run.snapshots.get(level=Level.PROVINCE, province_id=PROVINCE_A)
    assert snapshot_a.pk in _ids(client_for(cast.coordinator_a).get("/api/v1/summaries/"))
    for member in (cast.case_worker_a, cast.agency_user_a):
        client = client_for(member)
        response = client.get("/api/v1/summaries/")
        assert _ids(response) == set()
        assert client.get(f"/api/v1/summaries/{snapshot_a.pk}/").status_code == 404
        assert not _names(response)
        assert children.mine.identifier not in response.content.decode()


# --- exports ----------------------------------------------------------------------------------------------


def _csv_first_names(response) -> list[str]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    column = 2  # identifier, prefix, first name (targets.exports.HEADERS)
    assert header[column] in ("ชื่อ", "First name"), header
    return [row[column] for row in rows]


def _xlsx_first_names(response) -> list[str]:
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    assert sheet is not None
    return [row[2] for row in list(sheet.iter_rows(values_only=True))[1:]]


def test_exports_hold_the_case_workers_own_child_only(cast, client_for, children):
    client = client_for(cast.case_worker_a)
    # B is no province of theirs: its filter is not offered, and the export is their records as without it.
    for query in ("", f"&province={PROVINCE_A}", f"&province={PROVINCE_B}", "&help=no"):
        expected = [children.mine.first_name]
        assert _csv_first_names(client.get(f"/records/export/?format=csv{query}")) == expected, query
        assert _xlsx_first_names(client.get(f"/records/export/?format=xlsx{query}")) == expected, query
    # A's coordinator, for comparison: both of A's children.
    both = sorted([children.mine.first_name, children.other.first_name])
    assert sorted(_csv_first_names(client_for(cast.coordinator_a).get("/records/export/?format=csv"))) == both


# --- Django admin -----------------------------------------------------------------------------------------


def test_django_admin_refuses_case_workers_and_agency_users(cast, client_for, children):
    for member in (cast.case_worker_a, cast.agency_user_a):
        client = client_for(member)
        for url in (
            "/admin/",
            "/admin/targets/targetrecord/",
            f"/admin/targets/targetrecord/{children.mine.pk}/change/",
            f"/admin/targets/targetrecord/{children.other.pk}/change/",
            "/admin/cases/case/",
        ):
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/"), url


# --- an agency user ---------------------------------------------------------------------------------------


def test_an_agency_user_reads_no_record(cast, client_for, children):
    client = client_for(cast.agency_user_a)
    for child in (children.mine, children.other, children.elsewhere):
        assert client.get(f"/records/{child.pk}/").status_code == 404
        assert client.get(f"/records/{child.pk}/help/new/").status_code == 404
        assert client.get(f"/api/v1/records/{child.pk}/").status_code == 404
    assert _listed(client.get("/records/")) == set()
    response = client.post("/records/", {"q": children.mine.identifier})
    assert _listed(client.get(response["Location"])) == set()
    assert _csv_first_names(client.get("/records/export/?format=csv")) == []
    assert _xlsx_first_names(client.get("/records/export/?format=xlsx")) == []
    assert _ids(client.get("/api/v1/records/")) == set()
    assert _ids(client.get("/api/v1/records/changes/?updated_since=2000-01-01T00:00:00")) == set()


def test_the_records_list_costs_the_case_worker_the_same_queries_with_more_children(
    cast, client_for, children, django_assert_max_num_queries
):
    """The list's queries do not grow with the province's records (none of them is the worker's)."""
    client = client_for(cast.case_worker_a)
    client.get("/records/")  # the session and the first-use lookups
    with django_assert_max_num_queries(30) as before:
        assert _listed(client.get("/records/")) == {children.mine.pk}
    for n in range(20):
        TargetRecord.objects.create(
            identifier=national_id(4000 + n),
            identifier_kind="national_id",
            first_name=f"เด็ก{n}",
            last_name="ทดสอบ",
            province_id=PROVINCE_A,
            category=Category.objects.get(code="out-of-school"),
            status=Outcome.objects.get(code="in-follow-up"),
        )
    with django_assert_max_num_queries(len(before.captured_queries)):
        assert _listed(client.get("/records/")) == {children.mine.pk}


# --- what a case worker and an agency user do not read at all --------------------------------------------


def test_case_workers_and_agency_users_see_no_meeting_not_even_a_national_one(cast, client_for):
    """Anyone with a role reads the national meetings (meetings/policies.py), but the case follow-up roles,
    who read no province as a whole."""
    from meetings.models import Kind, Meeting

    day = timezone.localdate() + datetime.timedelta(days=7)
    meeting = Meeting.objects.create(title="ประชุมระดับชาติ ABE", kind=Kind.NATIONAL, starts_on=day, ends_on=day)
    assert client_for(cast.viewer_a).get(f"/meetings/{meeting.pk}/").status_code == 200
    assert meeting.title in client_for(cast.viewer_a).get("/meetings/").content.decode()
    for member in (cast.case_worker_a, cast.agency_user_a):
        client = client_for(member)
        assert client.get(f"/meetings/{meeting.pk}/").status_code == 404
        for page in ("/meetings/", "/"):
            response = client.get(page)
            assert response.status_code == 200
            assert meeting.title not in response.content.decode(), page
        assert _ids(client.get("/api/v1/meetings/")) == set()
        # Nor the blank upload template, nor a dashboard.
        assert client.get("/uploads/template.xlsx").status_code == 404
        assert client.get("/dashboards/").status_code == 403


def test_the_menu_offers_case_roles_only_their_own_work(cast, client_for, children):
    """The programme's shared pages are closed to case workers and agency users, so the menu does not offer them."""
    shared = ["/provinces/", "/reports/", "/universities/", "/meetings/", "/dashboards/"]

    def menu(user) -> str:
        page = client_for(user).get("/cases/").content.decode()
        return page[page.index('<nav class="nav"') : page.index("</nav>")]

    for member in (cast.case_worker_a, cast.agency_user_a):
        nav = menu(member)
        assert 'data-testid="nav-my-work"' in nav
        assert not [href for href in shared if f'href="{href}' in nav]
    assert 'href="/records/' in menu(cast.case_worker_a)
    assert 'href="/records/' not in menu(cast.agency_user_a)
    coordinator = menu(cast.coordinator_a)
    assert all(f'href="{href}' in coordinator for href in shared)
