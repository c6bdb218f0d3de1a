"""Access-matrix rows of the province pages, the working group, plans, and their admin.

Province B (พะเยา, 56) is read by the EEF admin and coordinator B only: everyone else gets 404, as
for a province that does not exist. Province A (ขอนแก่น, 40) is read by the EEF admin, KKU's member,
coordinator A and A's viewer; of those, the member and the viewer only read, so the pages that
write (working group, plans) answer them 403. The list answers everyone signed in, each with
their own provinces (none without a role).
"""

from core.buddhist_dates import current_fiscal_year
from tests.matrix import ADMIN_KINDS, REDIRECT, Case, admin, seen_version, signed_in

A, B = 40, 56

B_READERS = signed_in(404, eef_admin=200, coordinator_b=200)
A_READERS = signed_in(404, eef_admin=200, university_member=200, coordinator_a=200, viewer_a=200)
B_WRITERS = B_READERS
A_WRITERS = signed_in(404, eef_admin=200, coordinator_a=200, university_member=403, viewer_a=403)


def _member_of_b(province: int = B):
    return lambda ctx: f"/provinces/{province}/working-group/{ctx['objects']['provinces.workinggroupmember'].pk}/edit/"


def _target_admin_rows(label: str, kind: str) -> dict[str, list[Case]]:
    """Admin rows of a targets reference table (its objects are not in the matrix's ctx: the first row)."""
    from django.apps import apps

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
    "provinces/": [
        Case("/provinces/", signed_in(200)),
        Case("/provinces/?fiscal_year=2567", signed_in(200)),
        Case("/provinces/?fiscal_year=nonsense", signed_in(200)),
    ],
    "provinces/<int:code>/": [
        Case(f"/provinces/{B}/", B_READERS),
        Case(f"/provinces/{B}/?fiscal_year=2567", B_READERS),
        Case(f"/provinces/{A}/", A_READERS),
    ],
    "provinces/<int:code>/working-group/new/": [
        Case(f"/provinces/{B}/working-group/new/", B_WRITERS),
        Case(f"/provinces/{A}/working-group/new/", A_WRITERS),
        # An empty form: the writers see it again with its errors; nothing is saved.
        Case(f"/provinces/{B}/working-group/new/", B_WRITERS, method="post", data={}),
    ],
    "provinces/<int:code>/working-group/<int:pk>/edit/": [
        Case(_member_of_b(), B_WRITERS),
        Case(_member_of_b(), B_WRITERS, method="post", data={}),
        # B's member through A's address: not a member of A, so 404 even for A's writers.
        Case(_member_of_b(A), signed_in(404, university_member=403, viewer_a=403)),
    ],
    "provinces/<int:code>/working-group/import/": [
        Case(f"/provinces/{B}/working-group/import/", B_WRITERS),
        Case(f"/provinces/{A}/working-group/import/", A_WRITERS),
        Case(f"/provinces/{B}/working-group/import/", B_WRITERS, method="post", data={}),
    ],
    "provinces/<int:code>/working-group/export/": [
        Case(f"/provinces/{B}/working-group/export/", B_READERS),
        Case(f"/provinces/{A}/working-group/export/", A_READERS),
    ],
    "provinces/<int:code>/plans/<int:fiscal_year>/": [
        Case(f"/provinces/{B}/plans/2567/", B_WRITERS),
        Case(lambda ctx: f"/provinces/{A}/plans/{current_fiscal_year()}/", A_WRITERS),
        # A Christian-Era year is no fiscal year: 404 for everyone.
        Case(f"/provinces/{B}/plans/2024/", signed_in(404)),
        # Saving B's plan: its writers are sent back to the province page.
        Case(
            f"/provinces/{B}/plans/2567/",
            signed_in(404, eef_admin=REDIRECT, coordinator_b=REDIRECT),
            method="post",
            data=seen_version("provinces.provincialplan", strategy="แผนจังหวัดพะเยา"),
        ),
    ],
    # django-import-export in admin: coordinators import their own province's members.
    "admin/provinces/workinggroupmember/import/": [
        Case("/admin/provinces/workinggroupmember/import/", admin(200, 200, 200))
    ],
    "admin/provinces/workinggroupmember/process_import/": [
        Case("/admin/provinces/workinggroupmember/process_import/", admin(405, 405, 405))
    ],
    "admin/provinces/workinggroupmember/export/": [
        Case("/admin/provinces/workinggroupmember/export/", admin(200, 200, 200))
    ],
    **_target_admin_rows("targets.category", "role_view_national_write"),
    **_target_admin_rows("targets.outcome", "role_view_national_write"),
}

ADMIN_MODELS = {
    "provinces.workinggroupmember": "scoped_view_province_write",
    "provinces.provincialplan": "scoped_view_province_write",
    "provinces.casesettings": "scoped_view_province_write",
}
