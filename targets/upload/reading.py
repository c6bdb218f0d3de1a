"""Reading an uploaded spreadsheet (xlsx, xls or csv) as a header row and a stream of rows, without
running any parser inside a web or Celery worker (README.md, "Hostile files").

Child processes (targets/upload/sheet_child.py) read under memory and CPU caps, so a file that makes
a parser ask for 512 GiB, or spin, costs a child and the upload is refused with a message. For an
xlsx a second child scans the XML meanwhile (sheet_scan.py) for its extent and its formula cells, so
that a row holding a formula is refused instead of silently taking the value the formula last showed.
A csv may be UTF-8, UTF-16 with BOM, or TIS-620/cp874, which Thai Excel still writes.
"""

import contextlib
import datetime
import io
import json
import logging
import pickle
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.stored_files import local_copy

from .sheet_child import HEADER, MAX_FRAME

logger = logging.getLogger(__name__)

EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".csv": "csv", ".txt": "csv"}

# Rows a sheet may reach beyond TARGETS_UPLOAD_MAX_ROWS: a title block above the header (the header
# is looked for in the first 20 rows), and a few blank or total rows below the data.
SHEET_ROW_ROOM = 100
# Bytes of XML a single cell may take. Excel holds at most 32,767 characters in a cell; written as
# numeric character references (openpyxl writes each Thai letter as "&#3626;", 7 bytes), that is
# about 230 KB. Twice that leaves room for any encoding; more is stuffing, like the whitespace bomb.
MAX_TEXT_RUN = 512 * 1024
# Entries of sharedStrings.xml (calamine keeps them all in memory): ten distinct texts a row. Real
# files repeat most values (categories, statuses, districts); IDs, names and phones are the unique ones.
STRINGS_PER_ROW = 10
# The children: our own interpreter, run from the project's root, with -E -s (no PYTHON*
# variables, no user site-packages). Arguments follow: mode, path, kind, limits as JSON.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHILD_COMMAND = [sys.executable, "-E", "-s", "-m", "targets.upload.sheet_child"]
CHILD_EXIT_WAIT = 10  # seconds a child that sent everything gets to exit before it is killed


class UnreadableFile(Exception):
    """The whole file is refused; the message says why, in the user's language."""


class FormulaCells:
    """The cells holding a formula, as (row number, index in the row): 1-based row, 0-based index.

    Kept as one bitmask of absolute columns per row, so a sheet full of formulas costs one small int
    per row (the scan's limits bound the rows), not one tuple per cell. `offset` is the absolute
    column of each row's first cell (calamine's grid starts at the first used column). The scan
    fills it in as it goes (see _rows): a row is handed out only once its formulas are all known."""

    __slots__ = ("_rows", "offset")

    def __init__(self, rows: dict[int, int] | None = None, offset: int = 0) -> None:
        self._rows = dict(rows or {})
        self.offset = offset

    def add(self, rows: dict[int, int]) -> None:
        for row, mask in rows.items():
            self._rows[row] = self._rows.get(row, 0) | mask

    def __contains__(self, cell: tuple[int, int]) -> bool:
        row, index = cell
        return bool(self._rows.get(row, 0) >> (index + self.offset) & 1)

    def __bool__(self) -> bool:
        return bool(self._rows)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for row, mask in sorted(self._rows.items()):
            for column in range(self.offset, mask.bit_length()):
                if mask >> column & 1:
                    yield row, column - self.offset

    def __len__(self) -> int:
        return sum(1 for _cell in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, set | frozenset | FormulaCells):
            return set(self) == set(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@dataclass
class Sheet:
    """The first sheet of an upload. Use it in a `with` block (or call close()): its rows come from
    a child process, which is ended and reaped when the block ends, whether or not every row was read."""

    header: list[str]
    rows: Iterator[list]  # each row: the cell values, after the header row
    formula_cells: FormulaCells = field(default_factory=FormulaCells)
    header_row: int = 1  # the header's row number (1-based): the first row of `rows` is header_row + 1
    children: list["_Child"] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for child in self.children:
            child.close()

    @property
    def peaks(self) -> dict[str, int | None]:
        """Each child's peak resident memory in bytes ("read", "scan"), once it has ended."""
        return {child.mode: child.peak for child in self.children}

    def __enter__(self) -> "Sheet":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def file_kind(name: str) -> str:
    kind = EXTENSIONS.get(Path(name).suffix.lower())
    if kind is None:
        raise UnreadableFile(_("Upload an Excel file (.xlsx or .xls) or a CSV file."))
    return kind


def open_sheet(path: str | Path, *, name: str) -> Sheet:
    """The first sheet of the file at `path` (uploaded as `name`). Close it when done."""
    kind = file_kind(name)
    path = Path(path).resolve()
    options = _child_options()
    # The reader starts first: calamine parses while the scan reads the same XML on the other core.
    reader = _Child("read", path, kind, options)
    children = [reader]
    try:
        scan = None
        formula_cells = FormulaCells()
        if kind == "xlsx":
            scan = _ScanFollower(_Child("scan", path, kind, options), formula_cells)
            children.append(scan.child)
        rows = _rows(reader, scan, formula_cells, children)
        header, header_row = _find_header(rows)
    except BaseException:
        for child in children:
            child.close()
        raise
    return Sheet(header=header, rows=rows, formula_cells=formula_cells, header_row=header_row, children=children)


@contextlib.contextmanager
def open_stored_sheet(file, *, name: str) -> Iterator[Sheet]:
    """The first sheet of a stored upload (`batch.file`, in whichever storage STORAGES names), uploaded
    as `name`. The children read a local file: on disk the stored one, from an object store a temporary
    copy streamed in chunks (core.stored_files.local_copy), removed once the block has reaped them."""
    with local_copy(file) as path, open_sheet(path, name=name) as sheet:
        yield sheet


def _rows(reader: "_Child", scan: "_ScanFollower | None", formula_cells: FormulaCells, children: list) -> Iterator:
    """The reader's rows, each handed out once the scan has vouched for it (its formula cells are
    known); at the end, the scan's verdict. Both children are closed when this ends, however."""
    try:
        try:
            start = reader.receive()
            if start[0] != "start" or len(start) != 2 or not isinstance(start[1], int):
                raise reader.garbage()
            formula_cells.offset = start[1]
            number = 0  # the sheet's row number: calamine's rows start at row 1
            while True:
                message = reader.receive()
                if message[0] == "end" and len(message) == 2:
                    reader.finished(message[1])
                    break
                if message[0] != "rows" or len(message) != 2 or not isinstance(message[1], list):
                    raise reader.garbage()
                for row in message[1]:
                    if not isinstance(row, list):
                        raise reader.garbage()
                    number += 1
                    if scan is not None and number > scan.through:
                        scan.wait_for(number)
                    yield row
        except UnreadableFile as reader_error:
            # calamine gave up (a grid beyond its memory cap, broken XML): if the scan refuses the
            # file, its reason names the cell, so it is the one given.
            if scan is not None:
                scan.verdict()
            raise reader_error from None
        if scan is not None:
            scan.verdict()  # a refusal found after the last row (say, a far cell at the very end)
    finally:
        for child in children:
            child.close()


class _ScanFollower:
    """Reads the scan's frames as far as the rows in use need, and its final verdict."""

    def __init__(self, child: "_Child", formula_cells: FormulaCells) -> None:
        self.child = child
        self.formula_cells = formula_cells
        self.through = 0  # rows up to here are final
        self.done = False
        self.error: UnreadableFile | None = None  # the scan's refusal, once it came

    def wait_for(self, row: int) -> None:
        while not self.done and self.through < row:
            self._next()
        if self.error is not None:
            raise self.error

    def verdict(self) -> None:
        self.wait_for(sys.maxsize)

    def _next(self) -> None:
        try:
            message = self.child.receive()
        except UnreadableFile as exc:  # a refusal, or the scan died
            self.error, self.done = exc, True
            raise
        if message[0] == "progress" and len(message) == 3 and isinstance(message[1], int):
            self.formula_cells.add(_masks(message[2], self.child))
            self.through = message[1]
        elif message[0] == "scan" and len(message) == 5:
            self.formula_cells.add(_masks(message[1], self.child))
            self.done = True
            self.through = sys.maxsize
            self.child.finished(message[4])
        else:
            raise self.child.garbage()


def _masks(rows: object, child: "_Child") -> dict[int, int]:
    if not isinstance(rows, dict) or not all(isinstance(k, int) and isinstance(v, int) for k, v in rows.items()):
        raise child.garbage()
    return rows


def _child_options() -> dict:
    max_rows = settings.TARGETS_UPLOAD_MAX_ROWS
    return {
        "max_rows": max_rows + SHEET_ROW_ROOM,
        "max_columns": settings.TARGETS_UPLOAD_MAX_COLUMNS,
        "max_unpacked": settings.TARGETS_UPLOAD_MAX_UNCOMPRESSED_BYTES,
        "max_text_run": MAX_TEXT_RUN,
        "max_strings": max_rows * STRINGS_PER_ROW,
        "memory_bytes": settings.TARGETS_UPLOAD_READER_MEMORY_BYTES,
        "cpu_seconds": settings.TARGETS_UPLOAD_READER_CPU_SECONDS,
    }


def _find_header(rows: Iterator[list]) -> tuple[list[str], int]:
    """The first non-blank row is the header (files often start with a title or a blank row)."""
    for number, row in enumerate(rows, start=1):
        cells = ["" if v is None else str(v).strip() for v in row]
        if any(cells):
            return cells, number
        if number >= 20:
            break
    raise UnreadableFile(_("The file has no header row: the first sheet is empty."))


# --- the child processes -------------------------------------------------------------------------


class _Unpickler(pickle.Unpickler):
    """Plain data only: lists, tuples, dicts, str, numbers, None, and the datetime types calamine
    returns. Anything else in a frame is garbage, never code to run."""

    ALLOWED = {
        ("datetime", "datetime"): datetime.datetime,
        ("datetime", "date"): datetime.date,
        ("datetime", "time"): datetime.time,
        ("datetime", "timedelta"): datetime.timedelta,
    }

    def find_class(self, module: str, name: str) -> type:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed") from None


class _Child:
    """One child process (sheet_child.py) and the frames it sends."""

    def __init__(self, mode: str, path: Path, kind: str, options: dict) -> None:
        self.mode = mode
        self.kind = kind
        self.options = options
        # stdin closed; stderr dropped, since a parser's message may quote a cell (personal data):
        # the exit status and the frames say enough.
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            [*CHILD_COMMAND, mode, str(path), kind, json.dumps(options)],
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.peak: int | None = None  # bytes, as the child reports it at its end

    def receive(self) -> tuple:
        """The next message; a refusal or a dead or babbling child raises UnreadableFile."""
        stream = self.process.stdout
        if stream is None or stream.closed:  # closed already (its last word came, or the caller gave up on it)
            raise self.garbage()
        head = stream.read(HEADER.size)
        if len(head) < HEADER.size:
            raise self.died()
        (length,) = HEADER.unpack(head)
        if length > MAX_FRAME:
            raise self.garbage()
        data = stream.read(length)
        if len(data) < length:
            raise self.died()
        try:
            message = _Unpickler(io.BytesIO(data)).load()
        except Exception as exc:  # any malformed pickle: garbage, whatever the error type
            raise self.garbage() from exc
        if not isinstance(message, tuple) or not message or not isinstance(message[0], str):
            raise self.garbage()
        if message[0] == "refused" and len(message) == 4 and isinstance(message[2], dict):
            self.finished(message[-1])
            raise UnreadableFile(_refusal_message(str(message[1]), message[2], self.options))
        if message[0] == "failed" and len(message) == 3:
            self.finished(message[-1])
            error = str(message[1])[:80]  # an exception's type name, e.g. calamine's "ZipError"
            logger.warning("upload reader (%s, %s) failed: %s", self.mode, self.kind, error)
            raise UnreadableFile(gettext("The spreadsheet cannot be read: %(error)s") % {"error": error})
        return message

    def finished(self, peak: object) -> None:
        """The child's last word came, with its peak memory: note it, and reap the child."""
        if isinstance(peak, int):
            self.peak = peak
            logger.debug("upload reader (%s, %s): peak memory %d MB", self.mode, self.kind, peak // 1024**2)
        self.finish()

    def finish(self) -> None:
        """The child said its last word: let it exit, and reap it."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=CHILD_EXIT_WAIT)
        self.close()

    def close(self) -> None:
        """End the child if it still runs (the caller stopped early), and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def died(self) -> UnreadableFile:
        # Its pipe closes a moment before the kernel can report how it ended: wait for that.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=CHILD_EXIT_WAIT)
        self.close()
        status = self.process.returncode
        logger.warning("upload reader (%s, %s) ended without an answer: exit status %s", self.mode, self.kind, status)
        if status == -signal.SIGXCPU:
            return UnreadableFile(
                gettext(
                    "Reading this spreadsheet took too long, so it is refused. Check that it holds only your "
                    "data, or split it into smaller files."
                )
            )
        if status in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV, -signal.SIGBUS):
            # calamine aborts when an allocation fails (beyond RLIMIT_AS); the kernel may kill too.
            return UnreadableFile(_memory_message(self.options))
        return UnreadableFile(
            gettext(
                "The program reading the spreadsheet stopped unexpectedly, so the file is refused. Save it again "
                "from Excel and upload it; if this happens again, tell EEF/IPSR."
            )
        )

    def garbage(self) -> UnreadableFile:
        self.close()
        logger.warning("upload reader (%s, %s) sent something unreadable", self.mode, self.kind)
        return UnreadableFile(
            gettext(
                "The program reading the spreadsheet stopped unexpectedly, so the file is refused. Save it again "
                "from Excel and upload it; if this happens again, tell EEF/IPSR."
            )
        )


def _memory_message(options: dict) -> str:
    return gettext(
        "Reading this spreadsheet needs more than %(limit)d MB of memory, so it is refused. Check that it "
        "holds only your data (no far-away cells, no huge texts), or split it into smaller files."
    ) % {"limit": options["memory_bytes"] // (1024 * 1024)}


def _refusal_message(code: str, params: dict, options: dict) -> str:
    """A child's refusal (a code and plain values) in the user's language."""
    cell = str(params.get("cell", ""))[:24]
    if code == "extent":
        return gettext(
            "The sheet reaches cell %(cell)s, beyond the limit of %(rows)s rows and %(columns)d columns (up to "
            "column %(last_column)s). Delete everything below and to the right of your data, or split the file."
        ) % {
            "cell": cell,
            "rows": f"{int(params.get('max_rows', 0)):,}",
            "columns": int(params.get("max_columns", 0)),
            "last_column": str(params.get("last_column", ""))[:4],
        }
    if code == "text_run":
        if cell:
            return gettext(
                "The sheet holds an implausibly long run of text or spaces near cell %(cell)s, so the file is "
                "refused. Save it again from Excel and upload it."
            ) % {"cell": cell}
        return gettext(
            "The file holds an implausibly long run of text or spaces, so it is refused. Save it again from "
            "Excel and upload it."
        )
    if code == "unpacked_size":
        return str(_("This file unpacks to an implausibly large size and is refused."))
    if code == "not_xlsx":
        return str(_("This is not a valid .xlsx file. Save it again from Excel and upload it."))
    if code == "damaged":
        return gettext("The file is damaged and cannot be read. Save it again from Excel and upload it.")
    if code == "shared_strings":
        return gettext(
            "The workbook holds more than %(limit)s different texts, so it is refused. Split it into smaller files."
        ) % {"limit": f"{int(params.get('limit', 0)):,}"}
    if code == "memory":
        return _memory_message(options)
    if code == "encoding":
        return str(_("The CSV file's text encoding is not UTF-8 or TIS-620 (Thai Windows)."))
    if code == "nul":
        return gettext(
            "Line %(line)d of the CSV file holds a NUL character, which no text file holds: the file is damaged "
            'or is not a CSV file. If it was saved as "Unicode text", save it as "CSV UTF-8" instead.'
        ) % {"line": int(params.get("line", 0))}
    if code == "csv_field":
        return gettext(
            "Row %(row)d of the CSV file holds a cell longer than %(limit)s characters, so the file is refused. "
            "Shorten that cell, or check that every quote in the file is closed."
        ) % {"row": int(params.get("row", 0)), "limit": f"{int(params.get('limit', 0)):,}"}
    if code == "csv_damaged":
        return gettext(
            "Row %(row)d of the CSV file cannot be read (a stray quote or line break?). Save the file again and "
            "upload it."
        ) % {"row": int(params.get("row", 0))}
    if code == "out_of_order":
        return gettext(
            "Cell %(cell)s comes after later rows in the file, which Excel never writes, so the file is refused. "
            "Save it again from Excel and upload it."
        ) % {"cell": cell}
    if code == "row_too_large":
        return gettext("A row of the file is implausibly large, so the file is refused. Split it into smaller files.")
    return gettext("The file is damaged and cannot be read. Save it again from Excel and upload it.")
