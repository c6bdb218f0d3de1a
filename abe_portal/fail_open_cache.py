"""The cache on Redis, failing open: while Redis is away the portal serves without it (README.md,
"Redis down, or restarted empty").

Nothing kept in the cache is the truth, so an unreachable Redis acts as an empty cache that forgets:
reads miss, writes do nothing, `increment` answers None and its callers let the request through.
`add` answers True, as an empty cache would: allauth's rate limits take a lock with add(), and False
would refuse every sign-in (the summary debounce then lets each upload ask for its own run). A
circuit breaker per Redis location and process skips Redis for OUTAGE_RETRY_SECONDS after a failure.
Only "Redis is away" errors are caught: a wrong command or a bad key is a bug and still raises.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)  # BusyLoadingError is a ConnectionError
_MISSING = object()


class CircuitBreaker:
    """Whether to try Redis now. Times are time.monotonic() seconds."""

    def __init__(self, *, retry_after: float, warn_every: float) -> None:
        self.retry_after = retry_after
        self.warn_every = warn_every
        self.tripped_at = float("-inf")
        self.error: str | None = None  # the error that opened it; None while Redis answers
        self.down_since = 0.0
        self.last_warning = float("-inf")
        self.lock = threading.Lock()

    def allows(self) -> bool:
        return time.monotonic() - self.tripped_at >= self.retry_after

    def trip(self, exc: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            if self.error is None:
                self.down_since = now
            self.error = type(exc).__name__
            self.tripped_at = now
            warn = now - self.last_warning >= self.warn_every
            if warn:
                self.last_warning = now
        if warn:
            # Once a minute at most, however many requests meet the outage.
            logger.warning(
                "Cache (Redis) unavailable (%s: %s): serving without it, rate limits are not enforced; "
                "retrying every %g s",
                type(exc).__name__,
                exc,
                self.retry_after,
            )

    def answered(self) -> None:
        if self.error is None:  # the usual case, without taking the lock
            return
        with self.lock:
            if self.error is None:
                return
            down_for = time.monotonic() - self.down_since
            self.error = None
            self.tripped_at = float("-inf")
            self.last_warning = float("-inf")  # the next outage is reported at once
        logger.warning("Cache (Redis) is back after %.0f s: rate limits apply again", down_for)


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _breaker_for(location: str, *, retry_after: float, warn_every: float) -> CircuitBreaker:
    with _breakers_lock:
        breaker = _breakers.get(location)
        if breaker is None:
            breaker = _breakers[location] = CircuitBreaker(retry_after=retry_after, warn_every=warn_every)
        # The latest configuration wins (settings changed by a test); the state is the location's.
        breaker.retry_after, breaker.warn_every = retry_after, warn_every
        return breaker


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache that turns an unreachable Redis into misses and no-ops (module docstring).

    OPTIONS of its own, besides redis-py's: OUTAGE_RETRY_SECONDS (5) and OUTAGE_WARNING_SECONDS (60).
    """

    def __init__(self, server, params) -> None:
        options = dict(params.get("OPTIONS") or {})
        retry_after = float(options.pop("OUTAGE_RETRY_SECONDS", 5))
        warn_every = float(options.pop("OUTAGE_WARNING_SECONDS", 60))
        super().__init__(server, {**params, "OPTIONS": options})
        servers = self._servers  # type: ignore[attr-defined]  # RedisCache's, missing from django-stubs
        self.breaker = _breaker_for(",".join(servers), retry_after=retry_after, warn_every=warn_every)

    def _guarded(self, call, fallback, *args, **kwargs):
        if not self.breaker.allows():
            return fallback
        try:
            result = call(*args, **kwargs)
        except UNAVAILABLE as exc:
            self.breaker.trip(exc)
            return fallback
        self.breaker.answered()
        return result

    def outage(self) -> str | None:
        """The error that made the cache unavailable, None while Redis answers (/healthz)."""
        return self.breaker.error

    def increment(self, key: str, *, timeout: int) -> int | None:
        """Add one to the counter `key`, made with `timeout` seconds to live, and return it: INCR and
        EXPIRE in one round trip. None while Redis is unavailable (the count is unknown)."""
        full_key = self.make_and_validate_key(key)

        def count() -> int:
            pipeline = self._cache.get_client(full_key, write=True).pipeline()
            pipeline.incr(full_key)
            pipeline.expire(full_key, timeout)
            value, _expiry = pipeline.execute()
            return int(value)

        return self._guarded(count, None)

    # Django's cache API, each call guarded. make_and_validate_key runs inside the parent's methods,
    # so a bad key still raises.
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(super().add, True, key, value, timeout, version=version)

    def get(self, key, default=None, version=None):
        return self._guarded(super().get, default, key, default, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(super().set, None, key, value, timeout, version=version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(super().touch, False, key, timeout, version=version)

    def delete(self, key, version=None):
        return self._guarded(super().delete, False, key, version=version)

    def get_many(self, keys, version=None):
        return self._guarded(super().get_many, {}, keys, version=version)

    def has_key(self, key, version=None):
        return self._guarded(super().has_key, False, key, version=version)

    def incr(self, key, delta=1, version=None):
        result = self._guarded(super().incr, _MISSING, key, delta, version=version)
        if result is _MISSING:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable).")
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Django's contract: the keys that could not be stored (all of them, during an outage).
        return self._guarded(super().set_many, list(data), data, timeout, version=version)

    def delete_many(self, keys, version=None):
        return self._guarded(super().delete_many, None, keys, version=version)

    def clear(self):
        return self._guarded(super().clear, False)
