"""Access-matrix rows of the partner API (/api/, api/urls.py) and its admin (partners, keys).

The cast uses the API with their session, as a browser would (partner keys have their own tests:
tests/test_api.py, tests/test_api_schemathesis.py). Without a session the API answers 401 (the
API-key scheme comes first, api.authentication); someone signed in without a role gets 403. The
objects are province B's (tests.matrix.province_b_work): the EEF admin and B's coordinator read
them; coordinator A, A's viewer and KKU's member (KKU supports A, not B) get 404, as for objects
that do not exist. Uploads are seen only by those who may write their province (as on the pages).
The schema and its documentation page are public; any other address under /api/ is a JSON 404.
Partners and keys are EEF/IPSR's only, in admin.
"""

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import QuerySet

from tests.matrix import REDIRECT, Case, admin, everyone, signed_in

B = 56
V1 = "/api/v1"

# GET of a list or of reference data: every role; nobody without one.
ROLES = signed_in(200, anonymous=401, no_role=403)
# An object of province B: those who may read B.
B_READERS = signed_in(404, anonymous=401, no_role=403, eef_admin=200, coordinator_b=200)
# Province A's records (tests.matrix.case_work_a): A's readers; the case worker the one assigned to them.
A_READERS = signed_in(
    404, anonymous=401, no_role=403, eef_admin=200, university_member=200, coordinator_a=200, viewer_a=200
)
# A method the endpoint does not have: 405 for anyone signed in (the key or session comes first).
NOT_ALLOWED = signed_in(405, anonymous=401)
# An empty write: refused as invalid by everyone with a role.
INVALID = signed_in(400, anonymous=401, no_role=403)


def _b_upload(ctx: dict):
    """B's upload, received and checked through the services as B's coordinator, once per run."""
    if "api.upload" not in ctx:
        from provinces.models import Province
        from targets.upload.services import receive_upload, start_check

        coordinator = ctx["cast"].coordinator_b
        batch = receive_upload(
            user=coordinator,
            province=Province.objects.get(code=B),
            uploaded_file=SimpleUploadedFile(
                "พะเยา-api.csv", "เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n1560000000012,ก,ข,out-of-school\n".encode()
            ),
        )
        start_check(batch=batch, user=coordinator)
        ctx["api.upload"] = batch
    return ctx["api.upload"]


def _b_snapshot(ctx: dict):
    """B's snapshot of a summary run, once per run."""
    if "api.snapshot" not in ctx:
        from core.buddhist_dates import current_fiscal_year
        from summaries.models import Snapshot, SummaryRun
        from summaries.services import run_summary

        run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
        run_summary(run_id=run.pk)
        ctx["api.snapshot"] = Snapshot.objects.get(run=run, level="province", province_id=B)
    return ctx["api.snapshot"]


def _object(label: str, suffix: str = ""):
    path = {
        "a.assigned_record": "records",
        "a.other_record": "records",
        "targets.targetrecord": "records",
        "provinces.workinggroupmember": "working-group-members",
        "provinces.provincialplan": "plans",
        "reports.progressreport": "progress-reports",
        "universities.supportactivity": "support-activities",
        "universities.capacityrequest": "capacity-requests",
        "meetings.meeting": "meetings",
        "meetings.actionitem": "action-items",
    }[label]
    return lambda ctx: f"{V1}/{path}/{ctx['objects'][label].pk}/{suffix}"


def _first_of_b(model: str, path: str):
    def url(ctx: dict) -> str:
        from provinces.models import District, SubDistrict
        from universities.models import SupportAssignment

        querysets: dict[str, QuerySet[Any]] = {
            "district": District.objects.filter(province_id=B),
            "subdistrict": SubDistrict.objects.filter(district__province_id=B),
            "assignment": SupportAssignment.objects.filter(province_id=B),
        }
        first = querysets[model].order_by("pk").first()
        assert first is not None
        return f"{V1}/{path}/{first.pk}/"

    return url


ROWS = {
    # --- the schema and its documentation page: public ---
    "api/schema/": [Case("/api/schema/", everyone(200))],
    "api/docs/": [Case("/api/docs/", everyone(200)), Case("/api/docs/?script=", everyone(200))],
    "api/^": [Case("/api/nothing-here/", everyone(404)), Case(f"{V1}/records/not-a-number/", everyone(404))],
    # --- v1 ---
    "api/v1/": [Case(f"{V1}/", ROLES)],
    "api/v1/records/": [
        Case(f"{V1}/records/", ROLES),
        Case(f"{V1}/records/?province={B}&category=out-of-school&ordering=-updated_at", ROLES),
        Case(f"{V1}/records/", INVALID, method="post"),
    ],
    "api/v1/records/bulk/": [
        Case(f"{V1}/records/bulk/", NOT_ALLOWED),
        Case(f"{V1}/records/bulk/", INVALID, method="post"),
    ],
    "api/v1/records/changes/": [Case(f"{V1}/records/changes/?updated_since=2024-01-01T00:00:00", ROLES)],
    "api/v1/records/<int:pk>/": [
        Case(_object("targets.targetrecord"), B_READERS),
        Case(_object("a.assigned_record"), {**A_READERS, "case_worker_a": 200}),
        Case(_object("a.other_record"), A_READERS),
    ],
    "api/v1/records/<int:pk>/history/": [
        Case(_object("targets.targetrecord", "history/"), B_READERS),
        Case(_object("a.assigned_record", "history/"), {**A_READERS, "case_worker_a": 200}),
        Case(_object("a.other_record", "history/"), A_READERS),
    ],
    "api/v1/records/<int:pk>/help/": [
        Case(_object("targets.targetrecord", "help/"), B_READERS),
        Case(_object("a.assigned_record", "help/"), {**A_READERS, "case_worker_a": 200}),
        Case(_object("a.other_record", "help/"), A_READERS),
    ],
    "api/v1/imports/": [Case(f"{V1}/imports/", ROLES), Case(f"{V1}/imports/", INVALID, method="post")],
    "api/v1/imports/<int:pk>/": [Case(lambda ctx: f"{V1}/imports/{_b_upload(ctx).pk}/", B_READERS)],
    # The first of B's writers applies it; applying it again answers the same report.
    "api/v1/imports/<int:pk>/apply/": [
        Case(lambda ctx: f"{V1}/imports/{_b_upload(ctx).pk}/apply/", NOT_ALLOWED),
        Case(lambda ctx: f"{V1}/imports/{_b_upload(ctx).pk}/apply/", B_READERS, method="post"),
    ],
    "api/v1/provinces/": [Case(f"{V1}/provinces/", ROLES)],
    "api/v1/provinces/<int:pk>/": [Case(f"{V1}/provinces/{B}/", B_READERS)],
    "api/v1/districts/": [Case(f"{V1}/districts/?province={B}", ROLES)],
    "api/v1/districts/<int:pk>/": [Case(_first_of_b("district", "districts"), B_READERS)],
    "api/v1/sub-districts/": [Case(f"{V1}/sub-districts/", ROLES)],
    "api/v1/sub-districts/<int:pk>/": [Case(_first_of_b("subdistrict", "sub-districts"), B_READERS)],
    "api/v1/universities/": [Case(f"{V1}/universities/", ROLES)],
    "api/v1/universities/<str:code>/": [Case(f"{V1}/universities/UP/", ROLES)],
    "api/v1/assignments/": [Case(f"{V1}/assignments/", ROLES)],
    "api/v1/assignments/<int:pk>/": [Case(_first_of_b("assignment", "assignments"), B_READERS)],
    "api/v1/categories/": [Case(f"{V1}/categories/", ROLES)],
    "api/v1/outcomes/": [Case(f"{V1}/outcomes/", ROLES)],
    "api/v1/assistance-types/": [Case(f"{V1}/assistance-types/", ROLES)],
    "api/v1/working-group-members/": [Case(f"{V1}/working-group-members/", ROLES)],
    "api/v1/working-group-members/<int:pk>/": [Case(_object("provinces.workinggroupmember"), B_READERS)],
    "api/v1/plans/": [Case(f"{V1}/plans/", ROLES)],
    "api/v1/plans/<int:pk>/": [Case(_object("provinces.provincialplan"), B_READERS)],
    "api/v1/progress-reports/": [Case(f"{V1}/progress-reports/?ordering=fiscal_year", ROLES)],
    "api/v1/progress-reports/<int:pk>/": [Case(_object("reports.progressreport"), B_READERS)],
    "api/v1/support-activities/": [Case(f"{V1}/support-activities/", ROLES)],
    "api/v1/support-activities/<int:pk>/": [Case(_object("universities.supportactivity"), B_READERS)],
    "api/v1/capacity-requests/": [Case(f"{V1}/capacity-requests/?overdue=true", ROLES)],
    "api/v1/capacity-requests/<int:pk>/": [Case(_object("universities.capacityrequest"), B_READERS)],
    "api/v1/meetings/": [Case(f"{V1}/meetings/", ROLES)],
    "api/v1/meetings/<int:pk>/": [Case(_object("meetings.meeting"), B_READERS)],
    "api/v1/action-items/": [Case(f"{V1}/action-items/", ROLES)],
    "api/v1/action-items/<int:pk>/": [Case(_object("meetings.actionitem"), B_READERS)],
    "api/v1/summaries/": [Case(f"{V1}/summaries/", ROLES)],
    "api/v1/summaries/<int:pk>/": [Case(lambda ctx: f"{V1}/summaries/{_b_snapshot(ctx).pk}/", B_READERS)],
}


# --- Django admin: partners and their keys, EEF/IPSR only ------------------------------------------------


def _partner(ctx: dict):
    """A partner of B without keys (so that it may be deleted), and a key of another partner of B."""
    if "api.partner" not in ctx:
        import datetime

        from django.utils import timezone

        from api.models import Partner, PartnerKey

        partner = Partner.objects.create(name="สำนักงานจังหวัดพะเยา", contact_email="it@phayao.example.org")
        partner.provinces.set([B])
        holder = Partner.objects.create(name="ระบบ กสศ.", contact_email="it@eef.example.org")
        holder.provinces.set([B])
        key, _secret = PartnerKey.objects.create_key(
            partner=holder,
            name="sync",
            permissions={"records": "read"},
            expiry_date=timezone.now() + datetime.timedelta(days=30),
        )
        ctx["api.partner"], ctx["api.partnerkey"] = partner, key
    return ctx["api.partner"], ctx["api.partnerkey"]


def _admin_rows(model: str, expected: dict) -> dict[str, list[Case]]:
    base = f"admin/api/{model}/"

    def obj_url(suffix: str):
        def url(ctx: dict) -> str:
            partner, key = _partner(ctx)
            obj = partner if model == "partner" else key
            return f"/{base}{obj.pk}/{suffix}"

        return url

    return {
        base: [Case(f"/{base}", admin(*expected["changelist"]))],
        f"{base}add/": [Case(f"/{base}add/", admin(*expected["add"]))],
        f"{base}<path:object_id>/change/": [Case(obj_url("change/"), admin(*expected["change"]))],
        f"{base}<path:object_id>/history/": [Case(obj_url("history/"), admin(*expected["history"]))],
        f"{base}<path:object_id>/delete/": [Case(obj_url("delete/"), admin(*expected["delete"]))],
        f"{base}<path:object_id>/": [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))],
    }


# (eef_admin, coordinator_a, coordinator_b). Keys are never deleted (revoked instead).
NATIONAL = {
    "changelist": (200, 403, 403),
    "add": (200, 403, 403),
    "change": (200, 403, 403),
    "history": (200, 404, 404),
    "delete": (200, 403, 403),
}
ROWS.update(_admin_rows("partner", NATIONAL))
ROWS.update(_admin_rows("partnerkey", {**NATIONAL, "delete": (403, 403, 403)}))
