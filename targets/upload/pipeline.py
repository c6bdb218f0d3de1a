"""The upload pipeline: read → validate → classify against the database → (apply).

`run(batch, apply=False)` is the dry run; `run(batch, apply=True)` writes, in the caller's
transaction. Both walk the same steps, so what the dry run promised is what the apply does
(unless the records changed in between: the apply's own report is the one kept).

Every row ends in exactly one bucket: created, updated, unchanged or rejected
(rows in = created + updated + unchanged + rejected). A rejected row names its column and reason.
A row whose identifier belongs to another province is rejected without saying which.

Writing on PostgreSQL: the new records are COPYed straight into their table; the changed ones
into a temporary table, then one UPDATE ... FROM changes them; the audit trail's statement-level
triggers see those two statements. Status changes are kept in StatusChange. A
transaction-level advisory lock makes applies take turns, so two uploads of the same file apply
once. On SQLite (the embedded default) the same rows go through bulk_create and bulk_update.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from targets.models import Outcome, StatusChange, TargetRecord, UploadBatch
from targets.thai_id import mask_identifier

from .columns import label, match_columns, missing_required
from .reading import UnreadableFile, open_sheet
from .validation import RECORD_FIELDS, RowValidator

# Applies take turns nationally: a record's identifier is unique across provinces.
APPLY_LOCK_KEY = 0x4142_4555  # "ABEU"
PREVIEW_LIMIT = 200
PROGRESS_EVERY = 5000

# A record field's label for people, for the "changed fields" of an update.
FIELD_LABELS = {
    "name_prefix": "name_prefix", "first_name": "first_name", "last_name": "last_name", "sex": "sex",
    "birth_date": "birth_date", "district_id": "district", "sub_district_id": "sub_district",
    "category_id": "category", "status_id": "status", "education_status": "education_status",
    "last_grade": "last_grade", "school": "school", "guardian_name": "guardian_name", "phone": "phone",
    "consent": "consent", "notes": "notes",
}  # fmt: skip


@dataclass
class Rejection:
    row_number: int
    column: str
    reason: str
    values: list


@dataclass
class Report:
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    blank_rows: int = 0
    columns: dict = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)  # the first PREVIEW_LIMIT: row, masked id, fields

    def adds_up(self) -> bool:
        return self.rows_total == self.created + self.updated + self.unchanged + self.rejected


def run(batch: UploadBatch, *, apply: bool, user=None, progress: Callable[[int], None] | None = None) -> Report:
    """Check (or apply) the upload `batch`. Raises UnreadableFile when nothing can be done."""
    progress = progress or (lambda percent: None)
    sheet = open_sheet(batch.file.path, name=batch.original_name)
    columns = match_columns(sheet.header)
    missing = missing_required(columns)
    if missing:
        raise UnreadableFile(
            _("Required columns are missing: %(columns)s. Nothing was read; add them and upload again.")
            % {"columns": ", ".join(missing)}
        )
    report = Report(
        columns={
            "matched": {f: sheet.header[i] for f, i in columns.fields.items()},
            "unknown": columns.unknown,
            "duplicates": columns.duplicates,
        }
    )
    validator = RowValidator(province=batch.province, columns=columns, formula_cells=sheet.formula_cells)
    given = validator.given_fields
    max_rows = settings.TARGETS_UPLOAD_MAX_ROWS
    clean: list[tuple] = []  # (row number, identifier, kind, values in `given` order)
    rejected_rows: dict[int, list] = {}  # row number -> the row's cells (for the rejected-rows file)

    for row_number, row in enumerate(sheet.rows, start=sheet.header_row + 1):
        if not any(cell is not None and cell != "" for cell in row):
            report.blank_rows += 1
            continue
        report.rows_total += 1
        if report.rows_total > max_rows:
            raise UnreadableFile(
                _("The file has more than %(count)d rows; split it into smaller files.") % {"count": max_rows}
            )
        cleaned, errors = validator.validate(row, row_number)
        if errors:
            cells = [_json_cell(c) for c in row]
            rejected_rows[row_number] = cells
            report.rejections.extend(Rejection(row_number, column, reason, cells) for column, reason in errors)
        else:
            values = cleaned.values
            clean.append((row_number, cleaned.identifier, cleaned.identifier_kind, tuple(values[f] for f in given)))
        if report.rows_total % PROGRESS_EVERY == 0:
            progress(min(60, 5 + report.rows_total * 55 // max(1, max_rows // 4)))

    progress(65)
    if apply and connection.vendor == "postgresql":
        # Take turns before looking at the table: what is new must still be new when it is written.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPLY_LOCK_KEY])
    existing = _existing([identifier for _, identifier, _, _ in clean], given)
    progress(75)
    to_create, to_update, status_changes = [], [], []
    other_province = _("This identifier is already recorded outside your province; ask EEF/IPSR to move the record.")
    status_index = given.index("status_id") if "status_id" in given else None
    for row_number, identifier, kind, values in clean:
        current = existing.get(identifier)
        if current is None:
            to_create.append((row_number, identifier, kind, values))
            continue
        record_id, province_id, current_values = current
        if province_id != batch.province_id:
            rejected_rows[row_number] = []
            report.rejections.append(Rejection(row_number, label("identifier"), other_province, []))
            continue
        changed = [f for f, new, old in zip(given, values, current_values, strict=True) if new != old]
        if not changed:
            report.unchanged += 1
            continue
        to_update.append((record_id, values))
        if status_index is not None and "status_id" in changed:
            status_changes.append((record_id, current_values[status_index], values[status_index]))
        if len(report.updates) < PREVIEW_LIMIT:
            report.updates.append(
                {
                    "row": row_number,
                    "identifier": mask_identifier(identifier),
                    "fields": [FIELD_LABELS[f] for f in changed],
                }
            )
    report.created = len(to_create)
    report.updated = len(to_update)
    report.rejected = len(rejected_rows)
    assert report.adds_up(), "every row is in exactly one bucket"  # noqa: S101 - an invariant, not input checking

    if apply:
        progress(80)
        _write(batch, user, given, to_create, to_update, status_changes)
    progress(100)
    return report


def _json_cell(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _existing(identifiers: list[str], given: list[str]) -> dict[str, tuple]:
    """identifier -> (record id, province, current values of the given fields), one query on PostgreSQL."""
    if not identifiers:
        return {}
    columns = ["identifier", "id", "province_id", *given]
    found: dict[str, tuple] = {}
    if connection.vendor == "postgresql":
        table = TargetRecord._meta.db_table
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE identifier = ANY(%s)"  # noqa: S608 - fixed names
        with connection.cursor() as cursor:
            cursor.execute(sql, [identifiers])
            rows = cursor.fetchall()
    else:
        rows = []
        for start in range(0, len(identifiers), 5000):
            rows += TargetRecord.objects.filter(identifier__in=identifiers[start : start + 5000]).values_list(*columns)
    for identifier, pk, province_id, *values in rows:
        found[identifier] = (pk, province_id, tuple(values))
    return found


def _write(batch, user, given, to_create, to_update, status_changes) -> None:
    user_id = getattr(user, "pk", None)
    default_status = Outcome.objects.filter(code="in-follow-up").values_list("pk", flat=True).first()
    if connection.vendor == "postgresql":
        _write_postgresql(batch, user_id, given, to_create, to_update, status_changes, default_status)
    else:
        _write_orm(batch, user_id, given, to_create, to_update, status_changes, default_status)


# Defaults of the record's fields for a new record whose file does not give them.
def _defaults(default_status: int) -> dict:
    return {
        "name_prefix": "", "first_name": "", "last_name": "", "sex": "", "birth_date": None, "district_id": None,
        "sub_district_id": None, "category_id": None, "status_id": default_status, "education_status": "",
        "last_grade": "", "school": "", "guardian_name": "", "phone": "", "consent": False, "notes": "",
    }  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _write_postgresql(batch, user_id, given, to_create, to_update, status_changes, default_status) -> None:
    table = TargetRecord._meta.db_table
    all_fields = list(RECORD_FIELDS)
    defaults = _defaults(default_status)
    now = timezone.now().isoformat()
    with connection.cursor() as cursor:
        if to_create:
            # New records go straight into the table: no other upload runs (the lock taken in run()),
            # and their identifiers were checked against the table under that lock.
            columns = ["identifier", "identifier_kind", *all_fields, "province_id", "created_at", "updated_at",
                       "updated_by_id", "is_demo"]  # fmt: skip
            tail = "\t".join([str(batch.province_id), now, now, "\\N" if user_id is None else str(user_id), "f"])
            buffer = io.StringIO()
            write = buffer.write
            for _row, identifier, kind, values in to_create:
                record = dict(defaults)
                record.update(zip(given, values, strict=True))
                write("\t".join([identifier, kind, *(_copy_value(record[f]) for f in all_fields), tail]) + "\n")
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
        if to_update:
            # Changed records: their new values into a temporary table, then one UPDATE ... FROM.
            opts = TargetRecord._meta
            column_types = ", ".join(
                f"{name} {opts.get_field(name.removesuffix('_id')).db_type(connection)}" for name in given
            )
            # Dropped at the end too: an outer transaction (a test, a batch of uploads) may apply twice.
            cursor.execute("DROP TABLE IF EXISTS upload_rows")
            cursor.execute(f"CREATE TEMP TABLE upload_rows (id bigint, {column_types}) ON COMMIT DROP")
            buffer = io.StringIO()
            write = buffer.write
            for record_id, values in to_update:
                write("\t".join([str(record_id), *(_copy_value(v) for v in values)]) + "\n")
            buffer.seek(0)
            cursor.copy_expert(f"COPY upload_rows (id, {', '.join(given)}) FROM STDIN", buffer)
            assignments = ", ".join(f"{f} = u.{f}" for f in given)
            cursor.execute(
                f"UPDATE {table} AS r SET {assignments}, updated_at = %s, updated_by_id = %s "  # noqa: S608
                "FROM upload_rows AS u WHERE r.id = u.id",
                [now, user_id],
            )
            cursor.execute("DROP TABLE upload_rows")
    if status_changes:
        StatusChange.objects.bulk_create(
            [
                StatusChange(record_id=r, from_status_id=old, to_status_id=new, changed_by_id=user_id, upload=batch)
                for r, old, new in status_changes
            ],
            batch_size=5000,
        )


def _write_orm(batch, user_id, given, to_create, to_update, status_changes, default_status) -> None:
    defaults = _defaults(default_status)
    new_records = []
    for _row, identifier, kind, values in to_create:
        record = dict(defaults)
        record.update(zip(given, values, strict=True))
        new_records.append(
            TargetRecord(
                identifier=identifier,
                identifier_kind=kind,
                province_id=batch.province_id,
                updated_by_id=user_id,
                **record,
            )
        )
    TargetRecord.objects.bulk_create(new_records, batch_size=500)
    if to_update:
        now = timezone.now()
        changed = []
        for record_id, values in to_update:
            record = TargetRecord(pk=record_id, updated_at=now, updated_by_id=user_id)
            for f, v in zip(given, values, strict=True):
                setattr(record, f, v)
            changed.append(record)
        TargetRecord.objects.bulk_update(changed, [*given, "updated_at", "updated_by_id"], batch_size=500)
    StatusChange.objects.bulk_create(
        [
            StatusChange(record_id=r, from_status_id=old, to_status_id=new, changed_by_id=user_id, upload=batch)
            for r, old, new in status_changes
        ],
        batch_size=1000,
    )
