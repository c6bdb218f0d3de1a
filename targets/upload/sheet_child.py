"""The child process that opens an uploaded spreadsheet, so that a parser's failure or appetite
costs this process and never a web or Celery worker (README.md, "Hostile files").

    python -E -s -m targets.upload.sheet_child scan|read PATH KIND LIMITS_JSON

It caps its own address space and CPU time, then answers on stdout in frames: 4 bytes of
big-endian length, then a pickled tuple named by its first item, which targets/upload/reading.py
reads. The pipe blocks while the parent is busy, so neither side holds more than a frame of rows.
Imports only the standard library, python-calamine and sheet_scan: no Django, no database.
"""

import csv
import json
import pickle
import resource
import struct
import sys
from pathlib import Path

from targets.upload.sheet_scan import Limits, Refused, cell_name, column_letters, scan_xlsx

HEADER = struct.Struct(">I")
ROWS_PER_FRAME = 1000
FRAME_TARGET = 4 * 1024 * 1024  # a frame grows to about this; fewer rows a frame when rows are big
MAX_FRAME = 64 * 1024 * 1024  # the parent refuses a longer frame as garbage
# The csv module's own default, kept: no field of a record needs more, and a longer cell is most
# often an unclosed quote swallowing the rest of the file.
CSV_FIELD_LIMIT = 131_072


def _send(out, message: tuple) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > MAX_FRAME:
        raise Refused("row_too_large")
    out.write(HEADER.pack(len(data)))
    out.write(data)
    out.flush()  # the parent may be waiting for exactly this frame


class _RowSender:
    """Batches rows into frames of about FRAME_TARGET bytes."""

    def __init__(self, out) -> None:
        self.out = out
        self.rows: list = []
        self.per_frame = ROWS_PER_FRAME

    def add(self, row: list) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.per_frame:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        data = pickle.dumps(("rows", rows), protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_FRAME and len(rows) > 1:
            half = len(rows) // 2
            self.rows = rows[:half]
            self.flush()
            self.rows = rows[half:]
            self.flush()
            return
        if len(data) > MAX_FRAME:
            raise Refused("row_too_large")
        self.out.write(HEADER.pack(len(data)))
        self.out.write(data)
        self.out.flush()
        # Aim the next frame at FRAME_TARGET bytes.
        if len(data) > FRAME_TARGET:
            self.per_frame = max(1, self.per_frame // 2)
        elif self.per_frame < ROWS_PER_FRAME and len(data) < FRAME_TARGET // 4:
            self.per_frame = min(ROWS_PER_FRAME, self.per_frame * 2)


def _limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # SIGXCPU at the soft limit, SIGKILL a little later: a parser that spins stops on its own.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    # A crash (calamine aborts when an allocation fails) must not write core files, again and again.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _limits(options: dict) -> Limits:
    return Limits(
        max_rows=options["max_rows"],
        max_columns=options["max_columns"],
        max_unpacked=options["max_unpacked"],
        max_text_run=options["max_text_run"],
        max_strings=options["max_strings"],
    )


def peak_memory() -> int:
    """This process's peak resident memory, in bytes (0 where /proc is missing): VmHWM, which exec
    resets, unlike ru_maxrss, which also counts the parent's pages shared until exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _scan(path: Path, options: dict, out) -> None:
    def progress(through: int, formula_rows: dict[int, int]) -> None:
        _send(out, ("progress", through, formula_rows))

    result = scan_xlsx(path, _limits(options), progress)
    _send(out, ("scan", result.formula_rows, result.last_row, result.last_column, peak_memory()))


def _read_excel(path: Path, options: dict, out) -> None:
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    sheet = workbook.get_sheet_by_index(0)
    # The xlsx scan refused anything beyond the limits before this grid existed; an xls has no such
    # scan, so its grid (built within this process's memory cap) is checked here.
    end = sheet.end
    if end is not None:
        row, column = end[0] + 1, end[1] + 1
        if row > options["max_rows"] or column > options["max_columns"]:
            raise Refused("extent", cell=cell_name(row, column), **_extent_params(options))
    # Rows are numbered from row 1, but their cells start at the grid's first column: the parent
    # needs that column to match formula cells (absolute columns) to cells of a row.
    _send(out, ("start", sheet.start[1] if sheet.start else 0))
    sender = _RowSender(out)
    for cells in sheet.iter_rows():
        sender.add(cells)
    sender.flush()
    _send(out, ("end", peak_memory()))


def _extent_params(options: dict) -> dict:
    return {
        "max_rows": options["max_rows"],
        "max_columns": options["max_columns"],
        "last_column": column_letters(options["max_columns"]),
    }


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    # Excel's "Unicode text" is UTF-16 with a byte-order mark.
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return raw.decode("cp874")  # TIS-620 with Windows' extras; UnicodeDecodeError: neither


def _lines(text: str):
    """The lines of `text`, each with its "\\n", without a second copy of the whole text."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            if start < len(text):
                yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _read_csv(path: Path, options: dict, out) -> None:
    raw = path.read_bytes()
    try:
        text = _decode(raw)
    except UnicodeError as exc:
        raise Refused("encoding") from exc
    del raw
    first_line = text.find("\n")
    nul = text.find("\x00", 0, len(text) if first_line < 0 else first_line)
    if nul >= 0:
        # A NUL in the first line is no stray character: the file is damaged, or it is UTF-16 without
        # its byte-order mark (Excel's "Unicode text"): every other byte is NUL. A NUL further down is
        # one cell's: its row is rejected by the row's validation (core.control_characters).
        raise Refused("nul", line=1)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(_lines(text), dialect)
    _send(out, ("start", 0))
    max_columns = options["max_columns"]
    sender = _RowSender(out)
    number = 0  # rows as a spreadsheet program numbers them (a quoted cell may span lines)
    try:
        for row in reader:
            number += 1
            if len(row) > max_columns:
                while row and row[-1] == "":  # trailing delimiters, as spreadsheet programs write them
                    row.pop()
                if len(row) > max_columns:
                    raise Refused("extent", cell=cell_name(number, len(row)), **_extent_params(options))
            sender.add(row)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise Refused("csv_field", row=number + 1, limit=CSV_FIELD_LIMIT) from exc
        raise Refused("csv_damaged", row=number + 1) from exc
    sender.flush()
    _send(out, ("end", peak_memory()))


def main(argv: list[str]) -> int:
    mode, path, kind, options_json = argv
    options = json.loads(options_json)
    _limit_resources(options["memory_bytes"], options["cpu_seconds"])
    out = sys.stdout.buffer
    message: tuple[object, ...] | None = None
    try:
        if mode == "scan":
            _scan(Path(path), options, out)
        elif kind == "csv":
            _read_csv(Path(path), options, out)
        else:
            _read_excel(Path(path), options, out)
    except Refused as exc:
        message = ("refused", exc.code, exc.params)
    except MemoryError:
        message = ("refused", "memory", {})  # sent below, once the parser's frames are freed
    except Exception as exc:  # noqa: BLE001 - calamine's own errors, a damaged zip: "cannot be read"
        message = ("failed", type(exc).__name__)
    if message is not None:
        _send(out, (*message, peak_memory()))
    out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        # The parent stopped reading (it refused the file, or its own work failed): nothing to say.
        sys.exit(1)
