"""A streaming look at an xlsx before calamine builds its grid: how far the first sheet reaches, which
cells hold formulas, and whether the file is built to exhaust memory (README.md, "Hostile files").

calamine sizes one dense grid (32 bytes a cell) by the farthest cell and loads sharedStrings.xml
whole, so one cell at XFD1048576 asks for 512 GiB. This scan reads the same parts with expat and keeps
counts, never text, so its memory does not grow with the file; it finds the first sheet and its
elements (by local name) as calamine does. Django-free: it runs in the capped child (sheet_child.py),
and its refusals travel as a code and plain parameters (`Refused`) that reading.py puts into words.
"""

import pyexpat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHUNK = 1 << 20  # bytes fed to expat at a time
_SEP = "\x01"  # expat's namespace separator: "uri\x01local"; no name or URI contains it
MAX_PARTS = 10_000  # an xlsx of one sheet has about ten parts; many thousands is not a spreadsheet
# The small parts read to find the first sheet (rels, workbook.xml) are a few KB in real files.
MAX_SMALL_PART = 16 * 1024 * 1024


class Refused(Exception):
    """The file is refused. `code` names the reason; `params` are plain values for the message."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Limits:
    max_rows: int  # the last row a sheet may reach (1-based)
    max_columns: int  # the last column a sheet may reach (1-based: 50 is AX)
    max_unpacked: int  # bytes all parts of the zip may unpack to
    max_text_run: int  # bytes of XML between two tags: text, whitespace, or one tag
    max_strings: int  # entries of sharedStrings.xml


@dataclass
class ScanResult:
    # row number (1-based) -> bitmask of the 0-based columns holding a formula in that row
    formula_rows: dict[int, int] = field(default_factory=dict)
    last_row: int = 0  # the farthest row and column (1-based) that any reference reaches
    last_column: int = 0
    shared_strings: int = 0


def column_letters(column: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA, 16384 -> XFD."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_name(row: int, column: int) -> str:
    return f"{column_letters(column)}{row}"


def parse_reference(text: str) -> tuple[int, int] | None:
    """'B12' -> (12, 2), 1-based (row, column); None when it is no A1-style reference. Absurd lengths
    come back as a position past any limit (never a huge number to compute): the caller refuses it."""
    text = text.replace("$", "")
    letters = 0
    while letters < len(text) and text[letters].isascii() and text[letters].isalpha():
        letters += 1
    digits = text[letters:]
    if letters == 0 or not digits.isascii() or not digits.isdigit():
        return None
    if letters > 4 or len(digits) > 9:
        return _FAR, _FAR
    column = 0
    for ch in text[:letters].upper():
        column = column * 26 + ord(ch) - 64
    return int(digits), column


_FAR = 10**9


class _Stop(Exception):
    """Raised by a handler when the scan has seen what it needs."""


class _Scanner:
    """One part, fed to expat in chunks, with a bound on the bytes expat may hold unparsed."""

    def __init__(self, limits: Limits, *, part: str) -> None:
        self.limits = limits
        self.part = part
        self.parser = pyexpat.ParserCreate(namespace_separator=_SEP)
        self.parser.ordered_attributes = True  # a flat [name, value, ...] list: cheaper than a dict
        self.parser.StartDoctypeDeclHandler = self._refuse_doctype
        self.last_event = 0  # byte offset of the latest start tag
        self.fed = 0
        self.where = ""  # the cell last seen, for messages

    def _refuse_doctype(self, *args: object) -> None:
        # No OOXML part has a DTD; one here only serves entity expansion tricks.
        raise Refused("damaged", part=self.part)

    def gap_check(self, position: int) -> None:
        if position - self.last_event > self.limits.max_text_run:
            raise Refused("text_run", cell=self.where, part=self.part)
        self.last_event = position

    def feed(self, stream, last_event=None, where=None) -> None:
        """Parse the whole part. `last_event()` gives the offset of the latest tag that counts and
        `where()` the latest cell (a handler may keep them); by default the scanner's own."""
        last_event = last_event or (lambda: self.last_event)
        where = where or (lambda: self.where)
        parser, limit = self.parser, self.limits.max_text_run
        try:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                self.fed += len(chunk)
                parser.Parse(chunk, False)
                # expat does not keep text, but it does keep an unfinished tag: either way, this
                # many bytes without a tag that counts is no spreadsheet Excel writes.
                if self.fed - last_event() > limit + CHUNK:
                    raise Refused("text_run", cell=where(), part=self.part)
            parser.Parse(b"", True)
        except _Stop:
            return
        except pyexpat.ExpatError as exc:
            raise Refused("damaged", part=self.part, cell=where()) from exc
        # What follows the last such tag (its text, the closing tags) must be small too.
        if self.fed - last_event() > limit + 4096:
            raise Refused("text_run", cell=where(), part=self.part)


def _local(name: str) -> str:
    return name.rpartition(_SEP)[2]


def _attribute(attributes: list, wanted: str) -> str | None:
    """An unprefixed attribute, as calamine matches them (a prefixed `x:r` is another attribute)."""
    for i in range(0, len(attributes), 2):
        if attributes[i] == wanted:
            return attributes[i + 1]
    return None


Progress = Callable[[int, dict[int, int]], None]


def scan_xlsx(path: str | Path, limits: Limits, progress: Progress | None = None) -> ScanResult:
    """Scan the first sheet (and the shared strings) of the xlsx at `path`; raise Refused.

    `progress(through, formula_rows)`, if given, is told as the scan goes that the rows up to
    `through` are final, with the formula rows found since its last call, so that the reader's
    rows can be used while the scan goes on (targets/upload/reading.py). A formula cell found later
    in a row already declared final (cells out of order, which Excel never writes) is refused.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise Refused("not_xlsx") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_PARTS:
            raise Refused("not_xlsx")
        if sum(info.file_size for info in infos) > limits.max_unpacked:
            raise Refused("unpacked_size", limit_mb=limits.max_unpacked // (1024 * 1024))
        # calamine finds parts whatever the case of their names.
        names = {info.filename.lower(): info.filename for info in infos}
        try:
            xl_dir, sheet_path = _first_sheet(archive, names, limits)
            result = ScanResult()
            if sheet_path is None:
                return result  # calamine then finds no sheet either, and says so
            _scan_sheet(archive, names[sheet_path.lower()], limits, result, progress)
            strings = names.get(f"{xl_dir}sharedstrings.xml".lower())
            if strings is not None:
                _scan_shared_strings(archive, strings, limits, result)
            return result
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, RuntimeError, NotImplementedError, OSError) as exc:
            # A corrupt deflate stream (zlib.error), a truncated part (EOFError), a part the
            # directory lists but cannot give (KeyError), an encrypted one (RuntimeError)...
            raise Refused("damaged", part="") from exc
        except ValueError as exc:  # zipfile's answer to some impossible offsets and sizes
            raise Refused("damaged", part="") from exc


def _read_small(archive: zipfile.ZipFile, names: dict[str, str], name: str, limits: Limits, start) -> bool:
    """Feed one small part (rels, workbook.xml) to `start(local_name, attributes)`."""
    real = names.get(name.lower())
    if real is None:
        return False
    if archive.getinfo(real).file_size > MAX_SMALL_PART:
        raise Refused("damaged", part=real)
    scanner = _Scanner(limits, part=real)

    def on_start(tag: str, attributes: list) -> None:
        scanner.gap_check(scanner.parser.CurrentByteIndex)
        start(_local(tag), attributes)

    scanner.parser.StartElementHandler = on_start
    with archive.open(real) as stream:
        scanner.feed(stream)
    return True


def _first_sheet(archive: zipfile.ZipFile, names: dict[str, str], limits: Limits) -> tuple[str, str | None]:
    """The workbook's folder ("xl/"), and the path of the sheet calamine opens as sheet 0, found as
    calamine finds it (None: calamine finds none)."""
    document: list[str] = []

    def package_rel(tag: str, attributes: list) -> None:
        if tag == "Relationship" and (_attribute(attributes, "Type") or "").endswith("/relationships/officeDocument"):
            document.append(_attribute(attributes, "Target") or "")

    if not _read_small(archive, names, "_rels/.rels", limits, package_rel) or not document:
        raise Refused("not_xlsx")
    target = document[-1]
    xl_dir = target[: target.rfind("/") + 1].removeprefix("/") if "/" in target else ""

    relationships: dict[str, str] = {}

    def workbook_rel(tag: str, attributes: list) -> None:
        if tag == "Relationship":
            rel_id = _attribute(attributes, "Id")
            if rel_id is not None:
                relationships[rel_id] = _attribute(attributes, "Target") or ""

    if not _read_small(archive, names, f"{xl_dir}_rels/workbook.xml.rels", limits, workbook_rel):
        raise Refused("not_xlsx")
    first: list[str] = []

    def workbook(tag: str, attributes: list) -> None:
        if tag == "sheet":
            # calamine takes the attribute whose local name is "id" (r:id, whatever the prefix); the last one.
            ids = [attributes[i + 1] for i in range(0, len(attributes), 2) if _local(attributes[i]) == "id"]
            if not ids:
                raise Refused("not_xlsx")
            first.append(ids[-1])
            raise _Stop

    _read_small(archive, names, f"{xl_dir}workbook.xml", limits, workbook)
    if not first:
        return xl_dir, None
    sheet_target = relationships.get(first[0])
    if sheet_target is None:
        raise Refused("not_xlsx")
    path = sheet_target.removeprefix("/") if sheet_target.startswith("/") else f"{xl_dir}{sheet_target}"
    return xl_dir, (path if path.lower() in names else None)


def _scan_sheet(archive: zipfile.ZipFile, name: str, limits: Limits, result: ScanResult, progress) -> None:
    """Every <dimension ref>, <row r> and <c r> of the sheet, and the cells holding an <f>.

    Positions follow calamine's rules: a cell with `r` is where `r` says; one without is after the
    previous cell of its row; a row without `r` follows the previous one. Real files give every cell
    its `r`, so the fast pass below needs no end-tag handler (half the callbacks). At the first cell
    without `r`, the part is read again with end tags, which that rule needs.
    """
    reported = [0]  # rows declared final to `progress`, across both passes
    try:
        _scan_sheet_pass(archive, name, limits, result, progress, reported, exact=False)
    except _NeedsEndTags:
        result.last_row = result.last_column = 0
        _scan_sheet_pass(archive, name, limits, result, progress, reported, exact=True)


class _NeedsEndTags(Exception):
    pass


# Element kinds by local name. expat hands the same (interned) tag string for every element of a
# name, so one dict look-up classifies it. The scan's cost is this per-element call: most elements
# are a cell's <v>, <is> or <t> (inside the cell's span, measured from its <c>), so the handler
# leaves them at once; a cell takes the short path below whenever its reference is on the row its
# <row r> announced (always, in real files). Any other element marks a position too, so a long but
# real run of small elements (a sheet's formatting rules, after its data) is no "run of text".
_SKIP, _OTHER, _CELL, _FORMULA, _ROW, _DIMENSION = range(6)
_KINDS = {"v": _SKIP, "is": _SKIP, "t": _SKIP, "c": _CELL, "f": _FORMULA, "row": _ROW, "dimension": _DIMENSION}
_MAX_TAG_NAMES = 1000  # distinct element names of one part; a real sheet has about twenty
PROGRESS_EVERY = 1000  # rows between two progress reports


def _scan_sheet_pass(
    archive: zipfile.ZipFile, name: str, limits: Limits, result: ScanResult, progress, reported: list, *, exact: bool
) -> None:
    scanner = _Scanner(limits, part=name)
    parser = scanner.parser
    max_rows, max_columns, max_run = limits.max_rows, limits.max_columns, limits.max_text_run
    formula_rows = result.formula_rows
    # Column letters within the limit -> number. A reference whose letters are not here (beyond the
    # limit, lower case, "$") takes the slow path, which parses it fully and refuses what it must.
    columns = {column_letters(n): n for n in range(1, max_columns + 1)}
    kinds: dict[str, int] = {}
    # The current <row r>, as text and number (its text is the suffix of its cells' references).
    row_text, row_number = "\x00", 0
    # calamine's cursor for cells without `r` (0-based row, 1-based last column), the cell the
    # latest <c> opened, the farthest row and column reached, and the offset of the latest tag that counts.
    row_cursor = col_cursor = cell_row = cell_col = last_row = last_column = 0
    last_tag = 0
    where: str | None = ""  # the latest cell's reference, for messages
    pending: dict[int, int] = {}  # formula rows not yet reported to `progress`
    far_rows: list[int] = []  # <row r> beyond the limit

    def refuse_extent(reference: str, row: int, column: int) -> None:
        if row > max_rows or column > max_columns or row < 1:
            raise Refused(
                "extent",
                cell=reference[:24],
                max_rows=max_rows,
                max_columns=max_columns,
                last_column=column_letters(max_columns),
            )

    def reached(row: int) -> None:
        """Row `row` has begun: rows before it are final (a formula behind it is refused)."""
        nonlocal last_row, pending
        last_row = row
        if progress is not None and row - 1 >= reported[0] + PROGRESS_EVERY:
            progress(row - 1, pending)
            pending = {}
            reported[0] = row - 1

    def kind_of(tag: str) -> int:
        if len(kinds) >= _MAX_TAG_NAMES:
            raise Refused("damaged", part=name, cell=where)
        kind = kinds[tag] = _KINDS.get(tag[tag.rfind(_SEP) + 1 :], _OTHER)
        return kind

    def slow_cell(reference: str | None) -> tuple[int, int, str]:
        """A cell off the short path: without `r` (calamine's cursor places it), or with any other
        reference; refused if beyond the limits."""
        if reference is None:
            if not exact:
                raise _NeedsEndTags
            row, column = row_cursor + 1, col_cursor + 1
            reference = cell_name(row, column) if column <= 16_384 else f"R{row}C{column}"
        else:
            parsed = parse_reference(reference)
            if parsed is None:
                raise Refused("damaged", part=name, cell=reference[:24])
            row, column = parsed
        refuse_extent(reference, row, column)
        if row > last_row:
            reached(row)
        return row, column, reference[:24]

    def start(tag: str, attributes: list) -> None:
        nonlocal row_text, row_number, row_cursor, col_cursor, cell_row, cell_col, last_column, last_tag, where
        kind = kinds.get(tag)
        if kind is None:
            kind = kind_of(tag)
        if kind == _SKIP:
            return
        if kind == _OTHER:
            position = parser.CurrentByteIndex
            if position - last_tag > max_run:
                raise Refused("text_run", cell=where, part=name)
            last_tag = position
            return
        if kind == _CELL:
            # The XML since the previous cell is one cell's worth at most.
            position = parser.CurrentByteIndex
            if position - last_tag > max_run:
                raise Refused("text_run", cell=where, part=name)
            last_tag = position
            reference = attributes[1] if attributes and attributes[0] == "r" else _attribute(attributes, "r")
            column = 0
            if reference is not None and reference.endswith(row_text):
                column = columns.get(reference[: len(reference) - len(row_text)], 0)
            if column:
                row = row_number
                where = reference
            else:
                row, column, where = slow_cell(reference)
            cell_row, cell_col = row, column
            col_cursor = column  # calamine: the next cell without `r` is the one after this
            if column > last_column:
                last_column = column
        elif kind == _ROW:
            position = parser.CurrentByteIndex
            if position - last_tag > max_run:
                raise Refused("text_run", cell=where, part=name)
            last_tag = position
            reference = attributes[1] if attributes and attributes[0] == "r" else _attribute(attributes, "r")
            row_text = "\x00"  # unless set below, the row's cells take the slow path
            if reference is None:
                return
            if not (reference.isascii() and reference.isdigit()) or len(reference) > 9:
                raise Refused("damaged", part=name, cell=f"row {reference[:12]}")
            row = int(reference)
            row_cursor = row - 1  # calamine keeps it 0-based: a cell without `r` is on row_cursor + 1
            if not 0 < row <= max_rows:
                # Refused by its first cell, which the message can then name; or, if it has none, at the end.
                far_rows.append(row)
                return
            row_text, row_number = reference, row
            if row > last_row:
                reached(row)
        elif kind == _FORMULA:
            known = formula_rows.get(cell_row, 0)
            bit = 1 << (cell_col - 1)
            if cell_row <= reported[0] and not known & bit:  # (known: seen by the first pass)
                raise Refused("out_of_order", cell=where)
            formula_rows[cell_row] = pending[cell_row] = known | bit
        else:  # <dimension ref="A1:R200001">
            reference = _attribute(attributes, "ref") or ""
            for corner in reference.split(":"):
                parsed = parse_reference(corner)
                if parsed is None:
                    raise Refused("damaged", part=name, cell=reference[:24])
                refuse_extent(corner, *parsed)

    def end(tag: str) -> None:
        nonlocal row_cursor, col_cursor
        if kinds.get(tag) == _ROW:
            row_cursor += 1
            col_cursor = 0

    parser.StartElementHandler = start
    if exact:
        parser.EndElementHandler = end
    with archive.open(name) as stream:
        scanner.feed(stream, lambda: last_tag, lambda: where)
    if far_rows:
        refuse_extent(f"A{far_rows[0]}", far_rows[0], 1)
    result.last_row = max(result.last_row, last_row)
    result.last_column = max(result.last_column, last_column)


def _scan_shared_strings(archive: zipfile.ZipFile, name: str, limits: Limits, result: ScanResult) -> None:
    """calamine keeps every entry (<si>) in memory: count them; long text runs are refused as in the sheet."""
    scanner = _Scanner(limits, part=name)
    parser = scanner.parser
    count = 0

    def start(tag: str, attributes: list) -> None:
        nonlocal count
        position = parser.CurrentByteIndex
        if position - scanner.last_event > limits.max_text_run:
            raise Refused("text_run", cell="", part=name)
        scanner.last_event = position
        if tag[tag.rfind(_SEP) + 1 :] == "si":
            count += 1
            if count > limits.max_strings:
                raise Refused("shared_strings", limit=limits.max_strings)

    parser.StartElementHandler = start
    with archive.open(name) as stream:
        scanner.feed(stream)
    result.shared_strings = count
