"""The one write path of case follow-up: pages, the API, demo data and tests call these.

Each function checks who may (the door: targets/policies.py and cases/policies.py), refuses bad input
with a ValidationError keyed by field (in the user's language), and writes in one transaction. A write
based on an older version of a case or referral is refused (StaleEdit), never applied.
"""

import datetime
import decimal
import math
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Principal, can, require
from accounts.models import Role, User
from core import control_characters
from core.versioning import check_version
from provinces.models import Province
from targets import record_services
from targets.models import Outcome, TargetRecord

from . import unread
from .models import (
    Agency,
    Case,
    CaseEvent,
    CloseReason,
    Contact,
    EmailPreference,
    Notification,
    PlanStep,
    Referral,
    ReferralEvent,
    ReferralState,
)

# A device's clock may run a little ahead of the server's: a contact "in the future" by less is accepted.
CLOCK_SKEW = datetime.timedelta(minutes=10)


def contact_every() -> datetime.timedelta:
    return datetime.timedelta(days=settings.CASES_CONTACT_EVERY_DAYS)


def due_on(case: Case) -> datetime.date | None:
    """When an open case becomes overdue: the next contact's due date, or CASES_CONTACT_EVERY_DAYS after
    the last contact (or the opening, before any), whichever comes first."""
    if case.closed_at is not None:
        return None
    since = case.last_contact_at or case.opened_at
    by_rhythm = timezone.localtime(since).date() + contact_every()
    return min(by_rhythm, case.next_contact_due) if case.next_contact_due else by_rhythm


def _check_text(errors: dict, **fields: str) -> None:
    for name, text in fields.items():
        char = control_characters.first_forbidden(text or "")
        if char:
            errors[name] = control_characters.message(char)


def case_for(record: TargetRecord) -> Case:
    """The record's case, opened the first time someone follows the record up."""
    case, created = Case.objects.get_or_create(record=record, defaults={"province_id": record.province_id})
    if created:
        case.due_on = due_on(case)
        case.save(update_fields=["due_on"])
    return case


def _locked_case(record: TargetRecord, version: int | None = None) -> Case:
    case = case_for(record)
    locked = Case.objects.select_for_update().get(pk=case.pk)
    check_version(locked, version)
    return locked


def touch(*case_ids: int) -> None:
    """Mark cases changed (their contacts, plan or referrals did), for the API's changes feed."""
    Case.objects.filter(pk__in=case_ids).update(updated_at=timezone.now())


def notify(users: Iterable[int | None], kind: str, *, case: Case | None = None, referral: Referral | None = None,
           exclude: int | None = None) -> None:  # fmt: skip
    """One in-app notification per person (never to `exclude`, the person who acted)."""
    now = timezone.now()
    ids = sorted({u for u in users if u is not None and u != exclude})
    Notification.objects.bulk_create(
        [Notification(user_id=u, kind=kind, case=case, referral=referral, created_at=now) for u in ids]
    )
    unread.forget(ids)
    transaction.on_commit(lambda: unread.forget(ids))  # again: a page may have cached the old count meanwhile


def notify_about(rows: Iterable[tuple[int | None, str, int]], *, exclude: int | None = None) -> None:
    """Notifications about rows of the apps above cases (a transfer request, a merge proposal), each row
    (person, kind, subject_id), in one INSERT: one event of transfers.services or identity.services, inside
    its transaction. Never to `exclude`, the person who acted; each (person, kind, subject) once."""
    now = timezone.now()
    wanted = sorted({(u, kind, subject) for u, kind, subject in rows if u is not None and u != exclude})
    Notification.objects.bulk_create(
        [Notification(user_id=u, kind=kind, subject_id=subject, created_at=now) for u, kind, subject in wanted]
    )
    ids = [u for u, _kind, _subject in wanted]
    unread.forget(ids)
    transaction.on_commit(lambda: unread.forget(ids))  # again: a page may have cached the old count meanwhile


# --- assignment --------------------------------------------------------------------------------------


def case_workers_for(province_id: int) -> list[User]:
    """The active case workers of a province, for the assignment's choice."""
    return list(User.objects.case_workers_of(province_id).order_by("first_name", "last_name", "email"))


@transaction.atomic
def assign(*, user: Principal, records: Iterable[TargetRecord], worker: User | None) -> int:
    """Give `records` to `worker` (None: take them back, unassigned). Returns how many changed.

    The coordinator must hold each record's province; the worker must be a case worker there, in the
    record's district when their role is limited to districts. Nothing is assigned if one record fails.
    """
    rows = list(records)
    if not rows:
        return 0
    errors = []
    for record in rows:
        if not can(user, "targets.assign", record.province_id):
            raise PermissionDenied
        if worker is not None and not can(worker, "targets.may_take_case", (record.province_id, record.district_id)):
            errors.append(record)
    if errors:
        raise ValidationError(
            {
                "worker": _("%(worker)s is not a case worker where %(count)s of the chosen records are.")
                % {"worker": worker, "count": len(errors)}
            }
        )
    changing = [r.pk for r in rows if r.case_worker_id != (worker.pk if worker else None)]
    if not changing:
        return 0
    now = timezone.now()
    actor = user.pk if isinstance(user, User) else None
    TargetRecord.objects.filter(pk__in=changing).update(
        case_worker=worker, case_assigned_at=now if worker else None, version=F("version") + 1, updated_at=now
    )
    by_pk = {r.pk: r for r in rows}
    existing = set(Case.objects.filter(pk__in=changing).values_list("pk", flat=True))
    new_cases = [
        Case(record_id=pk, province_id=by_pk[pk].province_id, opened_at=now) for pk in changing if pk not in existing
    ]
    for case in new_cases:
        case.due_on = due_on(case)
    Case.objects.bulk_create(new_cases)
    touch(*existing)
    kind = CaseEvent.Kind.ASSIGNED if worker else CaseEvent.Kind.UNASSIGNED
    CaseEvent.objects.bulk_create(
        [CaseEvent(case_id=pk, kind=kind, at=now, by_id=actor, worker=worker) for pk in changing]
    )
    if worker is not None and worker.pk != actor:
        Notification.objects.bulk_create(
            [Notification(user=worker, kind=Notification.Kind.ASSIGNED, case_id=pk, created_at=now) for pk in changing]
        )
        unread.forget([worker.pk])
        transaction.on_commit(lambda: unread.forget([worker.pk]))
    return len(changing)


@transaction.atomic
def report_found_child(
    *, user: User, province: Province, identifier: str, identifier_kind: str, values: dict
) -> TargetRecord:
    """A child a case worker found (targets.record_services.report_found: a new record assigned to them), with its
    case opened and the assignment in the case's history, as if a coordinator had assigned it (assign above)."""
    record = record_services.report_found(
        user=user, province=province, identifier=identifier, identifier_kind=identifier_kind, values=values
    )
    case = case_for(record)
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.ASSIGNED, at=case.opened_at, by=user, worker=user)
    # The province's coordinators learn of it: they check the new record and complete what the field did not note.
    coordinators = User.objects.coordinators_of([province.pk]).values_list("pk", flat=True)
    notify(coordinators, Notification.Kind.CHILD_FOUND, case=case, exclude=user.pk)
    return record


# --- contacts ------------------------------------------------------------------------------------------


# A device's reported accuracy beyond this (metres) is no position at all (a cell tower's guess, or nonsense).
MAX_LOCATION_ACCURACY_M = 100_000


def _coordinate(value: object, low: int, high: int) -> decimal.Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(_("The location's coordinates must be numbers."))
    if not low <= value <= high:
        raise ValidationError(_("The location is not on the map: latitude -90 to 90, longitude -180 to 180."))
    return decimal.Decimal(str(value)).quantize(decimal.Decimal("0.000001"), rounding=decimal.ROUND_HALF_EVEN)


def contact_location(location: dict | None) -> tuple[decimal.Decimal | None, decimal.Decimal | None, int | None]:
    """(latitude, longitude, accuracy in whole metres) of a device's position {"lat", "lon", "accuracy"}, all None
    for none; a ValidationError (one message) for coordinates off the globe, one without the other, or a
    negative accuracy."""
    if location is None:
        return None, None, None
    if not isinstance(location, dict):
        raise ValidationError(_("The location must give a latitude and a longitude."))
    latitude = _coordinate(location.get("lat"), -90, 90)
    longitude = _coordinate(location.get("lon"), -180, 180)
    if latitude is None and longitude is None:
        return None, None, None
    if latitude is None or longitude is None:
        raise ValidationError(_("The location must give both a latitude and a longitude, or neither."))
    accuracy = location.get("accuracy")
    if accuracy is None:
        return latitude, longitude, None
    if (
        isinstance(accuracy, bool)
        or not isinstance(accuracy, int | float)
        or not math.isfinite(accuracy)
        or not 0 <= accuracy <= MAX_LOCATION_ACCURACY_M
    ):
        raise ValidationError(
            _("The location's accuracy must be a number of metres from 0 to %(max)s.")
            % {"max": f"{MAX_LOCATION_ACCURACY_M:,}"}
        )
    return latitude, longitude, round(accuracy)


@transaction.atomic
def log_contact(
    *,
    user: Principal,
    record: TargetRecord,
    kind: str,
    happened_at: datetime.datetime,
    reached: bool = True,
    with_whom: str = "",
    findings: str = "",
    next_step: str = "",
    next_due: datetime.date | None = None,
    client_key: uuid.UUID | None = None,
    location: dict | None = None,
) -> Contact:
    """A contact with the child or family, reached or a failed attempt. Sent again with the same
    `client_key`, it is recorded once (the first one is returned). `location`: where it happened, when the
    worker let the device say ({"lat": float, "lon": float, "accuracy": metres or None}; see contact_location)."""
    require(user, "targets.work_on", record)
    if client_key is not None:
        earlier = Contact.objects.filter(client_key=client_key).first()
        if earlier is not None:
            if earlier.case_id != record.pk:
                raise ValidationError({"client_key": _("This key was already used for another record's contact.")})
            return earlier
    errors: dict[str, str] = {}
    now = timezone.now()
    if happened_at > now + CLOCK_SKEW:
        errors["happened_at"] = _("Record a contact once it has happened: the time is in the future.")
    if next_due is not None and next_due < timezone.localtime(happened_at).date():
        errors["next_due"] = _("The next contact cannot be due before this one.")
    _check_text(errors, with_whom=with_whom, findings=findings, next_step=next_step)
    latitude = longitude = accuracy = None
    try:
        latitude, longitude, accuracy = contact_location(location)
    except ValidationError as error:
        errors["location"] = error.messages[0]
    if errors:
        raise ValidationError(errors)
    case = _locked_case(record)
    if case.closed_at is not None:
        raise ValidationError({"__all__": _("This case is closed: reopen it to log a contact.")})
    contact = Contact.objects.create(
        case=case, kind=kind, happened_at=happened_at, reached=reached, with_whom=with_whom.strip(),
        findings=findings.strip(), next_step=next_step.strip(), next_due=next_due,
        recorded_by=user if isinstance(user, User) else None, client_key=client_key,
        latitude=latitude, longitude=longitude, location_accuracy_m=accuracy,
    )  # fmt: skip
    if case.first_contact_at is None or happened_at < case.first_contact_at:
        case.first_contact_at = happened_at
    if case.last_contact_at is None or happened_at >= case.last_contact_at:
        case.last_contact_at = happened_at
        # The latest contact says when the next is due (none: the rhythm of CASES_CONTACT_EVERY_DAYS).
        case.next_contact_due = next_due
    if not reached:
        case.failed_attempts += 1
    case.due_on = due_on(case)
    case.save()
    return contact


# --- the plan ------------------------------------------------------------------------------------------


@transaction.atomic
def set_goal(*, user: Principal, record: TargetRecord, goal: Outcome | None, version: int | None) -> Case:
    require(user, "targets.work_on", record)
    if goal is not None and not goal.is_achieved:
        raise ValidationError({"goal": _("A goal is an achieved outcome, such as returned to school.")})
    case = _locked_case(record, version)
    case.goal = goal
    case.save(update_fields=["goal", "updated_at"])
    return case


@transaction.atomic
def add_step(
    *,
    user: Principal,
    record: TargetRecord,
    text: str,
    due_on: datetime.date | None = None,
    responsible: User | None = None,
    referral: Referral | None = None,
) -> PlanStep:
    require(user, "targets.work_on", record)
    errors: dict[str, str] = {}
    if not text.strip():
        errors["text"] = _("Say what the step is.")
    _check_text(errors, text=text)
    if errors:
        raise ValidationError(errors)
    case = case_for(record)
    touch(case.pk)
    return PlanStep.objects.create(
        case=case, text=text.strip(), due_on=due_on, responsible=responsible, referral=referral,
        created_by=user if isinstance(user, User) else None,
    )  # fmt: skip


@transaction.atomic
def finish_step(*, user: Principal, step: PlanStep, done: bool = True) -> PlanStep:
    require(user, "targets.work_on", step.case.record)
    step.done_at = timezone.now() if done else None
    step.save(update_fields=["done_at"])
    touch(step.case_id)
    return step


# --- referrals -----------------------------------------------------------------------------------------


def _agency_side_users(agency_id: int) -> list[int]:
    return list(
        User.objects.filter(
            is_active=True, memberships__role=Role.AGENCY_USER, memberships__agency_id=agency_id
        ).values_list("pk", flat=True)
    )


def _referring_side_users(referral: Referral) -> list[int | None]:
    return [referral.case.record.case_worker_id, referral.sent_by_id]


@transaction.atomic
def refer(
    *,
    user: Principal,
    record: TargetRecord,
    agency: Agency,
    reason: str,
    services: str,
    deadline: datetime.date,
    share_identifier: bool = False,
) -> Referral:
    """Refer the child to an agency of the record's province; the plan gains a step for it and the
    agency's users are told."""
    require(user, "targets.work_on", record)
    errors: dict[str, str] = {}
    if agency.province_id != record.province_id or not agency.is_active:
        errors["agency"] = _("Choose an agency of the record's province that is in use.")
    if not reason.strip():
        errors["reason"] = _("Say why the child is referred.")
    if not services.strip():
        errors["services"] = _("Say which services are requested.")
    if deadline < timezone.localdate():
        errors["deadline"] = _("The deadline cannot be in the past.")
    _check_text(errors, reason=reason, services=services)
    if errors:
        raise ValidationError(errors)
    case = case_for(record)
    if case.closed_at is not None:
        raise ValidationError({"__all__": _("This case is closed: reopen it to refer the child.")})
    actor = user if isinstance(user, User) else None
    touch(case.pk)
    referral = Referral.objects.create(
        case=case, agency=agency, reason=reason.strip(), services=services.strip(), deadline=deadline,
        share_identifier=share_identifier, sent_by=actor,
    )  # fmt: skip
    ReferralEvent.objects.create(referral=referral, from_state="", to_state=ReferralState.SENT, by=actor)
    PlanStep.objects.create(
        case=case, text=_("Referral to %(agency)s") % {"agency": agency.name}, due_on=deadline,
        responsible=actor, referral=referral, created_by=actor,
    )  # fmt: skip
    notify(_agency_side_users(agency.pk), Notification.Kind.REFERRAL_RECEIVED, case=case, referral=referral)
    return referral


@transaction.atomic
def move_referral(
    *,
    user: Principal,
    referral: Referral,
    to_state: str,
    version: int | None,
    note: str = "",
    outcome: Outcome | None = None,
    feedback: str = "",
) -> Referral:
    """One step of a referral's way (REFERRAL_MOVES). The agency's side accepts, declines (with a
    reason), starts and completes it (with an outcome and feedback); either side may close it
    unresolved. The other side is told."""
    locked = (
        Referral.objects.select_for_update(of=("self",)).select_related("case__record", "agency").get(pk=referral.pk)
    )
    agency_side = can(user, "cases.answer_referral", locked)
    referring_side = can(user, "targets.work_on", locked.case.record)
    allowed = agency_side or (to_state == ReferralState.CLOSED_UNRESOLVED and referring_side)
    if not allowed:
        raise PermissionDenied
    check_version(locked, version)
    if to_state not in locked.next_states():
        raise ValidationError(
            {"state": _("A referral that is %(state)s cannot become %(to)s.")
             % {"state": locked.get_state_display(), "to": ReferralState(to_state).label}}
        )  # fmt: skip
    errors: dict[str, str] = {}
    if to_state == ReferralState.DECLINED and not note.strip():
        errors["note"] = _("Say why the referral is declined.")
    if to_state == ReferralState.CLOSED_UNRESOLVED and not note.strip():
        errors["note"] = _("Say why the referral is closed without a result.")
    if to_state == ReferralState.COMPLETED and outcome is None:
        errors["outcome"] = _("Choose the outcome the agency's help reached.")
    _check_text(errors, note=note, feedback=feedback)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    previous = locked.state
    locked.state = to_state
    if previous == ReferralState.SENT:
        locked.answered_at = now
    if to_state == ReferralState.DECLINED:
        locked.decline_reason = note.strip()
    if to_state in (ReferralState.COMPLETED, ReferralState.CLOSED_UNRESOLVED, ReferralState.DECLINED):
        locked.finished_at = now
    if to_state == ReferralState.COMPLETED:
        locked.outcome = outcome
        locked.feedback = feedback.strip()
    locked.save()
    actor = user if isinstance(user, User) else None
    ReferralEvent.objects.create(referral=locked, from_state=previous, to_state=to_state, at=now, by=actor,
                                 note=note.strip())  # fmt: skip
    if not locked.is_open:
        PlanStep.objects.filter(referral=locked, done_at__isnull=True).update(done_at=now)
    touch(locked.case_id)
    others = [*_referring_side_users(locked), *_agency_side_users(locked.agency_id)]
    notify(others, Notification.Kind.REFERRAL_CHANGED, case=locked.case, referral=locked,
           exclude=actor.pk if actor else None)  # fmt: skip
    return locked


@transaction.atomic
def apply_referral_outcome(*, user: Principal, referral: Referral, record_version: int | None) -> None:
    """Set the record's status to the completed referral's outcome (the user confirmed it), so that the
    outcome figures follow the work. StaleEdit if the record changed since the page showed it."""
    locked = (
        Referral.objects.select_for_update(of=("self",)).select_related("case__record", "outcome").get(pk=referral.pk)
    )
    if locked.state != ReferralState.COMPLETED or locked.outcome is None:
        raise ValidationError({"__all__": _("Only a completed referral's outcome can become the status.")})
    if locked.status_applied:
        return
    record = locked.case.record
    require(user, "targets.work_on", record)
    record_services.change_status(record=record, user=user, status=locked.outcome, version=record_version)  # type: ignore[arg-type]
    locked.status_applied = True
    locked.save(update_fields=["status_applied"])
    touch(locked.case_id)


# --- closing and reopening -----------------------------------------------------------------------------


@transaction.atomic
def close_case(*, user: Principal, record: TargetRecord, reason: str, note: str = "", version: int | None) -> Case:
    require(user, "targets.work_on", record)
    case = _locked_case(record, version)
    errors: dict[str, str] = {}
    if case.closed_at is not None:
        errors["__all__"] = _("This case is already closed.")
    if reason not in CloseReason.values:
        errors["reason"] = _("Choose why the case is closed.")
    if reason == CloseReason.NOT_FOUND and case.failed_attempts < settings.CASES_NOT_FOUND_ATTEMPTS:
        errors["reason"] = _("A case is closed as not found after %(n)s failed attempts; %(done)s are logged.") % {
            "n": settings.CASES_NOT_FOUND_ATTEMPTS,
            "done": case.failed_attempts,
        }
    _check_text(errors, note=note)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    case.closed_at = now
    case.close_reason = reason
    case.close_note = note.strip()
    case.due_on = None
    case.save()
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.CLOSED, at=now, by=user if isinstance(user, User) else None,
                             reason=reason, note=note.strip())  # fmt: skip
    return case


@transaction.atomic
def reopen_case(*, user: Principal, record: TargetRecord, note: str, version: int | None) -> Case:
    require(user, "targets.work_on", record)
    case = _locked_case(record, version)
    errors: dict[str, str] = {}
    if case.closed_at is None:
        errors["__all__"] = _("This case is open.")
    if not note.strip():
        errors["note"] = _("Say why the case is reopened.")
    _check_text(errors, note=note)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    case.closed_at = None
    case.close_reason = ""
    case.close_note = ""
    case.opened_at = now
    case.due_on = due_on(case)
    case.save()
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.REOPENED, at=now,
                             by=user if isinstance(user, User) else None, note=note.strip())  # fmt: skip
    return case


# --- notifications -------------------------------------------------------------------------------------


def mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    rows = Notification.objects.visible_to(user).unread()
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    changed = rows.update(read_at=timezone.now())
    unread.forget([user.pk])
    return changed


def set_daily_digest(*, user: User, daily_digest: bool) -> EmailPreference:
    """The person's own choice of the daily email (the in-app list stays either way)."""
    return set_digests(user=user, daily_digest=daily_digest)


def set_digests(
    *,
    user: User,
    daily_digest: bool | None = None,
    weekly_digest: bool | None = None,
    monthly_digest: bool | None = None,
) -> EmailPreference:
    """The person's own choice of the digest emails, each left as it is when None (the pages stay either way)."""
    chosen = {"daily_digest": daily_digest, "weekly_digest": weekly_digest, "monthly_digest": monthly_digest}
    preference, _created = EmailPreference.objects.update_or_create(
        user=user, defaults={name: wanted for name, wanted in chosen.items() if wanted is not None}
    )
    return preference


# --- the agency directory --------------------------------------------------------------------------------

AGENCY_FIELDS = ("name", "type", "district", "contact_name", "phone", "email", "is_active")


def _check_agency(agency: Agency) -> None:
    errors: dict[str, str] = {}
    if agency.district is not None and agency.district.province_id != agency.province_id:
        errors["district"] = _("Choose a district of the agency's province.")
    if not agency.name.strip():
        errors["name"] = _("Give the agency's name.")
    _check_text(errors, name=agency.name, contact_name=agency.contact_name, phone=agency.phone)
    if errors:
        raise ValidationError(errors)
    if Agency.objects.filter(province_id=agency.province_id, name=agency.name.strip()).exclude(pk=agency.pk).exists():
        raise ValidationError({"name": _("The province's directory already has an agency of this name.")})
    agency.name = agency.name.strip()


@transaction.atomic
def create_agency(*, user: Principal, province_id: int, **fields: object) -> Agency:
    """Add an agency to a province's directory: the province's coordinators (and EEF/IPSR admins)."""
    require(user, "cases.manage_agencies", province_id)
    agency = Agency(province_id=province_id, **{k: v for k, v in fields.items() if k in AGENCY_FIELDS})
    _check_agency(agency)
    agency.save()
    return agency


@transaction.atomic
def update_agency(*, user: Principal, agency: Agency, **fields: object) -> Agency:
    require(user, "cases.manage_agencies", agency.province_id)
    for name, value in fields.items():
        if name in AGENCY_FIELDS:
            setattr(agency, name, value)
    _check_agency(agency)
    agency.save()
    return agency
