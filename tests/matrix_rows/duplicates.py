"""Access-matrix rows of probable duplicates (duplicates/urls.py and the API's candidates).

The pair is province B's (two records of พะเยา): coordinator A gets 404 for it as for a missing pair; the queue
itself is for coordinators and EEF/IPSR admins (403 for everyone else signed in). In admin, the pairs and the "not the
same person" decisions are read by the same reviewers within their provinces, written by nobody; their audit events
by EEF/IPSR admins only."""

from tests.matrix import Case, lazy_admin_rows, signed_in

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


def _fresh_candidate(ctx, identifier: str = "G564200000002") -> int:
    """Another open pair of province B for the API's answer (the page's row may have decided the first)."""
    from django.utils import timezone

    from duplicates.models import DuplicateCandidate
    from targets.models import TargetRecord

    record = ctx["objects"]["targets.targetrecord"]
    other = TargetRecord.objects.create(
        identifier=identifier,
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


def _not_same(ctx):
    """A "not the same person" decision about two records of province B, by B's coordinator (made once per part)."""
    objects = ctx["objects"]
    if "duplicates.notsameperson" not in objects:
        from duplicates.models import DuplicateCandidate, NotSamePerson
        from duplicates.services import mark_not_same

        pair = DuplicateCandidate.objects.get(pk=_fresh_candidate(ctx, identifier="G564200000003"))
        mark_not_same(candidate=pair, user=ctx["cast"].coordinator_b)
        objects["duplicates.notsameperson"] = NotSamePerson.objects.get(record_a=pair.record_a, record_b=pair.record_b)
    return objects["duplicates.notsameperson"]


def _first_event(model_label: str, make):
    """The first audit event of the object `make` returns (None on SQLite, which has no triggers)."""

    def obj(ctx):
        from django.apps import apps

        from audit.tracking import event_model

        found = make(ctx)
        return event_model(apps.get_model(model_label)).objects.filter(pgh_obj_id=found.pk).first()

    return obj


def _candidate_object(ctx):
    candidate(ctx)
    return ctx["objects"]["duplicates.duplicatecandidate"]


ROWS.update(
    {
        **lazy_admin_rows("duplicates.duplicatecandidate", "scoped_read_only", _candidate_object),
        **lazy_admin_rows("duplicates.notsameperson", "scoped_read_only", _not_same),
        **lazy_admin_rows(
            "audit.duplicatecandidateevent",
            "national_read_only",
            _first_event("duplicates.DuplicateCandidate", _candidate_object),
        ),
        **lazy_admin_rows(
            "audit.notsamepersonevent", "national_read_only", _first_event("duplicates.NotSamePerson", _not_same)
        ),
    }
)
