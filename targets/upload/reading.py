"""Reading an uploaded spreadsheet: xlsx, xls or csv, as a header row and a stream of rows.

- xlsx and xls are read by python-calamine (Rust), row by row, so a 100,000-row file never sits
  in memory as a whole. An xlsx is a zip: its declared uncompressed size is checked first, so a
  zip bomb is refused before anything is decompressed.
- Formula cells of an xlsx are found in the sheet's XML (calamine gives only their cached values),
  so that a row carrying a formula can be refused instead of silently taking whatever value the
  formula last showed.
- csv: UTF-8 with or without BOM, or TIS-620/cp874, which Thai Excel still writes.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".csv": "csv", ".txt": "csv"}


class UnreadableFile(Exception):
    """The whole file is refused; the message says why, in the user's language."""


@dataclass
class Sheet:
    header: list[str]
    rows: Iterator[list]  # each row: the cell values, row 2 onwards (row 1 is the header)
    # Cells holding formulas, as (row number, column index), both as people count them (1-based row).
    formula_cells: set[tuple[int, int]] = field(default_factory=set)
    header_row: int = 1


def file_kind(name: str) -> str:
    kind = EXTENSIONS.get(Path(name).suffix.lower())
    if kind is None:
        raise UnreadableFile(_("Upload an Excel file (.xlsx or .xls) or a CSV file."))
    return kind


def open_sheet(path: str | Path, *, name: str) -> Sheet:
    """The first sheet of the file at `path` (uploaded as `name`)."""
    kind = file_kind(name)
    if kind == "csv":
        return _open_csv(Path(path))
    formula_cells = _check_xlsx(Path(path)) if kind == "xlsx" else set()
    return _open_with_calamine(Path(path), formula_cells)


# --- Excel -------------------------------------------------------------------------------------


def _check_xlsx(path: Path) -> set[tuple[int, int]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise UnreadableFile(_("This is not a valid .xlsx file. Save it again from Excel and upload it.")) from exc
    with archive:
        limit = settings.TARGETS_UPLOAD_MAX_UNCOMPRESSED_BYTES
        if sum(info.file_size for info in archive.infolist()) > limit:
            raise UnreadableFile(_("This file unpacks to an implausibly large size and is refused."))
        sheet_name = _first_sheet_xml(archive)
        if sheet_name is None:
            return set()
        return _formula_cells(archive.read(sheet_name))


def _first_sheet_xml(archive: zipfile.ZipFile) -> str | None:
    names = archive.namelist()
    if "xl/worksheets/sheet1.xml" in names:
        return "xl/worksheets/sheet1.xml"
    sheets = sorted(n for n in names if n.startswith("xl/worksheets/sheet") and n.endswith(".xml"))
    return sheets[0] if sheets else None


# <c r="B5" ...><f>...</f> (or <f .../>): a cell whose value comes from a formula.
_FORMULA_CELL = re.compile(rb'<c r="([A-Z]{1,3})(\d+)"[^>]*>\s*<f[ >/]')


def _formula_cells(xml: bytes) -> set[tuple[int, int]]:
    if b"<f" not in xml:
        return set()
    cells = set()
    for letters, number in _FORMULA_CELL.findall(xml):
        column = 0
        for ch in letters.decode():
            column = column * 26 + ord(ch) - 64
        cells.add((int(number), column - 1))
    return cells


def _open_with_calamine(path: Path, formula_cells: set[tuple[int, int]]) -> Sheet:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        rows = sheet.iter_rows()
    except Exception as exc:  # calamine raises its own error types for damaged or unknown files
        raise UnreadableFile(_("The spreadsheet cannot be read: %(error)s") % {"error": type(exc).__name__}) from exc
    header, header_row = _find_header(rows)
    return Sheet(header=header, rows=rows, formula_cells=formula_cells, header_row=header_row)


def _find_header(rows: Iterator[list]) -> tuple[list[str], int]:
    """The first non-blank row is the header (files often start with a title or a blank row)."""
    for number, row in enumerate(rows, start=1):
        cells = ["" if v is None else str(v).strip() for v in row]
        if any(cells):
            return cells, number
        if number >= 20:
            break
    raise UnreadableFile(_("The file has no header row: the first sheet is empty."))


# --- CSV ---------------------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp874")  # TIS-620 with Windows' extras
    except UnicodeDecodeError as exc:
        raise UnreadableFile(_("The CSV file's text encoding is not UTF-8 or TIS-620 (Thai Windows).")) from exc


def _open_csv(path: Path) -> Sheet:
    text = _decode(path.read_bytes())
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header, header_row = _find_header(reader)
    return Sheet(header=header, rows=reader, header_row=header_row)
