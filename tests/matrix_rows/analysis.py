"""Access-matrix rows of the analysis sets (analysis/). The list and its form are for university teams and EEF
admins (403 for every other role); a set is seen and downloaded by the one who asked for it only (404 to everyone
else, EEF included). The set is the KKU member's, of province A, asked for once per matrix run."""

from tests.matrix import Case, signed_in

ASKERS = signed_in(403, eef_admin=200, university_member=200)
ASKER_ONLY = signed_in(404, university_member=200)


def _set(ctx: dict):
    if "analysis.set" not in ctx:
        from django.test import TestCase

        from analysis import services

        with TestCase.captureOnCommitCallbacks(execute=False):
            ctx["analysis.set"] = services.request_set(
                user=ctx["cast"].university_member, provinces=[40], purpose="matrix"
            )
    return ctx["analysis.set"]


ROWS = {
    "analysis/": [Case("/analysis/", ASKERS)],
    "analysis/<int:pk>/": [Case(lambda ctx: f"/analysis/{_set(ctx).pk}/", ASKER_ONLY)],
    # Not built yet: 404 for the asker too.
    "analysis/<int:pk>/download/": [Case(lambda ctx: f"/analysis/{_set(ctx).pk}/download/", signed_in(404))],
}
