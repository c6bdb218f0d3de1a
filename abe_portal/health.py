"""/healthz: is this process able to serve? JSON with a status per dependency.

503 when the database cannot be reached (nothing works without it). The cache and the broker
are reported too; when one of them is down the status is "degraded" with 200, since pages still
serve and taking every web process out of a load balancer would not bring Redis back.
"""

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

OK = "ok"


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
        if cache.get("healthz") != "1":
            return "error: value not read back"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return OK


def _check_broker() -> str:
    if not settings.REDIS_URL:
        return "in-process (no broker configured)"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return OK


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _check_database(), "cache": _check_cache(), "broker": _check_broker()}
    if checks["database"] != OK:
        status, code = "error", 503
    elif any(v.startswith("error") for v in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = OK, 200
    return JsonResponse({"status": status, "checks": checks}, status=code)
