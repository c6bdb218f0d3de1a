"""What a request costs while the cache's Redis is down or hung (abe_portal/fail_open_cache.py).

Starts its own redis-server on BENCH_REDIS_PORT (default: a port free at the time; never the shared one of REDIS_URL),
points the portal's CACHES entry at it, and times two requests, median of N each:
- an API read with a partner key (the failed-key check and the key's throttle: 2 cache calls);
- a wrong password at /accounts/login/ (allauth's login limits: about 10 cache calls; MD5 hasher,
  so that the password's hashing does not hide the cache's share).
In four states: Redis up; killed (connections refused); hung (CLIENT PAUSE: it accepts connections
and answers nothing, so each call waits for the 1 s socket timeout) with the circuit breaker; and
hung without it (OUTAGE_RETRY_SECONDS=0, a few requests only: each pays every call's timeout).
"""

import datetime
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time

import redis
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

RUNS = int(os.environ.get("BENCH_OUTAGE_RUNS", "30"))


def _free_port() -> int:
    """A port nothing listens on now (the kernel's pick), so that the benchmark never talks to another Redis."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = int(os.environ.get("BENCH_REDIS_PORT") or _free_port())
URL = f"redis://127.0.0.1:{PORT}/0"


def _start_redis() -> subprocess.Popen:
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:  # the port was taken after all: never measure someone else's Redis
            raise RuntimeError(f"redis-server on port {PORT} exited ({process.returncode}); set BENCH_REDIS_PORT")
        try:
            redis.Redis.from_url(URL, socket_connect_timeout=1).ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _median_ms(request, runs: int) -> float:
    """The median of `runs` requests, each answered as it should be (a page refused for its host, a 400, was timed
    here once, and looked fast)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = request()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(times)


def _caches(retry_seconds: float) -> dict:
    production = settings.CACHES["default"]
    options = {**production["OPTIONS"], "OUTAGE_RETRY_SECONDS": retry_seconds}
    return {"default": {**production, "LOCATION": URL, "OPTIONS": options}}


def run() -> None:
    from api.models import Partner, PartnerKey
    from provinces.reference_data import load_admin_areas

    if not settings.REDIS_URL:
        print("skipped: REDIS_URL is not set (the fail-open backend is used only with Redis)")
        return
    load_admin_areas()
    partner = Partner.objects.create(name="bench", contact_email="bench@example.org")
    partner.provinces.set([40])
    _key, secret = PartnerKey.objects.create_key(
        partner=partner, name="bench", permissions={}, expiry_date=timezone.now() + datetime.timedelta(days=1)
    )
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    browser = Client()

    def api_read():
        return api.get("/api/v1/provinces/?page_size=1")

    def wrong_password():
        return browser.post("/accounts/login/", {"login": "bench@example.org", "password": "wrong"})

    # Sign-in is limited (that is the point): many more wrong passwords than the limits, so raise them.
    # And the cheapest password hasher, so that the cache's share of a sign-in is what shows, not PBKDF2's.
    limits = {
        "ALLOWED_HOSTS": ["testserver"],  # the test client's host (the test runner adds it; a benchmark must too)
        "ACCOUNT_RATE_LIMITS": {"login": "100000/m/ip", "login_failed": "100000/m/ip,100000/5m/key"},
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    }
    process = _start_redis()
    try:
        with override_settings(CACHES=_caches(5), **limits):
            up = (_median_ms(api_read, RUNS), _median_ms(wrong_password, RUNS))
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed = (_median_ms(api_read, RUNS), _median_ms(wrong_password, RUNS))
            process = _start_redis()
            time.sleep(5.1)  # the breaker's retry time: the next call finds Redis again
            admin = redis.Redis.from_url(URL)
            admin.client_pause(120_000)
            hung = (_median_ms(api_read, RUNS), _median_ms(wrong_password, RUNS))
        with override_settings(CACHES=_caches(0), **limits):
            hung_without = (_median_ms(api_read, 3), _median_ms(wrong_password, 3))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    print("median ms per request   API read (key)   wrong password")
    for label, (read, login) in [
        ("Redis up", up),
        ("Redis killed", killed),
        ("Redis hung, breaker", hung),
        ("Redis hung, no breaker", hung_without),
    ]:
        print(f"{label:<24}{read:>15.1f}{login:>17.1f}")
