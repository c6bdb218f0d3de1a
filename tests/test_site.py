"""The portal's outer shell: health check, login page, languages, deployment settings, users."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_healthz_reports_every_dependency_ok(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"] == "ok"
    expected_broker = "ok" if settings.REDIS_URL else "in-process (no broker configured)"
    assert body["checks"]["broker"] == expected_broker
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_503_when_the_database_is_down():
    # A real process whose database is unreachable (nothing listens on port 1), not a mock.
    script = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(r.status_code, r.json()['status'], r.json()['checks']['database'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere",
        DJANGO_SETTINGS_MODULE="abe_portal.settings",
        ALLOWED_HOSTS="testserver",
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    code, status, database = result.stdout.split(maxsplit=2)
    assert (code, status) == ("503", "error")
    assert database.startswith("error: OperationalError")


def test_login_page_speaks_thai_by_default(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="th">' in html
    assert "เข้าสู่ระบบ" in html


def test_thai_comes_first_even_for_a_browser_set_to_english(client):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="th">' in response.content.decode()


def test_login_page_in_english_after_switching(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"}, follow=True)
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Sign in" in html


def test_static_assets_are_local():
    # No CDN: every stylesheet, script and font the base template names is served by the project.
    html = (ROOT / "templates" / "base.html").read_text()
    assert "http://" not in html
    assert "https://" not in html
    assert (ROOT / "static" / "fonts" / "sarabun" / "sarabun.css").exists()


def test_home_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_open_signup_is_closed(client):
    response = client.post(
        "/accounts/signup/", {"email": "x@example.org", "password1": "Strong-pass-123", "password2": "Strong-pass-123"}
    )
    assert not get_user_model().objects.filter(email="x@example.org").exists()
    assert response.status_code == 200


def test_email_is_the_login_and_is_case_insensitive(client):
    user_model = get_user_model()
    user = user_model.objects.create_user("Somchai@Example.ORG", "a-long-password-1")
    assert user.email == "somchai@example.org"
    with pytest.raises(IntegrityError), transaction.atomic():
        user_model.objects.create_user("SOMCHAI@example.org", "another-password-2")
    response = client.post("/accounts/login/", {"login": "SomChai@example.org", "password": "a-long-password-1"})
    assert response.status_code == 302


def test_deployment_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "abe.example"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secret_key_is_required_when_debug_is_off():
    result = _manage("check", env={"DEBUG": "0", "ALLOWED_HOSTS": "abe.example"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
