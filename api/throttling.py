"""Request rates: per partner key and per signed-in user, from settings
(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], set by API_KEY_THROTTLE_RATE and API_USER_THROTTLE_RATE).
Over the rate: 429 with Retry-After (the seconds left in the window; api.errors).

A fixed window counted in the cache: one INCR per request (one round trip to Redis, pipelined with
its expiry), where DRF's SimpleRateThrottle reads and writes the list of every request's time in
the window (two round trips, and a list that grows with the rate). A client may use up to twice
its rate across a window's edge. The rate is read from the settings on every request, so that a
changed setting (and a test's override_settings) takes effect.
"""

import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .authentication import is_partner

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    number, period = rate.split("/")
    return int(number), DURATIONS[period[0]]


def count_in_window(key: str, timeout: int) -> int:
    """Add one to the counter `key` (made with `timeout`) and return it."""
    backend = getattr(cache, "_cache", None)
    if hasattr(backend, "get_client"):  # Django's RedisCache: INCR and EXPIRE in one round trip
        full_key = cache.make_and_validate_key(key)
        pipeline = backend.get_client(full_key, write=True).pipeline()
        pipeline.incr(full_key)
        pipeline.expire(full_key, timeout)
        count, _expiry = pipeline.execute()
        return int(count)
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, timeout)
        return 1


class _WindowThrottle(BaseThrottle):
    scope = ""

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        ident = self.ident(request)
        if rate is None or ident is None:
            return True
        limit, duration = parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        count = count_in_window(f"api:throttle:{self.scope}:{ident}:{duration}:{window}", duration + 1)
        self.seconds_left = (window + 1) * duration - now
        return count <= limit

    def wait(self) -> float:
        return self.seconds_left


class PartnerKeyRateThrottle(_WindowThrottle):
    """Per key (its prefix): each key has its own budget, whichever partner holds it."""

    scope = "partner_key"

    def ident(self, request) -> str | None:
        return request.user.key.prefix if is_partner(request.user) else None


class PortalUserRateThrottle(_WindowThrottle):
    """Per signed-in user of the portal (browser sessions, scripts with a session)."""

    scope = "portal_user"

    def ident(self, request) -> str | None:
        user = request.user
        if is_partner(user) or not user.is_authenticated:
            return None
        return str(user.pk)
