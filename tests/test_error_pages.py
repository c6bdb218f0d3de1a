"""The error pages: 403, 404, a refused form (CSRF) and 500 in the portal's shell and the reader's language.

Pages are requested with DEBUG off (as in production; with DEBUG on, Django shows its technical 404 page instead).
"""

import pytest
from django.test import Client, RequestFactory

from conftest import PROVINCE_B, make_user

pytestmark = pytest.mark.django_db

SHELL = 'class="topbar"'  # base.html's top bar: the page is in the portal's shell


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


def _get(client, url: str, language: str = "th"):
    client.cookies["django_language"] = language
    return client.get(url)


def test_viewer_opening_new_report_gets_the_portals_403_in_thai_and_english(cast, client_for):
    client = client_for(cast.viewer_a)
    thai = _get(client, "/reports/new/")
    assert thai.status_code == 403
    page = thai.content.decode()
    assert SHELL in page
    assert 'data-testid="error-403"' in page
    assert "คุณไม่มีสิทธิ์เข้าถึงหน้านี้" in page
    assert 'href="/reports/"' in page  # the navigation of a signed-in user with a role
    assert "403 Forbidden" not in page
    english = _get(client, "/reports/new/", "en").content.decode()
    assert "You do not have access to this page" in english
    assert 'lang="en"' in english


def test_coordinator_opening_another_province_gets_the_portals_404_in_thai(cast, client_for):
    response = _get(client_for(cast.coordinator_a), f"/provinces/{PROVINCE_B}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert SHELL in page
    assert 'data-testid="error-404"' in page
    assert "ไม่พบหน้าที่ต้องการ" in page
    assert "Not Found" not in page
    english = _get(client_for(cast.coordinator_a), "/no-such-page/", "en").content.decode()
    assert "Page not found" in english


def test_anonymous_404_offers_to_sign_in(client):
    page = _get(client, "/no-such-page/").content.decode()
    assert 'data-testid="error-404"' in page
    assert 'href="/accounts/login/"' in page


def test_account_without_admin_access_gets_the_portals_403_on_admin(cast, client_for):
    # allauth's admin login answers a signed-in account that is not staff with PermissionDenied.
    response = _get(client_for(cast.university_member), "/admin/login/?next=/admin/")
    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-testid="error-403"' in page
    assert SHELL in page


def test_admins_own_refusal_is_the_portals_403(cast, client_for):
    # A coordinator (staff, scoped) may not open the accounts list: Django admin raises PermissionDenied.
    response = _get(client_for(cast.coordinator_a), "/admin/accounts/user/")
    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-testid="error-403"' in page
    assert "คุณไม่มีสิทธิ์เข้าถึงหน้านี้" in page


def test_refused_form_is_explained_in_the_shell_and_in_thai(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.coordinator_a)
    client.cookies["django_language"] = "th"
    response = client.post("/reports/new/", {"province": "40"})
    assert response.status_code == 403
    page = response.content.decode()
    assert SHELL in page
    assert 'data-testid="error-403-csrf"' in page
    assert "ส่งแบบฟอร์มไม่สำเร็จ" in page
    assert "CSRF verification failed" not in page


def test_500_page_renders_without_the_database_in_the_readers_language(cast, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser
    from django.utils import translation

    from abe_portal.errors import server_error

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    for language, text in (("th", "เกิดข้อผิดพลาดในระบบ"), ("en", "Something went wrong")):
        # No query at all: the database may be what failed. No context processor runs either.
        with translation.override(language), django_assert_num_queries(0):
            response = server_error(request)
        assert response.status_code == 500
        page = response.content.decode()
        assert text in page
        assert f'lang="{language}"' in page
        assert 'data-testid="error-500"' in page
        assert "/static/css/portal.css" in page


def test_500_through_the_stack_when_a_view_fails(cast, monkeypatch):
    from django.db import DatabaseError

    from universities.models import SupportAssignment

    def broken(self, user):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(type(SupportAssignment.objects.all()), "visible_to", broken)
    client = Client(raise_request_exception=False)
    client.force_login(cast.viewer_a)
    response = client.get("/")
    assert response.status_code == 500
    page = response.content.decode()
    assert 'data-testid="error-500"' in page
    assert "เกิดข้อผิดพลาดในระบบ" in page


def test_500_falls_back_to_plain_text_when_its_template_fails(monkeypatch):
    from django.template import TemplateSyntaxError

    from abe_portal import errors

    def broken(name):
        raise TemplateSyntaxError("broken")

    monkeypatch.setattr(errors.loader, "get_template", broken)
    response = errors.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "เกิดข้อผิดพลาด / Something went wrong (500)" in response.content.decode()


def test_favicon_ico_leads_to_the_portals_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("/img/favicon.svg")


def test_demo_eef_admin_is_staff_and_the_others_are_not(programme):
    from django.contrib.auth import get_user_model

    from portal.demo.provinces import ensure_demo_users

    users = get_user_model().objects
    # An EEF account created by an earlier version, without staff, is given it on the next load.
    make_user("eef@demo.abe-portal.local", staff=False)
    ensure_demo_users()
    staff = set(users.filter(email__endswith="@demo.abe-portal.local", is_staff=True).values_list("email", flat=True))
    assert staff == {"eef@demo.abe-portal.local"}
    assert not users.filter(is_superuser=True).exists()


def test_demo_eef_admin_manages_users_and_roles_in_admin(programme):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import get_user_model

    from portal.demo.provinces import ensure_demo_users

    ensure_demo_users()
    eef = get_user_model().objects.get(email="eef@demo.abe-portal.local")
    TOTP.activate(eef, generate_totp_secret())  # production asks staff for two-factor (tests run with it on)
    client = Client()
    client.force_login(eef)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/membership/add/").status_code == 200
