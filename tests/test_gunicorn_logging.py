"""gunicorn's access and error logs hold no national ID, G-code or URL secret (audit/gunicorn_logging.py).

A real gunicorn (the project's gunicorn.conf.py, on a free port, pointed at the test database) is
asked for URLs that carry IDs and secrets, and its logs are read back.
"""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse

from audit.gunicorn_logging import redact_atom, redact_atoms
from audit.redaction import SECRET_MASK, redact_secrets
from meetings.models import new_feed_token

GUNICORN = Path(sys.executable).with_name("gunicorn")  # the virtualenv's, beside its python
ID = "1249800001570"
G_CODE = "G644200000001"
MASK = "x-xxxx-xxxxx-xx-x"


# --- the redaction of one atom ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"/api/v1/records/{ID}/", f"/api/v1/records/{MASK}/"),
        ("/records/?q=1-2498-00001-57-0", f"/records/?q={MASK}"),
        (f"/records/{G_CODE}/", "/records/Gxxxxxxxxxxxx/"),
        # Percent-encoded digits and "+" for spaces are decoded before matching.
        ("/api/v1/records/%31249800001570/", f"/api/v1/records/{MASK}/"),
        ("q=1+2498+00001+57+0", f"q={MASK}"),
        # Thai digits arrive as UTF-8 bytes read as Latin-1 (PEP 3333).
        ("/records/?q=" + "๑๒๔๙๘๐๐๐๐๑๕๗๐".encode().decode("latin-1"), f"/records/?q={MASK}"),
        ("/meetings/feed/Q2hhbmdlIG1lIHBsZWFzZSBiZWZvcmUgeW91IGNvcHkgbWU.ics", "/meetings/feed/xxxxxxxx.ics"),
        (
            "/accounts/password/reset/key/1b-cz1d2e-0123456789abcdef0123456789abcdef/",
            "/accounts/password/reset/key/1b-xxxxxxxx/",
        ),
    ],
)
def test_an_atom_is_masked_however_the_id_or_secret_was_written(raw, expected):
    assert redact_atom(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "/records/12345/",
        "/api/v1/records/?page_size=100",
        "/accounts/password/reset/key/1b-set-password/",  # the page after the key: no secret in it
        "/meetings/feed/",
        "/provinces/40/working-group/export/",
        "Mozilla/5.0 (X11; Linux x86_64)",
    ],
)
def test_an_atom_without_an_id_or_secret_is_left_as_it_is(text):
    assert redact_atom(text) == text


def test_credentials_in_headers_and_environ_are_never_logged():
    atoms = redact_atoms(
        {
            "{authorization}i": "Api-Key abcd.efgh",
            "{cookie}i": "sessionid=abc",
            "{set-cookie}o": "sessionid=abc; HttpOnly",
            "{http_authorization}e": "Api-Key abcd.efgh",
            "{http_cookie}e": "sessionid=abc",
            "{user-agent}i": "curl/8.0",
            "{referer}i": f"https://portal.example/records/{ID}/",
            "s": 200,
        }
    )
    assert atoms == {
        "{authorization}i": "-",
        "{cookie}i": "-",
        "{set-cookie}o": "-",
        "{http_authorization}e": "-",
        "{http_cookie}e": "-",
        "{user-agent}i": "curl/8.0",
        "{referer}i": f"https://portal.example/records/{MASK}/",
        "s": 200,
    }


@pytest.mark.django_db
def test_the_secret_patterns_match_the_routes_they_guard(django_user_model):
    """The patterns name the URLs of meetings/urls.py and allauth: built here, so a changed route fails."""
    token = new_feed_token()
    feed = reverse("meetings:feed", kwargs={"token": token})
    assert token not in redact_secrets(feed)
    assert redact_secrets(feed) == feed.replace(token, SECRET_MASK)

    user = django_user_model.objects.create_user("reset@example.org", "x")
    key = default_token_generator.make_token(user)
    reset = reverse("account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user), "key": key})
    assert key not in redact_secrets(reset)
    after = reverse(
        "account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user), "key": "set-password"}
    )
    assert redact_secrets(after) == after


# --- a real gunicorn ------------------------------------------------------------------------------


def _database_url() -> str:
    """The test database's URL (inside a test, NAME is test_<name>): gunicorn serves from it."""
    db = django_settings.DATABASES["default"]
    auth = quote(db["USER"] or "postgres") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with the project's gunicorn.conf.py, on a free port and the test database.

    The command line overrides the bind, the worker count, the log files, and the access-log format:
    with every atom that can carry a URL or a credential (the project's own format logs only the path).
    """
    if connection.vendor != "postgresql":
        pytest.skip("gunicorn needs the test database on PostgreSQL")
    port = _free_port()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    log_format = '%(s)s %(h)s "%(r)s" %(U)s "%(q)s" "%(f)s" "%({authorization}i)s" "%({cookie}i)s"'
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DEBUG": "1",
        "CONN_MAX_AGE": "0",
    }
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(access),
            "--error-logfile",
            str(errors),
            "--access-logformat",
            log_format,
            "abe_portal.wsgi",
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(port, "/healthz")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start:\n{errors.read_text() if errors.exists() else ''}")
            time.sleep(0.2)
    yield port, access, errors
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.django_db
def test_gunicorn_access_log_masks_ids_g_codes_and_secrets_in_every_atom(gunicorn):
    port, access, errors = gunicorn
    token = new_feed_token()
    reset_key = "1b-cz1d2e-0123456789abcdef0123456789abcdef"
    requests = [
        (f"/api/v1/records/{ID}/", {}),
        ("/api/v1/records/%31249800001570/", {}),
        (f"/records/?q=1-2498-00001-57-0&identifier={G_CODE}", {"Referer": f"http://127.0.0.1/records/{ID}/"}),
        (f"/records/{G_CODE}/", {}),
        (f"/meetings/feed/{token}.ics", {"Authorization": "Api-Key secret.partner-key"}),
        (f"/accounts/password/reset/key/{reset_key}/", {"Cookie": "sessionid=top-secret-session"}),
    ]
    statuses = [_get(port, path, headers) for path, headers in requests]
    assert all(status < 500 for status in statuses), statuses

    # gunicorn writes a request's line once the response is sent: the client may read it first.
    deadline = time.monotonic() + 20
    while True:
        lines = [line for line in access.read_text().splitlines() if "/healthz" not in line]
        if len(lines) >= len(requests) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(lines) == len(requests), "one line per request: nothing dropped"
    log = "\n".join(lines) + errors.read_text()
    for secret in (
        ID,
        "1-2498-00001-57-0",
        "%31249800001570",
        G_CODE,
        token,
        "cz1d2e",
        "secret.partner-key",
        "top-secret",
    ):
        assert secret not in log, secret
    assert f'"GET /api/v1/records/{MASK}/ HTTP/1.1" /api/v1/records/{MASK}/' in lines[0]
    assert f"/api/v1/records/{MASK}/" in lines[1]
    assert f"q={MASK}&identifier=Gxxxxxxxxxxxx" in lines[2]
    assert f'"http://127.0.0.1/records/{MASK}/"' in lines[2]
    assert "/meetings/feed/xxxxxxxx.ics" in lines[4]
    assert lines[4].endswith('"-" "-"'), "the Authorization header is not logged"
    assert lines[5].endswith('"-" "-"'), "the session cookie is not logged"
    assert "/accounts/password/reset/key/1b-xxxxxxxx/" in lines[5]
    # The statuses gunicorn logged are the ones the client saw.
    assert [int(line.split()[0]) for line in lines] == statuses
