"""Access-matrix rows of the target-group record pages (/records/) and their admin.

The object is a record of province B (พะเยา, 56; tests.matrix.province_b_work): the EEF admin and
coordinator B see it and may change it; KKU's member (KKU supports A only), coordinator A, A's
viewer and someone without a role get 404, as for a missing record. The list and the export answer
everyone signed in, each with the records they may see (none without a role). Only writers
(coordinators, EEF) may open "new". The status change is a POST only: a GET is refused before
anything is looked up.
"""

from tests.matrix import LOGIN, REDIRECT, Case, admin, everyone, signed_in

B_ONLY = signed_in(404, eef_admin=200, coordinator_b=200)
WRITERS = signed_in(403, eef_admin=200, coordinator_a=200, coordinator_b=200)

# Province A's records (tests.matrix.case_work_a): A's readers see both, its writers change them, the
# others read only (403). The case worker reads and works on (help, status) the record assigned to them,
# may not edit it (403), and gets 404 for the other one; the agency user, coordinator B and no role get 404.
A_READERS = signed_in(404, eef_admin=200, university_member=200, coordinator_a=200, viewer_a=200)
A_WRITERS = signed_in(404, eef_admin=200, coordinator_a=200, university_member=403, viewer_a=403)
A_WORKERS_POST = {
    **signed_in(404, eef_admin=REDIRECT, coordinator_a=REDIRECT, university_member=403, viewer_a=403),
    "anonymous": LOGIN,
}


def _record(suffix: str = "", label: str = "targets.targetrecord"):
    return lambda ctx: f"/records/{ctx['objects'][label].pk}/{suffix}"


def _assigned(suffix: str = ""):
    return _record(suffix, "a.assigned_record")


def _other(suffix: str = ""):
    return _record(suffix, "a.other_record")


def _reference_admin_rows(label: str, kind: str) -> dict[str, list[Case]]:
    """Admin rows of a reference table that is not in the matrix's ctx: its first row is the object."""
    from django.apps import apps

    from tests.matrix import ADMIN_KINDS

    app, model = label.split(".")
    base = f"admin/{app}/{model}/"
    expected = ADMIN_KINDS[kind]

    def obj_url(suffix: str):
        return lambda ctx: f"/{base}{apps.get_model(label).objects.order_by('pk').first().pk}/{suffix}"

    return {
        base: [Case(f"/{base}", admin(*expected["changelist"]))],
        f"{base}add/": [Case(f"/{base}add/", admin(*expected["add"]))],
        f"{base}<path:object_id>/change/": [Case(obj_url("change/"), admin(*expected["change"]))],
        f"{base}<path:object_id>/history/": [Case(obj_url("history/"), admin(*expected["history"]))],
        f"{base}<path:object_id>/delete/": [Case(obj_url("delete/"), admin(*expected["delete"]))],
        f"{base}<path:object_id>/": [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))],
    }


ROWS = {
    "records/": [
        Case("/records/", signed_in(200)),
        Case("/records/?province=56&category=1&age=6-11&help=yes&school=x&page=2", signed_in(200)),
        Case("/records/?age=nonsense", signed_in(200)),
        # The search box POSTs and is sent back to the list with an opaque key.
        Case("/records/", signed_in(REDIRECT), method="post", data={"q": "1103702071811"}),
        # "Show full IDs": the list again (with full IDs where the role may see them).
        Case("/records/", signed_in(200), method="post", data={"reveal": "1"}),
    ],
    "records/export/": [
        Case("/records/export/?format=csv", signed_in(200)),
        Case("/records/export/?format=xlsx&province=56", signed_in(200)),
        Case("/records/export/?format=pdf", signed_in(400)),
        Case("/records/export/?format=csv", signed_in(200), method="post"),  # a small list: streamed at once
    ],
    "records/new/": [
        Case("/records/new/", WRITERS),
        Case("/records/new/?province=56", WRITERS),
        # An empty form: the writers see it again with its errors (EEF: the province step); nothing is saved.
        Case("/records/new/", WRITERS, method="post", data={}),
    ],
    "records/<int:pk>/": [
        Case(_record(), B_ONLY),
        # "Show the full ID": B's coordinator and the EEF admin may; the rest cannot see the record.
        Case(_record(), B_ONLY, method="post", data={}),
        Case(_assigned(), {**A_READERS, "case_worker_a": 200}),
        Case(_other(), A_READERS),
        # The full ID is for A's writers: the other readers, the assigned case worker too, get 403 (PDPA).
        Case(_assigned(), {**A_WRITERS, "case_worker_a": 403}, method="post", data={}),
        Case(_other(), A_WRITERS, method="post", data={}),
    ],
    "records/<int:pk>/edit/": [
        Case(_record("edit/"), B_ONLY),
        Case(_record("edit/"), B_ONLY, method="post", data={}),
        Case(_assigned("edit/"), {**A_WRITERS, "case_worker_a": 403}),
        Case(_other("edit/"), A_WRITERS),
    ],
    "records/<int:pk>/help/new/": [
        Case(_record("help/new/"), B_ONLY),
        Case(_record("help/new/"), B_ONLY, method="post", data={}),
        Case(_assigned("help/new/"), {**A_WRITERS, "case_worker_a": 200}),
        Case(_assigned("help/new/"), {**A_WRITERS, "case_worker_a": 200}, method="post", data={}),
        Case(_other("help/new/"), A_WRITERS),
    ],
    "records/<int:pk>/status/": [
        Case(_record("status/"), everyone(405)),
        # No status chosen: the writers are sent back to the record with a message; nothing changes.
        Case(
            _record("status/"),
            {**signed_in(404, eef_admin=REDIRECT, coordinator_b=REDIRECT), "anonymous": LOGIN},
            method="post",
            data={"status": ""},
        ),
        Case(_assigned("status/"), {**A_WORKERS_POST, "case_worker_a": REDIRECT}, method="post", data={"status": ""}),
        Case(_other("status/"), A_WORKERS_POST, method="post", data={"status": ""}),
    ],
    **_reference_admin_rows("targets.assistancetype", "role_view_national_write"),
}

# Records: scoped reading; never added in admin (the upload and the portal's form are the ways in);
# the province's coordinators and EEF change them; EEF deletes.
ADMIN_MODELS = {"targets.targetrecord": "scoped_view_added_by_service"}
