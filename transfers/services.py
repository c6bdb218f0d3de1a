"""The one write path of transfers: asking for a record, answering, withdrawing, and EEF/IPSR's direct
move. Views, the API and tests call these (keyword-only); each checks the door itself.

The move (`_move`, on acceptance) happens in one transaction with the request and the record locked:
the record's province changes to the requester's, and everything that hangs off the record (status
history, help given, its case with contacts, plan and referrals) goes with it. The assigned case worker
is taken off through the cases app's assignment (cases.services.assign, which logs it on the case); the
new province assigns. District and sub-district are the old province's: they are cleared.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can, only_province, require
from accounts.models import User
from cases import services as case_services
from cases.models import Case, Notification
from core import control_characters
from core.thai_id import IdentifierError, parse_identifier
from core.versioning import check_version
from provinces.models import Province
from targets import id_probes
from targets.models import TargetRecord

from . import policies
from .models import TransferRequest, TransferState

NOTE_MAX_CHARS = 2000


def _clean_text(field: str, text: str, *, required: bool, missing: str) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationError({field: missing})
    if len(text) > NOTE_MAX_CHARS:
        raise ValidationError({field: _("Keep it under %(count)d characters.") % {"count": NOTE_MAX_CHARS}})
    char = control_characters.first_forbidden(text)
    if char:
        raise ValidationError({field: control_characters.message(char)})
    return text


def _parse(identifier: str) -> str:
    try:
        return parse_identifier(identifier).value
    except IdentifierError as error:
        raise ValidationError({"identifier": error.message}) from error


def _code(province: Province | int) -> int:
    return province.pk if isinstance(province, Province) else int(province)


def _requesting_province(user: User, province: Province | int | None) -> int:
    code = _code(province) if province is not None else only_province(user, write=True)
    if code is None:
        raise ValidationError({"province": _("Choose the province the record should move to.")})
    if not can(user, "transfers.request", code):
        raise PermissionDenied
    return code


def request_transfer(
    *,
    user: User,
    identifier: str,
    note: str = "",
    province: Province | int | None = None,
    asker: id_probes.Asker | None = None,
) -> TransferRequest:
    """Ask that the record with `identifier`, held by another province, move to `province` (the user's
    own when they coordinate one). The requester learns nothing of the record by it: the request stores
    what they typed. Saying "no other province holds it" or creating the request is an answer about
    another province, counted like the upload's (targets.id_probes)."""
    require(user, "transfers.request")
    to_code = _requesting_province(user, province)
    value = _parse(identifier)
    note = _clean_text("note", note, required=False, missing="")
    holder = TargetRecord.objects.filter(identifier=value).only("pk", "province_id").first()
    if holder is not None and holder.province_id == to_code:
        raise ValidationError({"identifier": _("This record is already in your province.")})
    if holder is None:
        raise ValidationError({"identifier": _("No record in another province has this identifier.")})
    if not can(user, "targets.read", holder.province_id) and not id_probes.may_answer(
        asker=asker or id_probes.Asker(principal=user), count=1, model=TransferRequest, description="transfer request"
    ):
        raise ValidationError({"identifier": id_probes.refusal_message(count=1)})
    try:
        with transaction.atomic():
            transfer = TransferRequest.objects.create(
                record_id=holder.pk,
                identifier=value,
                from_province_id=holder.province_id,
                to_province_id=to_code,
                requested_by=user,
                note=note,
            )
            # The holder's side learns that a request waits; the requester is told nothing here (the
            # notification carries only the request's number, and none goes to the requester).
            kind = Notification.Kind.TRANSFER_REQUESTED
            case_services.notify_about([(u, kind, transfer.pk) for u in policies.answerers(transfer)], exclude=user.pk)
            return transfer
    except IntegrityError as error:
        raise ValidationError(
            {"identifier": _("Your province has already asked for this record; wait for the answer.")}
        ) from error


def _locked(transfer: TransferRequest, version: int | None) -> TransferRequest:
    locked = TransferRequest.objects.select_for_update().get(pk=transfer.pk)
    check_version(locked, version)
    if locked.state != TransferState.REQUESTED:
        raise ValidationError({"state": _("This request has already been answered or withdrawn.")})
    return locked


@transaction.atomic
def accept_transfer(*, user: User, transfer: TransferRequest, version: int | None, reason: str = "") -> TransferRequest:
    """The holding province (or EEF/IPSR) agrees: the record moves to the requester's province."""
    require(user, "transfers.answer", transfer)
    # The record first, then the request: the order of force_move too (record, then its requests), so that an
    # acceptance and EEF/IPSR's direct move of the same record wait for each other instead of deadlocking.
    TargetRecord.objects.select_for_update().filter(pk=transfer.record_id).values_list("pk").first()
    locked = _locked(transfer, version)
    locked.answer_reason = _clean_text("reason", reason, required=False, missing="")
    _move(user=user, transfer=locked)
    return locked


@transaction.atomic
def decline_transfer(*, user: User, transfer: TransferRequest, version: int | None, reason: str) -> TransferRequest:
    """The holding province (or EEF/IPSR) refuses, with a reason that the requesting side reads."""
    require(user, "transfers.answer", transfer)
    locked = _locked(transfer, version)
    locked.answer_reason = _clean_text(
        "reason", reason, required=True, missing=_("Say why: the requesting province reads your reason.")
    )
    _finish(locked, user=user, state=TransferState.DECLINED)
    case_services.notify_about(
        [(locked.requested_by_id, Notification.Kind.TRANSFER_DECLINED, locked.pk)], exclude=user.pk
    )
    return locked


@transaction.atomic
def withdraw_transfer(*, user: User, transfer: TransferRequest, version: int | None) -> TransferRequest:
    """The requesting side takes its open request back."""
    require(user, "transfers.withdraw", transfer)
    locked = _locked(transfer, version)
    _finish(locked, user=user, state=TransferState.CANCELLED)
    # Those it waited for learn they need not answer (what they were told of it: its number).
    kind = Notification.Kind.TRANSFER_WITHDRAWN
    case_services.notify_about([(u, kind, locked.pk) for u in policies.answerers(locked)], exclude=user.pk)
    return locked


@transaction.atomic
def force_move(*, user: User, record: TargetRecord, to_province: Province | int, reason: str) -> TransferRequest:
    """EEF/IPSR move a record to another province at once, with a reason: a request created accepted."""
    require(user, "transfers.force")
    to_code = _code(to_province)
    reason = _clean_text("reason", reason, required=True, missing=_("Say why the record moves."))
    locked_record = TargetRecord.objects.select_for_update().get(pk=record.pk)
    if locked_record.province_id == to_code:
        raise ValidationError({"province": _("The record is already in this province.")})
    transfer = TransferRequest(
        record=locked_record,
        identifier=locked_record.identifier,
        from_province_id=locked_record.province_id,
        to_province_id=to_code,
        requested_by=user,
        note=reason,
        answer_reason=reason,
        forced=True,
    )
    _move(user=user, transfer=transfer)
    # Both provinces' coordinators learn of it: the one gaining the record assigns it a case worker; the one losing
    # it reads only that it moved (the move's page, as the holding side of any request).
    gaining = User.objects.coordinators_of([to_code]).values_list("pk", flat=True)
    losing = User.objects.coordinators_of([transfer.from_province_id]).values_list("pk", flat=True)
    case_services.notify_about(
        [(u, Notification.Kind.MOVED_IN, transfer.pk) for u in gaining]
        + [(u, Notification.Kind.MOVED_OUT, transfer.pk) for u in losing],
        exclude=user.pk,
    )
    return transfer


def _finish(transfer: TransferRequest, *, user: User, state: str) -> None:
    transfer.state = state
    transfer.answered_by = user
    transfer.answered_at = timezone.now()
    if transfer.pk is None:
        transfer.save()
    else:
        transfer.save(update_fields=["state", "answered_by", "answered_at", "answer_reason"])


def _move(*, user: User, transfer: TransferRequest) -> None:
    """Move the transfer's record to its to_province, in the caller's transaction (rows locked)."""
    record = TargetRecord.objects.select_for_update().get(pk=transfer.record_id)
    if record.province_id != transfer.from_province_id:
        # Moved meanwhile (another request, EEF/IPSR): this answer was given about a record that is gone.
        raise ValidationError({"state": _("The record has moved since this request was made.")})
    if record.case_worker_id is not None:
        # The old province's case worker stops following the child; the case's history says so.
        case_services.assign(user=user, records=[record], worker=None)
        record.refresh_from_db()
    record.province_id = transfer.to_province_id
    # The old province's areas mean nothing in the new one; its coordinators fill them in again.
    record.district = None
    record.sub_district = None
    record.updated_by = user
    record.save(update_fields=["province", "district", "sub_district", "updated_at", "updated_by"])
    # The case (contacts, plan, referrals) hangs off the record; its copy of the province follows it.
    Case.objects.filter(pk=record.pk).update(
        province_id=transfer.to_province_id, updated_at=timezone.now(), version=F("version") + 1
    )
    _finish(transfer, user=user, state=TransferState.ACCEPTED)
    # Other provinces' open requests for the record asked about a province that no longer holds it.
    others = list(
        TransferRequest.objects.select_for_update().filter(record_id=record.pk).pending().exclude(pk=transfer.pk)
    )
    for other in others:
        other.answer_reason = _("The record was moved by another request.")
        _finish(other, user=user, state=TransferState.DECLINED)
    # Each requester learns the answer to theirs (an EEF/IPSR direct move's requester is the one who acted).
    case_services.notify_about(
        [(transfer.requested_by_id, Notification.Kind.TRANSFER_ACCEPTED, transfer.pk)]
        + [(other.requested_by_id, Notification.Kind.TRANSFER_DECLINED, other.pk) for other in others],
        exclude=user.pk,
    )
