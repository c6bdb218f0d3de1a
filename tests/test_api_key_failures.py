"""Unusable API keys are limited per client address (api.authentication, API_AUTH_FAILURE_RATE):
after that many in a window (a minute), the address gets 429 with Retry-After, in the API's error body, until
the window ends, and nothing is looked up for it meanwhile. Other addresses, valid keys among
them, are not affected. (While Redis is down nothing is counted: tests/test_redis_outage.py.)"""

import json

import pytest
from django.test import Client

from conftest import PROVINCE_A
from tests.api_support import make_key

pytestmark = pytest.mark.django_db

API = "/api/v1"
FLOODER = "198.51.100.7"
PARTNER = "203.0.113.5"
PROXY = "10.0.0.2"


@pytest.fixture(autouse=True)
def three_an_hour(settings):
    # An hour's window (production: a minute's), so that no test runs across a window's edge.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "failed_key": "3/hour"},
    }


@pytest.fixture
def valid_secret(programme) -> str:
    return make_key(provinces=[PROVINCE_A], name="ระบบของจังหวัด")[1]


def _get(secret: str, path: str = "/provinces/", **meta):
    return Client().get(f"{API}{path}", HTTP_AUTHORIZATION=f"Api-Key {secret}", **meta)


def _error(response) -> dict:
    return json.loads(response.content)["error"]


def test_after_three_unusable_keys_the_address_gets_429_with_retry_after(valid_secret):
    codes = [_get(f"guess{n}.secret", REMOTE_ADDR=FLOODER).status_code for n in range(3)]
    assert codes == [401, 401, 401]
    refused = _get("guess4.secret", REMOTE_ADDR=FLOODER)
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    assert 0 < wait <= 3600
    error = _error(refused)
    assert error["code"] == "throttled"
    assert error["details"] == {"retry_after": wait}
    assert error["message"] == f"คำขอมากเกินไป กรุณาลองใหม่ในอีก {wait} วินาที"
    english = _get("guess5.secret", "/provinces/?lang=en", REMOTE_ADDR=FLOODER)
    assert _error(english)["message"].startswith("Too many requests; try again in")
    # Malformed keys count as well: they are unusable keys all the same.
    assert _get("no-dot-at-all", REMOTE_ADDR=FLOODER).status_code == 429


def test_other_addresses_and_their_valid_keys_are_not_affected(valid_secret):
    for n in range(5):
        _get(f"guess{n}.secret", REMOTE_ADDR=FLOODER)
    assert _get(valid_secret, REMOTE_ADDR=PARTNER).status_code == 200
    # Another address's own mistakes have their own budget.
    assert _get("typo.secret", REMOTE_ADDR=PARTNER).status_code == 401
    assert _get(valid_secret, REMOTE_ADDR=PARTNER).status_code == 200


def test_a_refused_address_costs_no_database_lookup(valid_secret, django_assert_num_queries):
    for n in range(3):
        _get(f"guess{n}.secret", REMOTE_ADDR=FLOODER)
    with django_assert_num_queries(0):  # refused before the key is looked up
        assert _get(valid_secret, REMOTE_ADDR=FLOODER).status_code == 429


def test_valid_keys_and_requests_without_a_key_are_not_counted(valid_secret):
    for _ in range(5):
        assert _get(valid_secret, REMOTE_ADDR=PARTNER).status_code == 200
        assert Client().get(f"{API}/provinces/", REMOTE_ADDR=PARTNER).status_code == 401  # no key: not a guess
    assert _get("typo.secret", REMOTE_ADDR=PARTNER).status_code == 401


def test_ipv6_clients_are_counted_by_their_64_bit_prefix(valid_secret):
    for n in range(3):
        _get(f"guess{n}.secret", REMOTE_ADDR=f"2001:db8:1:2::{n + 1}")
    assert _get("guess.secret", REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429
    assert _get(valid_secret, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


@pytest.mark.parametrize("proxies", [0, 1])
def test_forged_x_forwarded_for_neither_dodges_nor_frames(settings, valid_secret, proxies):
    settings.TRUSTED_PROXY_COUNT = proxies

    def headers(client_address: str, forged: str) -> dict:
        if proxies:  # through our proxy, which appends the address it saw
            return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"{forged}, {client_address}"}
        return {"REMOTE_ADDR": client_address, "HTTP_X_FORWARDED_FOR": forged}

    # The flooder claims another address each time, then the partner's.
    for n in range(3):
        assert _get(f"guess{n}.secret", **headers(FLOODER, f"192.0.2.{n}")).status_code == 401
    assert _get("guess.secret", **headers(FLOODER, PARTNER)).status_code == 429
    assert _get(valid_secret, **headers(PARTNER, FLOODER)).status_code == 200
