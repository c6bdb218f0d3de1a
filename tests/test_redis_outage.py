"""Redis down, or restarted empty: pages, sign-in and the API keep answering, rate limits fail open
(with one log line, not one per request), /healthz says what is degraded, and everything, limits
included, works again once Redis is back (abe_portal/fail_open_cache.py).

These tests start their own redis-server on a free PORT (never the shared Redis of REDIS_URL, which other
work uses) and point the portal's cache at it: the production CACHES entry, with only its
LOCATION changed (and a shorter retry, so that recovery is quick). Then they kill it with SIGKILL,
as a crash or an out-of-memory kill would, and start it again without its data.

The Celery broker stays on the shared Redis here: publishing tasks while the broker is down is a
separate matter (targets/upload/). /healthz is asked about a dead broker by pointing
CELERY_BROKER_URL, which it reads, at the killed server.
"""

import json
import logging
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import pytest
import redis
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import PASSWORD, PROVINCE_A, free_port, make_user
from targets.models import TargetRecord
from tests.api_support import key_client, make_key, make_records
from tests.builders import national_id

pytestmark = pytest.mark.django_db

PORT = free_port()  # per process: each xdist worker that runs these tests has its own server
PRIVATE_URL = f"redis://127.0.0.1:{PORT}/0"
API = "/api/v1"
BACKEND_LOGGER = "abe_portal.fail_open_cache"
# allauth's "Too many failed login attempts. Try again later." in Thai.
TOO_MANY = "พยายามเข้าสู่ระบบล้มเหลวหลายครั้งเกินไป"


class PrivateRedis:
    """A redis-server subprocess owned by the tests: no snapshot, no append-only file, so a restart
    comes back empty, as a Redis without persistence does."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.log: IO[str] | None = None  # the process's, closed in kill()
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", PORT)) == 0:
                pytest.fail(f"Something else listens on port {PORT}; these tests need it for their own Redis")
        log = open(self.log_dir / f"redis-{self.starts}.log", "w")  # noqa: SIM115 - closed in kill()
        self.starts += 1
        # No snapshot, no append-only file: a restart comes back empty.
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
        ]
        self.process = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.log = log
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(PRIVATE_URL, socket_connect_timeout=1).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            if self.log is not None:
                self.log.close()

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(PRIVATE_URL, socket_timeout=30)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


def _wait_until_cache_answers() -> None:
    """After a restart the backend tries Redis again once its retry time has passed."""
    deadline = time.monotonic() + 30
    while True:
        cache.set("outage-test:probe", "yes", 30)
        if cache.get("outage-test:probe") == "yes":
            return
        assert time.monotonic() < deadline, "the cache did not come back after Redis restarted"
        time.sleep(0.1)


@pytest.fixture
def portal_cache(settings, redis_url, private_redis):
    """The portal's own cache configuration (REDIS_URL set) pointed at the private Redis."""
    production = settings.CACHES["default"]
    assert production["BACKEND"] == "abe_portal.fail_open_cache.FailOpenRedisCache"
    settings.CACHES = {
        "default": {
            **production,
            "LOCATION": PRIVATE_URL,
            "OPTIONS": {**production["OPTIONS"], "OUTAGE_RETRY_SECONDS": 0.5},
        }
    }
    if not private_redis.running:
        private_redis.start()
    _wait_until_cache_answers()
    cache.clear()
    return private_redis


def _ok(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])


# --- pages, uploads ------------------------------------------------------------------------------------------


def test_pages_and_an_upload_work_while_redis_is_down(portal_cache, cast, client_for):
    make_records(PROVINCE_A, 3)
    portal_cache.kill()
    admin = client_for(cast.eef_admin)
    for url in ("/", "/records/", "/uploads/new/", "/dashboards/", f"/dashboards/province/{PROVINCE_A}/", "/meetings/"):
        response = admin.get(url)
        assert response.status_code == 200, url
    # An upload, through its page: received, checked (its progress goes to the cache), shown.
    coordinator = client_for(cast.coordinator_a)
    csv = f"เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n{national_id(4_099_999)},สมปอง,ทองดี,เด็กและเยาวชนนอกระบบการศึกษา\n"
    response = coordinator.post("/uploads/new/", {"file": SimpleUploadedFile("ขอนแก่น.csv", csv.encode())})
    assert response.status_code == 302, response.content[:500]
    detail = response["Location"]
    assert coordinator.get(detail).status_code == 200
    progress = coordinator.get(f"{detail}progress.json")
    assert progress.status_code == 200
    assert json.loads(progress.content)


# --- sign-in -------------------------------------------------------------------------------------------------


def _login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR="198.51.100.20")


def test_sign_in_works_while_redis_is_down_and_is_limited_again_once_it_is_back(portal_cache, caplog):
    user = make_user("somsri@example.org")
    portal_cache.kill()
    client = Client()
    with caplog.at_level(logging.WARNING, logger=BACKEND_LOGGER):
        # A wrong password is refused as usual (the form again, no error page)...
        for _ in range(7):
            response = _login(client, user.email, "wrong-password")
            assert response.status_code == 200
            assert "_auth_user_id" not in client.session
        # ...and with the limits off (fail open), the right one still signs in after seven misses.
        response = _login(client, user.email, PASSWORD)
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(user.pk)
        # Signed in, the session (in the database) carries on: pages answer.
        assert client.get("/").status_code == 200
    warnings = [r for r in caplog.records if r.name == BACKEND_LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "rate limits are not enforced" in warnings[0].getMessage()

    portal_cache.start()  # empty, as after a restart without persistence
    _wait_until_cache_answers()
    other = Client()
    for _ in range(5):
        assert TOO_MANY not in _login(other, user.email, "wrong-password").content.decode()
    response = _login(other, user.email, PASSWORD)
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in other.session


# --- the API -------------------------------------------------------------------------------------------------


def test_the_api_answers_while_redis_is_down_and_throttles_again_once_it_is_back(portal_cache, settings, programme):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        # Hours, not minutes: no window may end in the middle of the test.
        "DEFAULT_THROTTLE_RATES": {"partner_key": "4/hour", "portal_user": "100/hour", "failed_key": "3/hour"},
    }
    record = make_records(PROVINCE_A, 1)[0]
    partner = key_client(make_key(provinces=[PROVINCE_A], name="outage")[1])
    stranger = key_client("nope.not-a-real-key")
    portal_cache.kill()

    assert partner.get(f"{API}/records/").status_code == 200
    assert partner.get(f"{API}/records/{record.pk}/").status_code == 200
    item = {
        "identifier": national_id(4_088_888),
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "category": "out-of-school",
        "sex": "ชาย",
        "birth_date": "15/03/2553",
    }
    response = partner.post(f"{API}/records/", item, content_type="application/json")
    assert response.status_code == 201, response.content
    assert TargetRecord.objects.filter(first_name="สมชาย").exists()
    # Past its rate and past the failed-key limit: let through, since nothing can be counted.
    assert [partner.get(f"{API}/provinces/").status_code for _ in range(5)] == [200] * 5
    assert {stranger.get(f"{API}/provinces/").status_code for _ in range(5)} == {401}

    portal_cache.start()
    _wait_until_cache_answers()
    assert [partner.get(f"{API}/provinces/").status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    assert [stranger.get(f"{API}/provinces/").status_code for _ in range(4)] == [401, 401, 401, 429]


# --- /healthz ------------------------------------------------------------------------------------------------


def test_healthz_says_what_is_degraded_and_when_it_is_back(portal_cache, settings, client):
    settings.CELERY_BROKER_URL = PRIVATE_URL
    body = client.get("/healthz").json()
    assert (body["status"], body["checks"]["cache"], body["checks"]["broker"]) == ("ok", "ok", "ok")
    assert body["degraded"] == {}

    portal_cache.kill()
    response = client.get("/healthz")
    assert response.status_code == 200  # degraded, not out of service: pages still serve
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"] == "error: ConnectionError"
    assert body["checks"]["broker"] == "error: ConnectionError"
    assert set(body["degraded"]) == {"cache", "broker"}
    assert "rate limits" in body["degraded"]["cache"]

    portal_cache.start()
    _wait_until_cache_answers()
    body = client.get("/healthz").json()
    assert (body["status"], body["checks"]["cache"], body["checks"]["broker"]) == ("ok", "ok", "ok")


# --- the backend itself --------------------------------------------------------------------------------------


def test_while_redis_is_down_the_cache_is_an_empty_one_that_forgets(portal_cache):
    cache.set("kept", "before")
    portal_cache.kill()
    assert cache.get("kept") is None
    assert cache.get("kept", "default") == "default"
    assert cache.get_many(["kept", "other"]) == {}
    assert cache.has_key("kept") is False
    assert cache.set("new", 1) is None
    assert cache.get("new") is None
    # add() answers as an empty cache would (allauth's rate-limit lock relies on it).
    assert cache.add("lock", True) is True
    assert cache.get_or_set("computed", lambda: "fresh") == "fresh"
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]  # Django's contract: the keys not stored
    assert cache.delete("kept") is False
    assert cache.touch("kept") is False
    cache.delete_many(["a", "b"])
    with pytest.raises(ValueError, match="not found"):
        cache.incr("counter")
    assert cache.increment("counter", timeout=60) is None  # the API's counters: unknown
    assert cache.outage() == "ConnectionError"
    cache.clear()

    portal_cache.start()
    _wait_until_cache_answers()
    assert cache.outage() is None
    assert cache.get("kept") is None  # restarted without persistence: empty, and no harm done
    assert cache.increment("counter", timeout=60) == 1
    assert cache.increment("counter", timeout=60) == 2


def test_an_outage_is_logged_once_and_its_end_once(portal_cache, settings, caplog):
    # No pause between attempts: every call tries Redis and fails, and still only one line is logged.
    options = {**settings.CACHES["default"]["OPTIONS"], "OUTAGE_RETRY_SECONDS": 0}
    settings.CACHES = {"default": {**settings.CACHES["default"], "OPTIONS": options}}
    portal_cache.kill()
    with caplog.at_level(logging.INFO, logger=BACKEND_LOGGER):
        for n in range(50):
            cache.get(f"key-{n}")
        portal_cache.start()
        _wait_until_cache_answers()
        for n in range(10):
            cache.get(f"key-{n}")
    lines = [r.getMessage() for r in caplog.records if r.name == BACKEND_LOGGER]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Cache (Redis) unavailable (ConnectionError")
    assert lines[1].startswith("Cache (Redis) is back")


def _connections_received(admin: redis.Redis) -> int:
    return admin.info("stats")["total_connections_received"]


def test_after_a_timeout_calls_skip_redis_instead_of_each_waiting(portal_cache, settings):
    """A Redis that accepts connections but answers nothing (CLIENT PAUSE: a hung server) costs one
    timeout, not one per cache call: the calls after it do not even open a connection."""
    options = {**settings.CACHES["default"]["OPTIONS"], "socket_timeout": 0.3, "OUTAGE_RETRY_SECONDS": 60}
    settings.CACHES = {"default": {**settings.CACHES["default"], "OPTIONS": options}}
    admin = portal_cache.admin()
    cache.set("warm", 1)  # the pool holds a connection now
    before = _connections_received(admin)
    admin.client_pause(1000)  # longer than the 0.3 s timeout; the INFO below waits for its end
    assert cache.get("warm") is None  # timed out: a miss
    for n in range(20):
        assert cache.get(f"key-{n}") is None
        cache.set(f"key-{n}", n)
    assert cache.outage() == "TimeoutError"
    # INFO waits for the pause to end; only the admin's own connection is new.
    assert _connections_received(admin) == before

    # Without the pause between attempts, every call would open a connection and wait (the contrast).
    settings.CACHES = {"default": {**settings.CACHES["default"], "OPTIONS": {**options, "OUTAGE_RETRY_SECONDS": 0}}}
    admin.client_pause(1500)  # three timeouts of 0.3 s
    for n in range(3):
        cache.get(f"key-{n}")
    assert _connections_received(admin) >= before + 3
