"""Writing one target-group record from a page or admin: the one path for views, admin and tests
(spreadsheets go through the upload pipeline, targets/upload/, which writes in bulk).

`values` are the record's fields as the upload's validator returns them (targets.upload.validation
RECORD_FIELDS), so a record written by a form has passed the same rules as one from an upload.
Who may: the door's "targets.write" (targets/policies.py); a wrong user gets PermissionDenied, bad
input a ValidationError keyed by field, a record changed since `version` a StaleEdit.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import Principal, can, require
from accounts.models import User
from core import control_characters
from core.versioning import check_version
from provinces.models import Province

from . import id_probes
from .models import Assistance, AssistanceType, Outcome, StatusChange, TargetRecord
from .upload.validation import RECORD_FIELDS

HELD_ELSEWHERE = "held_elsewhere"


def identifier_taken_message(*, user: Principal, holder: TargetRecord | None) -> str:
    """Why an identifier cannot be used: it belongs to `holder`. Someone who cannot see the holder's
    province learns only that it is elsewhere, in the upload's words (targets.upload.pipeline)."""
    if holder is not None and can(user, "targets.read", holder.province_id):
        return _("This identifier already has a record in %(province)s.") % {"province": holder.province.name}
    return id_probes.held_elsewhere_message()


def _check_identifier_free(
    *, identifier: str, user: Principal, exclude_pk: int | None = None, asker: id_probes.Asker | None = None
) -> None:
    """ValidationError when another record has `identifier`. Saying so about a province the user
    cannot see is an answer about that province (targets.id_probes): counted, logged, and refused
    beyond the day's allowance. Call it outside any transaction that the error would roll back, or
    the access log's entry goes with it."""
    # A record's own identifier, or one a merge kept as its alias (targets.RecordAlias): taken either way.
    others = TargetRecord.objects.by_identifier(identifier)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    holder = others.select_related("province").first()
    if holder is None:
        return
    if not can(user, "targets.read", holder.province_id) and not id_probes.may_answer(
        asker=asker or id_probes.Asker(principal=user), count=1, model=TargetRecord, description="record form"
    ):
        raise ValidationError({"identifier": id_probes.refusal_message(count=1)})
    # The code lets the record form offer "request a transfer" beside the message (targets/views.py).
    raise ValidationError(
        {"identifier": ValidationError(identifier_taken_message(user=user, holder=holder), code=HELD_ELSEWHERE)}
    )


def check_identifier_free(*, identifier: str, user: Principal, asker: id_probes.Asker | None = None) -> None:
    """ValidationError keyed "identifier" when a record holds `identifier` already, in the words create_record
    uses; for a caller that must ask before its write's transaction (the field app's sync: fieldwork.sync)."""
    _check_identifier_free(identifier=identifier, user=user, asker=asker)


def _save_or_explain(record: TargetRecord, *, user: Principal, **save_kwargs) -> None:
    """Save; a concurrent write of the same identifier (the unique constraint) becomes the same message."""
    try:
        with transaction.atomic():
            record.save(**save_kwargs)
    except IntegrityError as error:
        holder = TargetRecord.objects.by_identifier(record.identifier).exclude(pk=record.pk).first()
        if holder is None:
            raise
        raise ValidationError({"identifier": identifier_taken_message(user=user, holder=holder)}) from error


def _check_values(values: dict) -> None:
    unknown = set(values) - set(RECORD_FIELDS)
    if unknown:
        raise ValueError(f"not record fields: {sorted(unknown)}")


def create_record(
    *,
    user: User,
    province: Province,
    identifier: str,
    identifier_kind: str,
    values: dict,
    asker: id_probes.Asker | None = None,
) -> TargetRecord:
    """A new record of `province`. Its status is its first status: no StatusChange row. `asker` says
    who asks from where for the access log (targets.id_probes.Asker.of_request), the user by default."""
    require(user, "targets.write", province)
    return _create(user=user, province=province, identifier=identifier, identifier_kind=identifier_kind,
                   values=values, asker=asker)  # fmt: skip


def _create(
    *, user: User, province: Province, identifier: str, identifier_kind: str, values: dict, asker, extra=None
) -> TargetRecord:
    """create_record's and report_found's write, once the door has let the user: `values` (record fields, checked)
    and `extra` (the assignment of report_found)."""
    _check_values(values)
    # Before the write's transaction: "recorded in another province" is logged and counted even
    # though the write fails (targets.id_probes).
    _check_identifier_free(identifier=identifier, user=user, asker=asker)
    try:
        return _insert_record(
            user=user, province=province, identifier=identifier, identifier_kind=identifier_kind,
            values={**values, **(extra or {})},
        )  # fmt: skip
    except IntegrityError:
        # The identifier was taken between the look-up and the insert: answered like any other look-up.
        _check_identifier_free(identifier=identifier, user=user, asker=asker)
        raise


def report_found(
    *,
    user: User,
    province: Province,
    identifier: str,
    identifier_kind: str,
    values: dict,
    asker: id_probes.Asker | None = None,
) -> TargetRecord:
    """A child a case worker found in the field (the field app's "new child"): a new record of `province`, written
    as create_record writes one, assigned to that worker. `values` have passed the record form's rules
    (targets.forms.validate_record: the upload's validator); "in-follow-up" unless they give a status.

    The door's "targets.report_found": a case worker of the province, in one of their districts when their role is
    limited to some. An identifier recorded anywhere already is refused in words that say nothing of where
    (identifier_taken_message: a case worker reads no province)."""
    require(user, "targets.report_found", (province.pk, values.get("district_id")))
    assigned = {"case_worker": user, "case_assigned_at": timezone.now()}
    return _create(user=user, province=province, identifier=identifier, identifier_kind=identifier_kind,
                   values=values, asker=asker, extra=assigned)  # fmt: skip


@transaction.atomic
def _insert_record(
    *, user: User, province: Province, identifier: str, identifier_kind: str, values: dict
) -> TargetRecord:
    record = TargetRecord(
        identifier=identifier,
        identifier_kind=identifier_kind,
        province=province,
        updated_by=user,
        **values,
    )
    if record.status_id is None:
        record.status = Outcome.objects.get(code="in-follow-up")
    record.save()
    return record


@transaction.atomic
def update_record(
    *,
    record: TargetRecord,
    user: User,
    values: dict,
    version: int | None = None,
    identifier: str | None = None,
    identifier_kind: str | None = None,
    province: Province | None = None,
) -> TargetRecord:
    """Change `record` to `values` (only fields that differ are written). A new identifier or
    province: EEF/IPSR admins only. A changed status is kept in the history. StaleEdit if the
    record is no longer at `version`."""
    require(user, "targets.write", record.province_id)
    _check_values(values)
    locked = TargetRecord.objects.select_for_update().get(pk=record.pk)
    check_version(locked, version)
    changed: list[str] = []
    if identifier is not None and identifier != locked.identifier:
        # The identifier is the person's key across the country (one person, one record): changing it
        # could merge two people or hide a duplicate, so only EEF/IPSR, who see every province, may.
        require(user, "targets.move")
        _check_identifier_free(identifier=identifier, user=user, exclude_pk=locked.pk)
        locked.identifier = identifier
        locked.identifier_kind = identifier_kind or locked.identifier_kind
        changed += ["identifier", "identifier_kind"]
    if province is not None and province.pk != locked.province_id:
        require(user, "targets.move")
        locked.province = province
        changed.append("province")
    old_status = locked.status_id
    for field, value in values.items():
        if getattr(locked, field) != value:
            setattr(locked, field, value)
            changed.append(field)
    if not changed:
        return locked
    locked.updated_by = user
    _save_or_explain(locked, user=user, update_fields=[*changed, "updated_at", "updated_by"])
    if locked.status_id != old_status:
        StatusChange.objects.create(
            record=locked, from_status_id=old_status, to_status_id=locked.status_id, changed_by=user
        )
    return locked


@transaction.atomic
def change_status(
    *, record: TargetRecord, user: User, status: Outcome, version: int | None = None
) -> StatusChange | None:
    """Move the record to `status`, kept in its history; None when it already has it. StaleEdit if
    the record is no longer at `version` (a second click, or a page opened before another change)."""
    # The province's coordinators, or the case worker the child is assigned to (targets/policies.py).
    require(user, "targets.work_on", record)
    if not status.is_active:
        raise ValidationError({"status": _("This status is no longer in use.")})
    locked = TargetRecord.objects.select_for_update().get(pk=record.pk)
    check_version(locked, version)
    if locked.status_id == status.pk:
        return None
    change = StatusChange.objects.create(
        record=locked, from_status_id=locked.status_id, to_status=status, changed_by=user
    )
    locked.status = status
    locked.updated_by = user
    locked.save(update_fields=["status", "updated_at", "updated_by"])
    return change


@transaction.atomic
def record_help(
    *,
    record: TargetRecord,
    user: User,
    type: AssistanceType,
    date: datetime.date,
    given_by: str,
    outcome: str = "",
) -> Assistance:
    """Help given to the record's child or young person."""
    require(user, "targets.work_on", record)
    errors = {}
    if not type.is_active:
        errors["type"] = _("This type of help is no longer in use.")
    if date > timezone.localdate():
        errors["date"] = _("Record help once it has been given: the date is in the future.")
    if not given_by.strip():
        errors["given_by"] = _("Say who gave the help.")
    for field, text in (("given_by", given_by), ("outcome", outcome)):
        char = control_characters.first_forbidden(text)
        if char:
            errors[field] = control_characters.message(char)
    if errors:
        raise ValidationError(errors)
    return Assistance.objects.create(
        record=record, type=type, date=date, given_by=given_by.strip(), outcome=outcome.strip(), recorded_by=user
    )
