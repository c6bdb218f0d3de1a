"""Access-matrix rows of case follow-up's pages outside one child's case (cases/urls_work.py).

The objects are province B's (tests.matrix.province_b_work): an agency of พะเยา, a record's case and a
referral to that agency. The case worker and the agency user of the cast are province A's: they have
their own My work and the agency user its referral list; province B's referral and child are 404 to them
as to everyone who does not read that case (the EEF admin, coordinator B read it).
"""

from tests.matrix import REDIRECT, Case, case_members, signed_in

COORDINATORS = {"eef_admin": 200, "coordinator_a": 200, "coordinator_b": 200}


def _referral(ctx) -> str:
    return f"/cases/referrals/{ctx['objects']['cases.referral'].pk}/"


ROWS = {
    # My work: case workers, agency users, coordinators and EEF/IPSR admins.
    "cases/": [Case("/cases/", signed_in(403, **COORDINATORS, **case_members(200)))],
    # Each person's own notifications, and their own settings.
    "cases/notifications/": [
        Case("/cases/notifications/", signed_in(200)),
        Case("/cases/notifications/", signed_in(REDIRECT), "post", {"action": "read_all"}),
        Case("/cases/notifications/", signed_in(REDIRECT), "post", {"action": "digest"}),
    ],
    # Coordinator B's notification (about nothing to open: back to the list, read): 404 to everyone else.
    "cases/notifications/<int:pk>/open/": [
        Case(
            lambda ctx: f"/cases/notifications/{ctx['objects']['cases.notification'].pk}/open/",
            signed_in(404, coordinator_b=REDIRECT),
        )
    ],
    # The agency's side: agency users only.
    "cases/referrals/": [Case("/cases/referrals/?state=sent", signed_in(403, agency_user_a=200))],
    "cases/referrals/<int:pk>/": [
        Case(_referral, signed_in(404, eef_admin=200, coordinator_b=200)),
        # An answer without a state: the form again for those who may answer, 404 for the rest.
        Case(_referral, signed_in(404, eef_admin=200, coordinator_b=200), "post", {"seen_version": 1}),
    ],
    "cases/children/<int:record_pk>/": [
        Case(lambda ctx: f"/cases/children/{ctx['objects']['targets.targetrecord'].pk}/", signed_in(404))
    ],
    # The directory: everyone signed in reads their provinces' agencies (none: an empty list).
    "cases/agencies/": [Case("/cases/agencies/", signed_in(200))],
    "cases/agencies/new/": [Case("/cases/agencies/new/", signed_in(403, **COORDINATORS))],
    "cases/agencies/<int:pk>/edit/": [
        Case(
            lambda ctx: f"/cases/agencies/{ctx['objects']['cases.agency'].pk}/edit/",
            signed_in(404, eef_admin=200, coordinator_b=200),
        )
    ],
}
