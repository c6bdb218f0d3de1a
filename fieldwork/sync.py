"""The field app's sync (POST /field/api/sync/, fieldwork.views_sync): a device's queue of changes made offline,
applied exactly once, in the order given, each through the one write path of its kind.

- "contact": cases.services.log_contact (the change's key is the contact's client_key);
- "status": a field-wise merge under the record's row lock. The status the device saw (`from`) is still the
  record's: targets.record_services.change_status at the record's current version, even when other fields changed
  on the server meanwhile (merged). It is already the new one (`to`): applied, nothing written. It is a third:
  a conflict, shown to the worker, nothing written (never silently overwritten). The worker keeps theirs by
  sending a new change from the server's status;
- "help": targets.record_services.record_help;
- "new_child": a child the worker found (cases.services.report_found_child: a new record assigned to them), its
  values checked by the record form's rules (targets.forms.validate_record, the upload's validator).

Exactly once: each change is applied in its own transaction together with its SyncedChange row (its key, unique),
so a change is stored if and only if its write is. A key seen before is answered from that row ("replayed"),
and nothing is written; the same key from another user, or with another body (sha256 of its canonical JSON), is
refused. A refusal (the record is no longer the worker's to see or to work on, or the services' ValidationError)
and a conflict are stored like an applied change, so that a replay answers the same. Any other exception
propagates (500): its change is not stored, and the device sends it again.

Records are read through the door (TargetRecord.objects.visible_to), and a refusal never says where a record went.
"""

import datetime
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.access import can, require, restrict
from accounts.models import User
from cases import services as case_services
from cases.models import ContactKind
from provinces.models import Province
from targets import id_probes, record_services
from targets.forms import NO, validate_record
from targets.models import AssistanceType, Outcome, StatusChange, TargetRecord

from .models import SyncedChange

KINDS = ("contact", "status", "help", "new_child")
APPLIED, CONFLICT, REFUSED = SyncedChange.Result.APPLIED, SyncedChange.Result.CONFLICT, SyncedChange.Result.REFUSED


class Malformed(Exception):
    """The request as a whole cannot be read (400): its message, in the request's language, says why."""


class Refused(Exception):
    """A change the server will not apply, with the reason shown to the worker and the errors by field."""

    def __init__(self, reason: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors or {}


def not_in_care_reason() -> str:
    return _("This child's record is no longer in your care: it may have moved to another province or been removed.")


def not_assigned_reason() -> str:
    return _("This child is no longer assigned to you.")


# --- reading the request ------------------------------------------------------------------------------


def parse_changes(body: bytes) -> list[dict[str, Any]]:
    """The body's changes, each a dict with a UUID `key` and a known `kind`; Malformed otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: nested past Python's stack
        raise Malformed(_("The request is not JSON.")) from error
    changes = data.get("changes") if isinstance(data, dict) else None
    if not isinstance(changes, list):
        raise Malformed(_("The request must give its changes as a list."))
    limit = settings.FIELDWORK_SYNC_MAX_CHANGES
    if len(changes) > limit:
        raise Malformed(_("At most %(limit)s changes at a time: send the rest in another request.") % {"limit": limit})
    for number, change in enumerate(changes, start=1):
        if not isinstance(change, dict) or _key(change.get("key")) is None:
            raise Malformed(_("Change %(number)s has no valid key (a UUID).") % {"number": number})
        if change.get("kind") not in KINDS:
            raise Malformed(_("Change %(number)s is of an unknown type.") % {"number": number})
    return changes


def _key(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def digest(change: dict[str, Any]) -> str:
    """sha256 of the change's canonical JSON (keys sorted, no spaces): the same change sent again has the same."""
    canonical = json.dumps(change, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _datetime(value: object) -> datetime.datetime | None:
    """An ISO date and time (a device's clock; without a zone, the portal's), None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _date(value: object) -> datetime.date | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


def _text(part: dict[str, Any], name: str, errors: dict[str, list[str]]) -> str:
    value = part.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = [_("This must be text.")]
        return ""
    return value


def _part(change: dict[str, Any], name: str) -> dict[str, Any]:
    part = change.get(name)
    if not isinstance(part, dict):
        raise Refused(_("The change is incomplete."), {name: [_("This is missing.")]})
    return part


# --- applying ---------------------------------------------------------------------------------------------


@dataclass
class Batch:
    """One request's changes: who sends them, from where (for the access log of identifier look-ups), and the
    reference rows looked up once for all of them."""

    user: User
    asker: id_probes.Asker | None = None
    seen: dict[uuid.UUID, SyncedChange] = field(default_factory=dict)
    _outcomes: dict[str, Outcome] | None = None
    _assistance_types: dict[str, AssistanceType] | None = None

    def _all_outcomes(self) -> dict[str, Outcome]:
        if self._outcomes is None:
            self._outcomes = {o.code: o for o in Outcome.objects.all()}
        return self._outcomes

    def outcome(self, code: object) -> Outcome | None:
        return self._all_outcomes().get(code) if isinstance(code, str) else None

    def outcome_by_pk(self, pk: int) -> Outcome:
        return next(o for o in self._all_outcomes().values() if o.pk == pk)

    def assistance_type(self, code: object) -> AssistanceType | None:
        if self._assistance_types is None:
            self._assistance_types = {t.code: t for t in AssistanceType.objects.all()}
        return self._assistance_types.get(code) if isinstance(code, str) else None


def apply_changes(*, user: User, changes: list[dict[str, Any]], asker: id_probes.Asker | None = None) -> list[dict]:
    """The answer to each change (parse_changes' output), in order; each applied in its own transaction."""
    batch = Batch(user=user, asker=asker)
    keys = [uuid.UUID(change["key"]) for change in changes]
    batch.seen = {row.key: row for row in SyncedChange.objects.filter(key__in=keys)}
    return [_apply_one(batch, change, key) for change, key in zip(changes, keys, strict=True)]


def _answer(key: uuid.UUID, result: str, record: int | None, **extra: Any) -> dict[str, Any]:
    return {"key": str(key), "result": result, "replayed": False, "record": record, **extra}


def _refusal(key: uuid.UUID, record: int | None, reason: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    return _answer(key, REFUSED, record, reason=reason, errors=errors)


def _replay(batch: Batch, earlier: SyncedChange, key: uuid.UUID, body: str, record: int | None) -> dict[str, Any]:
    if earlier.user_id != batch.user.pk:
        message = _("This change's key was already used by someone else: nothing was written.")
        return _refusal(key, record, message, {"key": [message]})
    if earlier.body_sha256 != body:
        message = _("This change's key was already used for a different change: nothing was written.")
        return _refusal(key, record, message, {"key": [message]})
    return {**earlier.response, "replayed": True}


def _record_id(change: dict[str, Any]) -> int | None:
    value = change.get("record")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _apply_one(batch: Batch, change: dict[str, Any], key: uuid.UUID) -> dict[str, Any]:
    body = digest(change)
    record_id = _record_id(change)
    earlier = batch.seen.get(key)
    if earlier is not None:
        return _replay(batch, earlier, key, body, record_id)
    kind = change["kind"]
    made_at = _datetime(change.get("made_at"))
    prepared: Any = None
    try:
        if kind == "new_child":
            # Checked before the write's transaction: an identifier held elsewhere is a look-up that is counted
            # and logged (targets.id_probes), which the transaction's rollback must not undo.
            prepared = _prepare_new_child(batch, change)
    except Refused as refusal:
        answer = _refusal(key, None, refusal.reason, refusal.errors)
        return _store(batch, key=key, kind=kind, body=body, made_at=made_at, write=lambda: (answer, None))
    return _store(
        batch, key=key, kind=kind, body=body, made_at=made_at, write=lambda: _write(batch, kind, change, key, prepared)
    )


def _store(batch: Batch, *, key: uuid.UUID, kind: str, body: str, made_at: datetime.datetime | None,
           write: Callable[[], tuple[dict[str, Any], int | None]]) -> dict[str, Any]:  # fmt: skip
    """The change's write, which gives its answer and the record it is about (None: none the user sees), and its
    SyncedChange row, in one transaction. A concurrent request that sent the same key first wins: this one's write
    is undone with its row, and the first one's answer is given."""
    answer: dict[str, Any] | None = None
    try:
        with transaction.atomic():
            answer, record_id = write()
            row = SyncedChange.objects.create(
                key=key, user=batch.user, kind=kind, record_id=record_id, result=answer["result"],
                response=answer, body_sha256=body, made_at=made_at,
            )  # fmt: skip
    except IntegrityError:
        earlier = SyncedChange.objects.filter(key=key).first()
        if earlier is None:
            raise
        batch.seen[key] = earlier
        return _replay(batch, earlier, key, body, answer["record"] if answer else None)
    batch.seen[key] = row
    return answer


def _write(
    batch: Batch, kind: str, change: dict[str, Any], key: uuid.UUID, prepared: Any
) -> tuple[dict[str, Any], int | None]:
    """The change applied (inside its transaction): its answer, and the record it is about if the user sees it. A
    refusal leaves nothing written (each service writes in a savepoint of its own)."""
    # As the device sent it: a refusal names it back, whether it exists or not (a new child: none).
    record_id = _record_id(change) if kind != "new_child" else None
    record: TargetRecord | None = None
    try:
        if kind == "new_child":
            # Checked already (_prepare_new_child), and again by the service as of now: a race for the identifier
            # ends as a refusal.
            record = _new_child(batch, prepared)
            return _answer(key, APPLIED, record.pk, version=record.version), record.pk
        if record_id is None:
            raise Refused(_("The change does not say which child it is about."), {"record": [_("This is missing.")]})
        record = TargetRecord.objects.visible_to(batch.user).filter(pk=record_id).first()
        if record is None:
            raise Refused(not_in_care_reason())
        if kind == "contact":
            answer = _contact(batch, key, change, record)
        elif kind == "status":
            answer = _status(batch, key, change, record)
        else:
            answer = _help(batch, key, change, record)
    except Refused as refusal:
        answer = _refusal(key, record_id, refusal.reason, refusal.errors)
    except PermissionDenied:
        answer = _refusal(key, record_id, not_assigned_reason(), {})
    except ValidationError as error:
        answer = _refusal(key, record_id, " ".join(error.messages), _errors(error))
    return answer, None if record is None or record.pk is None else record.pk


def _errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {name: list(messages) for name, messages in error.message_dict.items()}
    return {"__all__": list(error.messages)}


def _contact(batch: Batch, key: uuid.UUID, change: dict[str, Any], record: TargetRecord) -> dict[str, Any]:
    contact = _part(change, "contact")
    errors: dict[str, list[str]] = {}
    kind = contact.get("kind")
    if kind not in ContactKind.values:
        errors["kind"] = [_("Choose the type of contact.")]
    happened_at = _datetime(contact.get("happened_at"))
    if happened_at is None:
        errors["happened_at"] = [_("Give the date and time of the contact.")]
    reached = contact.get("reached", True)
    if not isinstance(reached, bool):
        errors["reached"] = [_("Say whether the child or family was reached.")]
    next_due = None
    if contact.get("next_due") is not None:
        next_due = _date(contact.get("next_due"))
        if next_due is None:
            errors["next_due"] = [_("Give the date as YYYY-MM-DD.")]
    texts = {name: _text(contact, name, errors) for name in ("with_whom", "findings", "next_step")}
    if errors or happened_at is None:
        raise ValidationError(errors)
    case_services.log_contact(
        user=batch.user, record=record, kind=str(kind), happened_at=happened_at, reached=bool(reached),
        next_due=next_due, client_key=key, location=contact.get("location"), **texts,
    )  # fmt: skip
    return _answer(key, APPLIED, record.pk, version=record.version)


def _status(batch: Batch, key: uuid.UUID, change: dict[str, Any], record: TargetRecord) -> dict[str, Any]:
    base, yours = batch.outcome(change.get("from")), batch.outcome(change.get("to"))
    errors = {}
    if base is None:
        errors["from"] = [_("Unknown status.")]
    if yours is None:
        errors["to"] = [_("Unknown status.")]
    if errors or base is None or yours is None:
        raise ValidationError(errors)
    require(batch.user, "targets.work_on", record)
    locked = TargetRecord.objects.select_for_update().get(pk=record.pk)
    if locked.status_id == yours.pk:
        return _answer(key, APPLIED, record.pk, version=locked.version)  # someone set it already: nothing to write
    if locked.status_id == base.pk:
        # The status is as the device saw it: whatever else changed on the server meanwhile, this field is the
        # device's to change (a field-wise merge).
        made = record_services.change_status(record=locked, user=batch.user, status=yours, version=locked.version)
        version = made.record.version if made is not None else locked.version
        return _answer(key, APPLIED, record.pk, version=version)
    theirs = batch.outcome_by_pk(locked.status_id)
    setter = (
        StatusChange.objects.visible_to(batch.user)
        .filter(record_id=record.pk, to_status_id=locked.status_id)
        .select_related("changed_by")
        .order_by("-changed_at", "-pk")
        .first()
    )
    return _answer(
        key,
        CONFLICT,
        record.pk,
        conflict={
            "field": "status",
            "base": _named(base),
            "yours": _named(yours),
            "theirs": _named(theirs),
            "version": locked.version,
            "changed_by": str(setter.changed_by) if setter is not None and setter.changed_by is not None else None,
        },
    )


def _named(outcome: Outcome) -> dict[str, str]:
    return {"code": outcome.code, "name": outcome.name}


def _help(batch: Batch, key: uuid.UUID, change: dict[str, Any], record: TargetRecord) -> dict[str, Any]:
    given = _part(change, "help")
    errors: dict[str, list[str]] = {}
    kind = batch.assistance_type(given.get("type"))
    if kind is None:
        errors["type"] = [_("Choose the type of help.")]
    date = _date(given.get("date"))
    if date is None:
        errors["date"] = [_("Give the date as YYYY-MM-DD.")]
    given_by, outcome = _text(given, "given_by", errors), _text(given, "outcome", errors)
    if errors or kind is None or date is None:
        raise ValidationError(errors)
    record_services.record_help(record=record, user=batch.user, type=kind, date=date, given_by=given_by,
                                outcome=outcome)  # fmt: skip
    return _answer(key, APPLIED, record.pk, version=record.version)


# --- a newly found child -------------------------------------------------------------------------------------

# The device's fields of a new child, as the record form's (targets.forms.RECORD_COLUMNS) text. "status" is optional:
# without it (or empty) the record is "in-follow-up", as the validator's default.
CHILD_TEXT_FIELDS = ("identifier", "name_prefix", "first_name", "last_name", "sex", "category", "status",
                     "guardian_name", "phone", "notes")  # fmt: skip


@dataclass(frozen=True)
class NewChild:
    province: Province
    identifier: str
    identifier_kind: str
    values: dict[str, Any]


def _prepare_new_child(batch: Batch, change: dict[str, Any]) -> NewChild:
    """The new child's record, checked as the record form checks one (values, identifier) and where the worker may
    note one; Refused otherwise. Outside the write's transaction (see _apply_one)."""
    child = _part(change, "child")
    code = child.get("province")
    province = None
    if isinstance(code, int) and not isinstance(code, bool):
        province = restrict(Province.objects.filter(pk=code), batch.user, "targets.found_provinces").first()
    if province is None:
        message = _("You may note a new child only in a province where you are a case worker.")
        raise Refused(message, {"province": [message]})
    errors: dict[str, list[str]] = {}
    data = {name: _text(child, name, errors) for name in CHILD_TEXT_FIELDS}
    for name in ("birth_date", "district", "sub_district"):
        value = child.get(name)
        data[name] = "" if value is None else str(value)
    data["consent"] = NO  # not asked on the device
    if errors:
        raise Refused(" ".join(m for messages in errors.values() for m in messages), errors)
    clean, messages = validate_record(province=province, data=data)
    if clean is None or messages:
        found = {name or "__all__": reasons for name, reasons in messages.items()}
        raise Refused(" ".join(m for reasons in found.values() for m in reasons), found)
    kind = child.get("identifier_kind")
    if kind not in (None, "", clean.identifier_kind):
        message = _("The identifier is not of the kind given.")
        raise Refused(message, {"identifier_kind": [message]})
    if not can(batch.user, "targets.report_found", (province.pk, clean.values.get("district_id"))):
        message = _("You may note a new child only in the districts where you are a case worker.")
        raise Refused(message, {"district": [message]})
    try:
        record_services.check_identifier_free(identifier=clean.identifier, user=batch.user, asker=batch.asker)
    except ValidationError as error:
        raise Refused(" ".join(error.messages), _errors(error)) from error
    return NewChild(province, clean.identifier, clean.identifier_kind, clean.values)


def _new_child(batch: Batch, child: NewChild) -> TargetRecord:
    return case_services.report_found_child(
        user=batch.user, province=child.province, identifier=child.identifier,
        identifier_kind=child.identifier_kind, values=child.values,
    )  # fmt: skip
