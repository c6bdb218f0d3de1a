"""The upload pipeline: read → validate → classify against the database → (apply).

The dry run and the apply (`run(batch, apply=...)`, the apply in the caller's transaction) walk the
same steps, so what the dry run promised is what the apply does, unless the records changed in
between: then the apply's own report is the one kept. Every row ends in exactly one bucket, created,
updated, unchanged or rejected (with its column and reason). Applies take turns (a transaction-level
advisory lock per province), so two uploads of the same file apply once, while two provinces' applies
run side by side; a race between two provinces over a new identifier is redone under the national lock
(`apply_in_turn`). How it writes: README.md, the end of "Spreadsheet uploads of target-group records".
"""

import datetime
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can
from core import control_characters
from core.copy_text import copy_value
from core.thai_id import mask_identifier
from targets import id_probes
from targets.models import Outcome, RecordAlias, StatusChange, TargetRecord, UploadBatch

from . import hooks
from .columns import label, match_columns, missing_required
from .reading import UnreadableFile, open_stored_sheet
from .validation import RECORD_FIELDS, RowValidator, check_header

if TYPE_CHECKING:
    from concurrent.futures import Future

try:  # the COPY thread uses psycopg2's own cursor: its errors come unwrapped by Django
    from psycopg2 import Error as _PsycopgError

    _RAW_DATABASE_ERRORS: tuple[type[Exception], ...] = (_PsycopgError,)
except ImportError:  # pragma: no cover - an install for SQLite only
    _RAW_DATABASE_ERRORS = ()
_DATABASE_ERRORS: tuple[type[Exception], ...] = (DatabaseError, *_RAW_DATABASE_ERRORS)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Applies of one province take turns (PostgreSQL's two-key advisory lock: this class, the province's
# code); those of two provinces run side by side, each also holding the national key APPLY_LOCK_KEY
# (the one-key form) shared. A record's identifier is unique across provinces, so two provinces may
# race on a new one: the loser's apply is redone holding the national key exclusively (`apply_in_turn`).
# targets.upload.services.JOB_LOCK_CLASS is another class of the two-key form.
PROVINCE_LOCK_CLASS = 0x4142_5056  # "ABPV"
APPLY_LOCK_KEY = 0x4142_4555  # "ABEU"
# How long an apply that may not wait (wait=False: within a web request) lets a row or an identifier
# written by another upload's open transaction hold it up before it gives up (Busy).
NO_WAIT_LOCK_TIMEOUT = "200ms"
# How long a write of records outside an upload (the API's, `write_in_turn`) waits for an apply under way
# before it gives up (Busy: the API answers 503 with Retry-After), so a request never waits for a big apply.
WRITE_LOCK_WAIT = "3s"
PREVIEW_LIMIT = 200
WARNINGS_LIMIT = 1000
PROGRESS_EVERY = 5000

# A record field's label for people, for the "changed fields" of an update.
FIELD_LABELS = {
    "name_prefix": "name_prefix", "first_name": "first_name", "last_name": "last_name", "sex": "sex",
    "birth_date": "birth_date", "district_id": "district", "sub_district_id": "sub_district",
    "category_id": "category", "status_id": "status", "education_status": "education_status",
    "last_grade": "last_grade", "school": "school", "guardian_name": "guardian_name", "phone": "phone",
    "consent": "consent", "notes": "notes",
}  # fmt: skip


# An update's old and new values as the dry-run report keeps them (UploadBatch.preview): text is cut to this many
# characters, so that PREVIEW_LIMIT updates of every field stay a small JSON whatever the file holds.
PREVIEW_VALUE_CHARS = 60


def _preview_value(value: object) -> object:
    """A record value for the report's old → new: dates as ISO text, long text cut; ids, bools and None as they are
    (targets/upload/views.py turns ids into names and codes into labels)."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and len(value) > PREVIEW_VALUE_CHARS:
        return value[: PREVIEW_VALUE_CHARS - 1] + "…"
    return value


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
    # The dry run's warnings beside new rows (targets/upload/hooks.row_warnings: probable duplicates), the first
    # WARNINGS_LIMIT; never rejections. `warned` counts them all.
    warnings: list[dict] = field(default_factory=list)
    warned: int = 0

    def adds_up(self) -> bool:
        return self.rows_total == self.created + self.updated + self.unchanged + self.rejected


def run(batch: UploadBatch, *, apply: bool, user=None, progress: Callable[[int], None] | None = None) -> Report:
    """Check (or apply) the upload `batch`. Raises UnreadableFile when nothing can be done.

    Rows are read, validated, classified and written in chunks of CHUNK_ROWS, so that memory stays
    flat whatever the file's size, and so that on PostgreSQL the database writes one chunk while
    Python reads and checks the next (see _PostgresWriter). An apply goes through apply_in_turn,
    which takes the locks.
    """
    # The sheet's rows come from a child process: the block ends it, also when a row stops the run.
    with open_stored_sheet(batch.file, name=batch.original_name) as sheet:
        return _run(batch, sheet, apply=apply, user=user, progress=progress or (lambda percent: None))


class Busy(Exception):
    """The apply would have to wait for another upload's (its province's lock, a row or an identifier
    another open transaction holds). Raised only with wait=False; nothing of it is left written."""


def apply_in_turn(
    batch: UploadBatch, *, user=None, progress: Callable[[int], None] | None = None, wait: bool = True
) -> Report:
    """Apply the upload `batch` in the caller's transaction, in its province's turn.

    It runs in a savepoint under its province's lock. When another province's apply, running at the
    same time, wrote one of the file's new identifiers first, the COPY fails on the unique index (after
    waiting for that apply's commit; or PostgreSQL ends one of two applies waiting on each other): the
    savepoint is rolled back, and the apply redone once under the national lock, where the row is found
    held by another province and rejected with its reason. `wait=False` (a web request): raise Busy
    instead of waiting for another upload.
    """
    try:
        with transaction.atomic():
            restore = _take_turn(batch, national=False, wait=wait)
            report = run(batch, apply=True, user=user, progress=progress)
            restore()
            return report
    except _DATABASE_ERRORS as exc:
        if _lost_a_race(exc):
            if not wait:
                raise Busy from exc
            logger.info("upload %s: another province wrote one of its new identifiers first; redone", batch.pk)
        elif not wait and _sqlstate(exc) == "55P03":  # lock_not_available: NO_WAIT_LOCK_TIMEOUT passed
            raise Busy from exc
        else:
            raise
    with transaction.atomic():
        _take_turn(batch, national=True, wait=True)
        return run(batch, apply=True, user=user, progress=progress)


def write_in_turn(province_ids: Iterable[int], work: Callable[[], T], *, before_redo: Callable[[], None]) -> T:
    """Run `work`, a write of records of these provinces outside an upload (api/record_writes.py), in the
    caller's transaction and in the provinces' turn, as an apply runs (`apply_in_turn`): a savepoint under the
    provinces' locks, taken in one order (two writers never wait on each other in a loop), and the national key
    shared; so an apply of another province never holds it back. It waits at most WRITE_LOCK_WAIT for an
    apply under way (of its provinces, or one holding a row or a new identifier it writes) and raises Busy
    after it, with nothing written: a request's wait stays bounded. A lost race on a new identifier with
    another province's writer: the savepoint is rolled back, `before_redo()` called, and `work` redone once
    under the national key alone (where the row is found held by the other province)."""
    if connection.vendor != "postgresql":
        return work()  # SQLite writes one transaction at a time anyway
    ids = sorted(set(province_ids))
    try:
        with transaction.atomic():
            restore = _bounded_lock_wait()
            with connection.cursor() as cursor:
                for province_id in ids:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PROVINCE_LOCK_CLASS, province_id])
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [APPLY_LOCK_KEY])
            result = work()
            restore()
            return result
    except _DATABASE_ERRORS as exc:
        if _sqlstate(exc) == "55P03":  # lock_not_available: WRITE_LOCK_WAIT passed
            raise Busy from exc
        if not _lost_a_race(exc):
            raise
        logger.info("a record write lost a race on a new identifier to another province's; redone")
    before_redo()
    try:
        with transaction.atomic():
            restore = _bounded_lock_wait()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPLY_LOCK_KEY])
            result = work()
            restore()
            return result
    except _DATABASE_ERRORS as exc:
        if _sqlstate(exc) in ("55P03", "40P01"):  # waited too long, or ended by PostgreSQL in a deadlock
            raise Busy from exc
        raise


def take_national_lock() -> None:
    """The national key alone, exclusively, for the caller's transaction: for a write that changes which identifier
    names which record (identity's merges and their undo). It waits for every apply and record write under way, at
    most WRITE_LOCK_WAIT (then Busy, nothing taken), and holds back new ones until the transaction ends."""
    if connection.vendor != "postgresql":
        return  # SQLite writes one transaction at a time anyway
    restore = _bounded_lock_wait()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPLY_LOCK_KEY])
    except _DATABASE_ERRORS as exc:
        if _sqlstate(exc) in ("55P03", "40P01"):  # waited too long, or ended by PostgreSQL in a deadlock
            raise Busy from exc
        raise
    finally:
        restore()


def _bounded_lock_wait() -> Callable[[], None]:
    """lock_timeout WRITE_LOCK_WAIT until the returned function puts the caller's back (transaction-local,
    undone with its savepoint on a rollback)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (before,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [WRITE_LOCK_WAIT])

    def restore() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])

    return restore


def _take_turn(batch: UploadBatch, *, national: bool, wait: bool) -> Callable[[], None]:
    """Take the apply's locks: its province's and the national one shared; or (the redo after a lost race)
    the national one alone, which waits for every apply under way and holds back the others. Taken before
    the records are read: what is new must still be new when written. Transaction-level: released when the
    apply commits, or when its savepoint rolls back. Returns what puts lock_timeout back (wait=False).
    SQLite writes one transaction at a time anyway."""
    if connection.vendor != "postgresql":
        return lambda: None
    with connection.cursor() as cursor:
        if national:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPLY_LOCK_KEY])
            return lambda: None
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PROVINCE_LOCK_CLASS, batch.province_id])
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [APPLY_LOCK_KEY])
            return lambda: None
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s) AND pg_try_advisory_xact_lock_shared(%s)",
            [PROVINCE_LOCK_CLASS, batch.province_id, APPLY_LOCK_KEY],
        )
        if not cursor.fetchone()[0]:
            raise Busy
        # A row or a new identifier another upload's open transaction holds: give up soon (Busy) rather
        # than wait for its commit.
        cursor.execute("SELECT current_setting('lock_timeout')")
        (before,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [NO_WAIT_LOCK_TIMEOUT])

    def restore() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])

    return restore


def _sqlstate(exc: BaseException) -> str | None:
    for error in (exc, exc.__cause__):
        code = getattr(error, "pgcode", None)
        if code:
            return code
    return None


def _lost_a_race(exc: BaseException) -> bool:
    """Another province's apply wrote one of the new identifiers first: a unique violation on the records'
    table, or a deadlock (each COPY waits on an identifier the other wrote first; PostgreSQL ends one)."""
    state = _sqlstate(exc)
    if state == "40P01":  # deadlock_detected
        return True
    if state != "23505":  # unique_violation
        return False
    for error in (exc, exc.__cause__):
        diag = getattr(error, "diag", None)
        if diag is not None and diag.table_name == TargetRecord._meta.db_table:
            return True
    return False


def _run(batch: UploadBatch, sheet, *, apply: bool, user, progress: Callable[[int], None]) -> Report:
    check_header(sheet.header)
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
            # Where each rejection's column is in the row (its label, as the rejections name it, → cell index),
            # so that the report can show the value it refused (targets/upload/views.py).
            "positions": {label(f): i for f, i in columns.fields.items()},
        }
    )
    validator = RowValidator(province=batch.province, columns=columns, formula_cells=sheet.formula_cells)
    given = validator.given_fields
    max_rows = settings.TARGETS_UPLOAD_MAX_ROWS
    writer = _make_writer(batch, user, given) if apply else None
    classifier = _Classifier(batch, given, report, writer)
    # worker id -> identifiers of the valid rows naming them (only when applying): assigned once written
    assignments: dict[int, list[str]] = {}
    chunk: list[tuple] = []  # (row number, identifier, kind, values in `given` order)
    try:
        for row_number, row in enumerate(sheet.rows, start=sheet.header_row + 1):
            if row.count(None) + row.count("") == len(row):  # counted in C: cheaper than any() on 100,000 rows
                report.blank_rows += 1
                continue
            report.rows_total += 1
            if report.rows_total > max_rows:
                raise UnreadableFile(
                    _("The file has more than %(count)d rows; split it into smaller files.") % {"count": max_rows}
                )
            cleaned, errors = validator.validate(row, row_number)
            if errors or cleaned is None:  # None comes with its errors
                cells = [_json_cell(c) for c in row]
                classifier.reject_row(row_number)
                report.rejections.extend(Rejection(row_number, column, reason, cells) for column, reason in errors)
            else:
                values = cleaned.values
                if writer and cleaned.worker_id is not None:
                    assignments.setdefault(cleaned.worker_id, []).append(cleaned.identifier)
                chunk.append((row_number, cleaned.identifier, cleaned.identifier_kind, tuple(values[f] for f in given)))
                if len(chunk) >= CHUNK_ROWS:
                    classifier.classify(chunk)
                    chunk = []
            if report.rows_total % PROGRESS_EVERY == 0:
                progress(min(90, 5 + report.rows_total * 85 // max(1, max_rows // 2)))
        classifier.classify(chunk)
        classifier.collect_warnings()
        classifier.answer_other_provinces()
        if writer:
            writer.finish(classifier.status_changes)
            # In the apply's transaction: the records are written, so cases can assign them.
            hooks.after_apply(batch, user or batch.uploaded_by, assignments)
    finally:
        if classifier.pending_warnings:  # the run stopped: no question may still use the connection
            try:
                hooks.resolve(classifier.pending_warnings)
            except Exception:
                logger.debug("upload %s: a warning's question failed after the run stopped", batch.pk, exc_info=True)
        if writer:
            writer.close()
    report.rejected = len(classifier.rejected_rows)
    assert report.adds_up(), "every row is in exactly one bucket"  # noqa: S101 - an invariant, not input checking
    progress(100)
    return report


CHUNK_ROWS = 10_000


class _Classifier:
    """Sorts validated rows into new, changed, unchanged and other-province, chunk by chunk, and
    hands the new and changed ones to the writer.

    A row whose identifier is recorded in a province the uploader cannot see is an answer about that
    province (targets.id_probes): such rows are kept aside and answered at the end, all at once,
    within the uploader's daily allowance; beyond it the check refuses the file as a whole.
    """

    def __init__(self, batch, given, report: Report, writer) -> None:
        self.batch = batch
        self.given = given
        self.report = report
        self.writer = writer
        self.rejected_rows: set[int] = set()
        self.status_changes: list[tuple] = []
        self.status_index = given.index("status_id") if "status_id" in given else None
        self.other_province = id_probes.held_elsewhere_message()
        self.same_record = _(
            "Another row of this file names the same record by its other identifier (the records were merged)."
        )
        self.records_named: set[int] = set()  # records found so far: a second row naming one is refused
        self.unseen_rows: list[int] = []  # other-province rows the uploader may not read (answer_other_provinces)
        self.pending_warnings: list = []  # the dry run's, per chunk (hooks.row_warnings), answered by collect_warnings
        if writer is not None:
            writer.prepare()

    def collect_warnings(self) -> None:
        """The warnings of every chunk (their questions may run beside the pipeline: hooks.resolve waits for them)."""
        pending, self.pending_warnings = self.pending_warnings, []
        warnings = hooks.resolve(pending)
        self.report.warned += len(warnings)
        self.report.warnings.extend(warnings[:WARNINGS_LIMIT])

    def reject_row(self, row_number: int) -> None:
        self.rejected_rows.add(row_number)

    def classify(self, chunk: list[tuple]) -> None:
        if not chunk:
            return
        if self.writer is not None:
            self.writer.wait()  # the connection is free again for the look-up
        existing = _existing([identifier for _, identifier, _, _ in chunk], self.given)
        report, given = self.report, self.given
        to_create, to_update = [], []
        new_rows: list[dict] = []  # the dry run's, for the warnings (hooks.row_warnings)
        warn = self.writer is None and hooks.wants_row_warnings()
        for row_number, identifier, kind, values in chunk:
            current = existing.get(identifier)
            if current is None:
                to_create.append((identifier, kind, values))
                if warn:
                    new_rows.append(
                        {"row": row_number, "identifier_kind": kind, **dict(zip(given, values, strict=True))}
                    )
                continue
            record_id, province_id, current_values = current
            if record_id in self.records_named:
                # A record's own identifier and a merged one (its alias) in one file: one row may change it.
                self.rejected_rows.add(row_number)
                report.rejections.append(Rejection(row_number, label("identifier"), self.same_record, []))
                continue
            self.records_named.add(record_id)
            if province_id != self.batch.province_id:
                self.rejected_rows.add(row_number)
                if self._may_read(province_id):  # tells nothing new: answered at once
                    report.rejections.append(Rejection(row_number, label("identifier"), self.other_province, []))
                else:
                    self.unseen_rows.append(row_number)
                continue
            changed = [f for f, new, old in zip(given, values, current_values, strict=True) if new != old]
            if not changed:
                report.unchanged += 1
                continue
            to_update.append((record_id, values))
            if self.status_index is not None and "status_id" in changed:
                self.status_changes.append((record_id, current_values[self.status_index], values[self.status_index]))
            if len(report.updates) < PREVIEW_LIMIT:
                report.updates.append(
                    {
                        "row": row_number,
                        "identifier": mask_identifier(identifier),
                        "fields": [FIELD_LABELS[f] for f in changed],
                        # [field, old, new] per changed field, each value bounded (_preview_value)
                        "changes": [
                            [FIELD_LABELS[f], _preview_value(old), _preview_value(new)]
                            for f, new, old in zip(given, values, current_values, strict=True)
                            if new != old
                        ],
                    }
                )
        report.created += len(to_create)
        report.updated += len(to_update)
        if new_rows:
            self.pending_warnings.extend(hooks.row_warnings(self.batch, new_rows))
        if self.writer is not None:
            self.writer.write(to_create, to_update)

    def _may_read(self, province_id: int) -> bool:
        # The uploader's scope is looked up once (accounts.access caches it on the user), and only for a
        # file that needs it.
        return can(self.batch.uploaded_by, "targets.read", province_id)

    def answer_other_provinces(self) -> None:
        """Answer the rows whose identifiers are recorded in provinces the uploader cannot see, with
        one count for the whole file (targets.id_probes): row by row within the day's allowance; over
        it, the check refuses the file and says only how many. A file already answered (its check run
        again, then its apply) is not counted twice; an apply never refuses (its check answered)."""
        rows = self.unseen_rows
        if not rows:
            return
        apply = self.writer is not None
        if apply:
            self.writer.wait()  # the last chunk's COPY may still hold the connection (_PostgresWriter)
        new = len(rows) - id_probes.answered_before(model=UploadBatch, object_id=self.batch.pk)
        if new > 0 and not id_probes.may_answer(
            asker=id_probes.Asker.of_upload(self.batch),
            count=new,
            model=UploadBatch,
            object_id=self.batch.pk,
            description="upload apply" if apply else "upload check",
            refusable=not apply,
        ):
            raise UnreadableFile(id_probes.refusal_message(count=len(rows)))
        self.report.rejections.extend(Rejection(row, label("identifier"), self.other_province, []) for row in rows)


def _json_cell(value: object) -> object:
    """A cell of a rejected row as it is kept (JSON) for the page and the rejected-rows file: a control
    character becomes U+FFFD, which PostgreSQL and openpyxl take and which shows the uploader where it was."""
    if isinstance(value, str):
        return control_characters.scrub(value)
    if value is None or isinstance(value, int | float | bool):
        return value
    return str(value)


def _existing(identifiers: list[str], given: list[str]) -> dict[str, tuple]:
    """identifier -> (record id, province, current values of the given fields), one query on PostgreSQL.

    An identifier is a record's own or an alias a merge kept (targets.RecordAlias): a row carrying a merged
    G-code finds the record it was merged into, and updates it (the record keeps its own identifier)."""
    if not identifiers:
        return {}
    columns = ["identifier", "id", "province_id", *given]
    found: dict[str, tuple] = {}
    if connection.vendor == "postgresql":
        table = TargetRecord._meta.db_table
        aliases = RecordAlias._meta.db_table
        record_columns = ", ".join(f"r.{c}" for c in columns[1:])
        # One statement: the records' own identifiers, then the aliases joined to their records (an index
        # probe each in a table that stays small: merges are rare).
        sql = (
            f"SELECT {', '.join(columns)} FROM {table} WHERE identifier = ANY(%s) "  # noqa: S608 - fixed names
            f"UNION ALL SELECT a.identifier, {record_columns} FROM {aliases} AS a "
            f"JOIN {table} AS r ON r.id = a.record_id WHERE a.identifier = ANY(%s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [identifiers, identifiers])
            rows = cursor.fetchall()
    else:
        rows = []
        for start in range(0, len(identifiers), 5000):
            part = identifiers[start : start + 5000]
            rows += TargetRecord.objects.filter(identifier__in=part).values_list(*columns)
            rows += RecordAlias.objects.filter(identifier__in=part).values_list(
                "identifier", *(f"record__{c}" for c in columns[1:])
            )
    for identifier, pk, province_id, *values in rows:
        found[identifier] = (pk, province_id, tuple(values))
    return found


def _make_writer(batch, user, given):
    default_status = Outcome.objects.filter(code="in-follow-up").values_list("pk", flat=True).first()
    user_id = getattr(user, "pk", None)
    if connection.vendor == "postgresql":
        return _PostgresWriter(batch, user_id, given, default_status)
    return _OrmWriter(batch, user_id, given, default_status)


# Defaults of the record's fields for a new record whose file does not give them.
def _defaults(default_status: int) -> dict:
    return {
        "name_prefix": "", "first_name": "", "last_name": "", "sex": "", "birth_date": None, "district_id": None,
        "sub_district_id": None, "category_id": None, "status_id": default_status, "education_status": "",
        "last_grade": "", "school": "", "guardian_name": "", "phone": "", "consent": False, "notes": "",
    }  # fmt: skip


class _PostgresWriter:
    """Writes chunks with COPY on a second thread, over the same connection and transaction.

    psycopg2 lets threads share a connection and releases the GIL while the server works, so the
    database indexes chunk k (and runs the audit trail's statement triggers) while Python reads and
    validates chunk k+1. Only one statement runs at a time on the connection: `wait()` comes before
    every other use of it.
    """

    def __init__(self, batch, user_id, given, default_status) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.batch = batch
        self.user_id = user_id
        self.given = given
        self.defaults = _defaults(default_status)
        self.now = timezone.now().isoformat()
        self.table = TargetRecord._meta.db_table
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-copy")
        self.pending: Future[None] | None = None
        self.has_updates = False
        all_fields = list(RECORD_FIELDS)
        self.all_fields = all_fields
        self.insert_sql = (
            f"COPY {self.table} (identifier, identifier_kind, {', '.join(all_fields)}, province_id, created_at, "
            "updated_at, updated_by_id, is_demo) FROM STDIN"
        )
        self.tail = "\t".join(
            [str(batch.province_id), self.now, self.now, "\\N" if user_id is None else str(user_id), "f"]
        )

    def _plan(self) -> list[tuple[int | None, str | None]]:
        position = {f: i for i, f in enumerate(self.given)}
        return [(position[f], None) if f in position else (None, copy_value(self.defaults[f])) for f in self.all_fields]

    def prepare(self) -> None:
        with connection.cursor() as cursor:
            # Changed records wait here until the end, then one UPDATE ... FROM applies them. Every
            # column nullable: a row carries only the fields the file gives. Dropped at the end too:
            # an outer transaction (a test, a batch of uploads) may apply twice.
            opts = TargetRecord._meta
            column_types = ", ".join(
                f"{name} {opts.get_field(name.removesuffix('_id')).db_type(connection)}" for name in self.given
            )
            cursor.execute("DROP TABLE IF EXISTS upload_rows")
            cursor.execute(f"CREATE TEMP TABLE upload_rows (id bigint, {column_types}) ON COMMIT DROP")

    def write(self, to_create: list[tuple], to_update: list[tuple]) -> None:
        """Queue one chunk: the COPY text is built here (Python), sent by the thread (database)."""
        # Each COPY column is either one of the file's values (by its index) or a constant default.
        plan = self._plan()
        tail = self.tail
        lines = []
        for identifier, kind, values in to_create:
            cells = [identifier, kind]
            for index, constant in plan:
                cells.append(constant if index is None else copy_value(values[index]))
            cells.append(tail)
            lines.append("\t".join(cells))
        updates = ["\t".join([str(record_id), *map(copy_value, values)]) for record_id, values in to_update]
        self.has_updates = self.has_updates or bool(updates)
        self.wait()
        raw = connection.connection  # psycopg2's connection: shareable between threads
        self.pending = self.executor.submit(self._copy, raw, lines, updates)

    def _copy(self, raw, lines: list[str], updates: list[str]) -> None:
        with raw.cursor() as cursor:
            if lines:
                cursor.copy_expert(self.insert_sql, io.StringIO("\n".join(lines) + "\n"))
            if updates:
                cursor.copy_expert(
                    f"COPY upload_rows (id, {', '.join(self.given)}) FROM STDIN",
                    io.StringIO("\n".join(updates) + "\n"),
                )

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # re-raises the thread's error here

    def finish(self, status_changes: list[tuple]) -> None:
        self.wait()
        with connection.cursor() as cursor:
            if self.has_updates:
                assignments = ", ".join(f"{f} = u.{f}" for f in self.given)
                # A new version of each changed record (core.versioning): an edit form or API client
                # that read the old one is then refused instead of undoing the upload's change.
                cursor.execute(
                    f"UPDATE {self.table} AS r SET {assignments}, updated_at = %s, updated_by_id = %s, "  # noqa: S608
                    "version = r.version + 1 FROM upload_rows AS u WHERE r.id = u.id",
                    [self.now, self.user_id],
                )
            cursor.execute("DROP TABLE upload_rows")
        _save_status_changes(self.batch, self.user_id, status_changes)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class _OrmWriter:
    """The embedded default (SQLite): the same rows through bulk_create and bulk_update."""

    def __init__(self, batch, user_id, given, default_status) -> None:
        self.batch = batch
        self.user_id = user_id
        self.given = given
        self.defaults = _defaults(default_status)
        self.now = timezone.now()

    def prepare(self) -> None:
        """Nothing to set up."""

    def wait(self) -> None:
        """Writes happen at once; nothing to wait for."""

    def write(self, to_create: list[tuple], to_update: list[tuple]) -> None:
        new_records = []
        for identifier, kind, values in to_create:
            record = dict(self.defaults)
            record.update(zip(self.given, values, strict=True))
            new_records.append(
                TargetRecord(
                    identifier=identifier,
                    identifier_kind=kind,
                    province_id=self.batch.province_id,
                    updated_by_id=self.user_id,
                    **record,
                )
            )
        TargetRecord.objects.bulk_create(new_records, batch_size=500)
        if to_update:
            from django.db.models import F

            changed = []
            for record_id, values in to_update:
                # A new version, as the UPDATE ... FROM of _PostgresWriter.finish writes it.
                changed_record = TargetRecord(
                    pk=record_id, updated_at=self.now, updated_by_id=self.user_id, version=F("version") + 1
                )
                for f, v in zip(self.given, values, strict=True):
                    setattr(changed_record, f, v)
                changed.append(changed_record)
            TargetRecord.objects.bulk_update(
                changed, [*self.given, "updated_at", "updated_by_id", "version"], batch_size=500
            )

    def finish(self, status_changes: list[tuple]) -> None:
        _save_status_changes(self.batch, self.user_id, status_changes)

    def close(self) -> None:
        """Nothing to release."""


def _save_status_changes(batch, user_id, status_changes: list[tuple]) -> None:
    StatusChange.objects.bulk_create(
        [
            StatusChange(record_id=r, from_status_id=old, to_status_id=new, changed_by_id=user_id, upload=batch)
            for r, old, new in status_changes
        ],
        batch_size=5000,
    )
