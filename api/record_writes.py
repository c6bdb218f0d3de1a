"""Writing target-group records through the API, one or up to 1,000 a request, by the spreadsheet
upload's rules and writers (targets/upload/), so an API write and an uploaded row cannot differ.

Each item is a record's fields by their upload names (targets.upload.columns.FIELDS), passes the
upload's RowValidator, is classified by its identifier like an upload's row and written by the
pipeline's writers; fields it leaves out are not changed. An item carrying a "version" is written
only if the record is still at it, else rejected as stale. The caller holds the transaction
(api.idempotency) and masks the identifiers (docs/api.md, "Writing records").
"""

import contextlib
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.utils.translation import gettext as _

from accounts.access import Principal, can, only_province
from audit.tracking import context as audit_context
from core.thai_id import IdentifierError, parse_identifier
from provinces.models import Province
from targets import id_probes
from targets.models import StatusChange, TargetRecord
from targets.signals import announce_records_written
from targets.upload import pipeline
from targets.upload.columns import FIELDS, ColumnMap, missing_required
from targets.upload.validation import RowValidator

from .authentication import is_partner
from .errors import ProvinceBusy

MAX_ITEMS = 1000
MAX_TEXT = 10_000
# Fields of a record as the API shows it that an item may carry back unchanged: ignored on write.
# "version" is not written either: it is the item's precondition (ItemResult.expected_version).
READ_ONLY_FIELDS = frozenset({"id", "identifier_kind", "created_at", "updated_at", "version"})
# The upload's case worker column is the upload's own (assignments have their API and services).
WRITABLE_FIELDS = tuple(f for f in FIELDS if f != "case_worker")

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"


@dataclass
class ItemResult:
    index: int
    identifier: str | None  # normalised; the view masks it for the caller
    province: int | None
    status: str = ""
    errors: list[dict] = field(default_factory=list)
    record_id: int | None = None
    expected_version: int | None = None  # the item's "version": write only a record still at it
    stale: bool = False  # rejected because the record is no longer at expected_version
    current_version: int | None = None

    def reject(self, field_name: str | None, message: str) -> None:
        self.status = REJECTED
        self.errors.append({"field": field_name, "message": str(message)})


@dataclass
class _Valid:
    result: ItemResult
    identifier: str
    kind: str
    values: tuple  # in the group's `given` order


def _field_of_label() -> dict[str, str]:
    """The validator names columns by their label (in the active language); the API by field name."""
    return {str(label): name for name, (label, _thai, _aliases) in FIELDS.items()}


def _scalar_error(value) -> str | None:
    if value is None or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str):
        return _("Too long: at most %(count)d characters.") % {"count": MAX_TEXT} if len(value) > MAX_TEXT else None
    return _("Give a text, a number, true/false or null.")


def _province_code(value) -> int | None:
    """A province's DOPA code (two digits) given as a number or as text; None for anything else."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 2:
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 10 <= value <= 99:
        return value
    return None


def write_records(
    *, user: Principal, items: list, acting_user: Principal | None = None, asker: id_probes.Asker | None = None
) -> list[ItemResult]:
    """Validate, classify and write `items` for `user` (a signed-in user or a partner's key); every
    item gets one ItemResult. `acting_user` is the User the writes are attributed to (default: `user`;
    a partner's service account for a key); `asker` who asks from where, for the access log
    (targets.id_probes.Asker.of_request). Call inside a transaction.

    Raises targets.id_probes.ProbeRefused, before writing anything, when the items hold more
    identifiers of provinces the caller cannot see than its day's allowance: answer it without
    rolling the transaction back, or the access log's entry and the flag go with it."""
    acting_user = acting_user if acting_user is not None else user
    default_province = only_province(user, write=True)
    results: list[ItemResult] = []
    groups: dict[tuple[int, tuple[str, ...]], list[tuple[ItemResult, dict]]] = {}
    seen: dict[str, int] = {}
    wanted_codes = {_province_code(i.get("province")) for i in items if isinstance(i, dict)} | {default_province}
    provinces = Province.objects.in_bulk([c for c in wanted_codes if c is not None])

    for index, item in enumerate(items):
        result = ItemResult(index=index, identifier=None, province=None)
        results.append(result)
        if not isinstance(item, dict):
            result.reject(None, _("Each item is an object with a record's fields."))
            continue
        for name, value in item.items():
            if name in READ_ONLY_FIELDS:
                continue
            if name not in WRITABLE_FIELDS:
                result.reject(name, _("Unknown field."))
                continue
            problem = _scalar_error(value)
            if problem:
                result.reject(name, problem)
        if "version" in item:
            version = item["version"]
            if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 2**31:
                result.reject("version", _("Give the version you read: a whole number, as the record shows it."))
            else:
                result.expected_version = version
        with contextlib.suppress(IdentifierError):  # the validator says why, in the upload's words
            result.identifier = parse_identifier(item.get("identifier")).value
        if result.identifier is not None:
            first = seen.setdefault(result.identifier, index)
            if first != index:
                result.reject(
                    "identifier", _("The same identifier as item %(index)d of this request.") % {"index": first}
                )
        code = _province_code(item["province"]) if "province" in item else default_province
        if code is None:
            result.reject("province", _("Give the province by its DOPA code, e.g. 40."))
        elif code not in provinces or not can(user, "targets.write", code):
            # The same answer for a province that does not exist and one the caller may not write.
            result.reject("province", _("You may not write records of this province."))
        else:
            result.province = code
        if result.status == REJECTED or code is None:  # no province: rejected above
            continue
        keys = tuple(sorted(k for k in item if k not in READ_ONLY_FIELDS))
        groups.setdefault((code, keys), []).append((result, item))

    labels = _field_of_label()
    checked = []  # (province, fields given, valid items) of each group with anything to write
    for (code, keys), members in groups.items():
        given, valid = _validate_group(province=provinces[code], keys=keys, members=members, labels=labels)
        if valid:
            checked.append((provinces[code], given, valid))
    # Identifiers recorded in provinces the caller cannot see (targets.id_probes): counted and logged
    # for the whole request before anything is written, so that a refusal writes nothing.
    identifiers = [item.identifier for _province, _given, valid in checked for item in valid]
    unseen = id_probes.unseen_holders(user, identifiers)
    asker = asker or id_probes.Asker(principal=user)
    if not id_probes.may_answer(asker=asker, count=unseen, model=TargetRecord, description="API record write"):
        raise id_probes.ProbeRefused(id_probes.refusal_message(count=unseen))
    audit: dict[str, object] = {"user": acting_user.pk}
    if is_partner(user):
        audit["api_key"] = user.key.prefix

    def write_all() -> bool:
        written = False
        named: set[int] = set()  # records found so far, in every group: a second item naming one is refused
        for province, given, valid in checked:
            with audit_context(**audit):
                written |= _apply(province=province, given=given, valid=valid, acting_user=acting_user, named=named)
        return written

    # In the provinces' turn, as an upload's apply (targets.upload.pipeline.write_in_turn): an apply of
    # another province never holds the request back, one of its own for WRITE_LOCK_WAIT at most (Busy).
    before = _results_now(checked)
    try:
        written = pipeline.write_in_turn(
            [province.pk for province, _given, _valid in checked], write_all, before_redo=lambda: _put_back(before)
        )
    except pipeline.Busy:
        raise ProvinceBusy from None
    if written:
        # The dashboards follow, as after an upload (summaries listens to targets' signal).
        announce_records_written(sender=TargetRecord)
    return results


def _results_now(checked) -> list[tuple[ItemResult, dict]]:
    """What the items' results are before writing: put back before a write is redone (write_in_turn)."""
    return [
        (item.result, {**vars(item.result), "errors": list(item.result.errors)})
        for _province, _given, valid in checked
        for item in valid
    ]


def _put_back(before: list[tuple[ItemResult, dict]]) -> None:
    for result, state in before:
        vars(result).update({**state, "errors": list(state["errors"])})


def _validate_group(*, province, keys, members, labels) -> tuple[list[str], list[_Valid]]:
    """Validate the items of one province that give the same fields: (the fields given, the valid items)."""
    columns = ColumnMap(fields={name: i for i, name in enumerate(keys)}, unknown=[], duplicates=[])
    missing = missing_required(columns)
    if missing:
        message = _("Required fields are missing: %(fields)s.") % {"fields": ", ".join(missing)}
        for result, _item in members:
            result.reject(None, message)
        return [], []
    validator = RowValidator(province=province, columns=columns)
    given = validator.given_fields
    valid: list[_Valid] = []
    for result, item in members:
        cleaned, errors = validator.validate([item[k] for k in keys], result.index + 1)
        if errors or cleaned is None:  # None comes with its errors
            for column, reason in errors:
                result.reject(labels.get(column, column), reason)
            continue
        result.identifier = cleaned.identifier
        valid.append(
            _Valid(result, cleaned.identifier, cleaned.identifier_kind, tuple(cleaned.values[f] for f in given))
        )
    return given, valid


def _apply(*, province, given: list[str], valid: list[_Valid], acting_user, named: set[int]) -> bool:
    """Classify against the database and write, the upload pipeline's way (targets.upload.pipeline), under
    the locks write_in_turn took before looking, so what is new is still new when written."""
    target = SimpleNamespace(province_id=province.pk)  # what the pipeline's writers read of an upload
    writer = pipeline._make_writer(target, acting_user, given)
    other_province = id_probes.held_elsewhere_message()
    status_index = given.index("status_id") if "status_id" in given else None
    to_create, to_update, status_changes = [], [], []
    same_record = _(
        "Another record of this request names the same record by its other identifier (the records were merged)."
    )
    try:
        writer.prepare()
        existing = pipeline._existing([v.identifier for v in valid], given)
        versions = _lock_versions(valid, existing)
        for item in valid:
            current = existing.get(item.identifier)
            if current is None and item.result.expected_version is not None:
                item.result.reject("version", _("No record has this identifier: send a new record without a version."))
                continue
            if current is None:
                to_create.append((item.identifier, item.kind, item.values))
                item.result.status = CREATED
                continue
            record_id, province_id, current_values = current
            if record_id in named:
                # Its own identifier and a merged one (an alias, targets.RecordAlias) in one request: one item
                # may change a record, as one row of an upload.
                item.result.reject("identifier", same_record)
                continue
            named.add(record_id)
            item.result.record_id = record_id
            if province_id != province.pk:
                item.result.record_id = None
                item.result.reject("identifier", other_province)
                continue
            expected = item.result.expected_version
            if expected is not None and versions.get(record_id) != expected:
                item.result.stale, item.result.current_version = True, versions.get(record_id)
                item.result.reject(
                    "version",
                    _("This record changed after you read it: it is now at version %(version)s.")
                    % {"version": versions.get(record_id)},
                )
                continue
            changed = [f for f, new, old in zip(given, item.values, current_values, strict=True) if new != old]
            if not changed:
                item.result.status = UNCHANGED
                continue
            item.result.status = UPDATED
            to_update.append((record_id, item.values))
            if status_index is not None and "status_id" in changed:
                status_changes.append((record_id, current_values[status_index], item.values[status_index]))
        if to_create or to_update:
            writer.write(to_create, to_update)
        writer.finish([])  # status changes below: they belong to no upload
    finally:
        writer.close()
    StatusChange.objects.bulk_create(
        [
            StatusChange(record_id=r, from_status_id=old, to_status_id=new, changed_by_id=acting_user.pk)
            for r, old, new in status_changes
        ]
    )
    if to_create:
        ids = dict(
            TargetRecord.objects.filter(identifier__in=[i for i, _k, _v in to_create]).values_list("identifier", "id")
        )
        for item in valid:
            if item.result.status == CREATED:
                item.result.record_id = ids.get(item.identifier)
    return bool(to_create or to_update)


def _lock_versions(valid: list[_Valid], existing: dict) -> dict[int, int]:
    """record id -> version of the records that items name a version of, their rows locked until the
    caller's transaction ends, so that what is checked is what is overwritten."""
    ids = [
        existing[item.identifier][0]
        for item in valid
        if item.result.expected_version is not None and item.identifier in existing
    ]
    if not ids:
        return {}
    return dict(TargetRecord.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "version"))
