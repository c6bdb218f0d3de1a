"""Access-matrix rows of the transfer pages (transfers/urls.py) and their admin.

The request is province B's: coordinator B asks for a record that a third province (กรุงเทพมหานคร) holds,
made once per matrix run on first use. Coordinator B (the requesting side) and the EEF admin see it;
coordinator A, who is neither side, gets 404, as does everyone else. The pages are for coordinators and
EEF/IPSR admins: anyone else with or without a role gets 403 for the list and the form.
"""

from tests.matrix import ADMIN_KINDS, REDIRECT, Case, admin, lazy_admin_rows, signed_in
from tests.matrix_rows.api import B_READERS, INVALID, ROLES, V1

B, C = 56, 10
USERS = signed_in(403, eef_admin=200, coordinator_a=200, coordinator_b=200)
SIDES = signed_in(404, eef_admin=200, coordinator_b=200)
API_ANSWER = signed_in(404, anonymous=401, no_role=403, eef_admin=428, coordinator_b=428)


def _transfer(ctx: dict):
    if "transfers.transferrequest" not in ctx:
        from targets.models import Category, Outcome, TargetRecord
        from tests.builders import national_id
        from transfers.services import request_transfer

        record = TargetRecord.objects.create(
            identifier=national_id(9101),
            identifier_kind="national_id",
            first_name="เด็กหญิง",
            last_name="กรุงเทพ",
            province_id=C,
            category=Category.objects.get(code="out-of-school"),
            status=Outcome.objects.get(code="in-follow-up"),
        )
        ctx["transfers.transferrequest"] = request_transfer(
            user=ctx["cast"].coordinator_b, identifier=record.identifier, note="ย้ายมาพะเยา"
        )
    return ctx["transfers.transferrequest"]


def _url(suffix: str = ""):
    return lambda ctx: f"/transfers/{_transfer(ctx).pk}/{suffix}"


# EEF admins read, nobody writes (as the audit trail); coordinator A, neither side of the request, gets 404
# for its history where coordinator B, its requesting side, is refused (403).
NATIONAL_READ_ONLY_SCOPED = {**ADMIN_KINDS["national_read_only"], "history": (200, 404, 403)}


def _admin_rows(expected: dict) -> dict[str, list[Case]]:
    base = "admin/transfers/transferrequest/"

    def obj_url(suffix: str):
        return lambda ctx: f"/{base}{_transfer(ctx).pk}/{suffix}"

    return {
        base: [Case(f"/{base}", admin(*expected["changelist"]))],
        f"{base}add/": [Case(f"/{base}add/", admin(*expected["add"]))],
        f"{base}<path:object_id>/change/": [Case(obj_url("change/"), admin(*expected["change"]))],
        f"{base}<path:object_id>/history/": [Case(obj_url("history/"), admin(*expected["history"]))],
        f"{base}<path:object_id>/delete/": [Case(obj_url("delete/"), admin(*expected["delete"]))],
        f"{base}<path:object_id>/": [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))],
    }


ROWS = {
    "transfers/": [Case("/transfers/", USERS)],
    "transfers/new/": [
        Case("/transfers/new/", USERS),
        # An empty form: shown again with its errors to those who may ask; nothing is stored.
        Case("/transfers/new/", USERS, "post"),
    ],
    "transfers/<int:pk>/": [
        Case(_url(), SIDES),
        # A post without an action: the page again for the two sides, 404 for everyone else.
        Case(_url(), SIDES, "post", {"seen_version": 1}),
    ],
    # The API (api/views/transfers.py), with a session: the list for every role (each sees its own), the
    # request for its two sides; an empty request is invalid. An answer without a version is refused before
    # anything else (428) by those who reach the request.
    "api/v1/transfers/": [Case(f"{V1}/transfers/", ROLES), Case(f"{V1}/transfers/", INVALID, method="post")],
    "api/v1/transfers/<int:pk>/": [Case(lambda ctx: f"{V1}/transfers/{_transfer(ctx).pk}/", B_READERS)],
    "api/v1/transfers/<int:pk>/accept/": [
        Case(lambda ctx: f"{V1}/transfers/{_transfer(ctx).pk}/accept/", API_ANSWER, method="post")
    ],
    "api/v1/transfers/<int:pk>/decline/": [
        Case(lambda ctx: f"{V1}/transfers/{_transfer(ctx).pk}/decline/", API_ANSWER, method="post")
    ],
    # EEF/IPSR read the requests in admin; nobody edits them there.
    **_admin_rows(NATIONAL_READ_ONLY_SCOPED),
}


def _request_event(ctx: dict):
    """The first audit event of the shared request (None on SQLite, which has no triggers)."""
    from audit.tracking import event_model
    from transfers.models import TransferRequest

    return event_model(TransferRequest).objects.filter(pgh_obj_id=_transfer(ctx).pk).first()


# Each request's audit history, for EEF/IPSR only, as every audit event model.
ROWS.update(lazy_admin_rows("audit.transferrequestevent", "national_read_only", _request_event))
