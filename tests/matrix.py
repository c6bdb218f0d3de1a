"""The vocabulary of the access matrix (tests/test_access_matrix.py, tests/matrix_rows/).

An expectation maps each member of the cast (conftest.CAST) to what they must get: a status code,
LOGIN for a redirect to a sign-in page, REDIRECT for any other redirect.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from conftest import CAST

LOGIN = "login"  # 302 to /accounts/login/ or /admin/login/
REDIRECT = "redirect"  # any other 302
STAFF = ("eef_admin", "coordinator_a", "coordinator_b")
# Case follow-up's members: they hold a role in province A but read no province as a whole, and are not staff.
CASE_MEMBERS = ("case_worker_a", "agency_user_a")


def everyone(outcome) -> dict:
    return dict.fromkeys(CAST, outcome)


def signed_in(outcome, anonymous=LOGIN, **overrides) -> dict:
    return {**everyone(outcome), "anonymous": anonymous, **overrides}


def case_members(outcome) -> dict:
    """The same expectation for the case worker and the agency user (to spread into a row's overrides)."""
    return dict.fromkeys(CASE_MEMBERS, outcome)


def admin(eef, coordinator_a, coordinator_b) -> dict:
    """Django admin: staff as given; everyone else is sent to sign in."""
    return {
        **everyone(LOGIN),
        "eef_admin": eef,
        "coordinator_a": coordinator_a,
        "coordinator_b": coordinator_b,
    }


@dataclass
class Case:
    url: str | Callable[[dict], str | None]  # None: no such object in this database (the row is skipped)
    expected: dict
    method: str = "get"
    data: dict | Callable[[dict], dict] = field(default_factory=dict)


def seen_version(model_label: str, **extra):
    """POST data with the version a form would show now of the matrix's object (tests/test_stale_edits.py)."""

    def data(ctx: dict) -> dict:
        obj = ctx["objects"][model_label]
        obj.refresh_from_db()
        return {**extra, "seen_version": obj.version}

    return data


# --- Django admin, per model ---------------------------------------------------------------------
# (changelist, add, change, history, delete) for staff: (eef_admin, coordinator_a, coordinator_b).
# The object is province B's (or coordinator B's own row).
ADMIN_KINDS = {
    # EEF admins only: accounts, roles.
    "national": {
        "changelist": (200, 403, 403),
        "add": (200, 403, 403),
        "change": (200, 403, 403),
        "history": (200, 404, 403),
        "delete": (200, 403, 403),
    },
    # EEF admins only, and nobody edits (two-factor devices: view and remove).
    "national_view_delete": {
        "changelist": (200, 403, 403),
        "add": (403, 403, 403),
        "change": (200, 403, 403),
        "history": (200, 404, 403),
        "delete": (200, 403, 403),
    },
    # Reference rows anyone with a role reads; nobody edits in admin.
    "reference_all": {
        "changelist": (200, 200, 200),
        "add": (403, 403, 403),
        "change": (200, 200, 200),
        "history": (200, 200, 200),
        "delete": (403, 403, 403),
    },
    # Reference rows scoped to the user's provinces; nobody edits in admin.
    "reference_scoped": {
        "changelist": (200, 200, 200),
        "add": (403, 403, 403),
        "change": (200, 404, 200),
        "history": (200, 404, 200),
        "delete": (403, 403, 403),
    },
    # Read by anyone with a role, written by EEF admins.
    "role_view_national_write": {
        "changelist": (200, 200, 200),
        "add": (200, 403, 403),
        "change": (200, 200, 200),
        "history": (200, 200, 200),
        "delete": (200, 403, 403),
    },
    # Province-scoped reading, EEF admins write.
    "scoped_view_national_write": {
        "changelist": (200, 200, 200),
        "add": (200, 403, 403),
        "change": (200, 404, 200),
        "history": (200, 404, 200),
        "delete": (200, 403, 403),
    },
    # The audit trail and the access log: EEF admins read, nobody writes.
    "national_read_only": {
        "changelist": (200, 403, 403),
        "add": (403, 403, 403),
        "change": (200, 403, 403),
        "history": (200, 403, 403),
        "delete": (403, 403, 403),
    },
}


def province_b_work(cast) -> dict:
    """One row of each kind of provincial work, all of province B (พะเยา, led by UP): the objects
    the feature rows (tests/matrix_rows/) use, keyed by model label. Coordinator A must never
    get a 200 for them; coordinator B and the EEF admin may."""
    import datetime

    from django.core.files.base import ContentFile

    from conftest import PROVINCE_B
    from meetings.models import (
        ActionItem,
        AgendaItem,
        Attendance,
        Kind,
        LessonLearned,
        Meeting,
        MeetingAttachment,
        Presentation,
    )
    from provinces.models import CaseSettings, PlanGoal, ProvincialPlan, WorkingGroupMember
    from reports.models import ProgressReport
    from targets.models import Assistance, AssistanceType, Category, Outcome, TargetRecord
    from universities.models import CapacityRequest, SupportActivity, SupportRole, University

    up = University.objects.get(code="UP")
    plan = ProvincialPlan.objects.create(province_id=PROVINCE_B, fiscal_year=2567, strategy="แผน")
    activity = SupportActivity.objects.create(
        university=up, province_id=PROVINCE_B, role=SupportRole.DATA, date=datetime.date(2024, 1, 15), title="อบรม"
    )
    report = ProgressReport.objects.create(
        province_id=PROVINCE_B, fiscal_year=2567, period="Q1", created_by=cast.coordinator_b
    )
    meeting = Meeting.objects.create(
        title="ประชุมคณะทำงานจังหวัดพะเยา",
        kind=Kind.PROVINCIAL,
        starts_on=datetime.date(2024, 3, 1),
        ends_on=datetime.date(2024, 3, 1),
    )
    meeting.provinces.add(PROVINCE_B)
    attachment = MeetingAttachment(
        meeting=meeting, original_name="slides.pdf", content_type="application/pdf", size=8, uploaded_by=None
    )
    attachment.file.save("slides.pdf", ContentFile(b"%PDF-1.4"), save=True)
    record = TargetRecord.objects.create(
        identifier="1103702071811",
        identifier_kind="national_id",
        first_name="เด็กชาย",
        last_name="ทดสอบ",
        province_id=PROVINCE_B,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )
    help_type, category, achieved = (
        AssistanceType.objects.first(),
        Category.objects.first(),
        Outcome.objects.filter(kind="achieved").first(),
    )
    assert help_type is not None
    assert category is not None
    assert achieved is not None
    return {
        "targets.targetrecord": record,
        "targets.assistance": Assistance.objects.create(
            record=record, type=help_type, date=datetime.date(2024, 1, 10), given_by="อบต."
        ),
        "meetings.meeting": meeting,
        "meetings.attendance": Attendance.objects.create(meeting=meeting, organisation="อบจ.พะเยา"),
        "meetings.agendaitem": AgendaItem.objects.create(meeting=meeting, order=1, title="ความก้าวหน้า"),
        "meetings.presentation": Presentation.objects.create(meeting=meeting, province_id=PROVINCE_B, report=report),
        "meetings.lessonlearned": LessonLearned.objects.create(meeting=meeting, theme="ข้อมูล", text="ใช้ข้อมูลร่วมกัน"),
        "meetings.actionitem": ActionItem.objects.create(
            meeting=meeting, what="ส่งข้อมูล", owner_province_id=PROVINCE_B, due_date=datetime.date(2024, 4, 1)
        ),
        "meetings.meetingattachment": attachment,
        "provinces.workinggroupmember": WorkingGroupMember.objects.create(
            province_id=PROVINCE_B, name="นายสมชาย ใจดี", group_role=WorkingGroupMember.GroupRole.CHAIR
        ),
        "provinces.provincialplan": plan,
        "provinces.casesettings": CaseSettings.objects.create(province_id=PROVINCE_B, case_workers_read_area=True),
        "provinces.plangoal": PlanGoal.objects.create(
            plan=plan,
            category=category,
            outcome=achieved,
            target=300,
        ),
        "reports.progressreport": report,
        "universities.supportactivity": activity,
        "universities.capacityrequest": CapacityRequest.objects.create(
            province_id=PROVINCE_B,
            university=up,
            topic="การใช้ข้อมูล",
            need="อบรมการวิเคราะห์ข้อมูล",
            desired_date=datetime.date(2024, 2, 1),
            requested_by=cast.coordinator_b,
        ),
        **_case_work_b(record, cast),
    }


def _case_work_b(record, cast) -> dict:
    """Province B's case follow-up: an agency, the record's case, a contact and a referral."""
    import datetime

    from django.utils import timezone

    from cases.models import Agency, AgencyType, Case, Contact, Referral

    agency = Agency.objects.create(
        province_id=record.province_id,
        type=AgencyType.objects.get(code="non-formal-education"),
        name="กศน.อำเภอเมืองพะเยา",
    )
    case = Case.objects.create(record=record, province_id=record.province_id)
    return {
        "cases.agency": agency,
        "cases.case": case,
        "cases.contact": Contact.objects.create(
            case=case, kind="home_visit", happened_at=timezone.now(), recorded_by=cast.coordinator_b
        ),
        "cases.referral": Referral.objects.create(
            case=case,
            agency=agency,
            reason="ต้องการเรียนต่อ",
            services="สมัครเรียน",
            deadline=datetime.date(2024, 5, 1),
            sent_by=cast.coordinator_b,
        ),
    }


# Scoped reading; rows are created only by a page's service (never "add" in admin); the team
# changes them through admin actions that call the services; EEF admins delete.
# (universities.capacityrequest: filed by universities.services.file_request.)
ADMIN_KINDS["scoped_view_added_by_service"] = {
    "changelist": (200, 200, 200),
    "add": (403, 403, 403),
    "change": (200, 404, 200),
    "history": (200, 404, 200),
    "delete": (200, 403, 403),
}


# Scoped reading; the province's coordinators and EEF admins add, change and delete rows of their
# province (provinces.workinggroupmember, provinces.provincialplan: Access.PROVINCE_WRITERS).
ADMIN_KINDS["scoped_view_province_write"] = {
    "changelist": (200, 200, 200),
    "add": (200, 200, 200),
    "change": (200, 404, 200),
    "history": (200, 404, 200),
    "delete": (200, 404, 200),
}


def case_work_a(cast) -> dict:
    """Two records of province A: one assigned to case worker A (through cases.services.assign, by
    coordinator A), one not. The case worker must see the first and get 404 for the second, as for a
    record that does not exist; A's readers see both."""
    from cases.services import assign
    from conftest import PROVINCE_A
    from targets.models import Category, Outcome, TargetRecord

    def record(identifier: str, first_name: str) -> TargetRecord:
        return TargetRecord.objects.create(
            identifier=identifier,
            identifier_kind="national_id",
            first_name=first_name,
            last_name="ทดสอบ",
            province_id=PROVINCE_A,
            category=Category.objects.get(code="out-of-school"),
            status=Outcome.objects.get(code="in-follow-up"),
        )

    assigned, other = record("1400000000013", "เด็กหญิงมอบหมาย"), record("1400000000021", "เด็กชายคนอื่น")
    assign(user=cast.coordinator_a, records=[assigned], worker=cast.case_worker_a)
    assigned.refresh_from_db()
    return {"a.assigned_record": assigned, "a.other_record": other}


# Each person's own rows, read only (cases.notification: written by cases.services).
ADMIN_KINDS["own_read_only"] = {
    "changelist": (200, 200, 200),
    "add": (403, 403, 403),
    "change": (404, 404, 200),
    "history": (404, 404, 200),
    "delete": (403, 403, 403),
}


# Scoped reading; the province's coordinators add and change rows of their province through a
# service; only EEF admins delete (cases.agency: taken out of use instead).
ADMIN_KINDS["scoped_view_province_write_national_delete"] = {
    "changelist": (200, 200, 200),
    "add": (200, 200, 200),
    "change": (200, 404, 200),
    "history": (200, 404, 200),
    "delete": (200, 403, 403),
}


# Read by those who see the rows on the portal, within their scope; nobody adds, changes or deletes them in admin
# (duplicates.duplicatecandidate, duplicates.notsameperson, identity.mergeproposal: written by their services).
ADMIN_KINDS["scoped_read_only"] = {
    "changelist": (200, 200, 200),
    "add": (403, 403, 403),
    "change": (200, 404, 200),
    "history": (200, 404, 200),
    "delete": (403, 403, 403),
}


def lazy_admin_rows(label: str, kind: str, obj: Callable[[dict], object]) -> dict[str, list[Case]]:
    """The admin rows of one model (as test_access_matrix._admin_rows) whose object a feature makes on first use:
    `obj(ctx)` returns it (made once per matrix part), or None where this database cannot have one."""
    app, model = label.split(".")
    base = f"admin/{app}/{model}/"
    expected = ADMIN_KINDS[kind]

    def obj_url(suffix: str) -> Callable[[dict], str | None]:
        def url(ctx: dict) -> str | None:
            found = obj(ctx)
            return None if found is None else f"/{base}{found.pk}/{suffix}"  # type: ignore[attr-defined]

        return url

    return {
        base: [Case(f"/{base}", admin(*expected["changelist"]))],
        f"{base}add/": [Case(f"/{base}add/", admin(*expected["add"]))],
        f"{base}<path:object_id>/change/": [Case(obj_url("change/"), admin(*expected["change"]))],
        f"{base}<path:object_id>/history/": [Case(obj_url("history/"), admin(*expected["history"]))],
        f"{base}<path:object_id>/delete/": [Case(obj_url("delete/"), admin(*expected["delete"]))],
        f"{base}<path:object_id>/": [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))],
    }
