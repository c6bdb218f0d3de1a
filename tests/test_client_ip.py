"""Whose address is it? One function (core.client_ip) decides, from TRUSTED_PROXY_COUNT, for
allauth's login limits, the API's throttles and its failed-key limit, and the access log.

Both deployments are tested: without a proxy (X-Forwarded-For is the client's own say and is
ignored) and behind one proxy of ours (the entry it appended, the last one, is the client).
Requests are made the way a proxy would pass them on: REMOTE_ADDR is the proxy, and the
X-Forwarded-For it forwards is whatever the client sent, plus the address it saw the client at.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory

from accounts.adapter import AccountAdapter
from api.throttling import PortalUserRateThrottle
from conftest import PASSWORD, make_user
from core.client_ip import client_ip

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"  # our TLS proxy, as the portal sees it
ATTACKER = "198.51.100.7"
COORDINATOR = "203.0.113.5"
# allauth's "Too many failed login attempts. Try again later." in Thai (the portal speaks Thai first).
TOO_MANY = "พยายามเข้าสู่ระบบล้มเหลวหลายครั้งเกินไป"


def _via_proxy(client_address: str, forged: str = "") -> dict:
    """The request headers of a client at `client_address` behind our proxy, which appends the
    address it saw after whatever X-Forwarded-For the client sent itself."""
    forwarded = f"{forged}, {client_address}" if forged else client_address
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}


def _request(**meta):
    return RequestFactory().get("/", **meta)


# --- the function -----------------------------------------------------------------------------------------


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=COORDINATOR)) == ATTACKER
    assert client_ip(_request(REMOTE_ADDR=ATTACKER)) == ATTACKER


def test_behind_one_proxy_the_entry_it_appended_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request(**_via_proxy(ATTACKER, forged="1.2.3.4, 5.6.7.8"))) == ATTACKER
    # A request that did not come through the proxy (no header): its own address.
    assert client_ip(_request(REMOTE_ADDR=ATTACKER)) == ATTACKER


def test_behind_two_proxies_the_entry_the_outer_one_appended_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    # client -> outer proxy (appends the client) -> inner proxy (appends the outer proxy) -> portal
    request = _request(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"9.9.9.9, {ATTACKER}, 10.0.0.1")
    assert client_ip(request) == ATTACKER
    # Fewer entries than proxies: it bypassed a proxy, so no entry can be trusted (and nothing crashes).
    assert client_ip(_request(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)) == PROXY


def test_an_address_that_is_not_one_is_no_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="not-an-ip")) is None
    assert client_ip(_request(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, \x00")) is None
    # IPv6 comes back in its one canonical spelling, so one client is one counter.
    assert client_ip(_request(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="2001:DB8:0::1")) == "2001:db8::1"


@pytest.mark.parametrize("proxies", [0, 1])
def test_every_counter_uses_the_same_address(settings, proxies):
    from audit.access_log import client_ip as access_log_client_ip

    settings.TRUSTED_PROXY_COUNT = proxies
    request = _request(**_via_proxy(ATTACKER, forged=COORDINATOR))
    expected = ATTACKER if proxies else PROXY
    assert access_log_client_ip(request) == expected
    assert AccountAdapter(request).get_client_ip(request) == expected
    assert PortalUserRateThrottle().get_ident(request) == expected


# --- the scenario: login limits through a proxy ------------------------------------------------------


def _fail_ten_times(client: Client, headers_for) -> None:
    """Ten wrong passwords for ten made-up accounts, each with another forged X-Forwarded-For."""
    for n in range(10):
        response = client.post(
            "/accounts/login/",
            {"login": f"guess{n}@example.org", "password": "wrong-password"},
            **headers_for(n),
        )
        assert response.status_code == 200
        assert TOO_MANY not in response.content.decode()


def _sign_in(client: Client, email: str, **headers):
    return client.post("/accounts/login/", {"login": email, "password": PASSWORD}, **headers)


def test_behind_a_proxy_a_flood_from_one_client_does_not_lock_out_another(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    coordinator = make_user("coordinator@example.org")
    attacker = Client()
    _fail_ten_times(attacker, lambda n: _via_proxy(ATTACKER, forged=f"192.0.2.{n}"))
    # The coordinator signs in from another client through the same proxy.
    response = _sign_in(Client(), coordinator.email, **_via_proxy(COORDINATOR))
    assert response.status_code == 302
    # The attacker's forged headers did not spread its failures: its own address is now refused.
    response = attacker.post(
        "/accounts/login/",
        {"login": "guess-again@example.org", "password": "wrong-password"},
        **_via_proxy(ATTACKER, forged="192.0.2.99"),
    )
    assert TOO_MANY in response.content.decode()


def test_behind_a_proxy_a_client_cannot_frame_another_by_forging_its_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    coordinator = make_user("coordinator@example.org")
    # The attacker claims to be the coordinator's address in every request.
    _fail_ten_times(Client(), lambda n: _via_proxy(ATTACKER, forged=COORDINATOR))
    assert _sign_in(Client(), coordinator.email, **_via_proxy(COORDINATOR)).status_code == 302


def test_without_a_proxy_forged_headers_neither_dodge_nor_frame(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    coordinator = make_user("coordinator@example.org")
    attacker = Client()
    # Claims to be someone else each time, and finally the coordinator: all counted on its own address.
    _fail_ten_times(attacker, lambda n: {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": f"192.0.2.{n}"})
    response = attacker.post(
        "/accounts/login/",
        {"login": coordinator.email, "password": PASSWORD},
        REMOTE_ADDR=ATTACKER,
        HTTP_X_FORWARDED_FOR=COORDINATOR,
    )
    assert TOO_MANY in response.content.decode()
    assert _sign_in(Client(), coordinator.email, REMOTE_ADDR=COORDINATOR).status_code == 302


# --- the setting, from the environment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, 0),
        ({"USE_X_FORWARDED_PROTO": "1"}, 1),  # README has always said this means one proxy appending its hop
        ({"USE_X_FORWARDED_PROTO": "1", "TRUSTED_PROXY_COUNT": "2"}, 2),
        ({"USE_X_FORWARDED_PROTO": "1", "TRUSTED_PROXY_COUNT": "0"}, 0),  # a proxy that sets no X-Forwarded-For
    ],
)
def test_trusted_proxy_count_comes_from_the_environment_and_reaches_allauth_and_drf(environment, expected):
    script = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_PROXY_COUNT, s.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"USE_X_FORWARDED_PROTO", "TRUSTED_PROXY_COUNT"}}
    env.update(environment, DJANGO_SETTINGS_MODULE="abe_portal.settings")
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(expected)] * 3
