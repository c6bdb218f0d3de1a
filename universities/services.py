"""The writes of the support teams' work, support activities and capacity requests: the one path for
pages, Django admin, the demo data and the tests (who may: universities/policies.py).

A user who may not act gets PermissionDenied (403 on the pages), a wrong state or input a
ValidationError. A request's step takes the `version` its page showed and raises StaleEdit if the
request changed since; None acts on it as it is (admin's bulk actions, whose state rules keep a
second run from acting twice). The `_` functions apply a rule without asking who the user is: only
this module and `portal.demo.support`, which has no users to act as, call them.
"""

import datetime
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import Principal, can
from accounts.models import User
from core.buddhist_dates import current_fiscal_year, fiscal_year_of
from core.versioning import check_version
from provinces.models import Province

from .attachments import validate_attachment
from .models import CapacityRequest, SupportActivity, SupportAssignment, SupportRole, University

Status = CapacityRequest.Status

# Which states each action of a capacity request starts from (the model's docstring tells the flow).
TEAM_ACTIONS = {
    "accept": (Status.OPEN,),
    "schedule": (Status.ACCEPTED, Status.SCHEDULED),  # from scheduled: a new date
    "deliver": (Status.ACCEPTED, Status.SCHEDULED),
    "close": (Status.DELIVERED,),
    "decline": (Status.OPEN, Status.ACCEPTED),
}
PROVINCE_ACTIONS = {"rate": (Status.DELIVERED, Status.CLOSED)}
ACTIONS = {**TEAM_ACTIONS, **PROVINCE_ACTIONS}


# --- Support activities ---------------------------------------------------------------------------


def may_record_for(user: Principal, university: University) -> bool:
    """Whether the user is on the university's team, or an EEF/IPSR admin."""
    return can(user, "universities.team", university.pk)


def check_activity_place(*, university: University, province: Province, date: datetime.date) -> None:
    """A university works only in the provinces it supports in the activity's fiscal year."""
    fiscal_year = fiscal_year_of(date)
    supported = SupportAssignment.objects.filter(university=university, province=province, fiscal_year=fiscal_year)
    if not supported.exists():
        raise ValidationError(
            {
                "province": _("%(university)s does not support %(province)s in fiscal year %(year)s.")
                % {"university": university.code, "province": province, "year": fiscal_year}
            },
            code="not_supported",
        )


def record_activity(
    *,
    user: User,
    university: University,
    province: Province,
    role: int,
    date: datetime.date,
    title: str,
    description: str = "",
    participants: int | None = None,
    attachment=None,
) -> SupportActivity:
    """Record what a university's team did with a province, under one of the four roles."""
    if not may_record_for(user, university):
        raise PermissionDenied(_("Only the university's team records its activities."))
    with transaction.atomic():
        return _create_activity(
            university=university,
            province=province,
            role=role,
            date=date,
            title=title,
            description=description,
            participants=participants,
            attachment=attachment,
            created_by=user,
        )


def _create_activity(
    *,
    university: University,
    province: Province,
    role: int,
    date: datetime.date,
    title: str,
    description: str = "",
    participants: int | None = None,
    attachment=None,
    created_by=None,
    is_demo: bool = False,
) -> SupportActivity:
    if role not in SupportRole.values:
        raise ValidationError({"role": _("Choose one of the four support roles.")}, code="bad_role")
    if participants is not None and participants < 0:
        raise ValidationError({"participants": _("The number of participants cannot be negative.")})
    check_activity_place(university=university, province=province, date=date)
    if attachment:
        try:
            validate_attachment(attachment)
        except ValidationError as error:
            raise ValidationError({"attachment": error.messages}) from error
    activity = SupportActivity(
        university=university,
        province=province,
        role=role,
        date=date,
        title=(title or "").strip(),
        description=(description or "").strip(),
        participants=participants,
        created_by=created_by,
        is_demo=is_demo,
    )
    activity.full_clean(exclude=["attachment", "created_by"])
    if attachment:
        activity.attachment = attachment
    activity.save()
    return activity


# --- Capacity requests: filing ----------------------------------------------------------------------


def lead_university(province: Province, fiscal_year: int | None = None) -> University | None:
    """The province's lead university in a fiscal year (the current one by default)."""
    assignment = (
        SupportAssignment.objects.for_fiscal_year(fiscal_year or current_fiscal_year())
        .leads()
        .filter(province=province)
        .select_related("university")
        .first()
    )
    return assignment.university if assignment else None


def file_request(
    *,
    user: User,
    province: Province,
    topic: str,
    need: str,
    desired_date: datetime.date,
    participants: int | None = None,
) -> CapacityRequest:
    """A province asks its lead university (of the current fiscal year) for capacity development."""
    if not can(user, "universities.request.file", province):
        raise PermissionDenied(_("Only the province's coordinators file its capacity requests."))
    if desired_date < timezone.localdate():
        raise ValidationError({"desired_date": _("The desired date has already passed.")}, code="past")
    with transaction.atomic():
        return _create_request(
            province=province,
            topic=topic,
            need=need,
            desired_date=desired_date,
            participants=participants,
            requested_by=user,
        )


def _create_request(
    *,
    province: Province,
    topic: str,
    need: str,
    desired_date: datetime.date,
    participants: int | None = None,
    requested_by=None,
    is_demo: bool = False,
) -> CapacityRequest:
    fiscal_year = current_fiscal_year()
    university = lead_university(province, fiscal_year)
    if university is None:
        raise ValidationError(
            _(
                "%(province)s has no lead university for fiscal year %(year)s yet, so there is nobody to send "
                "the request to. Ask EEF/IPSR to assign one."
            )
            % {"province": province, "year": fiscal_year},
            code="no_lead",
        )
    if participants is not None and participants < 0:
        raise ValidationError({"participants": _("The number of participants cannot be negative.")})
    request_obj = CapacityRequest(
        province=province,
        university=university,
        topic=(topic or "").strip(),
        need=(need or "").strip(),
        desired_date=desired_date,
        participants=participants,
        requested_by=requested_by,
        is_demo=is_demo,
    )
    request_obj.full_clean(exclude=["requested_by", "delivered_activity"])
    request_obj.save()
    return request_obj


# --- Capacity requests: who may move them -------------------------------------------------------------


def may_handle(*, request_obj: CapacityRequest, user: Principal) -> bool:
    """The university's team (or EEF) moves the request."""
    return CapacityRequest.objects.handled_by(user).filter(pk=request_obj.pk).exists()


def may_rate(*, request_obj: CapacityRequest, user: Principal) -> bool:
    """The province's coordinators (or EEF) rate the delivery."""
    return CapacityRequest.objects.requested_by(user).filter(pk=request_obj.pk).exists()


def allowed_actions(*, request_obj: CapacityRequest, user: Principal) -> list[str]:
    """The actions the user may take on the request in its present state (for the page's buttons)."""
    actions = []
    if request_obj.status in {s for states in TEAM_ACTIONS.values() for s in states} and may_handle(
        request_obj=request_obj, user=user
    ):
        actions += [action for action, states in TEAM_ACTIONS.items() if request_obj.status in states]
    if request_obj.status in PROVINCE_ACTIONS["rate"] and may_rate(request_obj=request_obj, user=user):
        actions.append("rate")
    return actions


def _lock_for_team(request_obj: CapacityRequest, user: Principal, version: int | None) -> CapacityRequest:
    locked = CapacityRequest.objects.handled_by(user).select_for_update().filter(pk=request_obj.pk).first()
    if locked is None:
        raise PermissionDenied(_("Only the university's team moves this request."))
    check_version(locked, version)
    return locked


def _lock_for_province(request_obj: CapacityRequest, user: Principal, version: int | None) -> CapacityRequest:
    locked = CapacityRequest.objects.requested_by(user).select_for_update().filter(pk=request_obj.pk).first()
    if locked is None:
        raise PermissionDenied(_("Only the province that asked rates the delivery."))
    check_version(locked, version)
    return locked


_WRONG_STATE = {
    "accept": gettext_lazy("Only an open request can be accepted."),
    "schedule": gettext_lazy("Only an accepted or scheduled request can be scheduled."),
    "deliver": gettext_lazy("Only an accepted or scheduled request can be marked as delivered."),
    "close": gettext_lazy("Only a delivered request can be closed."),
    "decline": gettext_lazy("Only an open or accepted request can be declined."),
    "rate": gettext_lazy("A request can be rated once it has been delivered."),
}


def _require_state(request_obj: CapacityRequest, action: str) -> None:
    if request_obj.status not in ACTIONS[action]:
        raise ValidationError(str(_WRONG_STATE[action]), code="wrong_state")


def _save(request_obj: CapacityRequest, *fields: str) -> CapacityRequest:
    request_obj.save(update_fields=[*fields, "updated_at"])
    return request_obj


# --- Capacity requests: the team's actions -----------------------------------------------------------


def accept_request(*, request_obj: CapacityRequest, user: Principal, version: int | None = None) -> CapacityRequest:
    with transaction.atomic():
        return _accept(_lock_for_team(request_obj, user, version))


def _accept(request_obj: CapacityRequest) -> CapacityRequest:
    _require_state(request_obj, "accept")
    request_obj.status = Status.ACCEPTED
    return _save(request_obj, "status")


def schedule_request(
    *, request_obj: CapacityRequest, user: Principal, scheduled_for: datetime.date, version: int | None = None
) -> CapacityRequest:
    with transaction.atomic():
        locked = _lock_for_team(request_obj, user, version)
        if scheduled_for is None:
            raise ValidationError({"scheduled_for": _("Give the date of the session.")})
        if scheduled_for < timezone.localdate():
            raise ValidationError({"scheduled_for": _("The scheduled date has already passed.")}, code="past")
        return _schedule(locked, scheduled_for)


def _schedule(request_obj: CapacityRequest, scheduled_for: datetime.date) -> CapacityRequest:
    _require_state(request_obj, "schedule")
    request_obj.status = Status.SCHEDULED
    request_obj.scheduled_for = scheduled_for
    return _save(request_obj, "status", "scheduled_for")


def deliver_request(
    *,
    request_obj: CapacityRequest,
    user: User,
    date: datetime.date,
    participants: int | None = None,
    description: str = "",
    version: int | None = None,
) -> CapacityRequest:
    """Mark the request delivered and record the delivery as a support activity under role 2."""
    with transaction.atomic():
        locked = _lock_for_team(request_obj, user, version)
        _require_state(locked, "deliver")
        _check_delivery_date(date)
        activity = record_activity(
            user=user,
            university=locked.university,
            province=locked.province,
            role=SupportRole.CAPACITY,
            date=date,
            title=locked.topic,
            description=description or locked.need,
            participants=participants if participants is not None else locked.participants,
        )
        return _mark_delivered(locked, activity)


def _check_delivery_date(date: datetime.date | None) -> None:
    if date is None:
        raise ValidationError({"date": _("Give the date of the delivery.")})
    if date > timezone.localdate():
        raise ValidationError({"date": _("A delivery is recorded once it has taken place.")}, code="future")


def _deliver(
    request_obj: CapacityRequest, *, date: datetime.date, participants: int | None = None, is_demo: bool = False
) -> CapacityRequest:
    """Delivery without a user (the demo data): the same rules and the same role-2 activity."""
    _require_state(request_obj, "deliver")
    _check_delivery_date(date)
    activity = _create_activity(
        university=request_obj.university,
        province=request_obj.province,
        role=SupportRole.CAPACITY,
        date=date,
        title=request_obj.topic,
        description=request_obj.need,
        participants=participants if participants is not None else request_obj.participants,
        is_demo=is_demo,
    )
    return _mark_delivered(request_obj, activity)


def _mark_delivered(request_obj: CapacityRequest, activity: SupportActivity) -> CapacityRequest:
    request_obj.status = Status.DELIVERED
    request_obj.delivered_activity = activity
    return _save(request_obj, "status", "delivered_activity")


def close_request(*, request_obj: CapacityRequest, user: Principal, version: int | None = None) -> CapacityRequest:
    with transaction.atomic():
        return _close(_lock_for_team(request_obj, user, version))


def _close(request_obj: CapacityRequest) -> CapacityRequest:
    _require_state(request_obj, "close")
    request_obj.status = Status.CLOSED
    return _save(request_obj, "status")


def decline_request(
    *, request_obj: CapacityRequest, user: Principal, reason: str, version: int | None = None
) -> CapacityRequest:
    with transaction.atomic():
        return _decline(_lock_for_team(request_obj, user, version), reason)


def _decline(request_obj: CapacityRequest, reason: str) -> CapacityRequest:
    _require_state(request_obj, "decline")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the request is declined.")}, code="no_reason")
    request_obj.status = Status.DECLINED
    request_obj.decline_reason = reason
    return _save(request_obj, "status", "decline_reason")


# --- Capacity requests: the province's rating --------------------------------------------------------


def rate_request(
    *, request_obj: CapacityRequest, user: Principal, rating: int, feedback: str = "", version: int | None = None
) -> CapacityRequest:
    """The province rates the delivery, 1 (poor) to 5 (excellent); a new rating replaces the last."""
    with transaction.atomic():
        return _rate(_lock_for_province(request_obj, user, version), rating, feedback)


def _rate(request_obj: CapacityRequest, rating, feedback: str = "") -> CapacityRequest:
    _require_state(request_obj, "rate")
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise ValidationError({"rating": _("Give a rating from 1 to 5.")}, code="bad_rating")
    request_obj.rating = rating
    request_obj.feedback = (feedback or "").strip()
    return _save(request_obj, "rating", "feedback")


_MOVES: dict[str, Callable[..., CapacityRequest]] = {
    "accept": accept_request,
    "schedule": schedule_request,
    "deliver": deliver_request,
    "close": close_request,
    "decline": decline_request,
    "rate": rate_request,
}


def move_request(
    *, request_obj: CapacityRequest, user: User, action: str, version: int | None = None, **data
) -> CapacityRequest:
    """One entry for the page's buttons: `action` is one of ACTIONS, `data` that action's arguments,
    `version` the request's version the page showed."""
    if action not in _MOVES:
        raise ValidationError(_("Unknown action."), code="unknown_action")
    return _MOVES[action](request_obj=request_obj, user=user, version=version, **data)
