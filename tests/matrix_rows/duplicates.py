"""Access-matrix rows of probable duplicates (duplicates/urls.py and the API's candidates).

The pair is province B's (two records of พะเยา): coordinator A gets 404 for it as for a missing pair; the queue
itself is for coordinators and EEF/IPSR admins (403 for everyone else signed in)."""

from tests.matrix import Case, signed_in

REVIEWERS = {"eef_admin": 200, "coordinator_a": 200, "coordinator_b": 200}


def candidate(ctx) -> int:
    """An open pair of province B, made once per matrix part."""
    objects = ctx["objects"]
    if "duplicates.duplicatecandidate" not in objects:
        from django.utils import timezone

        from duplicates.models import DuplicateCandidate
        from targets.models import TargetRecord

        record = objects["targets.targetrecord"]
        other = TargetRecord.objects.create(
            identifier="G564200000001",
            identifier_kind="g_code",
            first_name=record.first_name,
            last_name=record.last_name,
            province_id=record.province_id,
            category_id=record.category_id,
            status_id=record.status_id,
        )
        objects["duplicates.duplicatecandidate"] = DuplicateCandidate.objects.create(
            record_a=record,
            record_b=other,
            province_id=record.province_id,
            score=0.9,
            reasons=["name_same"],
            last_seen_at=timezone.now(),
        )
    return objects["duplicates.duplicatecandidate"].pk


ROWS = {
    "duplicates/": [Case("/duplicates/", signed_in(403, **REVIEWERS))],
    # The first to say "not the same person" decides (EEF admin, first in the cast); coordinator B's answer after
    # it is "already decided", a redirect too. Everyone else: 404, as for a pair that does not exist.
    "duplicates/<int:pk>/not-same/": [
        Case(
            lambda ctx: f"/duplicates/{candidate(ctx)}/not-same/",
            signed_in(404, eef_admin="redirect", coordinator_b="redirect"),
            "post",
        )
    ],
}

V1 = "/api/v1"
# The API: 401 without a session; 403 without a role; the list answers every role (an empty list for those who
# review nothing); the pair itself only to its reviewers, 404 to the rest.
ROWS.update(
    {
        "api/v1/duplicates/": [Case(f"{V1}/duplicates/", signed_in(200, anonymous=401, no_role=403))],
        "api/v1/duplicates/<int:pk>/": [
            Case(
                lambda ctx: f"{V1}/duplicates/{candidate(ctx)}/",
                signed_in(404, anonymous=401, no_role=403, eef_admin=200, coordinator_b=200),
            )
        ],
        # The first answer decides (EEF admin), coordinator B's after it is 409 (already decided).
        "api/v1/duplicates/<int:pk>/not-same/": [
            Case(
                lambda ctx: f"{V1}/duplicates/{_fresh_candidate(ctx)}/not-same/",
                signed_in(404, anonymous=401, no_role=403, eef_admin=200, coordinator_b=409),
                "post",
            )
        ],
    }
)


def _fresh_candidate(ctx) -> int:
    """Another open pair of province B for the API's answer (the page's row may have decided the first)."""
    from django.utils import timezone

    from duplicates.models import DuplicateCandidate
    from targets.models import TargetRecord

    record = ctx["objects"]["targets.targetrecord"]
    other = TargetRecord.objects.create(
        identifier="G564200000002",
        identifier_kind="g_code",
        first_name=record.first_name,
        last_name=record.last_name,
        province_id=record.province_id,
        category_id=record.category_id,
        status_id=record.status_id,
    )
    return DuplicateCandidate.objects.create(
        record_a=record,
        record_b=other,
        province_id=record.province_id,
        score=0.9,
        reasons=["name_same"],
        last_seen_at=timezone.now(),
    ).pk
