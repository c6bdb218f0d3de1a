"""Access-matrix rows of the universities' pages, support activities and capacity requests.

The objects are UP's work in province B (tests.matrix.province_b_work): KKU's member and
coordinator A get 404 for them, coordinator B and the EEF admin see them. Universities are
read by anyone with a role. Someone without a role gets the lists empty (200), as on the home page.
"""

from tests.matrix import REDIRECT, Case, admin, seen_version, signed_in


def _activity(suffix: str = ""):
    return lambda ctx: f"/universities/activities/{ctx['objects']['universities.supportactivity'].pk}/{suffix}"


def _request(suffix: str = ""):
    return lambda ctx: f"/universities/requests/{ctx['objects']['universities.capacityrequest'].pk}/{suffix}"


# Only the EEF admin and coordinator B may see province B's objects.
B_ONLY = signed_in(404, eef_admin=200, coordinator_b=200)

ROWS = {
    "universities/": [Case("/universities/", signed_in(200))],
    "universities/<str:code>/": [
        Case("/universities/UP/", signed_in(200, no_role=404)),
        Case("/universities/NOPE/", signed_in(404)),
    ],
    "universities/activities/": [Case("/universities/activities/", signed_in(200))],
    "universities/activities/new/": [
        Case("/universities/activities/new/", signed_in(403, eef_admin=200, university_member=200))
    ],
    "universities/activities/export/": [
        Case("/universities/activities/export/", signed_in(200)),
        Case("/universities/activities/export/?format=csv", signed_in(200)),
    ],
    "universities/activities/<int:pk>/": [Case(_activity(), B_ONLY)],
    # The matrix's activity has no file: 404 for all. Downloads by those who may see an activity
    # with a file are in tests/test_universities.py (the file needs a MEDIA_ROOT of the test's own).
    "universities/activities/<int:pk>/attachment/": [Case(_activity("attachment/"), signed_in(404))],
    "universities/requests/": [Case("/universities/requests/", signed_in(200))],
    "universities/requests/new/": [
        Case("/universities/requests/new/", signed_in(403, eef_admin=200, coordinator_a=200, coordinator_b=200))
    ],
    "universities/requests/<int:pk>/": [Case(_request(), B_ONLY)],
    "universities/requests/<int:pk>/action/": [
        Case(_request("action/"), signed_in(405)),
        # UP's team (or EEF) accepts; coordinator B sees the request but may not move it.
        Case(
            _request("action/"),
            signed_in(404, eef_admin=REDIRECT, coordinator_b=403),
            "post",
            seen_version("universities.capacityrequest", action="accept"),
        ),
    ],
    # --- spreadsheets in Django admin (django-import-export) ---
    "admin/universities/supportactivity/import/": [
        Case("/admin/universities/supportactivity/import/", admin(200, 403, 403))
    ],
    "admin/universities/supportactivity/process_import/": [
        Case("/admin/universities/supportactivity/process_import/", admin(405, 405, 405))
    ],
    "admin/universities/supportactivity/export/": [
        Case("/admin/universities/supportactivity/export/", admin(200, 200, 200))
    ],
    # Requests are never imported (their workflow goes through the services); export only.
    "admin/universities/capacityrequest/import/": [
        Case("/admin/universities/capacityrequest/import/", admin(403, 403, 403))
    ],
    "admin/universities/capacityrequest/process_import/": [
        Case("/admin/universities/capacityrequest/process_import/", admin(405, 405, 405))
    ],
    "admin/universities/capacityrequest/export/": [
        Case("/admin/universities/capacityrequest/export/", admin(200, 200, 200))
    ],
}

ADMIN_MODELS = {
    "universities.supportactivity": "scoped_view_national_write",
    "universities.capacityrequest": "scoped_view_added_by_service",
}
