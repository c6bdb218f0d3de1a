"""Access-matrix rows of the progress-report pages and admin.

The object is province B's DRAFT report (tests.matrix.province_b_work), written by coordinator B:
the EEF admin and coordinator B see it and may write it; KKU's member (KKU does not support B),
coordinator A, A's viewer and someone without a role get 404, as for a missing report. The list and
the export answer everyone signed in, each with what they may see (empty for no role, as on the
home page). Only writers (coordinators, EEF) may open "new".
"""

from tests.matrix import LOGIN, Case, admin, everyone, seen_version, signed_in


def _report(suffix: str = ""):
    return lambda ctx: f"/reports/{ctx['objects']['reports.progressreport'].pk}/{suffix}"


# Only the EEF admin and coordinator B may see province B's report.
B_ONLY = signed_in(404, eef_admin=200, coordinator_b=200)
WRITERS = signed_in(403, eef_admin=200, coordinator_a=200, coordinator_b=200)

ROWS = {
    "reports/": [
        Case("/reports/", signed_in(200)),
        Case("/reports/?province=56&status=draft&page=2", signed_in(200)),
    ],
    "reports/new/": [Case("/reports/new/", WRITERS)],
    "reports/export/": [Case("/reports/export/", signed_in(200))],
    "reports/<int:pk>/": [Case(_report(), B_ONLY)],
    "reports/<int:pk>/edit/": [Case(_report("edit/"), B_ONLY)],
    # The report's PDF goes through the same door as its page.
    "reports/<int:pk>/pdf/": [Case(_report("pdf/"), B_ONLY)],
    "reports/<int:pk>/transition/": [
        # Steps are POSTs only: a GET is refused before anything is looked up.
        Case(_report("transition/"), everyone(405)),
        # A step that changes nothing (a draft cannot be accepted): the EEF admin may accept, so sees
        # the page again with the reason; coordinator B may not accept (403); everyone else cannot
        # see the report (404).
        Case(
            _report("transition/"),
            {**signed_in(404, eef_admin=200, coordinator_b=403), "anonymous": LOGIN},
            method="post",
            data=seen_version("reports.progressreport", action="accept"),
        ),
    ],
    # django-import-export's export page of the report admin (export only, no import).
    "admin/reports/progressreport/export/": [Case("/admin/reports/progressreport/export/", admin(200, 200, 200))],
}

# Coordinators and EEF write (a draft only; delete only a draft that never entered the workflow, as the
# matrix's object is).
ADMIN_MODELS = {"reports.progressreport": "scoped_view_province_write"}
