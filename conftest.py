"""The test suite's shared set-up, and the fixed cast of users every access test speaks of.

Tests run against whatever DATABASE_URL and REDIS_URL name (README.md, "Start here", says how the
parallel workers share them): `.ci/run` sets REQUIRE_REAL_SERVICES=1, which turns a missing service
into a failure instead of a quiet fallback to SQLite.

The cast (fixture `cast`, or each member by name):
  eef_admin          EEF/IPSR admin, staff, with TOTP
  university_member  member of KKU's team (KKU leads province A this fiscal year)
  coordinator_a      coordinator of province A (ขอนแก่น, 40), staff with TOTP: admin is scoped
  coordinator_b      coordinator of province B (พะเยา, 56), staff with TOTP
  viewer_a           read-only viewer of province A
  case_worker_a      case worker (ผู้ดูแลรายกรณี) of province A, not staff: reads only the records assigned
                     to them, no province as a whole
  agency_user_a      user of an agency of province A (กศน.อำเภอบ้านไผ่, non-formal education), not staff:
                     sees only the referrals sent to that agency, no province and no record
  no_role            signed in, no membership: sees nothing
  anonymous          not signed in
"""

import gc
import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from pytest_django.plugin import blocking_manager_key

PROVINCE_A = 40  # ขอนแก่น: lead university KKU in the demo assignments
PROVINCE_B = 56  # พะเยา: lead university UP
PASSWORD = "correct-horse-battery-9"

# REDIS_URL as the environment gave it; an xdist worker moves its settings to a database of its own.
BASE_REDIS_URL = settings.REDIS_URL

CAST = (
    "eef_admin",
    "university_member",
    "coordinator_a",
    "coordinator_b",
    "viewer_a",
    "case_worker_a",
    "agency_user_a",
    "no_role",
    "anonymous",
)


def pytest_configure(config: pytest.Config) -> None:
    # Hashing passwords the production way costs ~0.3 s a user; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Without a broker, upload jobs run in the test's thread and transaction (targets/upload/background.py).
    settings.TARGETS_UPLOAD_BACKGROUND_THREAD = False
    worker = getattr(config, "workerinput", {}).get("workerid")  # "gw0", "gw1", ... under pytest-xdist
    if worker and settings.REDIS_URL:
        index = int(worker.removeprefix("gw"))
        # The cache's Redis (REDIS_CACHE_URL, by default REDIS_URL's) moves by the same number.
        _use_redis_database(
            _worker_redis_url(settings.REDIS_URL, index), cache_url=_worker_redis_url(settings.REDIS_CACHE_URL, index)
        )
    if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
        engine = settings.DATABASES["default"]["ENGINE"]
        if engine != "django.db.backends.postgresql":
            raise pytest.UsageError(f"REQUIRE_REAL_SERVICES=1 but the database is {engine}, not PostgreSQL")
        if not settings.REDIS_URL:
            raise pytest.UsageError("REQUIRE_REAL_SERVICES=1 but REDIS_URL is not set")


def _worker_redis_url(url: str, index: int) -> str:
    """REDIS_URL with its database number moved up by `index` (redis://host:6379/1 -> /2 for gw1)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    if base + index > 15:  # Redis has databases 0-15 unless configured otherwise
        raise pytest.UsageError(f"REDIS_URL's database {base} plus xdist worker {index} is past Redis' 15")
    return urlunsplit(parts._replace(path=f"/{base + index}"))


def _use_redis_database(url: str, *, cache_url: str) -> None:
    """Point the cache, the Celery broker and the worker subprocesses that tests start at `url`.

    Django read REDIS_URL before any conftest ran (pytest-django sets it up first), so the settings
    derived from it are changed here, before the first test opens a cache or broker connection.
    """
    from abe_portal.celery import app as celery_app

    settings.REDIS_URL = url
    settings.REDIS_CACHE_URL = cache_url
    settings.CACHES["default"]["LOCATION"] = cache_url
    settings.CELERY_BROKER_URL = url
    celery_app.conf.broker_url = url
    os.environ["REDIS_URL"] = url  # celery and gunicorn subprocesses read their settings from it
    os.environ["REDIS_CACHE_URL"] = cache_url


def _load_reference_data() -> None:
    from cases.reference_data import load_agency_types
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data
    from universities.reference_data import load_universities

    load_admin_areas()
    load_universities()
    load_target_reference_data()
    load_agency_types()


def _reference_data_missing() -> bool:
    from provinces.models import SubDistrict
    from targets.models import Category
    from universities.models import University

    return not (SubDistrict.objects.exists() and University.objects.exists() and Category.objects.exists())


_test_database = {"ready": False}


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_keepdb, django_db_createdb):
    """The test database, with the reference data (areas, universities) loaded once.

    On PostgreSQL it is a copy of a template database that was migrated and loaded once for all
    workers and runs (tests/template_db.py); elsewhere (SQLite) pytest-django migrates it and the
    reference data is loaded into it. Every test runs in a transaction that is rolled back, so the data
    stays for the whole session, except where a transactional test flushed it (pytest_runtest_setup).
    """
    from django.db import connection

    request.getfixturevalue("django_db_modify_db_settings")  # the xdist worker's suffix: test_<name>_gw0
    if connection.vendor != "postgresql" or request.config.getvalue("nomigrations"):
        request.getfixturevalue("django_db_setup")  # pytest-django's own: a migrated test database
        with django_db_blocker.unblock():
            _load_reference_data()
        _test_database["ready"] = True
        yield
        return

    from tests import template_db

    workerinput = getattr(request.config, "workerinput", {})
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        old_name = template_db.create_test_database(
            run_id=workerinput.get("testrunuid") or uuid.uuid4().hex,
            keepdb=django_db_keepdb and not django_db_createdb,
            rebuild=django_db_createdb,
            verbosity=verbosity,
            load=_load_reference_data,
        )
        if _reference_data_missing():  # a database kept (--reuse-db) after a flush
            _load_reference_data()
    _test_database["ready"] = True
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            connection.creation.destroy_test_db(old_name, verbosity=verbosity)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each schemathesis test the node id of its operation, and put the longest tests first.

    Schemathesis names its items test_x[GET /api/v1/...] but leaves every one of them the node id of
    the bare function. xdist hands out work by node id, so all but one of them would silently not run.

    xdist hands the tests out in this order, one (or one xdist_group) at a time to whichever worker is
    free. pytest-django (its hook runs before this one) puts the transactional tests last: the Celery
    workers and the browser, 3 to 15 seconds each, so a run used to end with one worker on such a test
    while the other had nothing left. Longest first, the run ends on short tests that both workers
    share out. Otherwise pytest-django's order stays (a stable sort); every test starts with the
    reference data in place whatever ran before it (pytest_runtest_setup).
    """
    from _pytest.nodeid import coerce_node_id  # pytest 9 keeps a node's id as a NodeId in `_id`

    for item in items:
        if item.parent is not None and item.nodeid.rpartition("::")[2] != item.name:
            item._id = coerce_node_id(f"{item.parent.nodeid}::{item.name}")
    items.sort(key=_expected_cost, reverse=True)


# Tests that take seconds where most take milliseconds (on 2 cores), besides the transactional ones.
# A test taken out of its module sets up the module's fixtures once more: only whole sets go here.
_COSTLY_TESTS = {
    "tests/test_access_matrix.py::test_access_matrix[": 2,  # 3-6 s: some 350 requests a part
    "tests/test_api_schemathesis.py::test_no_server_error_and_no_read_across_provinces[": 1,  # 0.3-3 s
}


def _expected_cost(item: pytest.Item) -> int:
    """3 for a test with a Celery worker or the browser (transactional), 2 or 1 for the tests above, else 0."""
    fixtures = getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("django_db")
    if "transactional_db" in fixtures or "live_server" in fixtures or (marker and marker.kwargs.get("transaction")):
        return 3
    return next((cost for prefix, cost in _COSTLY_TESTS.items() if item.nodeid.startswith(prefix)), 0)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what the collection built (Django, every test module, the API schema) out of garbage collection.

    It stays for the whole run anyway, but every full collection walked all of it again: some 300,000
    objects, ~0.25 s a time, dozens of times a worker (tests/test_hostile_files.py asks for one after
    each test). Frozen, a full collection looks at what the tests made only. And collections come less
    often than Python's default (every 700 allocations for the youngest): a test request allocates
    hundreds of thousands of objects, and the collections then took some 8% of the run.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Put the reference data back before a test if an earlier one flushed it.

    A transactional test (live_server, Celery workers) ends by flushing every table. pytest-django
    runs those after the others, but under xdist a worker may get one early (with the rest of a group
    that must share a worker), and a test module's function-scoped fixture that reloads the data at
    teardown runs before pytest-django's flush, not after it. Checking here, before any of the test's
    fixtures and outside its transaction, covers every order, for three indexed queries a test.
    """
    if not _test_database["ready"]:
        return
    blocker = item.config.stash[blocking_manager_key]
    with blocker.unblock():
        if _reference_data_missing():
            _load_reference_data()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the portal's default language (Thai) and leaves none active behind it: a test (or a
    request) that activated English must not make the next test on the same worker speak English."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


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


def free_port() -> int:
    """A TCP port nobody listens on now: for servers a test starts (a fixed one would clash between
    xdist workers, or with another test run on the same machine)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    case_worker_a: object
    agency_user_a: object
    no_role: object
    anonymous: None = None

    def __getitem__(self, name: str):
        return getattr(self, name)


@pytest.fixture
def programme(db):
    """This fiscal year's demo assignments: 12 provinces, A led by KKU, B by UP."""
    from portal.demo.provinces import load_demo_assignments

    load_demo_assignments()


@pytest.fixture
def cast(db, programme) -> Cast:
    from accounts.models import Membership, Role
    from cases.models import Agency, AgencyType

    agency_user_a = make_user("nfe.a@example.org")
    agency_a = Agency.objects.create(
        province_id=PROVINCE_A, type=AgencyType.objects.get(code="non-formal-education"), name="กศน.อำเภอบ้านไผ่"
    )
    Membership.objects.create(user=agency_user_a, role=Role.AGENCY_USER, province_id=PROVINCE_A, agency=agency_a)
    return Cast(
        eef_admin=make_user("eef@example.org", role=Role.EEF_ADMIN, staff=True),
        university_member=make_user("kku@example.org", role=Role.UNIVERSITY_MEMBER, university="KKU"),
        coordinator_a=make_user("coord.a@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A, staff=True),
        coordinator_b=make_user("coord.b@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_B, staff=True),
        viewer_a=make_user("viewer.a@example.org", role=Role.PROVINCE_VIEWER, province=PROVINCE_A),
        case_worker_a=make_user("caseworker.a@example.org", role=Role.CASE_WORKER, province=PROVINCE_A),
        agency_user_a=agency_user_a,
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
