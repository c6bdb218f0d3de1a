"""Access-matrix rows of one child's case (cases/urls_case.py): its forms, the record page's assign select,
and the bulk assignment list.

The objects are province B's (tests.matrix.province_b_work): a record, its case and a referral. The
forms answer B's coordinator and the EEF admin (case workers too, for their own records: tests/
test_cases_case_pages.py); everyone else who is signed in gets 404, as for a missing record. Posts here
fail their form (nothing is written), or are refused as stale (409: no version said). The bulk list is for
coordinators and EEF/IPSR (403 for the rest); each sees the records of the provinces they coordinate.
"""

from tests.matrix import REDIRECT, Case, everyone, signed_in

B_ONLY = signed_in(404, eef_admin=200, coordinator_b=200)
COORDINATORS = signed_in(403, eef_admin=200, coordinator_a=200, coordinator_b=200)


def _case(suffix: str):
    return lambda ctx: f"/cases/records/{ctx['objects']['targets.targetrecord'].pk}/{suffix}"


def _step(ctx) -> str:
    from cases.models import PlanStep

    step, _created = PlanStep.objects.get_or_create(case=ctx["objects"]["cases.case"], text="เยี่ยมบ้าน")
    return f"/cases/steps/{step.pk}/done/"


def _completed_referral(ctx) -> str:
    """A referral of the record's case that its agency completed: its outcome can become the status."""
    import datetime

    from cases.models import Referral, ReferralState
    from targets.models import Outcome

    referral, _created = Referral.objects.get_or_create(
        case=ctx["objects"]["cases.case"],
        agency=ctx["objects"]["cases.agency"],
        state=ReferralState.COMPLETED,
        defaults={
            "reason": "เรียนต่อ",
            "services": "สมัครเรียน",
            "deadline": datetime.date(2024, 5, 1),
            "outcome": Outcome.objects.get(code="flexible-learning"),
        },
    )
    return f"/cases/records/{referral.case_id}/referrals/{referral.pk}/status/"


ROWS = {
    "cases/assign/": [
        Case("/cases/assign/", COORDINATORS),
        Case("/cases/assign/?unassigned=1&province=56", COORDINATORS),
        # Nothing ticked: the list again with a message; nothing is assigned.
        Case("/cases/assign/", COORDINATORS, method="post", data={"worker": ""}),
    ],
    "cases/unassigned/": [
        Case("/cases/unassigned/", COORDINATORS),
        Case("/cases/unassigned/", COORDINATORS, method="post", data={}),
    ],
    "cases/records/<int:pk>/assign/": [
        Case(_case("assign/"), everyone(405)),
        # No worker chosen: back to the record with a message.
        Case(
            _case("assign/"),
            signed_in(404, eef_admin=REDIRECT, coordinator_b=REDIRECT),
            method="post",
            data={"worker": ""},
        ),
    ],
    "cases/records/<int:pk>/contact/": [
        Case(_case("contact/"), B_ONLY),
        Case(_case("contact/"), B_ONLY, method="post", data={}),
    ],
    "cases/records/<int:pk>/step/": [
        Case(_case("step/"), B_ONLY),
        Case(_case("step/"), B_ONLY, method="post", data={}),
    ],
    "cases/records/<int:pk>/goal/": [
        Case(_case("goal/"), B_ONLY),
        Case(_case("goal/"), B_ONLY, method="post", data={"goal": "999999"}),
    ],
    "cases/records/<int:pk>/refer/": [
        Case(_case("refer/"), B_ONLY),
        Case(_case("refer/"), B_ONLY, method="post", data={}),
    ],
    "cases/records/<int:pk>/close/": [
        Case(_case("close/"), B_ONLY),
        Case(_case("close/"), B_ONLY, method="post", data={}),
    ],
    "cases/records/<int:pk>/reopen/": [
        Case(_case("reopen/"), B_ONLY),
        Case(_case("reopen/"), B_ONLY, method="post", data={}),
    ],
    "cases/records/<int:pk>/referrals/<int:referral>/status/": [
        Case(_completed_referral, B_ONLY),
        # No version said: refused as stale (409), the status unchanged.
        Case(_completed_referral, signed_in(404, eef_admin=409, coordinator_b=409), method="post", data={}),
    ],
    "cases/steps/<int:pk>/done/": [
        Case(_step, everyone(405)),
        Case(_step, signed_in(404, eef_admin=REDIRECT, coordinator_b=REDIRECT), method="post", data={"done": "0"}),
    ],
}
