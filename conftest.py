"""The test suite's shared set-up.

Tests run against whatever DATABASE_URL and REDIS_URL name: `.ci/run` points them at the real
PostgreSQL and Redis and sets REQUIRE_REAL_SERVICES=1, which turns a missing service into a
failure instead of a quiet fallback to SQLite.
"""

import os

import pytest
from django.conf import settings


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
        engine = settings.DATABASES["default"]["ENGINE"]
        if engine != "django.db.backends.postgresql":
            raise pytest.UsageError(f"REQUIRE_REAL_SERVICES=1 but the database is {engine}, not PostgreSQL")
        if not settings.REDIS_URL:
            raise pytest.UsageError("REQUIRE_REAL_SERVICES=1 but REDIS_URL is not set")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the reference data (areas, universities) once into the test database.

    Every test runs in a transaction that is rolled back, so this stays for the whole session.
    """
    from provinces.reference_data import load_admin_areas
    from universities.reference_data import load_universities

    with django_db_blocker.unblock():
        load_admin_areas()
        load_universities()


@pytest.fixture
def redis_url() -> str:
    """The real Redis, or a skip where none is configured (never in CI, see pytest_configure)."""
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    return settings.REDIS_URL
