"""Validating one row of an upload: the same rules as the record forms and the API.

`RowValidator(province=..., columns=...)` builds its lookups once (areas of the province,
categories, statuses), then `validate(row, row_number)` turns a row of cell values into the
record's values, or into a list of (column, reason) in the active language. It is written for
speed: an upload of 100,000 rows passes through it in about a second.
"""

import datetime
import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import can
from accounts.models import User
from core import control_characters
from core.buddhist_dates import THAI_DIGITS, DateParseError, parse_thai_date
from core.thai_id import IdentifierError, parse_identifier
from provinces.models import District, Province, SubDistrict
from targets.models import Category, EducationStatus, Outcome

from .columns import ColumnMap, label
from .reading import UnreadableFile

# The sample row of the template (targets/upload/template_file.py) must never become a record.
TEMPLATE_SAMPLE_IDENTIFIER = "1111111111119"

# The database fields an upload writes, in the order of `CleanRow.values` (and of the COPY).
RECORD_FIELDS = (
    "name_prefix", "first_name", "last_name", "sex", "birth_date", "district_id", "sub_district_id",
    "category_id", "status_id", "education_status", "last_grade", "school", "guardian_name", "phone",
    "consent", "notes",
)  # fmt: skip

# Name prefixes as written, and their standard form; the sex they imply.
PREFIXES = {
    "เด็กชาย": "ด.ช.", "ด.ช.": "ด.ช.", "ดช.": "ด.ช.", "ดช": "ด.ช.",
    "เด็กหญิง": "ด.ญ.", "ด.ญ.": "ด.ญ.", "ดญ.": "ด.ญ.", "ดญ": "ด.ญ.",
    "นาย": "นาย", "นางสาว": "นางสาว", "น.ส.": "นางสาว", "นส.": "นางสาว", "นาง": "นาง",
    "mr": "Mr.", "mr.": "Mr.", "master": "Master", "miss": "Miss", "ms": "Ms.", "ms.": "Ms.", "mrs": "Mrs.",
    "mrs.": "Mrs.",
}  # fmt: skip
PREFIX_SEX = {
    "ด.ช.": "M", "นาย": "M", "Mr.": "M", "Master": "M",
    "ด.ญ.": "F", "นางสาว": "F", "นาง": "F", "Miss": "F", "Ms.": "F", "Mrs.": "F",
}  # fmt: skip
# Longest first, so that "นางสาว" is found before "นาง".
_PREFIXES_BY_LENGTH = sorted(PREFIXES, key=len, reverse=True)
_PREFIX_FIRST_CHARS = {p[0] for p in PREFIXES} | {p[0].upper() for p in PREFIXES}

SEXES = {
    "ชาย": "M", "ช": "M", "m": "M", "male": "M", "ผู้ชาย": "M", "ชาย(m)": "M",
    "หญิง": "F", "ญ": "F", "f": "F", "female": "F", "ผู้หญิง": "F", "หญิง(f)": "F",
}  # fmt: skip
YES = {"1", "y", "yes", "true", "ใช่", "มี", "ยินยอม", "ได้รับความยินยอม", "✓", "✔", "x"}
NO = {"0", "n", "no", "false", "ไม่", "ไม่ใช่", "ไม่มี", "ไม่ยินยอม", "-"}
EDUCATION = {
    "กำลังเรียน": EducationStatus.IN_SCHOOL, "ในระบบ": EducationStatus.IN_SCHOOL, "เรียนอยู่": EducationStatus.IN_SCHOOL,
    "นอกระบบ": EducationStatus.OUT_OF_SCHOOL, "ออกกลางคัน": EducationStatus.OUT_OF_SCHOOL,
    "หลุดจากระบบ": EducationStatus.OUT_OF_SCHOOL, "ไม่ได้เรียน": EducationStatus.OUT_OF_SCHOOL,
    "ไม่เคยเรียน": EducationStatus.NEVER_ENROLLED, "ไม่เคยเข้าเรียน": EducationStatus.NEVER_ENROLLED,
    "จบการศึกษา": EducationStatus.COMPLETED, "จบ": EducationStatus.COMPLETED,
}  # fmt: skip
for _choice in EducationStatus:
    EDUCATION[_choice.value] = _choice
    EDUCATION[str(_choice.label).lower().replace(" ", "")] = _choice

_AREA_PREFIXES = re.compile(r"^(จังหวัด|จ\.|อำเภอ|อ\.|เขต|กิ่งอำเภอ|ตำบล|ต\.|แขวง|changwat|amphoe|khet|tambon|khwaeng)\s*")
_SPACES = re.compile(r"\s+")
_THAI_DIGIT = re.compile("[๐-๙]")
_NEUTRALISED = frozenset("=+-@\t\r")  # translate() is slow on Thai text: only when there is a digit to change
_FORMULA_START = ("=", "+", "@")
MAX_LENGTH = {"name_prefix": 20, "first_name": 100, "last_name": 100, "last_grade": 20, "school": 200,
              "guardian_name": 200}  # fmt: skip


def area_key(text: str) -> str:
    """An area's name without its prefix, spaces or case: "อ. เมืองขอนแก่น" -> "เมืองขอนแก่น"."""
    text = _SPACES.sub("", str(text).strip().lower())
    return _AREA_PREFIXES.sub("", text)


def label_key(text: object) -> str:
    return _SPACES.sub("", str(text).strip().lower())


def cell_text(value: object) -> str:
    """A cell as text: Thai digits to Arabic, an Excel number without its ".0", spaces trimmed."""
    if value.__class__ is str:  # the common case first
        text = value.strip()
        if text[:1] == "'" and text[1:2] in _NEUTRALISED:
            # The apostrophe the portal's own exports put before = + - @ (spreadsheet_safety):
            # a rejected-rows file sent back holds the value as it was typed.
            text = text[1:]
        if _THAI_DIGIT.search(text):
            text = text.translate(THAI_DIGITS)
        return _SPACES.sub(" ", text) if ("  " in text or "\n" in text or "\t" in text or "\r" in text) else text
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return _SPACES.sub(" ", str(value).translate(THAI_DIGITS)).strip()


@dataclass
class CleanRow:
    row_number: int
    identifier: str
    identifier_kind: str
    values: dict  # field of RECORD_FIELDS -> value, only for the fields the file gives
    worker_id: int | None = None  # the case worker the row names (the optional column), to assign after the apply


class RowValidator:
    def __init__(self, *, province: Province, columns: ColumnMap, formula_cells=frozenset()) -> None:
        self.province = province
        self.columns = columns.fields
        self.formula_cells = formula_cells
        self.today = timezone.localdate()
        self.seen: dict[str, int] = {}  # identifier -> first row number with it
        districts = list(District.objects.filter(province=province).values_list("code", "name_th", "name_en"))
        self.district_by_code = {code: code for code, _, _ in districts}
        self.district_by_name = {}
        for code, th, en in districts:
            self.district_by_name[area_key(th)] = code
            if en:
                self.district_by_name[area_key(en)] = code
        # "อ.เมือง" alone, as forms in a province write it: the province's own เมือง district
        # (เมืองขอนแก่น, district xx01), not เมืองพล or another district whose name starts with เมือง.
        capital = self.district_by_name.get("เมือง" + area_key(province.name_th)) or next(
            (code for code, th, _ in districts if code % 100 == 1 and area_key(th).startswith("เมือง")), None
        )
        if capital is not None:
            self.district_by_name.setdefault("เมือง", capital)
            self.district_by_name.setdefault("mueang", capital)
        subs = list(
            SubDistrict.objects.filter(district__province=province).values_list(
                "code", "district_id", "name_th", "name_en"
            )
        )
        self.sub_by_code = {code: district for code, district, _, _ in subs}
        self.sub_by_district_name: dict[tuple[int, str], int] = {}
        by_name: dict[str, list[int]] = {}
        for code, district, th, en in subs:
            for name in {area_key(th), area_key(en)} - {""}:
                self.sub_by_district_name[(district, name)] = code
                by_name.setdefault(name, []).append(code)
        self.sub_by_name = by_name
        self.province_keys = {str(province.code), area_key(province.name_th), area_key(province.name_en)}
        self.categories = self._labels(Category.objects.filter(is_active=True))
        self.statuses = self._labels(Outcome.objects.filter(is_active=True))
        self.default_status = Outcome.objects.filter(code="in-follow-up").values_list("pk", flat=True).first()
        # Which record fields the file gives (RECORD_FIELDS order).
        present = set(self.columns)
        given = set()
        # The prefix comes from its own column or from the start of the name ("ด.ช.สมชาย").
        if present & {"full_name", "name_prefix", "first_name"}:
            given.add("name_prefix")
        if "full_name" in present or "first_name" in present:
            given.add("first_name")
        if "full_name" in present or "last_name" in present:
            given.add("last_name")
        if "district" in present or "sub_district" in present:
            given.add("district_id")
        if "sub_district" in present:
            given.add("sub_district_id")
        for field in ("sex", "birth_date", "education_status", "last_grade", "school", "guardian_name", "phone",
                      "consent", "notes"):  # fmt: skip
            if field in present:
                given.add(field)
        if "category" in present:
            given.add("category_id")
        if "status" in present:
            given.add("status_id")
        self.given_fields = [f for f in RECORD_FIELDS if f in given]
        self._memo: dict[str, dict] = {}
        self.width = max(self.columns.values(), default=-1) + 1
        self.indexes = sorted(set(self.columns.values()))
        self.workers = self._case_workers(province) if "case_worker" in self.columns else {}

    @staticmethod
    def _case_workers(province: Province) -> dict[str, User]:
        """The province's case workers by e-mail (lower case): one query per upload. Whether one may take
        a row's district is the door's to say (targets.may_take_case, asked once per worker and district)."""
        users = User.objects.case_workers_of(province.pk)
        return {u.email.strip().lower(): u for u in users if u.email}

    def _worker(self, key: tuple[str, int | None]) -> int | None:
        email, district = key
        worker = self.workers.get(email)
        if worker is None or not can(worker, "targets.may_take_case", (self.province.pk, district)):
            return None
        return worker.pk

    def _parse_category(self, raw: object) -> int | None:
        text = cell_text(raw)
        return self.categories.get(label_key(text)) if text else None

    def _parse_status(self, raw: object) -> int | None:
        text = cell_text(raw)
        return self.statuses.get(label_key(text)) if text else self.default_status

    @staticmethod
    def _labels(queryset) -> dict[str, int]:
        out = {}
        for pk, code, th, en in queryset.values_list("pk", "code", "name_th", "name_en"):
            for key in (code, th, en):
                if key:
                    out[label_key(key)] = pk
        return out

    def memo(self, field: str, raw, parse):
        """parse(raw) once per distinct value of a column: categories, statuses, districts and the
        like repeat thousands of times in a file."""
        cache = self._memo.setdefault(field, {})
        try:
            return cache[raw]
        except KeyError:
            result = cache[raw] = parse(raw)
            return result

    def cell(self, row: list, field: str) -> object:
        index = self.columns.get(field)
        return None if index is None else row[index]  # rows are padded to the header's width

    def validate(self, row: list, row_number: int) -> tuple[CleanRow | None, list[tuple[str, str]]]:
        if len(row) < self.width:  # a csv row may stop early
            row = [*row, *[None] * (self.width - len(row))]
        col = self.columns
        # Control characters (core.control_characters) first, in the columns the upload reads:
        # such a row is refused with only that reason, since the other checks quote the cell's text
        # in their messages, and nothing of it goes on to the database (COPY, the rejected rows).
        # The row's text joined, checked once: isprintable() (C, no regex) clears almost every row;
        # only a row with a tab, a line break or a rarer character goes on to the regex. About 0.2 s
        # for 100,000 rows of 17 columns.
        text = "".join([cell for cell in map(row.__getitem__, self.indexes) if cell.__class__ is str])
        if not text.isprintable() and control_characters.FORBIDDEN.search(text):
            return None, self._control_characters(row)
        errors: list[tuple[str, str]] = []
        values: dict = {}
        # Formulas: a value computed by a formula is not data the coordinator typed.
        if self.formula_cells:
            for field, index in col.items():
                if (row_number, index) in self.formula_cells:
                    errors.append((label(field), _("The cell holds a formula; paste its value instead.")))
        # Identifier
        identifier = kind = ""
        try:
            parsed = parse_identifier(self.cell(row, "identifier"))
            identifier, kind = parsed.value, parsed.kind
            if identifier == TEMPLATE_SAMPLE_IDENTIFIER:
                errors.append((label("identifier"), _("This is the template's sample row: delete it.")))
            first = self.seen.setdefault(identifier, row_number)
            if first != row_number:
                errors.append(
                    (label("identifier"), _("The same identifier as row %(row)d of this file.") % {"row": first})
                )
        except IdentifierError as exc:
            errors.append((label("identifier"), str(exc)))
        # Province: optional, but when given it must be the upload's.
        if "province" in col:
            province = cell_text(self.cell(row, "province"))
            if province and area_key(province) not in self.province_keys:
                errors.append(
                    (label("province"), _("This row is for another province; this upload is for %(province)s.")
                     % {"province": self.province.name})
                )  # fmt: skip
        self._names(row, values, errors)
        if "sex" in col:
            # Memoised on the raw cell: each distinct value is cleaned and looked up once per file.
            sex = self.memo("sex", self.cell(row, "sex"), _parse_sex)
            if sex is None:
                errors.append((label("sex"), _("Write the sex as ชาย/หญิง, ช/ญ or M/F.")))
            values["sex"] = sex or PREFIX_SEX.get(values.get("name_prefix", ""), "")
        if "birth_date" in col:
            born, code = self.memo("birth_date", self.cell(row, "birth_date"), _parse_birth_date)
            if code:
                errors.append((label("birth_date"), self._date_error(code)))
            if born is not None and not (datetime.date(1950, 1, 1) <= born <= self.today):
                errors.append((label("birth_date"), _("The birth date is in the future or implausibly early.")))
            values["birth_date"] = born
        if "district_id" in self.given_fields:
            self._address(row, values, errors)
        if "category" in col:
            raw = self.cell(row, "category")
            category = self.memo("category", raw, self._parse_category)
            if category is None:
                errors.append((label("category"), _("Unknown category: %(value)s") % {"value": cell_text(raw) or "–"}))
            values["category_id"] = category
        if "status" in col:
            raw = self.cell(row, "status")
            status = self.memo("status", raw, self._parse_status)
            if status is None:
                errors.append((label("status"), _("Unknown status: %(value)s") % {"value": cell_text(raw)}))
            values["status_id"] = status
        if "education_status" in col:
            raw = self.cell(row, "education_status")
            status = self.memo("education", raw, _parse_education)
            if status is None:
                message = _("Unknown education status: %(value)s") % {"value": cell_text(raw)}
                errors.append((label("education_status"), message))
            values["education_status"] = status or ""
        for field in ("last_grade", "school", "guardian_name"):
            if field in col:
                values[field] = self._text(row, field, errors)
        if "notes" in col:
            # Notes keep what the coordinator typed, line breaks included.
            raw = self.cell(row, "notes")
            notes = "" if raw is None else str(raw).strip()
            values["notes"] = notes[1:] if notes[:1] == "'" and notes[1:2] in _NEUTRALISED else notes
        if "phone" in col:
            values["phone"] = self._phone(row, errors)
        if "consent" in col:
            consent = self.memo("consent", self.cell(row, "consent"), _parse_consent)
            if consent is None:
                errors.append((label("consent"), _("Write the consent as ใช่/ไม่ใช่ or yes/no.")))
            values["consent"] = bool(consent)
        worker_id = None
        if "case_worker" in col:
            email = cell_text(self.cell(row, "case_worker")).lower()
            if email:  # empty: the record's assignment stays as it is
                worker_id = self.memo("case_worker", (email, values.get("district_id")), self._worker)
                if worker_id is None:  # the same words whether the e-mail exists elsewhere or not at all
                    errors.append(
                        (
                            label("case_worker"),
                            _("%(value)s is not a case worker of this province and district.") % {"value": email},
                        )
                    )
        if errors:
            return None, errors
        return CleanRow(row_number, identifier, kind, values, worker_id), []

    # --- parts -----------------------------------------------------------------------------------

    def _control_characters(self, row: list) -> list[tuple[str, str]]:
        errors = []
        for field, index in self.columns.items():
            cell = row[index]
            char = control_characters.first_forbidden(cell) if cell.__class__ is str else None
            if char:
                errors.append((label(field), control_characters.message(char)))
        return errors

    def _text(self, row: list, field: str, errors: list) -> str:
        text = cell_text(self.cell(row, field))
        if text.startswith(_FORMULA_START):
            errors.append((label(field), _("The value looks like a spreadsheet formula.")))
        if len(text) > MAX_LENGTH.get(field, 10_000):
            errors.append((label(field), _("Too long: at most %(count)d characters.") % {"count": MAX_LENGTH[field]}))
        return text

    def _names(self, row: list, values: dict, errors: list) -> None:
        col = self.columns
        prefix = ""
        if "full_name" in col and not ("first_name" in col and "last_name" in col):
            full = cell_text(self.cell(row, "full_name"))
            prefix, full = _split_prefix(full)
            first, _sep, last = full.partition(" ")
            first, last = first.strip(), last.strip()
        else:
            first = self._text(row, "first_name", errors) if "first_name" in col else ""
            last = self._text(row, "last_name", errors) if "last_name" in col else ""
            prefix, first = _split_prefix(first)
        if "name_prefix" in col:
            raw = cell_text(self.cell(row, "name_prefix"))
            if raw:
                standard = PREFIXES.get(raw.lower().replace(" ", ""), PREFIXES.get(raw))
                if standard is None:
                    errors.append((label("name_prefix"), _("Unknown name prefix: %(value)s") % {"value": raw}))
                prefix = standard or raw
        if "name_prefix" in self.given_fields:
            values["name_prefix"] = prefix
        if not first:
            errors.append((label("first_name"), _("The first name is missing.")))
        if first.startswith(_FORMULA_START) or last.startswith(_FORMULA_START):
            errors.append((label("first_name"), _("The value looks like a spreadsheet formula.")))
        values["first_name"] = first[:100]
        values["last_name"] = last[:100]

    def _address(self, row: list, values: dict, errors: list) -> None:
        raw = (self.cell(row, "district"), self.cell(row, "sub_district"))
        district, sub, error = self.memo("address", raw, self._resolve_address)
        if error:
            errors.append(error)
            return
        values["district_id"] = district
        if "sub_district_id" in self.given_fields:
            values["sub_district_id"] = sub

    def _resolve_address(self, raw: tuple[str, str]) -> tuple[int | None, int | None, tuple | None]:
        """(district, sub-district, error) for one row's district and sub-district, by name or code."""
        raw_district, raw_sub = cell_text(raw[0]), cell_text(raw[1])
        district = sub = None
        if raw_district:
            if raw_district.isdigit():
                district = self.district_by_code.get(int(raw_district))
            else:
                district = self.district_by_name.get(area_key(raw_district))
            if district is None:
                message = _("No district %(value)s in %(province)s.") % {
                    "value": raw_district,
                    "province": self.province.name,
                }
                return None, None, (label("district"), message)
        if raw_sub:
            if raw_sub.isdigit():
                code = int(raw_sub)
                sub = code if code in self.sub_by_code else None
                if sub is not None and district is not None and self.sub_by_code[sub] != district:
                    sub = None
            elif district is not None:
                sub = self.sub_by_district_name.get((district, area_key(raw_sub)))
            else:
                matches = self.sub_by_name.get(area_key(raw_sub), [])
                if len(matches) > 1:
                    message = _("Several sub-districts of this province are called %(value)s: give the district too.")
                    return None, None, (label("sub_district"), message % {"value": raw_sub})
                sub = matches[0] if matches else None
            if sub is None:
                where = _("that district") if district is not None else self.province.name
                message = _("No sub-district %(value)s in %(where)s.") % {"value": raw_sub, "where": where}
                return None, None, (label("sub_district"), message)
            district = district or self.sub_by_code[sub]
        return district, sub, None

    def _phone(self, row: list, errors: list) -> str:
        raw = cell_text(self.cell(row, "phone"))
        digits = raw if raw.isdigit() else "".join(ch for ch in raw if ch.isdigit())
        if not digits:
            return ""
        if len(digits) == 9 and digits[0] in "689":  # Excel dropped the leading zero of a mobile number
            digits = "0" + digits
        mobile = len(digits) == 10 and digits[:2] in {"06", "08", "09"}
        landline = len(digits) == 9 and digits[0] == "0" and digits[1] in "234567"
        if not (mobile or landline):
            errors.append(
                (label("phone"), _("A phone number has 10 digits starting 06, 08 or 09 (or 9 for a landline)."))
            )
        return digits

    @staticmethod
    def _date_error(code: str) -> str:
        if code == "invalid":
            return _("There is no such day.")
        if code == "year":
            return _("Write the year in full, in พ.ศ. (2553) or ค.ศ. (2010).")
        return _("Write the date as day/month/year, e.g. 15/03/2553.")


def _split_prefix(name: str) -> tuple[str, str]:
    """("ด.ช.", "สมชาย") from "ด.ช.สมชาย" or "เด็กชาย สมชาย"; ("", name) when there is no prefix."""
    if not name or name[0] not in _PREFIX_FIRST_CHARS:
        return "", name
    lowered = name.lower()
    for prefix in _PREFIXES_BY_LENGTH:
        if lowered.startswith(prefix):
            rest = name[len(prefix) :].strip()
            # "นาง" must not eat the start of a first name like "นางนวล": only with a space after it.
            # (นาย, นางสาว and the rest are written straight before the name: "นายสมชาย".)
            if prefix == "นาง" and name[len(prefix) : len(prefix) + 1] != " ":
                continue
            if rest:
                return PREFIXES[prefix], rest
    return "", name


def _parse_birth_date(value: object) -> tuple[datetime.date | None, str | None]:
    # A birth-date column may hold the year alone (its header ปีเกิด is one of birth_date's, columns.py):
    # 2553 is born in 2553, never Excel's day 2553 (27 December 1906, "implausibly early").
    try:
        return parse_thai_date(value, year_alone=True), None
    except DateParseError as exc:
        return None, exc.code


def _parse_sex(raw: object) -> str | None:
    """ "M", "F", "" for an empty cell, None when not understood."""
    text = cell_text(raw)
    return SEXES.get(text.lower().replace(" ", "")) if text else ""


def _parse_education(raw: object) -> str | None:
    text = cell_text(raw)
    return EDUCATION.get(label_key(text)) if text else ""


def _parse_consent(raw: object) -> bool | None:
    text = cell_text(raw).lower()
    if text in YES:
        return True
    if text in NO or not text:
        return False
    return None


def check_header(header: list[str]) -> None:
    """Refuse the file when a header cell holds a control character: the headers are kept with the
    upload's report (JSON), where PostgreSQL takes no NUL."""
    for index, name in enumerate(header):
        char = control_characters.first_forbidden(name)
        if char:
            raise UnreadableFile(
                _("The header of column %(column)d holds a control character (%(code)s). Remove it and upload again.")
                % {"column": index + 1, "code": control_characters.code_point(char)}
            )
