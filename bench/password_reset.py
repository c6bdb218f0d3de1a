"""Password reset: the request's time for an address with an account and for one without.

Prints the median of N requests each (alternating known and unknown), with the queries of one, for
allauth's own reset form (the lookup, token, rendering and sending in the request) and for the
portal's (accounts/password_reset.py: the request only enqueues the mail task). Mail goes to
Django's in-memory backend and tasks to Celery's in-memory broker, so the figures are the request's
own work; rate limits are off for the run. BENCH_RESET_RUNS sets N.
"""

import os
import statistics
import time

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

RUNS = int(os.environ.get("BENCH_RESET_RUNS", "200"))
KNOWN, UNKNOWN = "bench.reset@example.org", "no.account@example.org"


def _memory_broker():
    """Point the Celery app at its in-memory broker (no Redis filled with bench messages); undo with the result.

    The app's connection and producer pools are made for one broker: set aside, and put back after.
    """
    from abe_portal.celery import app

    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = "memory://localhost/"
    app._pool = app.amqp._producer_pool = None

    def restore() -> None:
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved

    return restore


def _medians(client: Client) -> dict[str, tuple[float, int]]:
    """email -> (median ms, queries of one request), the two addresses asked for in turn."""
    times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
    queries: dict[str, int] = {}
    for _ in range(RUNS):
        for email in (KNOWN, UNKNOWN):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.post("/accounts/password/reset/", {"email": email})
                times[email].append(time.perf_counter() - start)
            assert response.status_code == 302, response.status_code
            queries[email] = len(ctx.captured_queries)
    return {email: (statistics.median(t) * 1000, queries[email]) for email, t in times.items()}


def run() -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(KNOWN, "bench-password-2567")
    restore = _memory_broker()
    forms = {
        "allauth's form (before)": "allauth.account.forms.ResetPasswordForm",
        "the portal's form": "accounts.password_reset.PasswordResetForm",
    }
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            ACCOUNT_RATE_LIMITS=False,
            ALLOWED_HOSTS=["*"],
            CELERY_TASK_ALWAYS_EAGER=False,
        ):
            for label, form in forms.items():
                with override_settings(ACCOUNT_FORMS={"reset_password": form}):
                    client = Client()
                    for email in (KNOWN, UNKNOWN):  # warm up
                        client.post("/accounts/password/reset/", {"email": email})
                    measured = _medians(client)
                (known, known_queries), (unknown, unknown_queries) = measured[KNOWN], measured[UNKNOWN]
                print(
                    f"{label}: known address {known:.2f} ms ({known_queries} queries), "
                    f"unknown {unknown:.2f} ms ({unknown_queries} queries), difference {known - unknown:+.2f} ms"
                )
    finally:
        restore()
