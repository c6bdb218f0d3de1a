"""Access-matrix rows of the upload pages (targets/upload/) and the upload admin.

Uploads are a province's working files with personal data: only those who may write the province's
records see them, its coordinators and EEF admins. Everyone else (A's viewer, KKU's member, coordinator
A for B's uploads, someone without a role) gets 404, as for an upload that does not exist. The
template holds nothing personal: anyone with a role may download it, but case workers and agency users,
who upload nothing (404, as for someone without a role).

The upload is province B's, received and checked through the services as coordinator B, made once
per matrix run on first use (tests.matrix.province_b_work has no upload). Its admin rows are built
here for the same reason (the generated ADMIN_MODELS rows look their object up in ctx["objects"]).
"""

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.matrix import ADMIN_KINDS, LOGIN, REDIRECT, Case, admin, case_members, everyone, signed_in

B = 56

WRITERS_ANYWHERE = signed_in(404, eef_admin=200, coordinator_a=200, coordinator_b=200)
B_WRITERS = signed_in(404, eef_admin=200, coordinator_b=200)
B_WRITERS_POST = {**signed_in(404, eef_admin=REDIRECT, coordinator_b=REDIRECT), "anonymous": LOGIN}

# One valid row and one with a mistyped check digit: the rejected-rows file has something in it.
CSV = (
    "เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n"
    "1560000000012,สมปอง,ทองดี,เด็กและเยาวชนนอกระบบการศึกษา\n"
    "1560000000013,ผิด,เลขผิด,เด็กและเยาวชนนอกระบบการศึกษา\n"
)


def _b_upload(ctx: dict):
    if "targets.uploadbatch" not in ctx:
        from provinces.models import Province
        from targets.upload.services import receive_upload, start_check

        coordinator = ctx["cast"].coordinator_b
        batch = receive_upload(
            user=coordinator,
            province=Province.objects.get(code=B),
            uploaded_file=SimpleUploadedFile("พะเยา.csv", CSV.encode("utf-8")),
        )
        start_check(batch=batch, user=coordinator)
        ctx["targets.uploadbatch"] = batch
    return ctx["targets.uploadbatch"]


def _upload_url(suffix: str = ""):
    return lambda ctx: f"/uploads/{_b_upload(ctx).pk}/{suffix}"


def _admin_rows(kind: str) -> dict[str, list[Case]]:
    base = "admin/targets/uploadbatch/"
    expected = ADMIN_KINDS[kind]

    def obj_url(suffix: str):
        return lambda ctx: f"/{base}{_b_upload(ctx).pk}/{suffix}"

    return {
        base: [Case(f"/{base}", admin(*expected["changelist"]))],
        f"{base}add/": [Case(f"/{base}add/", admin(*expected["add"]))],
        f"{base}<path:object_id>/change/": [Case(obj_url("change/"), admin(*expected["change"]))],
        f"{base}<path:object_id>/history/": [Case(obj_url("history/"), admin(*expected["history"]))],
        f"{base}<path:object_id>/delete/": [Case(obj_url("delete/"), admin(*expected["delete"]))],
        f"{base}<path:object_id>/": [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))],
    }


ROWS = {
    "uploads/": [Case("/uploads/", WRITERS_ANYWHERE), Case("/uploads/?page=2", WRITERS_ANYWHERE)],
    "uploads/new/": [
        Case("/uploads/new/", WRITERS_ANYWHERE),
        # An empty form: the writers see it again with its errors; nothing is stored.
        Case("/uploads/new/", {**WRITERS_ANYWHERE, "anonymous": LOGIN}, method="post"),
    ],
    "uploads/template.xlsx": [Case("/uploads/template.xlsx", signed_in(200, no_role=404, **case_members(404)))],
    "uploads/<int:pk>/": [Case(_upload_url(), B_WRITERS), Case(_upload_url("?page=2"), B_WRITERS)],
    "uploads/<int:pk>/progress.json": [Case(_upload_url("progress.json"), B_WRITERS)],
    "uploads/<int:pk>/rejections.xlsx": [Case(_upload_url("rejections.xlsx"), B_WRITERS)],
    # Confirm and cancel are POSTs only: a GET is refused before anything is looked up. A POST by one
    # of B's writers goes back to the upload's page (the first confirm applies it; after that, nothing
    # changes), everyone else gets 404.
    "uploads/<int:pk>/confirm/": [
        Case(_upload_url("confirm/"), everyone(405)),
        Case(_upload_url("confirm/"), B_WRITERS_POST, method="post"),
    ],
    "uploads/<int:pk>/cancel/": [
        Case(_upload_url("cancel/"), everyone(405)),
        Case(_upload_url("cancel/"), B_WRITERS_POST, method="post"),
    ],
    # Read-only in admin, for the province's writers: the kind of scoped reference rows.
    **_admin_rows("reference_scoped"),
}
