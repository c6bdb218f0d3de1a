"""The test suite's shared set-up, and the fixed cast of users every access test speaks of.

Tests run against whatever DATABASE_URL and REDIS_URL name: `.ci/run` points them at the real
PostgreSQL and Redis and sets REQUIRE_REAL_SERVICES=1, which turns a missing service into a
failure instead of a quiet fallback to SQLite.

The cast (fixture `cast`, or each member by name):
  eef_admin          EEF/IPSR admin, staff, with TOTP
  university_member  member of KKU's team (KKU leads province A this fiscal year)
  coordinator_a      coordinator of province A (ขอนแก่น, 40), staff with TOTP: admin is scoped
  coordinator_b      coordinator of province B (พะเยา, 56), staff with TOTP
  viewer_a           read-only viewer of province A
  no_role            signed in, no membership: sees nothing
  anonymous          not signed in
"""

import os
from dataclasses import dataclass

import pytest
from django.conf import settings

PROVINCE_A = 40  # ขอนแก่น: lead university KKU in the demo assignments
PROVINCE_B = 56  # พะเยา: lead university UP
PASSWORD = "correct-horse-battery-9"

CAST = ("eef_admin", "university_member", "coordinator_a", "coordinator_b", "viewer_a", "no_role", "anonymous")


def pytest_configure(config: pytest.Config) -> None:
    # Hashing passwords the production way costs ~0.3 s a user; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
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
    from targets.reference_data import load_target_reference_data
    from universities.reference_data import load_universities

    with django_db_blocker.unblock():
        load_admin_areas()
        load_universities()
        load_target_reference_data()


@pytest.fixture(autouse=True)
def _production_rules(settings, tmp_path):
    """Tests see the rules of production: two-factor required for admins, a fresh cache (rate limits).
    Uploaded files go to a temporary folder, never into the project's media/."""
    from django.core.cache import cache

    settings.ABE_REQUIRE_MFA = True
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_url() -> str:
    """The real Redis, or a skip where none is configured (never in CI, see pytest_configure)."""
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    return settings.REDIS_URL


def make_user(
    email: str,
    *,
    role: str | None = None,
    province: int | None = None,
    university: str | None = None,
    staff: bool = False,
    totp: bool | None = None,
):
    """A user with an optional role; staff get a TOTP authenticator, as production requires."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import get_user_model

    from accounts.models import Membership
    from universities.models import University

    user = get_user_model().objects.create_user(email, PASSWORD, is_staff=staff)
    if role:
        Membership.objects.create(
            user=user,
            role=role,
            province_id=province,
            university=University.objects.get(code=university) if university else None,
        )
    if totp if totp is not None else staff:
        TOTP.activate(user, generate_totp_secret())
    return user


@dataclass
class Cast:
    eef_admin: object
    university_member: object
    coordinator_a: object
    coordinator_b: object
    viewer_a: object
    no_role: object
    anonymous: None = None

    def __getitem__(self, name: str):
        return getattr(self, name)


@pytest.fixture
def programme(db):
    """This fiscal year's demo assignments: 12 provinces, A led by KKU, B by UP."""
    from provinces.demo_data import load_demo_assignments

    load_demo_assignments()


@pytest.fixture
def cast(db, programme) -> Cast:
    from accounts.models import Role

    return Cast(
        eef_admin=make_user("eef@example.org", role=Role.EEF_ADMIN, staff=True),
        university_member=make_user("kku@example.org", role=Role.UNIVERSITY_MEMBER, university="KKU"),
        coordinator_a=make_user("coord.a@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A, staff=True),
        coordinator_b=make_user("coord.b@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_B, staff=True),
        viewer_a=make_user("viewer.a@example.org", role=Role.PROVINCE_VIEWER, province=PROVINCE_A),
        no_role=make_user("nobody@example.org"),
    )


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client signed in as that user (anonymous for None)."""
    from django.test import Client

    def make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make
