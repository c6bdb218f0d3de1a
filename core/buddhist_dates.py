"""Buddhist Era years and Thailand's fiscal year (ปีงบประมาณ).

พ.ศ. = ค.ศ. + 543. The fiscal year runs 1 October to 30 September and is named by the พ.ศ.
year in which it ends: FY 2566 is 1 Oct 2022 to 30 Sep 2023.
"""

import datetime
import io
import re
from typing import overload

from django.utils import timezone
from django.utils.translation import get_language

BE_OFFSET = 543


def to_buddhist_year(christian_year: int) -> int:
    return christian_year + BE_OFFSET


def to_christian_year(buddhist_year: int) -> int:
    return buddhist_year - BE_OFFSET


def fiscal_year_of(day: datetime.date) -> int:
    """The fiscal year (พ.ศ.) that `day` falls in."""
    ends_in = day.year + 1 if day.month >= 10 else day.year
    return to_buddhist_year(ends_in)


def fiscal_year_bounds(fiscal_year: int) -> tuple[datetime.date, datetime.date]:
    """First and last day of a fiscal year given as พ.ศ."""
    ends_in = to_christian_year(fiscal_year)
    return datetime.date(ends_in - 1, 10, 1), datetime.date(ends_in, 9, 30)


def current_fiscal_year() -> int:
    return fiscal_year_of(timezone.localdate())


# Fiscal years are พ.ศ. years; this window keeps a ค.ศ. year (2024) from slipping in by mistake.
FISCAL_YEAR_MIN = 2560
FISCAL_YEAR_MAX = 2700


@overload
def parse_fiscal_year(value: object, default: int) -> int: ...
@overload
def parse_fiscal_year(value: object, default: None = None) -> int | None: ...
def parse_fiscal_year(value: object, default: int | None = None) -> int | None:
    """The fiscal year (พ.ศ.) a query parameter names, or `default` if it names none.

    Only decimal digits count (Thai digits too, as int() reads them); a year outside
    FISCAL_YEAR_MIN..FISCAL_YEAR_MAX — a ค.ศ. year, 9999 — is no fiscal year of the programme.
    """
    if isinstance(value, int):
        year = value
    elif isinstance(value, str) and value.isdecimal():
        year = int(value)
    else:
        return default
    return year if FISCAL_YEAR_MIN <= year <= FISCAL_YEAR_MAX else default


THAI_MONTHS_SHORT = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)  # fmt: skip
THAI_MONTHS_LONG = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip


def format_thai_date(day: datetime.date, *, long: bool = False) -> str:
    """15 มี.ค. 2553 (or 15 มีนาคม 2553): how Thai users read dates, with the พ.ศ. year."""
    months = THAI_MONTHS_LONG if long else THAI_MONTHS_SHORT
    return f"{day.day} {months[day.month - 1]} {to_buddhist_year(day.year)}"


def file_date(day: datetime.date, *, separator: str = "-") -> str:
    """2569-12-04: a date in an export's file name, in พ.ศ. as the people who keep the files count years."""
    return separator.join((str(to_buddhist_year(day.year)), f"{day.month:02d}", f"{day.day:02d}"))


# Excel's own Thai Buddhist calendar: [$-107041E] is calendar 07 (Thai Buddhist) of locale 041E (Thai), so
# Excel shows "15 มี.ค. 2553" while the cell stays a real date (sorting, filtering and date sums work).
EXCEL_BUDDHIST_DATE = "[$-107041E]d mmm yyyy"
EXCEL_BUDDHIST_DATETIME = "[$-107041E]d mmm yyyy hh:mm"


def excel_date_format(value: object) -> str | None:
    """The number format of a date cell in an xlsx export, in the export's language (พ.ศ. in Thai, ค.ศ. in
    English); None for a value that is no date."""
    thai = (get_language() or "th").startswith("th")
    if isinstance(value, datetime.datetime):
        return EXCEL_BUDDHIST_DATETIME if thai else "d mmm yyyy hh:mm"
    if isinstance(value, datetime.date):
        return EXCEL_BUDDHIST_DATE if thai else "d mmm yyyy"
    return None


def with_excel_date_formats(xlsx: bytes) -> bytes:
    """An xlsx written by a library that picks its own date format (tablib, django-import-export), with
    excel_date_format on every date cell."""
    from openpyxl import load_workbook  # only the exports need it

    workbook = load_workbook(io.BytesIO(xlsx))
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.is_date:
                    # openpyxl reads every date back as a datetime: the writer's format says which it was.
                    value = cell.value if "h" in cell.number_format else cell.value.date()
                    cell.number_format = excel_date_format(value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- Reading dates as Thai spreadsheets write them ------------------------------------------------

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
# Month names and abbreviations, Thai and English, with and without dots: "มี.ค.", "มีค", "มีนาคม", "Mar".
_MONTHS: dict[str, int] = {}
for _number, (_short, _long) in enumerate(zip(THAI_MONTHS_SHORT, THAI_MONTHS_LONG, strict=True), start=1):
    _MONTHS[_short] = _MONTHS[_short.replace(".", "")] = _MONTHS[_long] = _number
for _number, _name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"),
    start=1,
):  # fmt: skip
    _MONTHS[_name] = _MONTHS[_name[:3]] = _number
# Excel's day 0 (the 1900 date system, with its leap-year bug folded in for dates after Feb 1900).
_EXCEL_EPOCH = datetime.date(1899, 12, 30)


_NUMERIC_DATE = re.compile(r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})$")
# A time after the date, as a spreadsheet's date-and-time cell turned to text writes it: "15/03/2553 00:00",
# "2010-03-15T00:00:00", "15/03/2553 08:30 น.". The time of a date field is dropped.
_TIME_SUFFIX = re.compile(r"(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*น\.)?$")
# A year alone (a ปีเกิด column): 4 digits that are a plausible พ.ศ. or ค.ศ. year.
_YEAR_ALONE = range(1900, 2101), range(2400, 2701)


class DateParseError(ValueError):
    """`code` says why: "format" (not a date as written), "invalid" (no such day), "year" (implausible)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _year_to_christian(year: int) -> int:
    # A year of 2400 or more is พ.ศ. (DOMAIN.md); two-digit years are too ambiguous to guess.
    if year >= 2400:
        return year - BE_OFFSET
    if 1800 <= year < 2400:
        return year
    raise DateParseError("year")


def parse_thai_date(value: object, *, year_alone: bool = False) -> datetime.date | None:
    """A date as Thai users write it: 15/03/2553, 15-03-2010, 2553-03-15, 15 มี.ค. 2553,
    15 มีนาคม 2553, Thai digits, a time after it, a real Excel date or an Excel serial number. Years of
    2400 or more are พ.ศ. With `year_alone`, a year by itself (2553, 2010: a ปีเกิด column) is 1 January of
    that year, not an Excel serial of 1906. Returns None for an empty value; raises DateParseError otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if year_alone:
        year = _year_of(value)
        if year is not None:
            return datetime.date(_year_to_christian(year), 1, 1)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2_958_466:  # Excel serials up to 9999-12-31
            return _EXCEL_EPOCH + datetime.timedelta(days=int(value))
        raise DateParseError("format")
    text = str(value).strip().translate(THAI_DIGITS)
    if not text:
        return None
    if ":" in text:
        text = _TIME_SUFFIX.sub("", text)
    match = _NUMERIC_DATE.match(text)
    if match:  # the common case, 15/03/2553 or 2553-03-15, without the general splitting below
        a, b, c = match.groups()
        day, month, year = (int(c), int(b), int(a)) if len(a) == 4 else (int(a), int(b), int(c))
        if not 1 <= month <= 12:
            raise DateParseError("format")
        christian_year = _year_to_christian(year)
        try:
            return datetime.date(christian_year, month, day)
        except ValueError as exc:
            raise DateParseError("invalid") from exc
    if text.isdigit() and len(text) <= 6:  # a serial number typed or exported as text
        return parse_thai_date(int(text))
    parts = [p for p in _split_date(text) if p]
    try:
        if len(parts) != 3:
            raise DateParseError("format")
        if parts[0].isdigit() and len(parts[0]) == 4:  # 2553-03-15 (ISO order)
            year, month, day = int(parts[0]), _month(parts[1]), int(parts[2])
        else:  # 15/03/2553, 15 มี.ค. 2553
            day, month, year = int(parts[0]), _month(parts[1]), int(parts[2])
    except ValueError as exc:
        raise DateParseError("format") from exc
    christian_year = _year_to_christian(year)
    try:
        return datetime.date(christian_year, month, day)
    except ValueError as exc:
        raise DateParseError("invalid") from exc


def _year_of(value: object) -> int | None:
    """The year of a value that is a year alone (2553, 2553.0, "๒๕๕๓"), else None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        year = value
    elif isinstance(value, str) and len(text := value.strip().translate(THAI_DIGITS)) == 4 and text.isdigit():
        year = int(text)
    else:
        return None
    return year if any(year in years for years in _YEAR_ALONE) else None


def _split_date(text: str) -> list[str]:
    for sep in "/-":
        text = text.replace(sep, " ")
    # "15มี.ค.2553": split digits from letters.
    out, current = [], ""
    for ch in text:
        if ch == " ":
            out.append(current)
            current = ""
        elif current and (ch.isdigit() != current[-1].isdigit()) and ch != ".":
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return [p.strip(".") if p.strip(".").isdigit() else p for p in out]


def _month(text: str) -> int:
    if text.isdigit():
        month = int(text)
        if not 1 <= month <= 12:
            raise ValueError(text)
        return month
    key = text.strip().lower()
    if key in _MONTHS:
        return _MONTHS[key]
    if key.rstrip(".") in _MONTHS:
        return _MONTHS[key.rstrip(".")]
    raise ValueError(text)
