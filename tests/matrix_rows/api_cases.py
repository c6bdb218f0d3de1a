"""Access-matrix rows of the partner API's case follow-up (api/views/cases.py), with a session as a
browser would use it (agency and province keys have their own tests: tests/test_api_cases.py).

The objects are province B's record, its case, contact and referral (tests.matrix._case_work_b), and
a plan step made here: those who read B (the EEF admin, B's coordinator) reach them, everyone else
gets 404 as for a missing object. Empty writes are refused as invalid (400) once the object is found;
the one write that needs no field (a step marked done) succeeds for B's readers.
"""

from tests.matrix import Case, signed_in
from tests.matrix_rows.api import B_READERS, INVALID, NOT_ALLOWED, ROLES, V1

# An empty write to an object of province B: invalid for those who reach it, 404 for the others.
B_INVALID = signed_in(404, anonymous=401, no_role=403, eef_admin=400, coordinator_b=400)


def _record(suffix: str):
    return lambda ctx: f"{V1}/records/{ctx['objects']['cases.case'].pk}/{suffix}"


def _referral(suffix: str):
    return lambda ctx: f"{V1}/referrals/{ctx['objects']['cases.referral'].pk}/{suffix}"


def _step_done(ctx: dict) -> str:
    """A step of B's case, made once per run."""
    if "api.step" not in ctx:
        from cases.models import PlanStep

        ctx["api.step"] = PlanStep.objects.create(case=ctx["objects"]["cases.case"], text="เยี่ยมบ้าน")
    step = ctx["api.step"]
    return f"{V1}/records/{step.case_id}/steps/{step.pk}/done/"


ROWS = {
    "api/v1/records/<int:pk>/case/": [Case(_record("case/"), B_READERS)],
    "api/v1/records/<int:pk>/case/close/": [
        Case(_record("case/close/"), NOT_ALLOWED),
        Case(_record("case/close/"), B_INVALID, method="post"),
    ],
    "api/v1/records/<int:pk>/case/reopen/": [Case(_record("case/reopen/"), B_INVALID, method="post")],
    "api/v1/records/<int:pk>/contacts/": [
        Case(_record("contacts/"), B_READERS),
        Case(_record("contacts/"), B_INVALID, method="post"),
    ],
    "api/v1/records/<int:pk>/steps/": [
        Case(_record("steps/"), B_READERS),
        Case(_record("steps/"), B_INVALID, method="post"),
    ],
    "api/v1/records/<int:pk>/steps/<int:step>/done/": [Case(_step_done, B_READERS, method="post")],
    "api/v1/cases/assign/": [
        Case(f"{V1}/cases/assign/", NOT_ALLOWED),
        Case(f"{V1}/cases/assign/", INVALID, method="post"),
    ],
    "api/v1/cases/changes/": [Case(f"{V1}/cases/changes/?updated_since=2024-01-01T00:00:00", ROLES)],
    "api/v1/referrals/": [
        Case(f"{V1}/referrals/?state=sent", ROLES),
        Case(f"{V1}/referrals/", INVALID, method="post"),
    ],
    "api/v1/referrals/<int:pk>/": [Case(_referral(""), B_READERS)],
    "api/v1/referrals/<int:pk>/transitions/": [Case(_referral("transitions/"), B_INVALID, method="post")],
    "api/v1/referrals/<int:pk>/apply-outcome/": [Case(_referral("apply-outcome/"), B_INVALID, method="post")],
}
