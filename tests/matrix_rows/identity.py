"""Access-matrix rows of identity merges (identity/urls.py) and their API (api/views/merges.py, the alias lookup).

The objects are province B's: proposals to merge two records of พะเยา made here (a fresh one for each request
that changes a proposal, so the order of the cast does not matter). Those who coordinate B (and the EEF admin)
see them; everyone else gets 404, as for a missing one. Within one province only EEF/IPSR confirms (B's
coordinator gets 403), both reject, only EEF/IPSR undoes. The lists are for coordinators and EEF/IPSR. In admin,
the proposals are read by the same people, written by nobody; their audit events by EEF/IPSR admins only.
"""

from tests.matrix import REDIRECT, Case, lazy_admin_rows, signed_in
from tests.matrix_rows.api import INVALID, ROLES, V1

B_COORDINATION = signed_in(404, eef_admin=200, coordinator_b=200)


def _proposal(ctx: dict, *, merged: bool = False):
    """A new proposal of two new records of province B, made by B's coordinator (merged by EEF if asked)."""
    from conftest import PROVINCE_B
    from identity import services
    from provinces.models import Province
    from targets import record_services
    from targets.models import Category
    from tests.builders import national_id

    ctx["identity.n"] = n = ctx.get("identity.n", 0) + 1
    cast = ctx["cast"]
    values = {"first_name": "ทดสอบ", "last_name": "รวม", "category_id": Category.objects.get(code="out-of-school").pk}
    province = Province.objects.get(code=PROVINCE_B)

    def make(identifier: str, kind: str):
        return record_services.create_record(
            user=cast.eef_admin, province=province, identifier=identifier, identifier_kind=kind, values=values
        )

    g = make(f"G56990{n:07d}", "g_code")
    nid = make(national_id(5_699_000 + n), "national_id")
    proposal = services.propose(user=cast.coordinator_b, record=g, other_identifier=nid.identifier, reason="ซ้ำ")
    if merged:
        proposal = services.confirm(user=cast.eef_admin, proposal=proposal)
    return proposal


def _shared(ctx: dict):
    if "identity.proposal" not in ctx:
        ctx["identity.proposal"] = _proposal(ctx)
    return ctx["identity.proposal"]


def _page(suffix: str, *, fresh: bool = False, merged: bool = False):
    def url(ctx: dict) -> str:
        proposal = _proposal(ctx, merged=merged) if fresh else _shared(ctx)
        return f"/identity/merges/{proposal.pk}/{suffix}"

    return url


def _api(suffix: str, *, fresh: bool = False):
    def url(ctx: dict) -> str:
        proposal = _proposal(ctx) if fresh else _shared(ctx)
        return f"{V1}/merges/{proposal.pk}/{suffix}"

    return url


def _reopened(ctx: dict) -> dict:
    """The reject's note, the last proposal made open again first: each member of the cast finds it open."""
    from identity.models import MergeProposal

    MergeProposal.objects.filter(pk=MergeProposal.objects.order_by("-pk").values("pk")[:1]).update(state="proposed")
    return {"note": "คนละคน"}


def _propose(ctx: dict) -> str:
    return f"/identity/records/{ctx['objects']['targets.targetrecord'].pk}/merge/"


ROWS = {
    "identity/merges/": [
        Case("/identity/merges/", signed_in(403, eef_admin=200, coordinator_a=200, coordinator_b=200))
    ],
    "identity/merges/<int:pk>/": [Case(_page(""), B_COORDINATION)],
    "identity/merges/<int:pk>/confirm/": [
        Case(_page("confirm/", fresh=True), signed_in(404, eef_admin=REDIRECT, coordinator_b=403), "post")
    ],
    "identity/merges/<int:pk>/reject/": [
        Case(
            _page("reject/", fresh=True), signed_in(404, eef_admin=REDIRECT, coordinator_b=REDIRECT), "post", _reopened
        ),
        # Without a note: the page again with the error, for those who may reject.
        Case(_page("reject/"), signed_in(404, eef_admin=400, coordinator_b=400), "post"),
    ],
    "identity/merges/<int:pk>/undo/": [
        Case(_page("undo/", fresh=True, merged=True), signed_in(404, eef_admin=REDIRECT, coordinator_b=403), "post")
    ],
    "identity/records/<int:record_pk>/merge/": [
        Case(_propose, B_COORDINATION),
        Case(_propose, B_COORDINATION, "post"),  # an empty form: shown again with its errors
    ],
    # The API: the alias lookup needs its header (400 without it), the proposals are B's.
    "api/v1/records/lookup/": [Case(f"{V1}/records/lookup/", INVALID)],
    "api/v1/merges/": [Case(f"{V1}/merges/", ROLES), Case(f"{V1}/merges/", INVALID, "post")],
    "api/v1/merges/<int:pk>/": [
        Case(_api(""), signed_in(404, anonymous=401, no_role=403, eef_admin=200, coordinator_b=200))
    ],
    "api/v1/merges/<int:pk>/confirm/": [
        Case(
            _api("confirm/", fresh=True),
            signed_in(404, anonymous=401, no_role=403, eef_admin=200, coordinator_b=403),
            "post",
        )
    ],
}


def _proposal_event(ctx: dict):
    """The first audit event of the shared proposal (None on SQLite, which has no triggers)."""
    from audit.tracking import event_model
    from identity.models import MergeProposal

    return event_model(MergeProposal).objects.filter(pgh_obj_id=_shared(ctx).pk).first()


ROWS.update(
    {
        **lazy_admin_rows("identity.mergeproposal", "scoped_read_only", _shared),
        **lazy_admin_rows("audit.mergeproposalevent", "national_read_only", _proposal_event),
    }
)
