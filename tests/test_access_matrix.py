"""The access matrix: every URL pattern of the project, for every member of the cast.

Each URL pattern has a row here: one or more requests, and what each member of the cast must
get (a status code, LOGIN for a redirect to a sign-in page, REDIRECT for any other redirect).
`test_every_url_pattern_has_a_row` fails when a pattern is added without a row, so every new
page, admin model, export and API endpoint states who may reach it.

Django admin's URLs are generated per registered model: `ADMIN_MODELS` gives each model an
access kind, and the rows for its changelist, add, change, history and delete pages follow
from it. The objects used belong to province B (or to coordinator B), so coordinator A must
never get a 200 for them where the data is scoped; besides them, two records of province A, one
assigned to A's case worker (tests.matrix.case_work_a), show that a case worker reads theirs only.
"""

from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib.admin.sites import site as admin_site
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import CAST, PROVINCE_B
from tests.matrix import (
    ADMIN_KINDS,
    LOGIN,
    REDIRECT,
    STAFF,
    Case,
    admin,
    case_work_a,
    everyone,
    province_b_work,
    signed_in,
)

pytestmark = pytest.mark.django_db

ADMIN_MODELS = {
    "accounts.user": "national",
    "accounts.membership": "national",
    "mfa.authenticator": "national_view_delete",
    "provinces.region": "reference_all",
    "provinces.province": "reference_scoped",
    "provinces.district": "reference_scoped",
    "provinces.subdistrict": "reference_scoped",
    "universities.university": "role_view_national_write",
    "universities.supportassignment": "scoped_view_national_write",
    "audit.accesslog": "national_read_only",
    "audit.identifierprobeday": "national_read_only",
    "audit.universityevent": "national_read_only",
    "audit.supportassignmentevent": "national_read_only",
    "audit.userevent": "national_read_only",
    "audit.membershipevent": "national_read_only",
    "pghistory.middlewareevents": "national_read_only",
    "audit.workinggroupmemberevent": "national_read_only",
    "audit.provincialplanevent": "national_read_only",
    "audit.plangoalevent": "national_read_only",
    "audit.progressreportevent": "national_read_only",
    "audit.supportactivityevent": "national_read_only",
    "audit.capacityrequestevent": "national_read_only",
    "audit.meetingevent": "national_read_only",
    "audit.attendanceevent": "national_read_only",
    "audit.agendaitemevent": "national_read_only",
    "audit.presentationevent": "national_read_only",
    "audit.lessonlearnedevent": "national_read_only",
    "audit.actionitemevent": "national_read_only",
    "audit.meetingattachmentevent": "national_read_only",
    "audit.targetrecordevent": "national_read_only",
    "audit.assistanceevent": "national_read_only",
    "audit.contactevent": "national_read_only",
    "audit.referralevent": "national_read_only",
    "audit.casesettingsevent": "national_read_only",
    "cases.agencytype": "role_view_national_write",
    "cases.agency": "scoped_view_province_write_national_delete",
    "cases.notification": "own_read_only",
}


def _objects(cast) -> dict:
    """The object of each admin model that the object URLs use: province B's, or B's own."""
    from allauth.mfa.models import Authenticator
    from django.utils import timezone
    from pghistory.models import MiddlewareEvents

    from audit.models import (
        AccessLog,
        IdentifierProbeDay,
        MembershipEvent,
        UserEvent,
    )
    from audit.tracking import event_model
    from provinces.models import District, Province, Region, SubDistrict
    from universities.models import SupportAssignment, University

    UniversityEvent = event_model(University)
    SupportAssignmentEvent = event_model(SupportAssignment)

    objects = {
        "accounts.user": cast.coordinator_b,
        "accounts.membership": cast.coordinator_b.memberships.get(),
        "mfa.authenticator": Authenticator.objects.get(user=cast.coordinator_b),
        "provinces.region": Region.objects.get(code=1),
        "provinces.province": Province.objects.get(code=PROVINCE_B),
        "provinces.district": District.objects.filter(province_id=PROVINCE_B).first(),
        "provinces.subdistrict": SubDistrict.objects.filter(district__province_id=PROVINCE_B).first(),
        "universities.university": University.objects.get(code="UP"),
        "universities.supportassignment": SupportAssignment.objects.current().leads().get(province_id=PROVINCE_B),
        "audit.accesslog": AccessLog.objects.create(actor=cast.coordinator_b.email, action="view", path="/"),
        "audit.identifierprobeday": IdentifierProbeDay.objects.create(
            asker=f"user:{cast.coordinator_b.pk}",
            actor=cast.coordinator_b.email,
            user=cast.coordinator_b,
            day=timezone.localdate(),
            asked=1,
            answered=1,
            first_at=timezone.now(),
            last_at=timezone.now(),
        ),
        # Events exist only where PostgreSQL's triggers wrote them; on SQLite these rows are skipped.
        "audit.universityevent": UniversityEvent.objects.first(),
        "audit.supportassignmentevent": SupportAssignmentEvent.objects.filter(province_id=PROVINCE_B).first(),
        "audit.userevent": UserEvent.objects.filter(pgh_obj=cast.coordinator_b).first(),
        "audit.membershipevent": MembershipEvent.objects.filter(user=cast.coordinator_b).first(),
        "pghistory.middlewareevents": MiddlewareEvents.objects.first() if connection.vendor == "postgresql" else None,
        **province_b_work(cast),
        **case_work_a(cast),
    }
    from cases.models import AgencyType, Notification

    objects["cases.agencytype"] = AgencyType.objects.get(code="non-formal-education")
    objects["cases.notification"] = Notification.objects.create(user=cast.coordinator_b, kind="assigned")
    # Every audit event model: its first event (written by the triggers above; none on SQLite).
    for label in ADMIN_MODELS:
        if label.startswith("audit.") and label.endswith("event") and label not in objects:
            objects[label] = apps.get_model(label).objects.first()
    return objects


def _admin_rows(models: dict[str, str]) -> dict[str, list[Case]]:
    rows: dict[str, list[Case]] = {}
    for label, kind in models.items():
        app, model = label.split(".")
        base = f"admin/{app}/{model}/"
        expected = ADMIN_KINDS[kind]

        def obj_url(suffix: str, label=label, base=base) -> Callable[[dict], str | None]:
            def url(ctx: dict) -> str | None:
                obj = ctx["objects"][label]
                return None if obj is None else f"/{base}{obj.pk}/{suffix}"

            return url

        rows[base] = [Case(f"/{base}", admin(*expected["changelist"]))]
        rows[f"{base}add/"] = [Case(f"/{base}add/", admin(*expected["add"]))]
        rows[f"{base}<path:object_id>/change/"] = [Case(obj_url("change/"), admin(*expected["change"]))]
        rows[f"{base}<path:object_id>/history/"] = [Case(obj_url("history/"), admin(*expected["history"]))]
        rows[f"{base}<path:object_id>/delete/"] = [Case(obj_url("delete/"), admin(*expected["delete"]))]
        # Django admin's shortcut from /<id>/ to /<id>/change/: a redirect, checked on arrival.
        rows[f"{base}<path:object_id>/"] = [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))]
    return rows


ROWS: dict[str, list[Case]] = {
    # --- the portal's pages ---
    "": [Case("/", signed_in(200))],
    "healthz": [Case("/healthz", everyone(200))],
    "favicon.ico": [Case("/favicon.ico", everyone(REDIRECT))],
    "i18n/setlang/": [Case("/i18n/setlang/", everyone(REDIRECT), "post", {"language": "en", "next": "/"})],
    # --- sign-in and account pages (allauth) ---
    "accounts/login/": [Case("/accounts/login/", signed_in(REDIRECT, anonymous=200))],
    "accounts/logout/": [Case("/accounts/logout/", signed_in(200))],
    "accounts/inactive/": [Case("/accounts/inactive/", everyone(200))],
    "accounts/signup/": [Case("/accounts/signup/", signed_in(REDIRECT, anonymous=200))],
    "accounts/reauthenticate/": [Case("/accounts/reauthenticate/", signed_in(200))],
    "accounts/email/": [Case("/accounts/email/", signed_in(200))],
    "accounts/confirm-email/": [Case("/accounts/confirm-email/", everyone(200))],
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": [Case("/accounts/confirm-email/bogus-key/", everyone(200))],
    "accounts/password/change/": [Case("/accounts/password/change/", signed_in(200))],
    "accounts/password/set/": [Case("/accounts/password/set/", signed_in(REDIRECT))],
    "accounts/password/reset/": [Case("/accounts/password/reset/", everyone(200))],
    "accounts/password/reset/done/": [Case("/accounts/password/reset/done/", everyone(200))],
    "accounts/password/reset/key/done/": [Case("/accounts/password/reset/key/done/", everyone(200))],
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": [
        Case("/accounts/password/reset/key/1-bogus/", everyone(200))
    ],
    # No sign-in in progress: nothing to confirm.
    "accounts/login/code/confirm/": [Case("/accounts/login/code/confirm/", signed_in(REDIRECT))],
    "accounts/2fa/": [Case("/accounts/2fa/", signed_in(200))],
    "accounts/2fa/authenticate/": [Case("/accounts/2fa/authenticate/", signed_in(REDIRECT))],
    # Two-factor pages: those with TOTP (the staff of the cast) may reauthenticate with it; changing
    # TOTP first asks to reauthenticate; no recovery codes were generated for anyone.
    "accounts/2fa/reauthenticate/": [
        Case("/accounts/2fa/reauthenticate/", signed_in(REDIRECT, **dict.fromkeys(STAFF, 200)))
    ],
    "accounts/2fa/totp/activate/": [Case("/accounts/2fa/totp/activate/", signed_in(REDIRECT))],
    "accounts/2fa/totp/deactivate/": [
        Case("/accounts/2fa/totp/deactivate/", signed_in(404, **dict.fromkeys(STAFF, REDIRECT)))
    ],
    "accounts/2fa/recovery-codes/": [Case("/accounts/2fa/recovery-codes/", signed_in(404))],
    "accounts/2fa/recovery-codes/generate/": [Case("/accounts/2fa/recovery-codes/generate/", signed_in(REDIRECT))],
    "accounts/2fa/recovery-codes/download/": [Case("/accounts/2fa/recovery-codes/download/", signed_in(404))],
    # --- Django admin's own pages ---
    "admin/": [Case("/admin/", admin(200, 200, 200))],
    "admin/login/": [Case("/admin/login/", signed_in(403, anonymous=LOGIN, **dict.fromkeys(STAFF, REDIRECT)))],
    # Signing out is a POST; a GET from someone without admin access goes back to /admin/.
    "admin/logout/": [Case("/admin/logout/", {**everyone(REDIRECT), **dict.fromkeys(STAFF, 405)})],
    "admin/password_change/": [Case("/admin/password_change/", admin(200, 200, 200))],
    "admin/password_change/done/": [Case("/admin/password_change/done/", admin(200, 200, 200))],
    "admin/jsi18n/": [Case("/admin/jsi18n/", admin(200, 200, 200))],
    "admin/autocomplete/": [
        Case(
            "/admin/autocomplete/?app_label=universities&model_name=supportassignment&field_name=province",
            admin(200, 200, 200),
        )
    ],
    "admin/r/<path:content_type_id>/<path:object_id>/": [
        Case(
            lambda ctx: (
                f"/admin/r/{ContentType.objects.get_for_model(ctx['objects']['provinces.province']).pk}/{PROVINCE_B}/"
            ),
            admin(404, 404, 404),
        )
    ],
    "admin/(?P<url>.*)$": [Case("/admin/no-such-page/", admin(404, 404, 404))],
    # --- spreadsheet import and export of support assignments (django-import-export) ---
    "admin/universities/supportassignment/import/": [
        Case("/admin/universities/supportassignment/import/", admin(200, 403, 403))
    ],
    "admin/universities/supportassignment/process_import/": [
        Case("/admin/universities/supportassignment/process_import/", admin(405, 405, 405))
    ],
    "admin/universities/supportassignment/export/": [
        Case("/admin/universities/supportassignment/export/", admin(200, 200, 200))
    ],
    "admin/accounts/user/<id>/password/": [
        Case(lambda ctx: f"/admin/accounts/user/{ctx['cast'].coordinator_b.pk}/password/", admin(200, 403, 403))
    ],
    **_admin_rows(ADMIN_MODELS),
}


def _feature_rows() -> dict[str, list[Case]]:
    """Rows that each feature keeps beside its tests: tests/matrix_rows/<feature>.py defines ROWS."""
    import importlib
    import pkgutil

    from tests import matrix_rows

    rows: dict[str, list[Case]] = {}
    for module in pkgutil.iter_modules(matrix_rows.__path__):
        feature = importlib.import_module(f"tests.matrix_rows.{module.name}")
        overlap = set(rows) & set(feature.ROWS) | set(ROWS) & set(feature.ROWS)
        assert not overlap, f"{module.name} repeats rows: {overlap}"
        rows.update(feature.ROWS)
        # Admin models of the feature: their generated rows join too.
        extra_admin = getattr(feature, "ADMIN_MODELS", {})
        assert not set(extra_admin) & set(ADMIN_MODELS), f"{module.name} repeats admin models"
        ADMIN_MODELS.update(extra_admin)
        rows.update(_admin_rows(extra_admin))
    return rows


ROWS.update(_feature_rows())


def _app_list_row(route: str) -> list[Case]:
    """admin/<app>/: the app's index, shown when the user may see one of its models."""
    national_apps = {"accounts", "api", "audit", "fieldwork", "mfa", "pghistory", "quality", "transfers"}
    cases = []
    for app in sorted({m._meta.app_label for m in admin_site._registry}):
        staff = (200, 404, 404) if app in national_apps else (200, 200, 200)
        cases.append(Case(f"/admin/{app}/", admin(*staff)))
    return cases


def _patterns(resolver=None, prefix: str = ""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _rows_for(route: str) -> list[Case] | None:
    if route.startswith("admin/^(?P<app_label>"):
        return _app_list_row(route)
    return ROWS.get(route)


def test_every_url_pattern_has_a_row():
    missing = [route for route in _patterns() if _rows_for(route) is None]
    assert missing == [], "add these URL patterns to the access matrix (tests/test_access_matrix.py)"
    stale = sorted(set(ROWS) - set(_patterns()))
    assert stale == [], "these rows name URL patterns that no longer exist"


def _outcome(response) -> int | str:
    if response.status_code == 302:
        location = response["Location"]
        return LOGIN if "/login/" in location else REDIRECT
    return response.status_code


# The matrix is some 2,000 requests. It runs in parts, so that pytest-xdist's workers share it: part k has
# every PARTS-th URL pattern from the k-th on (the costly admin pages are spread over all parts), in the
# order Django resolves them, on a fresh cast and fresh objects. Together the parts are every pattern
# (test_the_parts_cover_every_url_pattern_once).
PARTS = 6


def _part(routes: list[str], part: int) -> list[str]:
    return routes[part::PARTS]


def test_the_parts_cover_every_url_pattern_once():
    routes = list(_patterns())
    assert sorted(route for part in range(PARTS) for route in _part(routes, part)) == sorted(routes)
    assert all(_part(routes, part) for part in range(PARTS)), "every part has patterns to check"


@pytest.mark.parametrize("part", range(PARTS))
def test_access_matrix(part, cast, client_for):
    from django.core.cache import cache

    context = {"cast": cast, "objects": _objects(cast)}
    clients = {name: client_for(cast[name]) for name in CAST}
    failures = []
    for route in _part(list(_patterns()), part):
        for case in _rows_for(route) or []:  # a route without a row fails the test above
            url = case.url(context) if callable(case.url) else case.url
            if url is None:  # an object that this database cannot have (audit events on SQLite)
                assert connection.vendor != "postgresql", f"no object for {route}"
                continue
            for member in CAST:
                # Data may be read at the moment of the request, e.g. the version a form would carry now.
                data = case.data(context) if callable(case.data) else case.data
                response = getattr(clients[member], case.method)(url, data)
                got = _outcome(response)
                if got != case.expected[member]:
                    failures.append(
                        f"{member:18} {case.method.upper()} {url}: expected {case.expected[member]}, got {got}"
                    )
            cache.clear()  # allauth's rate limits must not leak from one row into the next
    assert failures == [], "\n" + "\n".join(failures)
