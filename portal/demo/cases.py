"""Demo case follow-up (issue 14) in the 12 demo provinces: an agency of every type per province, a case
worker and a user of the กศน. office each (and in ขอนแก่น a second worker limited to one district),
records assigned to them, contacts (some failed), plans, referrals in every state, and a few closures.

The work happened in the past, and cases.services stamps "now": so the rows are written here, keeping
the invariants the services keep (a case's contact dates, failed attempts and due date; a referral's
answer and end times, its state changes and its plan step; a closure's reason and event), and in an
order that is possible: a record exists before it is assigned, is contacted after, is referred after
its first contact, and each answer comes after the referral and before now (tests/test_demo_in_time.py).
Idempotent: a province whose demo records already have cases is left as it is.
"""

import datetime
import random

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Membership, Role, User
from cases.models import (
    Agency,
    AgencyType,
    Case,
    CaseEvent,
    CloseReason,
    Contact,
    ContactKind,
    Notification,
    PlanStep,
    Referral,
    ReferralEvent,
    ReferralState,
)
from cases.services import due_on
from portal.demo.provinces import DEMO_ADMIN_PASSWORD, DEMO_LEADS
from provinces.models import District, Province
from targets.models import Outcome, TargetRecord

DOMAIN = "demo.abe-portal.local"
CASES_PER_PROVINCE = 12
# The province with a second, district-limited case worker.
LIMITED_PROVINCE = 40
# What each province's agency of a type is called ({province}: its Thai name).
AGENCY_NAMES = {
    "non-formal-education": "สกร.อำเภอเมือง{province}",
    "local-government": "เทศบาลเมือง{province}",
    "social-development": "พมจ.{province}",
    "school": "สพป.{province} เขต 1",
    "health": "รพ.สต.บ้านโนนสะอาด จังหวัด{province}",
    "labour": "สำนักงานพัฒนาฝีมือแรงงาน{province}",
    "other": "มูลนิธิเพื่อเด็กและเยาวชน{province}",
}
# Referrals cycle through every state, so each province shows them all.
STATES = [
    ReferralState.SENT,
    ReferralState.ACCEPTED,
    ReferralState.IN_PROGRESS,
    ReferralState.COMPLETED,
    ReferralState.DECLINED,
    ReferralState.CLOSED_UNRESOLVED,
]
FINDINGS = ("พบเด็กและผู้ปกครอง เด็กสนใจกลับไปเรียน", "ผู้ปกครองขอเวลาปรึกษากันในครอบครัว",
            "เด็กทำงานช่วยครอบครัวช่วงกลางวัน สนใจเรียน กศน.", "ครอบครัวต้องการทุนค่าเดินทาง")  # fmt: skip
NOT_FOUND = "ไม่พบเด็กที่บ้าน เพื่อนบ้านแจ้งว่าไปทำงานต่างอำเภอ"


def demo_case_accounts(province: int) -> tuple[str, str]:
    """The emails of a province's demo case worker and demo กศน. office user (README.md, "Demo data")."""
    return f"caseworker.{province}@{DOMAIN}", f"nfe.{province}@{DOMAIN}"


def limited_worker_email() -> str:
    return f"caseworker.district.{LIMITED_PROVINCE}@{DOMAIN}"


def _account(email: str, first: str, last: str) -> User:
    user, created = User.objects.get_or_create(email=email, defaults={"first_name": first, "last_name": last})
    if created:
        # Signing in with the demo password only in development, as the other demo accounts (DEBUG only).
        if settings.DEBUG:
            user.set_password(DEMO_ADMIN_PASSWORD)
        else:
            user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _agencies(province: Province) -> dict[str, Agency]:
    mueang = District.objects.filter(province=province).order_by("code").first()
    have = {a.type.code: a for a in Agency.objects.filter(province=province, is_demo=True).select_related("type")}
    for kind in AgencyType.objects.filter(is_active=True):
        if kind.code in have:
            continue
        name = AGENCY_NAMES.get(kind.code, kind.name_th + " {province}").format(province=province.name_th)
        have[kind.code] = Agency.objects.create(
            province=province, district=mueang, type=kind, name=name, contact_name="ผู้ประสานงานหน่วยงาน",
            phone=f"04{province.pk:02d}00{kind.sort_order:04d}"[:10], is_demo=True,
        )  # fmt: skip
    return have


def _membership(user: User, role: str, province: int, **extra: object) -> Membership:
    membership, _created = Membership.objects.get_or_create(user=user, role=role, province_id=province, defaults=extra)
    return membership


def _candidates(province: int, now: datetime.datetime) -> QuerySet[TargetRecord]:
    """Demo records entered at least 60 days ago and not yet anyone's: the follow-up starts after them."""
    return TargetRecord.objects.filter(
        is_demo=True, province_id=province, case_worker__isnull=True, created_at__lte=now - datetime.timedelta(days=60)
    ).order_by("pk")


@transaction.atomic
def load_demo_cases(per_province: int = CASES_PER_PROVINCE) -> dict[str, int]:
    """Create the demo case follow-up that is missing; return how many rows of each kind were created."""
    now = timezone.now()
    made = {"agencies": 0, "cases": 0, "contacts": 0, "referrals": 0}
    goals = list(Outcome.objects.filter(kind=Outcome.Kind.ACHIEVED).exclude(code="referred").order_by("sort_order"))
    if not goals or not AgencyType.objects.exists():
        return made  # no reference data: load_reference_data first
    for code in sorted(DEMO_LEADS):
        province = Province.objects.filter(pk=code).first()
        if province is None or Case.objects.filter(province_id=code, record__is_demo=True).exists():
            continue
        before = Agency.objects.filter(is_demo=True).count()
        agencies = _agencies(province)
        made["agencies"] += Agency.objects.filter(is_demo=True).count() - before
        worker_email, agency_email = demo_case_accounts(code)
        worker = _account(worker_email, "ผู้ดูแลรายกรณี", province.name_th)
        _membership(worker, Role.CASE_WORKER, code)
        agency_user = _account(agency_email, "เจ้าหน้าที่ สกร.", province.name_th)
        _membership(agency_user, Role.AGENCY_USER, code, agency=agencies["non-formal-education"])
        workers: list[tuple[User, int | None]] = [(worker, None)]
        if code == LIMITED_PROVINCE:
            district = District.objects.filter(province=province).order_by("code").first()
            limited = _account(limited_worker_email(), "ผู้ดูแลรายกรณี", f"อำเภอ{district.name_th}" if district else "")
            membership = _membership(limited, Role.CASE_WORKER, code)
            if district is not None:
                membership.districts.add(district)
                workers.append((limited, district.pk))
        coordinator = (
            User.objects.filter(memberships__role=Role.PROVINCE_COORDINATOR, memberships__province_id=code)
            .order_by("pk")
            .first()
        )
        records = list(_candidates(code, now)[:per_province])
        for index, record in enumerate(records):
            chosen = next(((w, d) for w, d in reversed(workers) if d == record.district_id), workers[0])
            counts = _follow_up(
                record, index=index, worker=chosen[0], coordinator=coordinator, agencies=agencies,
                agency_users=[agency_user.pk], goals=goals, now=now,
            )  # fmt: skip
            made["cases"] += 1
            made["contacts"] += counts[0]
            made["referrals"] += counts[1]
    return made


def _follow_up(record: TargetRecord, *, index: int, worker: User, coordinator: User | None,
               agencies: dict[str, Agency], agency_users: list[int], goals: list[Outcome],
               now: datetime.datetime) -> tuple[int, int]:  # fmt: skip
    """One child's follow-up from the assignment to now; returns (contacts, referrals) created."""
    rng = random.Random(f"abe-demo-case-{record.identifier}")  # noqa: S311 - made-up demo values
    hour = datetime.timedelta(hours=1)
    age_days = (now - record.created_at).days
    # Most were assigned weeks ago; every fourth this week (the inbox's "newly assigned").
    days_ago = rng.randint(2, 6) if index % 4 == 3 else rng.randint(30, max(31, min(age_days - 2, 150)))
    assigned_at = now - datetime.timedelta(days=days_ago, hours=rng.randint(1, 8))
    TargetRecord.objects.filter(pk=record.pk).update(case_worker=worker, case_assigned_at=assigned_at)
    case = Case(record=record, province_id=record.province_id, opened_at=assigned_at)
    case.goal = goals[index % len(goals)] if index % 4 != 3 else None
    # Contacts, spaced after the assignment; "not found at home" for some, three in a row for one in six.
    contacts: list[Contact] = []
    moment = assigned_at
    misses = 3 if index % 6 == 5 else 0
    for n in range(0 if index % 4 == 3 else rng.randint(1, 4) + misses):
        moment = moment + datetime.timedelta(days=rng.randint(3, 12), hours=rng.randint(0, 5))
        if moment > now - hour:
            break
        reached = n >= misses and rng.random() > 0.2
        contacts.append(
            Contact(
                case=case, kind=ContactKind.HOME_VISIT if not reached or n == 0 else rng.choice(ContactKind.values),
                happened_at=moment, reached=reached, with_whom="ผู้ปกครอง" if reached else "",
                findings=rng.choice(FINDINGS) if reached else NOT_FOUND,
                next_step="นัดเยี่ยมบ้านอีกครั้ง" if not reached else "ติดตามผลการสมัครเรียน",
                next_due=(timezone.localtime(moment).date() + datetime.timedelta(days=rng.randint(7, 21))),
                recorded_by=worker,
            )
        )  # fmt: skip
    if contacts:
        case.first_contact_at = contacts[0].happened_at
        case.last_contact_at = contacts[-1].happened_at
        case.next_contact_due = contacts[-1].next_due
        case.failed_attempts = sum(1 for c in contacts if not c.reached)
    case.due_on = due_on(case)
    case.save()
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.ASSIGNED, at=assigned_at, by=coordinator, worker=worker)
    Contact.objects.bulk_create(contacts)
    for contact in contacts:  # recorded the same day it happened (created_at is stamped on insert)
        Contact.objects.filter(pk=contact.pk).update(created_at=contact.happened_at + datetime.timedelta(hours=2))
    last = contacts[-1].happened_at if contacts else assigned_at
    if case.goal is not None:
        step_due = timezone.localtime(last).date() + datetime.timedelta(days=14)
        PlanStep.objects.create(
            case=case, text="ประสานโรงเรียนหรือ สกร. เรื่องการกลับเข้าเรียน", due_on=step_due, responsible=worker,
            done_at=last if index % 3 == 0 else None, created_by=worker,
        )  # fmt: skip
    referrals = 0
    if contacts and contacts[0].reached and index % 2 == 0:
        last = _refer(case, index=index, worker=worker, agencies=agencies, agency_users=agency_users,
                      goals=goals, after=contacts[0].happened_at, now=now, rng=rng)  # fmt: skip
        referrals = 1
    if index % 4 == 3 and index < 8:  # told in the portal, this week
        Notification.objects.create(user=worker, kind=Notification.Kind.ASSIGNED, case=case, created_at=assigned_at)
    _maybe_close(case, index=index, worker=worker, after=last, now=now)
    return len(contacts), referrals


def _refer(case: Case, *, index: int, worker: User, agencies: dict[str, Agency], agency_users: list[int],
           goals: list[Outcome], after: datetime.datetime, now: datetime.datetime,
           rng: random.Random) -> datetime.datetime:  # fmt: skip
    """A referral sent after the first contact, moved through its states up to one of STATES; returns
    the time of its last change."""
    state = STATES[(index // 2) % len(STATES)]
    kinds = ("non-formal-education", "social-development", "local-government", "labour", "school", "health")
    agency = agencies.get(kinds[(index // 2) % len(kinds)]) or agencies["non-formal-education"]
    if state == ReferralState.SENT:
        agency = agencies["non-formal-education"]  # waiting for the demo agency user's answer
    sent_at = min(after + datetime.timedelta(days=rng.randint(1, 5)), now - datetime.timedelta(hours=6))
    deadline = timezone.localtime(sent_at).date() + datetime.timedelta(days=rng.randint(14, 30))
    path = {
        ReferralState.SENT: [],
        ReferralState.ACCEPTED: [ReferralState.ACCEPTED],
        ReferralState.DECLINED: [ReferralState.DECLINED],
        ReferralState.IN_PROGRESS: [ReferralState.ACCEPTED, ReferralState.IN_PROGRESS],
        ReferralState.COMPLETED: [ReferralState.ACCEPTED, ReferralState.IN_PROGRESS, ReferralState.COMPLETED],
        ReferralState.CLOSED_UNRESOLVED: [ReferralState.ACCEPTED, ReferralState.CLOSED_UNRESOLVED],
    }[state]
    # The answers come after the referral and before now, evenly spaced.
    span = (now - sent_at) / (len(path) + 1)
    times = [sent_at + span * (n + 1) for n in range(len(path))]
    referral = Referral.objects.create(
        case=case, agency=agency, reason="เด็กออกกลางคันและต้องการกลับเข้าสู่การเรียนรู้",
        services="สมัครเรียน สกร. และทุนค่าเดินทาง", deadline=deadline, share_identifier=index % 4 == 0,
        state=state, sent_by=worker, sent_at=sent_at, answered_at=times[0] if times else None,
        finished_at=times[-1] if state in (ReferralState.COMPLETED, ReferralState.DECLINED,
                                           ReferralState.CLOSED_UNRESOLVED) else None,
        decline_reason="อยู่นอกพื้นที่ให้บริการของหน่วยงาน" if state == ReferralState.DECLINED else "",
        outcome=case.goal or goals[0] if state == ReferralState.COMPLETED else None,
        feedback="เด็กสมัครเรียนแล้วและเข้าเรียนสม่ำเสมอ" if state == ReferralState.COMPLETED else "",
    )  # fmt: skip
    events = [ReferralEvent(referral=referral, from_state="", to_state=ReferralState.SENT, at=sent_at, by=worker)]
    previous = ReferralState.SENT
    for to_state, at in zip(path, times, strict=True):
        note = referral.decline_reason if to_state == ReferralState.DECLINED else ""
        if to_state == ReferralState.CLOSED_UNRESOLVED:
            note = "ครอบครัวย้ายออกนอกพื้นที่ระหว่างดำเนินการ"
        events.append(ReferralEvent(referral=referral, from_state=previous, to_state=to_state, at=at, note=note))
        previous = to_state
    ReferralEvent.objects.bulk_create(events)
    PlanStep.objects.create(
        case=case, text=f"ส่งต่อ{agency.name}", due_on=deadline, responsible=worker, referral=referral,
        done_at=referral.finished_at, created_by=worker,
    )  # fmt: skip
    if state == ReferralState.SENT:
        Notification.objects.bulk_create(
            [Notification(user_id=u, kind=Notification.Kind.REFERRAL_RECEIVED, case=case, referral=referral,
                          created_at=sent_at) for u in agency_users]
        )  # fmt: skip
    elif times:
        Notification.objects.create(
            user=worker, kind=Notification.Kind.REFERRAL_CHANGED, case=case, referral=referral, created_at=times[-1],
            read_at=times[-1] + datetime.timedelta(hours=1) if times[-1] + datetime.timedelta(hours=1) < now else None,
        )  # fmt: skip
    return times[-1] if times else sent_at


def _maybe_close(case: Case, *, index: int, worker: User, after: datetime.datetime, now: datetime.datetime) -> None:
    """Close some cases, after everything else that happened to them: the outcome reached once a
    referral completed, not found after the failed attempts, moved away for a few."""
    completed = case.referrals.filter(state=ReferralState.COMPLETED).exists()
    if completed:
        reason, note = CloseReason.OUTCOME_REACHED, "เด็กกลับเข้าเรียนแล้ว"
    elif case.failed_attempts >= settings.CASES_NOT_FOUND_ATTEMPTS and not case.referrals.exists():
        reason, note = CloseReason.NOT_FOUND, "ไม่พบเด็กหลังติดตามหลายครั้ง"
    elif index % 12 == 10:
        reason, note = CloseReason.MOVED, "ครอบครัวย้ายไปจังหวัดอื่น"
    else:
        return
    closed_at = after + (now - after) / 2
    case.closed_at, case.close_reason, case.close_note = closed_at, reason, note
    case.due_on = None
    case.save(update_fields=["closed_at", "close_reason", "close_note", "due_on"])
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.CLOSED, at=closed_at, by=worker, reason=reason, note=note)
