"""Fixed-window counters in the cache: the API's request throttles (api.throttling) and its limit on
failed API keys per address (api.authentication).

One INCR per hit, pipelined with its expiry, where DRF's SimpleRateThrottle reads and writes the
list of every request's time in the window; the price is that a client may use up to twice its rate
across a window's edge. While the cache is unavailable a count is unknown (None) and the callers let
the request through: limits fail open rather than take the API down with Redis.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache
from rest_framework.settings import api_settings

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def configured_rate(scope: str) -> str | None:
    """REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]: "1200/minute", or None when no limit is set."""
    # djangorestframework-stubs types the rates as numbers; DRF reads them as these strings.
    rate: str | None = api_settings.DEFAULT_THROTTLE_RATES.get(scope)  # type: ignore[assignment]
    return rate


def parse_rate(rate: str) -> tuple[int, int]:
    """The number allowed and the window's length in seconds: "1200/minute" -> (1200, 60)."""
    number, period = rate.split("/")
    return int(number), DURATIONS[period[0]]


@dataclass(frozen=True)
class Window:
    key: str
    duration: int
    seconds_left: float


def current_window(name: str, duration: int) -> Window:
    """The window of `duration` seconds that now falls in, for the counter `name`."""
    now = time.time()
    number = int(now // duration)
    return Window(key=f"{name}:{duration}:{number}", duration=duration, seconds_left=(number + 1) * duration - now)


def hit(window: Window) -> int | None:
    """Add one to the window's counter and return it; None when the cache cannot count."""
    timeout = window.duration + 1
    increment = getattr(cache, "increment", None)  # abe_portal.fail_open_cache, whenever REDIS_URL is set
    if increment is not None:
        return increment(window.key, timeout=timeout)
    # Another backend (the in-process cache of the embedded default): add, then incr.
    cache.add(window.key, 0, timeout)
    try:
        return cache.incr(window.key)
    except ValueError:  # expired between the two calls (or the cache forgot it)
        cache.add(window.key, 1, timeout)
        return 1


def count(window: Window) -> int:
    """The window's count so far, without adding to it (0 when the cache cannot tell)."""
    return int(cache.get(window.key, 0))
