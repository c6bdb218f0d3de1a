"""Matching a spreadsheet's header row to the record's fields.

Headers are matched in Thai or English, in any order, ignoring case, spaces, punctuation and the
usual prefixes; unknown columns are reported and ignored; a missing required column stops the
upload before any row is read.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# field -> (label shown to people, Thai header of the template, aliases as people write them)
FIELDS: dict[str, tuple] = {
    "identifier": (
        _("national ID or G-code"),
        "เลขประจำตัวประชาชน",
        ["เลขประจำตัวประชาชน", "เลขบัตรประชาชน", "เลขบัตรประจำตัวประชาชน", "เลขประจำตัว", "เลขบัตร",
         "รหัสg", "gcode", "identifier", "nationalid", "citizenid", "idcard", "pid"],
    ),
    "name_prefix": (_("name prefix"), "คำนำหน้า", ["คำนำหน้า", "คำนำหน้าชื่อ", "prefix", "title"]),
    "first_name": (_("first name"), "ชื่อ", ["ชื่อ", "ชื่อจริง", "firstname", "givenname"]),
    "last_name": (_("last name"), "นามสกุล", ["นามสกุล", "สกุล", "lastname", "surname", "familyname"]),
    "full_name": (_("full name"), "ชื่อ-นามสกุล", ["ชื่อนามสกุล", "ชื่อสกุล", "ชื่อและนามสกุล", "fullname"]),
    "sex": (_("sex"), "เพศ", ["เพศ", "sex", "gender"]),
    "birth_date": (
        _("birth date"),
        "วันเกิด",
        ["วันเกิด", "วันเดือนปีเกิด", "วดปเกิด", "ปีเกิด", "birthdate", "dateofbirth", "dob", "birthday"],
    ),
    "province": (_("province"), "จังหวัด", ["จังหวัด", "province", "changwat"]),
    "district": (_("district"), "อำเภอ", ["อำเภอ", "เขต", "อำเภอเขต", "district", "amphoe", "amphur"]),
    "sub_district": (
        _("sub-district"),
        "ตำบล",
        ["ตำบล", "แขวง", "ตำบลแขวง", "subdistrict", "tambon", "tambol"],
    ),
    "category": (
        _("target-group category"),
        "กลุ่มเป้าหมาย",
        ["กลุ่มเป้าหมาย", "ประเภทกลุ่มเป้าหมาย", "ประเภท", "category", "targetgroup", "group"],
    ),
    "status": (_("status"), "สถานะ", ["สถานะ", "สถานะการติดตาม", "ผลการติดตาม", "status", "outcome"]),
    "education_status": (
        _("education status"),
        "สถานะการศึกษา",
        ["สถานะการศึกษา", "สถานภาพการศึกษา", "educationstatus", "schoolstatus"],
    ),
    "last_grade": (
        _("last grade"),
        "ชั้นเรียนล่าสุด",
        ["ชั้นเรียนล่าสุด", "ระดับชั้นล่าสุด", "ระดับชั้น", "ชั้นเรียน", "ชั้น", "lastgrade", "grade"],
    ),
    "school": (_("school"), "โรงเรียน", ["โรงเรียน", "สถานศึกษา", "school"]),
    "guardian_name": (
        _("guardian"),
        "ผู้ปกครอง",
        ["ผู้ปกครอง", "ชื่อผู้ปกครอง", "guardian", "guardianname", "parent"],
    ),
    "phone": (
        _("phone"),
        "เบอร์โทรศัพท์",
        ["เบอร์โทรศัพท์", "เบอร์โทร", "โทรศัพท์", "เบอร์ติดต่อ", "phone", "telephone", "mobile", "tel"],
    ),
    "consent": (_("consent noted"), "ความยินยอม", ["ความยินยอม", "ยินยอม", "consent"]),
    "notes": (_("notes"), "หมายเหตุ", ["หมายเหตุ", "notes", "note", "remark", "remarks"]),
    # Optional: assigns the record to this case worker (cases.services.assign, through upload/hooks.py).
    "case_worker": (
        _("case worker (e-mail)"),
        "ผู้ดูแลรายกรณี (อีเมล)",
        ["ผู้ดูแลรายกรณี (อีเมล)", "ผู้ดูแลรายกรณี", "อีเมลผู้ดูแลรายกรณี", "caseworker", "casemanager",
         "case worker email", "caseworkeremail"],
    ),
}  # fmt: skip

# The template's column order (and so the preferred order of the rejected-rows file).
TEMPLATE_FIELDS = [
    "identifier", "name_prefix", "first_name", "last_name", "sex", "birth_date", "district", "sub_district",
    "category", "status", "education_status", "last_grade", "school", "guardian_name", "phone", "consent", "notes",
    "case_worker",
]  # fmt: skip

_STRIP = re.compile(r"[\s\-_/\\.,:;()\[\]*'\"]+")

ALIASES: dict[str, str] = {}
for _field, (_label, _thai, _aliases) in FIELDS.items():
    for _alias in _aliases:
        ALIASES[_STRIP.sub("", _alias.lower())] = _field


def normalise_header(text: object) -> str:
    return _STRIP.sub("", str(text or "").strip().lower())


@dataclass
class ColumnMap:
    fields: dict[str, int]  # field -> column index
    unknown: list[str]  # headers that matched nothing (ignored)
    duplicates: list[str]  # headers naming a field a previous column already gave

    @property
    def present(self) -> set[str]:
        return set(self.fields)


def match_columns(header: list[str]) -> ColumnMap:
    fields: dict[str, int] = {}
    unknown, duplicates = [], []
    for index, text in enumerate(header):
        if not str(text or "").strip():
            continue
        field = ALIASES.get(normalise_header(text))
        if field is None:
            unknown.append(str(text))
        elif field in fields:
            duplicates.append(str(text))
        else:
            fields[field] = index
    return ColumnMap(fields=fields, unknown=unknown, duplicates=duplicates)


def missing_required(columns: ColumnMap) -> list[str]:
    """Labels of the required columns that are not there: identifier, name, category."""
    missing = []
    if "identifier" not in columns.fields:
        missing.append(str(FIELDS["identifier"][0]))
    # The last name may be missing, column and all: some children without civil registration have none.
    has_name = bool({"full_name", "first_name"} & columns.present)
    if not has_name:
        missing.append(str(_("first name (or full name)")))
    if "category" not in columns.fields:
        missing.append(str(FIELDS["category"][0]))
    return missing


def label(field: str) -> str:
    return str(FIELDS[field][0])
