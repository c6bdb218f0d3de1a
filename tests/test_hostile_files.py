"""Hostile spreadsheets (issue 11): each file of the issue, built here byte by byte, and what becomes
of it in the web request and in a real Celery worker.

Every file is refused with a Thai message (naming the cell where there is one) or processed with
peak memory under 500 MB; no worker dies; no upload is left checking or received; every child
process that read a file is reaped. targets/upload/reading.py, sheet_scan.py and sheet_child.py
are what is tested.
"""

import contextlib
import gc
import io
import logging
import os
import random
import re
import signal
import sys
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from targets.models import UploadBatch
from targets.upload import reading
from targets.upload.reading import UnreadableFile, open_sheet
from targets.upload.sheet_scan import Limits, Refused, scan_xlsx
from tests.builders import HEADER, OUT, batch_of, national_id

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MB = 1024 * 1024
PEAK_LIMIT = 500 * MB  # the issue's bound, for every process that touches a file

# Thai messages, as a coordinator reads them.
FORMULA = "ช่องนี้เป็นสูตร กรุณาวางเป็นค่าแทน"
FAR_CELL = "แผ่นงานมีข้อมูลไปถึงเซลล์ {cell} ซึ่งเกินขีดจำกัด 200,100 แถว และ 50 คอลัมน์ (ถึงคอลัมน์ AX)"
LONG_RUN = "แผ่นงานมีข้อความหรือช่องว่างยาวผิดปกติใกล้เซลล์ {cell} ระบบจึงไม่รับไฟล์"
UNPACKS_BIG = "ไฟล์นี้เมื่อคลายออกมีขนาดใหญ่ผิดปกติ ระบบจึงไม่รับไฟล์"
DAMAGED = "ไฟล์เสียหาย อ่านไม่ได้ กรุณาบันทึกใหม่จาก Excel แล้วนำเข้าอีกครั้ง"
CSV_LONG = "แถวที่ 2 ของไฟล์ CSV มีเซลล์ที่ยาวเกิน 131,072 ตัวอักษร ระบบจึงไม่รับไฟล์"
CSV_NUL = "บรรทัดที่ 1 ของไฟล์ CSV มีอักขระ NUL"
TOO_MUCH_MEMORY = "การอ่านไฟล์ตารางนี้ต้องใช้หน่วยความจำเกิน {mb} MB ระบบจึงไม่รับไฟล์"
TOO_LONG = "การอ่านไฟล์ตารางนี้ใช้เวลานานเกินไป ระบบจึงไม่รับไฟล์"
STOPPED = "โปรแกรมที่อ่านไฟล์ตารางหยุดทำงานโดยไม่คาดคิด ระบบจึงไม่รับไฟล์"


# --- building the files ------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _row(number: int, values: list, prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    cells = []
    for index, value in enumerate(values):
        reference = f"{chr(65 + index)}{number}"
        if value not in ("", None):
            cells.append(
                f'<{p}c r="{reference}" t="inlineStr"><{p}is><{p}t>{_escape(str(value))}</{p}t></{p}is></{p}c>'
            )
    return f'<{p}row r="{number}">{"".join(cells)}</{p}row>'


def _data_row(n: int = 1) -> list:
    return ["ใจดี", f"สมชาย{n}", national_id(n), "ชาย", "15/03/2553", "", "", OUT, ""]


def _xlsx(sheet_parts, *, prefix: str = "", pad: int = 0, level: int = 6) -> bytes:
    """A minimal xlsx, zipped by hand: the parts Excel needs and one sheet whose XML is `sheet_parts`
    (a str, or an iterable of bytes written one after another, so a 700 MB sheet never sits in memory)."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
            'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="ข้อมูล" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<?xml version="1.0" encoding="UTF-8"?><{p}worksheet {xmlns}>'.encode())
            for part in [sheet_parts] if isinstance(sheet_parts, str) else sheet_parts:
                sheet.write(part.encode() if isinstance(part, str) else part)
            sheet.write(f"</{p}worksheet>".encode())
        if pad:
            # Random bytes do not compress: the file grows by `pad` bytes, its sheet stays the same.
            archive.writestr("docProps/padding.bin", random.Random(11).randbytes(pad), zipfile.ZIP_STORED)
    return buffer.getvalue()


def _sheet_data(*rows: str, prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    return f"<{p}sheetData>{''.join(rows)}</{p}sheetData>"


def far_cell_file(reference: str = "XFD1048576", *, pad: int = 0) -> bytes:
    """The crash-looping file: a header, a data row, then one cell far away (1.7 KB)."""
    row = int(re.sub(r"^[A-Z]+", "", reference))
    far = f'<row r="{row}"><c r="{reference}" t="inlineStr"><is><t>x</t></is></c></row>'
    return _xlsx(_sheet_data(_row(1, HEADER), _row(2, _data_row()), far), pad=pad)


def whitespace_bomb(total: int, *, run: int) -> bytes:
    """A header, a data row, then `total` bytes of spaces inside sheetData, in runs of `run` bytes
    (between empty rows), compressed to almost nothing."""
    chunk = b" " * min(run, MB)

    def parts():
        yield f"<sheetData>{_row(1, HEADER)}{_row(2, _data_row())}".encode()
        written = 0
        while written < total:
            in_run = 0
            while in_run < run and written < total:
                piece = chunk[: min(len(chunk), run - in_run, total - written)]
                yield piece
                in_run += len(piece)
                written += len(piece)
            yield b"<row/>"  # an empty row without r: ends one run (and counts as no cell)
        yield b"</sheetData>"

    return _xlsx(parts(), level=9)  # 700 MB of spaces: 713 KB, as the issue's 715 KB


def formula_file(*, prefix: str = "") -> bytes:
    """A formula in B2 (the first name) that the old text pattern did not see: `s` before `r`, or a
    namespace prefix on every element."""
    p = f"{prefix}:" if prefix else ""
    values = _data_row()
    cells = []
    for index, value in enumerate(values):
        reference = f"{chr(65 + index)}2"
        if index == 1:
            cells.append(
                f'<{p}c s="0" r="{reference}" t="str"><{p}f>CONCAT("สม","ชาย")</{p}f><{p}v>สมชาย</{p}v></{p}c>'
            )
        elif value:
            cells.append(f'<{p}c r="{reference}" t="inlineStr"><{p}is><{p}t>{value}</{p}t></{p}is></{p}c>')
    row2 = f'<{p}row r="2">{"".join(cells)}</{p}row>'
    return _xlsx(_sheet_data(_row(1, HEADER, prefix), row2, prefix=prefix), prefix=prefix)


def many_rows_file(rows: int) -> bytes:
    """A plain, valid sheet of `rows` data rows (hand-written XML: fast to build)."""
    return _xlsx(_sheet_data(_row(1, HEADER), *(_row(n + 1, _data_row(n)) for n in range(1, rows + 1))), level=1)


def corrupt_deflate_file() -> bytes:
    data = bytearray(many_rows_file(300))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    name_length, extra_length = (
        int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little"),
        (int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")),
    )
    start = info.header_offset + 30 + name_length + extra_length
    # The first block's header: BTYPE 11 is reserved, so inflating fails at once ("invalid block
    # type", zlib.error), as in the issue; the zip's directory is intact.
    data[start] = 0b0000_0110
    return bytes(data)


def csv_long_cell() -> bytes:
    return f"เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n{national_id(1)},{'ก' * 140_000},ใจดี,{OUT}\n".encode()


def csv_with_nul() -> bytes:
    """A NUL byte in the header line: a damaged file, no typing slip. (A NUL in one cell further down
    only rejects its row: tests/test_text_hygiene.py.)"""
    lines = ["เลขประจำตัวประชาชน,ชื่อ\x00,นามสกุล,กลุ่มเป้าหมาย", f"{national_id(1)},สมชาย,ใจดี,{OUT}"]
    return ("\n".join(lines) + "\n").encode()


def hostile_file_set() -> dict[str, tuple[str, bytes, str]]:
    """name -> (file name, content, the Thai message it must be refused with). bench/hostile.py
    measures the same files."""
    return {
        "cell at XFD1048576": ("far.xlsx", far_cell_file(), FAR_CELL.format(cell="XFD1048576")),
        "cell at ZZ200000": ("zz.xlsx", far_cell_file("ZZ200000"), FAR_CELL.format(cell="ZZ200000")),
        "cell at A300000": ("rows.xlsx", far_cell_file("A300000"), FAR_CELL.format(cell="A300000")),
        "700 MB of whitespace": ("bomb.xlsx", whitespace_bomb(700 * MB, run=700 * MB), UNPACKS_BIG),
        "2 MB of whitespace in one run": ("run.xlsx", whitespace_bomb(2 * MB, run=2 * MB), LONG_RUN.format(cell="H2")),
        "corrupt deflate stream": ("corrupt.xlsx", corrupt_deflate_file(), DAMAGED),
        "csv cell over 131,072 characters": ("long.csv", csv_long_cell(), CSV_LONG),
        "csv with a NUL byte": ("nul.csv", csv_with_nul(), CSV_NUL),
    }


# Once per session: xdist gives a worker this module's tests among others, and pytest-django puts its
# database tests apart from the rest, so a module-scoped set was built again at every return (~1.5 s).
@pytest.fixture(scope="session")
def hostile_files() -> dict[str, tuple[str, bytes, str]]:
    return hostile_file_set()


def test_the_crash_file_is_the_issues_1_7_kb(hostile_files):
    _name, content, _message = hostile_files["cell at XFD1048576"]
    assert len(content) < 2200
    assert b"XFD1048576" not in content  # compressed: only the XML knows where the cell is
    assert len(hostile_files["700 MB of whitespace"][1]) < 1 * MB, "the bomb is small"


# --- what the reading does with each ---------------------------------------------------------------


def _open(content: bytes, name: str, tmp_path: Path):
    path = tmp_path / name
    path.write_bytes(content)
    return open_sheet(path, name=name)


def _read_all(content: bytes, name: str, tmp_path: Path) -> list:
    """Open the file and read every row, in Thai, as the pipeline does."""
    with translation.override("th"), _open(content, name, tmp_path) as sheet:
        return list(sheet.rows)


def _children_of_this_process() -> list[int]:
    """Processes (zombies included) whose parent is this one: a reader child not reaped shows here."""
    mine = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == mine:
                    found.append(int(entry.name))
    return found


@pytest.fixture
def no_child_left():
    before = set(_children_of_this_process())
    yield
    gc.collect()
    assert set(_children_of_this_process()) - before == set(), "every reader child is ended and reaped"


@pytest.mark.parametrize(
    "name",
    [
        "cell at XFD1048576",
        "cell at ZZ200000",
        "cell at A300000",
        "700 MB of whitespace",
        "2 MB of whitespace in one run",
        "corrupt deflate stream",
        "csv cell over 131,072 characters",
        "csv with a NUL byte",
    ],
)
def test_each_hostile_file_is_refused_with_a_thai_message(name, hostile_files, tmp_path, no_child_left):
    file_name, content, message = hostile_files[name]
    with pytest.raises(UnreadableFile) as refused:
        _read_all(content, file_name, tmp_path)
    assert message in str(refused.value)


def test_a_corrupt_deflate_stream_is_refused_by_the_scan_and_by_the_reader_alike(tmp_path, no_child_left):
    path = tmp_path / "corrupt.xlsx"
    path.write_bytes(corrupt_deflate_file())
    with pytest.raises(Refused) as refused:
        scan_xlsx(path, Limits(max_rows=10, max_columns=10, max_unpacked=MB, max_text_run=4096, max_strings=10))
    assert refused.value.code == "damaged"
    assert type(refused.value.__cause__).__module__ == "zlib", "zlib.error, as in the issue"
    # calamine, on its own in its child, fails too: a refusal, not a crash.
    reader = reading._Child("read", path, "xlsx", reading._child_options())
    with translation.override("th"), pytest.raises(UnreadableFile) as unreadable:
        reader.receive()
    reader.close()
    assert "อ่านไฟล์ตารางไม่ได้: XmlError" in str(unreadable.value)


@pytest.mark.parametrize("prefix", ["", "x"], ids=["attribute order", "namespace prefix"])
def test_formula_cells_are_found_as_the_xml_says(prefix, tmp_path, no_child_left):
    with _open(formula_file(prefix=prefix), "formula.xlsx", tmp_path) as sheet:
        rows = list(sheet.rows)
        assert sheet.header == HEADER
        assert sheet.formula_cells == {(2, 1)}, "B2: row 2, the row's second cell"
    assert rows[0][1] == "สมชาย", "calamine gives the formula's cached value"


def test_formula_cells_match_the_row_when_the_sheet_does_not_start_in_column_a(tmp_path, no_child_left):
    """calamine's rows begin at the first used column; a formula in C2 of a sheet starting in B is the
    row's second cell. (Before, the formula check compared absolute columns and missed it.)"""
    cells = (
        '<row r="1"><c r="B1" t="inlineStr"><is><t>a</t></is></c><c r="C1" t="inlineStr"><is><t>b</t></is></c></row>'
    )
    cells += '<row r="2"><c r="B2"><v>1</v></c><c r="C2"><f>1+1</f><v>2</v></c></row>'
    with _open(_xlsx(_sheet_data(cells)), "offset.xlsx", tmp_path) as sheet:
        assert sheet.header == ["a", "b"]
        assert list(sheet.rows) == [[1.0, 2.0]]
        assert sheet.formula_cells == {(2, 1)}


def test_a_formula_out_of_order_is_refused_not_missed(tmp_path, no_child_left):
    """Rows are handed out once the scan has passed them: a formula cell placed, in the XML, after
    much later rows (Excel never does this) would arrive too late, so the file is refused."""
    rows = [_row(1, HEADER)] + [_row(n + 1, _data_row(n)) for n in range(1, 1500)]
    late = '<row r="1502"><c r="B3" t="str"><f>1+1</f><v>2</v></c></row>'
    content = _xlsx(_sheet_data(*rows, late))
    with pytest.raises(UnreadableFile) as refused:
        _read_all(content, "late.xlsx", tmp_path)
    assert "เซลล์ B3 อยู่หลังแถวที่อยู่ถัดลงไป" in str(refused.value)


def test_the_scan_finds_what_calamine_reads_whatever_the_cells_lack(tmp_path):
    """Cells without `r` are placed as calamine places them (after the previous cell of the row)."""
    cells = '<row r="1"><c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c></row>'
    cells += "<row><c><v>1</v></c><c><f>1+1</f><v>2</v></c></row>"
    cells += '<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 3
    cells += "<row><c/><c/><c/><c><v>1</v></c></row>"  # D6
    path = tmp_path / "no-r.xlsx"
    path.write_bytes(_xlsx(_sheet_data(cells)))
    limits = Limits(max_rows=6, max_columns=3, max_unpacked=MB, max_text_run=4096, max_strings=100)
    with pytest.raises(Refused) as refused:
        scan_xlsx(path, limits)
    assert (refused.value.code, refused.value.params["cell"]) == ("extent", "D6")
    result = scan_xlsx(path, Limits(max_rows=6, max_columns=4, max_unpacked=MB, max_text_run=4096, max_strings=100))
    assert (result.formula_rows, result.last_row, result.last_column) == ({2: 0b10}, 6, 4)


def test_a_csv_in_no_known_encoding_is_refused_and_utf16_is_read(tmp_path, no_child_left):
    with pytest.raises(UnreadableFile) as refused:
        _read_all(b"a,b\n\xdb\xdc,\xff\n", "odd.csv", tmp_path)  # neither UTF-8 nor TIS-620
    assert "รหัสอักขระของไฟล์ CSV ไม่ใช่ UTF-8 หรือ TIS-620" in str(refused.value)
    # Excel's "Unicode text": UTF-16 with its byte-order mark, tab-separated (once refused, full of NULs).
    text = "เลขประจำตัวประชาชน\tชื่อ\n" + f"{national_id(1)}\tสมชาย\n"
    assert _read_all(text.encode("utf-16"), "unicode.txt", tmp_path) == [[national_id(1), "สมชาย"]]


def test_a_long_run_of_small_elements_is_not_stuffing(tmp_path, no_child_left):
    """A sheet's tail may be long (formatting rules, merged cells): only text between two tags counts."""
    tail = "<mergeCells>" + '<mergeCell ref="J1:K1"/>' * 40_000 + "</mergeCells>"  # 960 KB of XML
    content = _xlsx(_sheet_data(_row(1, HEADER), _row(2, _data_row())) + tail)
    rows = _read_all(content, "tail.xlsx", tmp_path)
    assert [row[2] for row in rows] == [national_id(1)]


def test_many_whitespace_runs_under_the_limits_are_processed_within_memory(tmp_path, caplog, no_child_left):
    """80 MB of stuffing, in runs that each stay under the cell-sized limit: read, with every process
    far under 500 MB."""
    caplog.set_level(logging.DEBUG, logger="targets.upload.reading")
    content = whitespace_bomb(80 * MB, run=400 * 1024)
    assert len(content) < 2 * MB
    before = _reset_peak()
    with _open(content, "runs.xlsx", tmp_path) as sheet:
        rows = list(sheet.rows)
        peaks = sheet.peaks
    assert [r[2] for r in rows if any(r)] == [national_id(1)]
    assert _peak() - before < PEAK_LIMIT - WORKER_OWN, "this process"
    assert set(peaks) == {"read", "scan"}
    assert all(0 < peak < PEAK_LIMIT for peak in peaks.values()), peaks
    assert any("peak memory" in record.getMessage() for record in caplog.records)


# A web or Celery worker of the portal is some 140 MB before it takes a file (Django, the project's apps and its
# URLconf loaded: 137 MB measured); pytest's worker holds the whole suite besides, 500 MB and more late in a run.
# So in this process the bound is on what the file added: PEAK_LIMIT less a worker's own size.
WORKER_OWN = 140 * MB


def _reset_peak() -> int:
    """Start this process's peak resident memory (VmHWM) afresh (Linux: clear_refs 5); its resident memory now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS:")


def _peak() -> int:
    return _status("VmHWM:")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


# --- a child that crashes, spins or babbles ---------------------------------------------------------


def test_a_reader_over_its_memory_cap_becomes_a_refusal(settings, tmp_path, no_child_left):
    """A tiny memory cap, set for the test: calamine's allocation fails (it aborts: SIGABRT), the child
    dies, the upload is refused, this process goes on."""
    settings.TARGETS_UPLOAD_READER_MEMORY_BYTES = 48 * MB
    content = many_rows_file(60_000)
    with pytest.raises(UnreadableFile) as refused:
        _read_all(content, "big.xlsx", tmp_path)
    assert TOO_MUCH_MEMORY.format(mb=48) in str(refused.value)


def _read_after_killing_the_reader(content: bytes, tmp_path: Path) -> None:
    with translation.override("th"), _open(content, "killed.xlsx", tmp_path) as sheet:
        reader = sheet.children[0]
        assert reader.mode == "read"
        reader.process.send_signal(signal.SIGKILL)  # rows still to come: its pipe is full
        list(sheet.rows)


def test_a_reader_killed_by_a_signal_becomes_a_refusal(tmp_path, no_child_left):
    with pytest.raises(UnreadableFile) as refused:
        _read_after_killing_the_reader(many_rows_file(20_000), tmp_path)
    assert "ระบบจึงไม่รับไฟล์" in str(refused.value)


def _fake_child(monkeypatch, script: str) -> None:
    """Replace the reader with a child running `script` (it gets the same arguments)."""
    monkeypatch.setattr(reading, "CHILD_COMMAND", [sys.executable, "-c", script])


GARBAGE = {
    "a pickle that calls a function": (
        "import os, pickle, struct, sys; data = pickle.dumps(('start', os.system));"
        "sys.stdout.buffer.write(struct.pack('>I', len(data)) + data)"
    ),
    "random bytes": "import sys; sys.stdout.buffer.write(b'\\x00\\x00\\x00\\x10' + b'\\xfe' * 16)",
    "an absurd frame length": "import sys; sys.stdout.buffer.write(b'\\xff\\xff\\xff\\xff' + b'x' * 100)",
    "a message of the wrong shape": (
        "import pickle, struct, sys; data = pickle.dumps(('rows', 'not a list'));"
        "start = pickle.dumps(('start', 0));"
        "sys.stdout.buffer.write(struct.pack('>I', len(start)) + start + struct.pack('>I', len(data)) + data)"
    ),
}


@pytest.mark.parametrize("kind", GARBAGE)
def test_a_child_that_sends_garbage_becomes_a_refusal(kind, monkeypatch, tmp_path, no_child_left):
    _fake_child(monkeypatch, GARBAGE[kind])
    with pytest.raises(UnreadableFile) as refused:
        _read_all(csv_with_nul(), "a.csv", tmp_path)
    assert STOPPED in str(refused.value)


def test_a_child_that_spins_is_stopped_by_its_cpu_limit(monkeypatch, settings, tmp_path, no_child_left):
    settings.TARGETS_UPLOAD_READER_CPU_SECONDS = 1
    # The real child's own limits, then a parser that never ends.
    _fake_child(
        monkeypatch,
        "import json, sys; from targets.upload.sheet_child import _limit_resources;"
        "o = json.loads(sys.argv[-1]); _limit_resources(o['memory_bytes'], o['cpu_seconds'])\nwhile True: pass",
    )
    with translation.override("th"), pytest.raises(UnreadableFile) as refused:
        _open(csv_with_nul(), "spin.csv", tmp_path)
    assert TOO_LONG in str(refused.value)


def test_children_are_reaped_when_the_reader_stops_early(tmp_path, no_child_left):
    path = tmp_path / "rows.xlsx"
    path.write_bytes(many_rows_file(20_000))
    # Closed by its block after two rows, the child still writing.
    with open_sheet(path, name="rows.xlsx") as sheet:
        next(sheet.rows)
        next(sheet.rows)
        processes = [child.process for child in sheet.children]
    assert all(process.returncode is not None for process in processes), "reaped"
    # Dropped without close (as a view that breaks out of its loop does): the generator's end reaps.
    sheet = open_sheet(path, name="rows.xlsx")
    next(sheet.rows)
    processes = [child.process for child in sheet.children]
    del sheet
    gc.collect()
    assert all(process.returncode is not None for process in processes), "reaped"


# --- through the upload page (the web request) ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "cell at XFD1048576",
        "cell at ZZ200000",
        "700 MB of whitespace",
        "2 MB of whitespace in one run",
        "corrupt deflate stream",
        "csv cell over 131,072 characters",
        "csv with a NUL byte",
    ],
)
def test_the_upload_page_refuses_each_hostile_file_in_thai(name, hostile_files, cast, client_for, settings):
    settings.TARGETS_UPLOAD_INLINE_BYTES = settings.TARGETS_UPLOAD_MAX_BYTES  # checked within the request
    file_name, content, message = hostile_files[name]
    client = client_for(cast.coordinator_a)  # Thai: the portal's first language
    before = _reset_peak()
    response = client.post("/uploads/new/", {"file": SimpleUploadedFile(file_name, content)})
    assert response.status_code == 302, "no 500, no dropped connection"
    batch = batch_of(response)
    assert batch.status == UploadBatch.Status.FAILED, "a final state"
    assert message in batch.error
    assert _peak() - before < PEAK_LIMIT - WORKER_OWN
    page = client.get(f"/uploads/{batch.pk}/")
    assert page.status_code == 200
    assert message in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["", "x"], ids=["attribute order", "namespace prefix"])
def test_the_upload_page_rejects_the_row_whose_formula_hid(prefix, cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.post("/uploads/new/", {"file": SimpleUploadedFile("formula.xlsx", formula_file(prefix=prefix))})
    batch = batch_of(response)
    assert (batch.status, batch.rows_total, batch.rejected) == (UploadBatch.Status.CHECKED, 1, 1)
    assert [(r.row_number, r.reason) for r in batch.rejections.all()] == [(2, FORMULA)]


# --- through a real Celery worker -------------------------------------------------------------------


@pytest.fixture
def celery_workers(transactional_db, redis_url, settings, tmp_path):
    """Worker subprocesses on the test database, started as tests/test_upload_worker.py starts them."""
    import redis

    from tests.test_upload_worker import Workers, _database_url

    if not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("a worker process needs the test database on PostgreSQL")
    client = redis.Redis.from_url(redis_url)
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CONN_MAX_AGE": "0",
    }
    running = Workers(env, tmp_path)
    yield running
    running.stop_all()
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_refuses_each_hostile_file_and_lives_on(
    hostile_files, cast, client_for, celery_workers, settings
):
    """Each file goes to the worker: the padded crash file because it is over the inline size, the
    others because the test then makes every file "big". Each ends failed with its Thai message, the
    worker process never dies, and then it checks a good file."""
    from tests.test_upload_worker import _wait_for

    worker = celery_workers.start()
    client = client_for(cast.coordinator_a)
    padded = far_cell_file(pad=settings.TARGETS_UPLOAD_INLINE_BYTES + 1024)
    files = [("far-padded.xlsx", padded, FAR_CELL.format(cell="XFD1048576"))]
    files += list(hostile_files.values())
    for file_name, content, message in files:
        response = client.post("/uploads/new/", {"file": SimpleUploadedFile(file_name, content)})
        batch = batch_of(response)
        assert batch.status == UploadBatch.Status.CHECKING, f"{file_name} is enqueued for the worker"
        _wait_for(
            lambda b=batch: UploadBatch.objects.get(pk=b.pk).status == UploadBatch.Status.FAILED,
            what=f"{file_name} to be refused",
            workers=celery_workers,
            timeout=120,
        )
        batch.refresh_from_db()
        assert message in batch.error, (file_name, batch.error)
        assert worker.poll() is None, f"the worker is alive after {file_name}"
        settings.TARGETS_UPLOAD_INLINE_BYTES = 0  # after the padded file: every file goes to the worker
    good = client.post("/uploads/new/", {"file": SimpleUploadedFile("ok.xlsx", formula_file())})
    batch = batch_of(good)
    _wait_for(
        lambda: UploadBatch.objects.get(pk=batch.pk).status == UploadBatch.Status.CHECKED,
        what="the next, good file",
        workers=celery_workers,
        timeout=60,
    )
    assert worker.poll() is None, "the same worker took the next task"
    left = UploadBatch.objects.exclude(status__in=[UploadBatch.Status.FAILED, UploadBatch.Status.CHECKED])
    assert not left.exists(), "no upload is left received or checking"
