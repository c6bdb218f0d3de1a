"""Signing in: rate limits, two-factor for admins, session limits, invitations, security headers."""

import re
import time

import pytest
from django.core import mail

from accounts.middleware import SESSION_STARTED_AT
from conftest import PASSWORD, PROVINCE_A, make_user
from universities.models import SupportAssignment

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many failed login attempts"


def _login(client, email, password, url="/accounts/login/"):
    return client.post(url, {"login": email, "password": password})


def test_sixth_wrong_password_within_five_minutes_is_refused(client):
    user = make_user("somchai@example.org")
    for _ in range(5):
        response = _login(client, user.email, "wrong-password")
        assert response.status_code == 200
        assert TOO_MANY not in response.content.decode("utf-8")
    # The 6th attempt is refused even with the right password.
    response = _login(client, user.email, PASSWORD)
    assert response.status_code in {200, 429}
    assert "_auth_user_id" not in client.session


def test_admin_login_is_the_same_rate_limited_login(client):
    user = make_user("staff@example.org", staff=True)
    # /admin/login/ never checks a password itself: it sends everyone to the portal's sign-in...
    response = _login(client, user.email, PASSWORD, url="/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    # ...where five wrong passwords lock the address, so the 6th attempt fails there too.
    for _ in range(5):
        _login(client, user.email, "wrong-password")
    _login(client, user.email, PASSWORD)
    assert "_auth_user_id" not in client.session


def test_rate_limit_is_per_address(client):
    make_user("a@example.org")
    other = make_user("b@example.org")
    for _ in range(5):
        _login(client, "a@example.org", "wrong-password")
    response = _login(client, other.email, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)


def test_eef_admin_without_totp_cannot_reach_admin(client):
    from accounts.models import Role

    admin = make_user("eef@example.org", role=Role.EEF_ADMIN, staff=True, totp=False)
    response = _login(client, admin.email, PASSWORD)
    assert client.session["_auth_user_id"] == str(admin.pk)
    for url in ("/admin/", "/admin/universities/supportassignment/", "/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/2fa/totp/activate/"
    # The set-up page is open to them, after confirming their password (allauth's reauthentication).
    response = client.get("/accounts/2fa/totp/activate/")
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/reauthenticate/")
        response = client.post(response["Location"], {"password": PASSWORD})
        assert response["Location"] == "/accounts/2fa/totp/activate/"
        response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()


def test_eef_admin_with_totp_reaches_admin(client_for):
    from accounts.models import Role

    admin = make_user("eef@example.org", role=Role.EEF_ADMIN, staff=True)
    assert client_for(admin).get("/admin/").status_code == 200


def test_staff_coordinator_needs_totp_too_but_plain_coordinator_does_not(client_for):
    from accounts.models import Role

    staff = make_user("s@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A, staff=True, totp=False)
    plain = make_user("p@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    assert client_for(staff).get("/")["Location"] == "/accounts/2fa/totp/activate/"
    assert client_for(plain).get("/").status_code == 200


def test_two_factor_is_relaxed_when_switched_off(client_for, settings):
    from accounts.models import Role

    settings.ABE_REQUIRE_MFA = False
    admin = make_user("eef@example.org", role=Role.EEF_ADMIN, staff=True, totp=False)
    assert client_for(admin).get("/admin/").status_code == 200


def test_login_of_a_user_with_totp_asks_for_the_code(client):
    make_user("staff@example.org", staff=True)
    response = _login(client, "staff@example.org", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session


def test_sessions_expire_after_30_idle_minutes(settings):
    # Written when changed or a minute after the last write (tests/test_request_writes.py shows it).
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
    assert settings.SESSION_REFRESH_SECONDS == 60
    assert "accounts.middleware.SessionRefreshMiddleware" in settings.MIDDLEWARE


def test_session_ends_12_hours_after_sign_in_however_active(client_for):
    client = client_for(make_user("p@example.org"))
    assert client.get("/").status_code == 200
    session = client.session
    session[SESSION_STARTED_AT] = int(time.time()) - 12 * 60 * 60 - 1
    session.save()
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_admin_invites_a_user_who_then_sets_a_password(client_for, cast):
    client = client_for(cast.eef_admin)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new.coordinator@example.org",
            "first_name": "สมศรี",
            "last_name": "ใจดี",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-role": "province_coordinator",
            "memberships-0-province": str(PROVINCE_A),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from django.contrib.auth import get_user_model

    invited = get_user_model().objects.get(email="new.coordinator@example.org")
    assert not invited.has_usable_password()
    assert invited.memberships.get().province_id == PROVINCE_A
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)

    anonymous = client_for(None)
    response = anonymous.get(link, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = anonymous.post(form_url, {"password1": "a-new-strong-pass-7", "password2": "a-new-strong-pass-7"})
    assert response.status_code == 302
    invited.refresh_from_db()
    assert invited.check_password("a-new-strong-pass-7")


def test_roles_are_managed_by_eef_admins_only(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.post(
        "/admin/accounts/membership/add/",
        {"user": cast.coordinator_a.pk, "role": "eef_admin"},
    )
    assert response.status_code == 403
    assert not cast.coordinator_a.memberships.filter(role="eef_admin").exists()


def test_coordinator_in_admin_sees_only_their_province(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.get("/admin/universities/supportassignment/")
    assert response.status_code == 200
    shown = {row.province_id for row in response.context["cl"].result_list}
    assert shown == {PROVINCE_A}
    response = client.get(
        "/admin/autocomplete/?app_label=universities&model_name=supportassignment&field_name=province"
    )
    assert [r["id"] for r in response.json()["results"]] == [str(PROVINCE_A)]


def test_coordinator_cannot_change_assignments_even_by_post(cast, client_for):
    assignment = SupportAssignment.objects.current().leads().get(province_id=PROVINCE_A)
    response = client_for(cast.coordinator_a).post(
        f"/admin/universities/supportassignment/{assignment.pk}/change/",
        {"university": assignment.university_id, "province": PROVINCE_A, "fiscal_year": 2599, "is_lead": "on"},
    )
    assert response.status_code == 403
    assignment.refresh_from_db()
    assert assignment.fiscal_year != 2599


def test_export_from_admin_holds_only_the_users_province(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.post(
        "/admin/universities/supportassignment/export/",
        {
            "format": "0",
            "resource": "0",
            **{f"supportassignmentresource_{f}": "on" for f in ("fiscal_year", "province", "university", "is_lead")},
        },
    )
    assert response.status_code == 200, response.content.decode()[:1500]
    body = response.content.decode("utf-8-sig")
    lines = [line for line in body.splitlines()[1:] if line]
    assert lines
    assert all(line.split(",")[1] == str(PROVINCE_A) for line in lines), body


def test_security_headers(client_for, cast):
    response = client_for(cast.coordinator_a).get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store, private"


def test_hsts_on_https_in_production(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000; includeSubDomains")


def test_an_admin_ends_every_session_of_an_account_with_a_lost_phone(cast, client_for):
    """The user admin's action: the account's sessions (phone and laptop) end at once, anyone else's stay, the account
    itself stays active; the field app's download then answers 401 (the app deletes the children it holds), and the
    account's history says who ended them."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.sessions.models import Session

    from accounts.models import Role

    worker = make_user("lost.phone@example.org", role=Role.CASE_WORKER, province=PROVINCE_A)
    phone, laptop = client_for(worker), client_for(worker)
    other = client_for(cast.coordinator_a)
    assert phone.get("/field/api/my-cases/").status_code == 200
    assert Session.objects.count() == 3
    admin = client_for(cast.eef_admin)
    response = admin.post(
        "/admin/accounts/user/", {"action": "end_sessions", "_selected_action": [worker.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "ยุติเซสชันของบัญชี 1 บัญชีแล้ว (2 เซสชัน)" in response.content.decode()
    assert phone.get("/field/api/my-cases/").status_code == 401
    assert laptop.get("/cases/").status_code == 302  # to sign in
    assert other.get("/cases/").status_code == 200
    worker.refresh_from_db()
    assert worker.is_active
    entry = LogEntry.objects.get(object_id=str(worker.pk))
    assert entry.user_id == cast.eef_admin.pk
    # A coordinator reaches no such action: the worker's new session stays.
    new_phone = client_for(worker)
    refused = client_for(cast.coordinator_a).post(
        "/admin/accounts/user/", {"action": "end_sessions", "_selected_action": [worker.pk]}
    )
    assert refused.status_code in (302, 403)
    assert new_phone.get("/field/api/my-cases/").status_code == 200
