"""Two records and every row of theirs, as plain data: what a merge keeps for its undo, and what the undo
puts back (identity.services). Each model's rows come from `values()` (column by column, ordered by pk), so
a dump before a merge and a dump after its undo compare equal exactly when everything is as it was.

The rows of a record: its status history and help given (targets), the aliases it kept from earlier
merges, and its case (cases.Case, pk = the record) with the case's events, contacts, plan steps, referrals
with their events, and notifications. Every foreign key to TargetRecord or Case in the project is here
(`grep -rn "TargetRecord\\|Case," */models.py`); a new one must be added, or a merge leaves its rows behind.
"""

import datetime
import hashlib
import json
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q

from cases.models import Case, CaseEvent, Contact, Notification, PlanStep, Referral, ReferralEvent
from targets.models import Assistance, RecordAlias, StatusChange, TargetRecord

# label -> (model, the condition on the records' pks). The order is the order of re-insertion (parents first).
RECORD_ROWS: dict[str, tuple[type[models.Model], str]] = {
    "targets.targetrecord": (TargetRecord, "pk"),
    "targets.statuschange": (StatusChange, "record_id"),
    "targets.assistance": (Assistance, "record_id"),
    "targets.recordalias": (RecordAlias, "record_id"),
    "cases.case": (Case, "pk"),
    "cases.caseevent": (CaseEvent, "case_id"),
    "cases.contact": (Contact, "case_id"),
    "cases.referral": (Referral, "case_id"),
    "cases.planstep": (PlanStep, "case_id"),
    "cases.referralevent": (ReferralEvent, "referral__case_id"),
    "cases.notification": (Notification, "case_id"),
}

Dump = dict[str, list[dict[str, Any]]]


def dump(record_pks: Iterable[int]) -> Dump:
    """Every row of these records, model by model, each row's columns by attname (one query per model)."""
    pks = sorted(set(record_pks))
    out: Dump = {}
    for label, (model, path) in RECORD_ROWS.items():
        condition = Q(**{f"{path}__in": pks})
        if model is Notification:  # a notification names a case, or a referral of one
            condition |= Q(referral__case_id__in=pks)
        columns = [f.attname for f in model._meta.concrete_fields]
        out[label] = list(model._base_manager.filter(condition).order_by("pk").values(*columns).distinct())
    return out


def _plain(value: Any) -> Any:
    """A value as JSON keeps it without loss (DjangoJSONEncoder cuts microseconds)."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def to_json(rows: Dump) -> Dump:
    return {label: [{k: _plain(v) for k, v in row.items()} for row in items] for label, items in rows.items()}


def from_json(rows: Dump) -> Dump:
    """The rows of to_json() with each value back in its field's Python type."""
    out: Dump = {}
    for label, items in rows.items():
        model = RECORD_ROWS[label][0]
        fields = {f.attname: f for f in model._meta.concrete_fields}
        out[label] = [{k: (None if v is None else fields[k].to_python(v)) for k, v in row.items()} for row in items]
    return out


def fingerprint(rows: Dump) -> str:
    return hashlib.sha256(json.dumps(to_json(rows), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def insert(label: str, rows: list[dict[str, Any]]) -> None:
    """Put rows back as they were: their pks and every column, auto_now and versions included. The raw insert
    (what loaddata does) skips save() and each field's pre_save, which would stamp today's times and a new
    version, and sends no signals (the rows are not new: they come back)."""
    if not rows:
        return
    model = RECORD_ROWS[label][0]
    objects = [model(**row) for row in rows]
    fields = list(model._meta.local_concrete_fields)
    model._base_manager._insert(objects, fields=fields, raw=True)  # type: ignore[attr-defined]


def overwrite(label: str, rows: list[dict[str, Any]]) -> None:
    """Set every column of existing rows to these values (QuerySet.update: no auto_now, no version bump)."""
    model = RECORD_ROWS[label][0]
    for row in rows:
        values = {k: v for k, v in row.items() if k != model._meta.pk.attname}
        model._base_manager.filter(pk=row[model._meta.pk.attname]).update(**values)
