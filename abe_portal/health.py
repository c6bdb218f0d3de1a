"""/healthz: is this process able to serve? JSON with a status per dependency (README.md,
"Architecture in a few lines").

503 only when the database cannot be reached. A cache or broker that is down makes it "degraded"
with 200, since pages still serve and taking every web process out of a load balancer would not
bring Redis back. Neither check can hang: the cache backend skips Redis after a failure, and the
broker is asked once, with a one-second timeout.
"""

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.backoff import NoBackoff
from redis.retry import Retry

OK = "ok"
# For operators (and their monitoring), like the rest of this page: not translated.
EFFECTS = {
    "cache": "rate limits (sign-in, API) are not enforced and nothing is cached until it is back",
    "broker": "background jobs (big uploads, summaries) cannot be queued until it is back",
}


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; its class says why
        return f"error: {type(exc).__name__}"
    return OK


def _check_cache() -> str:
    try:
        cache.set("healthz", "1", timeout=10)
        if cache.get("healthz") == "1":
            return OK
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    # The fail-open backend swallows the error; it keeps the name of the last one.
    outage = getattr(cache, "outage", None)
    return f"error: {(outage() if outage else None) or 'value not read back'}"


def _check_broker() -> str:
    if not settings.REDIS_URL:
        return "in-process (no broker configured)"
    try:
        # No retries (redis-py retries three times by default) and a short timeout: a load balancer
        # asks every few seconds, and an unreachable host would otherwise hold the request.
        with redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
        ) as client:
            client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return OK


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _check_database(), "cache": _check_cache(), "broker": _check_broker()}
    degraded = {name: EFFECTS[name] for name in EFFECTS if checks[name].startswith("error")}
    if checks["database"] != OK:
        status, code = "error", 503
    elif degraded:
        status, code = "degraded", 200
    else:
        status, code = OK, 200
    return JsonResponse({"status": status, "checks": checks, "degraded": degraded}, status=code)
