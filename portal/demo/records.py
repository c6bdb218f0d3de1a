"""Demo target-group records for the 12 demo provinces, and the sample upload file: made-up people with
valid check digits, spread over categories and statuses as in ABE reports, all marked is_demo.

Each record is a pure function of (province, number): the same identifier and values on every run
and every day, so a rerun creates nothing, and the sample upload file (docs/sample-upload.xlsx,
`manage.py make_sample_upload`) can repeat some of them exactly (rows that come out unchanged) or
with a new status (rows that come out updated).
"""

import datetime
import itertools
import random
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from core.buddhist_dates import format_thai_date
from core.thai_id import check_digit
from portal.demo.provinces import DEMO_LEADS
from provinces.models import SubDistrict
from targets.models import Assistance, AssistanceType, Category, IdentifierKind, Outcome, StatusChange, TargetRecord

# Ages are counted on this day, not today: a record's values never change between runs.
REFERENCE_DAY = datetime.date(2024, 10, 1)
# "98" in the 4th and 5th digits marks demo identifiers; "97" the new rows of the sample file.
DEMO_SERIES = "98"
SAMPLE_NEW_SERIES = "97"

BOYS = ("สมชาย", "อนุชา", "ณัฐพล", "ธนากร", "ศุภชัย", "กิตติศักดิ์", "วีระพงษ์", "ภานุวัฒน์", "พงศกร", "ชยพล",
        "ธีรภัทร", "ปิยวัฒน์", "วรเมธ", "ก้องภพ", "ศักดิ์ดา", "อดิศร", "นพดล", "ภูมิพัฒน์", "สิทธิชัย", "เกียรติศักดิ์")  # fmt: skip
GIRLS = ("สมหญิง", "กนกวรรณ", "ปิยะดา", "วรรณา", "จิราพร", "สุดารัตน์", "นภัสสร", "ชลธิชา", "ศิริพร", "อรทัย",
         "พิมพ์ชนก", "ณัฐธิดา", "กมลชนก", "ปวีณา", "ธิดารัตน์", "มณีรัตน์", "อัญชลี", "เบญจวรรณ", "รุ่งนภา", "ขวัญใจ")  # fmt: skip
ADULT_MEN = ("สมศักดิ์", "วิชัย", "ประเสริฐ", "บุญมี", "สุริยา", "ทองใบ", "สมพงษ์", "ชาตรี")
ADULT_WOMEN = ("มาลี", "สมศรี", "บุญเรือน", "วันเพ็ญ", "ประไพ", "ทองม้วน", "สุภาพร", "คำปุน")
LAST = ("ใจดี", "รักเรียน", "มีสุข", "ศรีสวัสดิ์", "บุญมา", "แก้วมณี", "ทองดี", "พรหมวงศ์", "สายสุวรรณ", "จันทร์เพ็ญ",
        "ประเสริฐศรี", "วงศ์ใหญ่", "สุขประเสริฐ", "คำแก้ว", "ศรีบุญเรือง", "อินทร์แก้ว", "ชัยมงคล", "ทองคำ", "บุญเรือง",
        "พรมมา", "ศรีวงศ์", "แสนสุข", "ภูผาทอง", "นาคสวัสดิ์")  # fmt: skip
NOTES = ("ครอบครัวย้ายไปทำงานต่างจังหวัด", "ต้องการทุนการศึกษา", "ติดตามร่วมกับ อสม.", "อยากฝึกอาชีพช่างยนต์",
         "อาศัยอยู่กับตายาย", "เดินทางไปโรงเรียนไกล")  # fmt: skip

# category code -> (weight, youngest, oldest age, {status code: weight})
CATEGORIES = {
    "out-of-school": (34, 6, 18, {"in-follow-up": 40, "returned-to-school": 15, "flexible-learning": 20,
                                  "vocational": 10, "referred": 7, "not-found": 8}),
    "at-risk": (26, 10, 17, {"in-follow-up": 45, "kept-in-school": 40, "referred": 8, "not-found": 7}),
    "poor-student": (16, 7, 17, {"in-follow-up": 40, "kept-in-school": 50, "referred": 10}),
    "early-childhood": (7, 2, 6, {"in-follow-up": 60, "returned-to-school": 30, "referred": 10}),
    "disability": (5, 6, 18, {"in-follow-up": 50, "referred": 25, "flexible-learning": 15,
                              "returned-to-school": 10}),
    "working-age-youth": (12, 15, 24, {"in-follow-up": 40, "vocational": 35, "flexible-learning": 15,
                                       "not-found": 10}),
}  # fmt: skip
RETURNED = {"returned-to-school", "flexible-learning", "vocational"}
HELP = {
    "out-of-school": ("learning-support", "home-visit", "counselling", "vocational-training"),
    "at-risk": ("scholarship", "equipment", "travel", "home-visit"),
    "poor-student": ("scholarship", "equipment", "travel"),
    "early-childhood": ("home-visit", "referral"),
    "disability": ("referral", "equipment", "home-visit"),
    "working-age-youth": ("vocational-training", "counselling"),
}
GIVERS = ("อบต.{sub}", "โรงเรียนในตำบล{sub}", "กศน.อำเภอ{district}", "ครูเยี่ยมบ้านอำเภอ{district}",
          "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด")  # fmt: skip
HELP_OUTCOMES = ("", "", "ได้รับแล้ว", "นัดติดตามอีกครั้ง", "ครอบครัวให้ความร่วมมือดี")
PRIMARY = [f"ป.{n}" for n in range(1, 7)]
SECONDARY = [f"ม.{n}" for n in range(1, 7)]
# Education status as a Thai sheet writes it (read back by targets.upload.validation.EDUCATION).
EDUCATION_THAI = {"in_school": "กำลังเรียน", "out_of_school": "นอกระบบ", "never_enrolled": "ไม่เคยเรียน",
                  "completed": "จบการศึกษา"}  # fmt: skip


def demo_identifier(province: int, number: int, series: str = DEMO_SERIES) -> str:
    """A made-up identifier of the demo series: 1-PP98-NNNNN-NN-C (a valid check digit), or one G-code
    in 37 (learners without civil registration)."""
    if number % 37 == 36:
        return f"G64{province:02d}{series}{number:06d}"
    first12 = f"1{province:02d}{series}{number:07d}"
    return first12 + str(check_digit(first12))


def _areas(provinces) -> dict[int, list[tuple[int, str, int, str]]]:
    """province -> [(district code, district name, sub-district code, sub-district name)], by code."""
    areas: dict[int, list] = {}
    rows = (
        SubDistrict.objects.filter(district__province_id__in=provinces)
        .order_by("code")
        .values_list("district__province_id", "district_id", "district__name_th", "code", "name_th")
    )
    for province, district, district_name, code, name in rows:
        areas.setdefault(province, []).append((district, district_name, code, name))
    return areas


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def demo_person(province: int, number: int, areas: list[tuple], *, series: str = DEMO_SERIES) -> dict:
    """The values of one generated record, by codes (category and status codes, area codes)."""
    rng = random.Random(f"abe-demo-{province}-{series}-{number}")  # noqa: S311 - made-up demo values, not secrets
    category = _weighted(rng, {code: spec[0] for code, spec in CATEGORIES.items()})
    _weight, youngest, oldest, statuses = CATEGORIES[category]
    status = _weighted(rng, statuses)
    age = rng.randint(youngest, oldest)
    born = REFERENCE_DAY - datetime.timedelta(days=age * 365 + rng.randint(0, 364))
    boy = rng.random() < 0.52
    first = rng.choice(BOYS if boy else GIRLS)
    last = rng.choice(LAST)
    prefix = ("ด.ช." if boy else "ด.ญ.") if age < 15 else ("นาย" if boy else "นางสาว")
    district, district_name, sub, sub_name = rng.choice(areas)

    if category in ("at-risk", "poor-student") or status in ("returned-to-school", "flexible-learning"):
        education = "in_school"
    elif category == "out-of-school":
        education = "never_enrolled" if rng.random() < 0.15 else "out_of_school"
    elif category == "early-childhood":
        education = "in_school" if status == "returned-to-school" else "never_enrolled"
    elif category == "working-age-youth":
        education = "completed" if rng.random() < 0.4 else "out_of_school"
    else:
        education = rng.choice(("in_school", "out_of_school", "never_enrolled"))

    grades = PRIMARY + SECONDARY
    if education == "never_enrolled" or age < 7:
        last_grade, school = "", ""
    else:
        at_age = min(max(age - 7, 0), len(grades) - 1)
        if education in ("out_of_school", "completed"):
            at_age = max(0, at_age - rng.randint(0, 3))  # left school some years ago
        last_grade = grades[at_age]
        school = f"โรงเรียนบ้าน{sub_name}" if last_grade in PRIMARY else f"โรงเรียน{district_name}วิทยา"
    guardian_woman = rng.random() < 0.7
    guardian = (
        f"{'นาง' if guardian_woman else 'นาย'}{rng.choice(ADULT_WOMEN if guardian_woman else ADULT_MEN)} {last}"
        if age < 20
        else ""
    )
    phone = f"0600{rng.randint(0, 999_999):06d}" if rng.random() < 0.6 else ""
    return {
        "identifier": demo_identifier(province, number, series),
        "name_prefix": prefix,
        "first_name": first,
        "last_name": last,
        "sex": "M" if boy else "F",
        "birth_date": born,
        "district_id": district,
        "district_name": district_name,
        "sub_district_id": sub,
        "sub_district_name": sub_name,
        "category": category,
        "status": status,
        "education_status": education,
        "last_grade": last_grade,
        "school": school,
        "guardian_name": guardian,
        "phone": phone,
        "consent": rng.random() < 0.88,
        "notes": rng.choice(NOTES) if rng.random() < 0.1 else "",
        "rng": rng,  # for the parts that are not compared by the sample file (help, history)
    }


def _per_province(count: int) -> dict[int, int]:
    provinces = sorted(DEMO_LEADS)
    base, extra = divmod(count, len(provinces))
    return {code: base + (1 if i < extra else 0) for i, code in enumerate(provinces)}


@transaction.atomic
def load_demo_records(count: int = 3000) -> int:
    """Create the demo records that are missing (about `count` over the 12 demo provinces), with some
    help given and some status history; return how many records were created."""
    categories = dict(Category.objects.values_list("code", "pk"))
    outcomes = dict(Outcome.objects.values_list("code", "pk"))
    help_types = dict(AssistanceType.objects.values_list("code", "pk"))
    if not categories or "in-follow-up" not in outcomes:
        return 0  # no reference data: load_reference_data first
    areas = _areas(DEMO_LEADS)
    wanted = {}
    for province, how_many in _per_province(count).items():
        if province not in areas:
            continue
        for number in range(how_many):
            wanted[demo_identifier(province, number)] = (province, number)
    existing: set[str] = set()
    identifiers = list(wanted)
    for start in range(0, len(identifiers), 2000):
        existing.update(
            TargetRecord.objects.filter(identifier__in=identifiers[start : start + 2000]).values_list(
                "identifier", flat=True
            )
        )
    people = []
    for identifier, (province, number) in wanted.items():
        if identifier not in existing:
            people.append((province, demo_person(province, number, areas[province])))
    fallback_category = next(iter(categories.values()))
    TargetRecord.objects.bulk_create(
        [
            TargetRecord(
                identifier=p["identifier"],
                identifier_kind=IdentifierKind.G_CODE if p["identifier"][0] == "G" else IdentifierKind.NATIONAL_ID,
                name_prefix=p["name_prefix"],
                first_name=p["first_name"],
                last_name=p["last_name"],
                sex=p["sex"],
                birth_date=p["birth_date"],
                province_id=province,
                district_id=p["district_id"],
                sub_district_id=p["sub_district_id"],
                category_id=categories.get(p["category"], fallback_category),
                status_id=outcomes.get(p["status"], outcomes["in-follow-up"]),
                education_status=p["education_status"],
                last_grade=p["last_grade"],
                school=p["school"],
                guardian_name=p["guardian_name"],
                phone=p["phone"],
                consent=p["consent"],
                notes=p["notes"],
                is_demo=True,
            )
            for province, p in people
        ],
        batch_size=500,
    )
    if people:
        _add_history_and_help(people, outcomes, help_types)
    return len(people)


def _add_history_and_help(people: list[tuple[int, dict]], outcomes: dict, help_types: dict) -> None:
    """Status changes for records that moved on from being followed up, and help given to about a third.
    Dated within the year before today (these are not compared by the sample file)."""
    ids: dict[str, int] = {}
    identifiers = [p["identifier"] for _province, p in people]
    for start in range(0, len(identifiers), 2000):
        ids.update(
            TargetRecord.objects.filter(identifier__in=identifiers[start : start + 2000]).values_list(
                "identifier", "pk"
            )
        )
    now = timezone.now()
    today = timezone.localdate()
    following = outcomes["in-follow-up"]
    changes, dates, helps = [], [], []
    for _province, p in people:
        rng, record_id, status = p["rng"], ids[p["identifier"]], p["status"]
        if status != "in-follow-up" and status in outcomes:
            steps = [following]
            if status in RETURNED and rng.random() < 0.2 and "referred" in outcomes:
                steps.append(outcomes["referred"])
            steps.append(outcomes[status])
            days_ago = rng.randint(20, 330)
            for before, after in itertools.pairwise(steps):
                changes.append(StatusChange(record_id=record_id, from_status_id=before, to_status_id=after))
                dates.append(now - datetime.timedelta(days=days_ago, hours=rng.randint(0, 9)))
                days_ago = max(1, days_ago - rng.randint(15, 60))
        if rng.random() < 0.25:
            kinds = [help_types[c] for c in HELP[p["category"]] if c in help_types]
            for _n in range(rng.randint(1, 2) if kinds else 0):
                helps.append(
                    Assistance(
                        record_id=record_id,
                        type_id=rng.choice(kinds),
                        date=today - datetime.timedelta(days=rng.randint(1, 300)),
                        given_by=rng.choice(GIVERS).format(sub=p["sub_district_name"], district=p["district_name"]),
                        outcome=rng.choice(HELP_OUTCOMES),
                    )
                )
    StatusChange.objects.bulk_create(changes, batch_size=1000)
    # changed_at is auto_now_add: bulk_create stamps now; the history's own dates are set after.
    created = list(StatusChange.objects.filter(record_id__in=set(ids.values())).order_by("pk"))
    for change, when in zip(created, dates, strict=False):
        change.changed_at = when
    StatusChange.objects.bulk_update(created, ["changed_at"], batch_size=500)
    Assistance.objects.bulk_create(helps, batch_size=1000)
    _recorded_before_their_history(created, helps)


def _recorded_before_their_history(changes: list[StatusChange], helps: list[Assistance]) -> None:
    """A record was entered before anything its history tells (issue 12: the page said "recorded 4 Dec"
    above a change of 14 Oct): its created_at goes back to some days before its first change or help."""
    local = timezone.get_current_timezone()
    first: dict[int, datetime.datetime] = {}
    for change in changes:
        first[change.record_id] = min(first.get(change.record_id, change.changed_at), change.changed_at)
    for help_given in helps:
        given = datetime.datetime.combine(help_given.date, datetime.time(8, 0), tzinfo=local)
        first[help_given.record_id] = min(first.get(help_given.record_id, given), given)
    records = list(TargetRecord.objects.filter(pk__in=list(first)).only("pk", "created_at"))
    for record in records:
        record.created_at = first[record.pk] - datetime.timedelta(days=3 + record.pk % 27)
    TargetRecord.objects.bulk_update(records, ["created_at"], batch_size=500)


# --- the sample upload file -------------------------------------------------------------------------

SAMPLE_PROVINCE = 40  # ขอนแก่น
OTHER_PROVINCE = 56  # พะเยา: one sample row repeats a record of this province
SAMPLE_HEADER = ["ลำดับ", "เลขประจำตัวประชาชน", "คำนำหน้า", "ชื่อ", "นามสกุล", "เพศ", "วันเกิด", "อำเภอ", "ตำบล",
                 "กลุ่มเป้าหมาย", "สถานะ", "สถานะการศึกษา", "ชั้นเรียนล่าสุด", "โรงเรียน", "ผู้ปกครอง", "เบอร์โทรศัพท์",
                 "ความยินยอม", "หมายเหตุ"]  # fmt: skip
# What the sample gives once the demo records are loaded (docs/README-sample.md says the same).
SAMPLE_BUCKETS = {"rows": 50, "created": 30, "updated": 6, "unchanged": 6, "rejected": 8, "blank_rows": 1}
# ... and on a database without them: the rows that repeat demo records are new there.
SAMPLE_BUCKETS_WITHOUT_DEMO = {"rows": 50, "created": 43, "updated": 0, "unchanged": 0, "rejected": 7, "blank_rows": 1}
SAMPLE_DEMO_NUMBERS = 12  # demo records 0-11 of the sample province are repeated (load at least 144)


def _sheet_row(index: int, p: dict, names: dict) -> list:
    """A record's values as a Thai spreadsheet writes them."""
    return [
        index,
        p["identifier"],
        p["name_prefix"],
        p["first_name"],
        p["last_name"],
        "ชาย" if p["sex"] == "M" else "หญิง",
        _be(p["birth_date"]),
        p["district_name"],
        p["sub_district_name"],
        names["category"][p["category"]],
        names["status"][p["status"]],
        EDUCATION_THAI[p["education_status"]],
        p["last_grade"],
        p["school"],
        p["guardian_name"],
        p["phone"],
        "ใช่" if p["consent"] else "ไม่ใช่",
        p["notes"],
    ]


def _be(day: datetime.date) -> str:
    """15/03/2553: day/month/พ.ศ. year, as Thai sheets write it."""
    return f"{day.day:02d}/{day.month:02d}/{day.year + 543}"


def sample_upload_rows() -> list[list]:
    """The rows of the sample upload (after its header), each in the bucket docs/README-sample.md
    documents: rows 2-7 repeat demo records 0-5 of ขอนแก่น exactly (unchanged), rows 8-13 demo
    records 6-11 with another status (updated); a change here changes that page's table."""
    areas = _areas([SAMPLE_PROVINCE, OTHER_PROVINCE])
    names = {
        "category": dict(Category.objects.values_list("code", "name_th")),
        "status": dict(Outcome.objects.values_list("code", "name_th")),
    }
    here = areas[SAMPLE_PROVINCE]
    rows: list[list] = []
    index = 0

    def add(values: list) -> None:
        nonlocal index
        index += 1
        values[0] = index
        rows.append(values)

    for number in range(6):
        add(_sheet_row(0, demo_person(SAMPLE_PROVINCE, number, here), names))
    for number in range(6, 12):
        person = demo_person(SAMPLE_PROVINCE, number, here)
        person["status"] = "vocational" if person["status"] == "returned-to-school" else "returned-to-school"
        if number in (6, 7):
            person["phone"] = f"0600{900_000 + number:06d}"
        add(_sheet_row(0, person, names))

    # 29 national IDs and one G-code (every 37th demo number is one).
    new = [demo_person(SAMPLE_PROVINCE, n, here, series=SAMPLE_NEW_SERIES) for n in [*range(29), 36]]
    for n, person in enumerate(new):
        row = _sheet_row(0, person, names)
        identifier = person["identifier"]
        style = n % 10
        if style == 1 and identifier.isdigit():  # dashes, as on the ID card
            row[1] = f"{identifier[0]}-{identifier[1:5]}-{identifier[5:10]}-{identifier[10:12]}-{identifier[12]}"
        elif style == 2 and identifier.isdigit():  # spaces
            row[1] = f"{identifier[0]} {identifier[1:5]} {identifier[5:10]} {identifier[10:12]} {identifier[12]}"
        elif style == 3:  # Thai digits, and the date too
            row[1] = identifier.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
            row[6] = row[6].translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
        if style == 4:  # a real Excel date
            row[6] = person["birth_date"]
        elif style == 5:  # ค.ศ., ISO order
            row[6] = person["birth_date"].isoformat()
        elif style == 6:  # Thai month abbreviation
            row[6] = format_thai_date(person["birth_date"])
        if style == 7:  # the prefix written into the first name, no prefix column value
            row[3] = f"{person['name_prefix']}{person['first_name']}"
            row[2] = ""
        elif style == 8:  # district and sub-district by their codes; sex as M/F
            row[7], row[8] = str(person["district_id"]), str(person["sub_district_id"])
            row[5] = person["sex"]
        if style == 9:  # the category in English, no status (being followed up)
            row[9] = {"out-of-school": "Out of school", "at-risk": "at-risk"}.get(person["category"], row[9])
            row[10] = ""
        add(row)

    rows.append([None] * len(SAMPLE_HEADER))  # a blank row: skipped, not counted

    def rejected(n: int, changes: dict[int, str]) -> None:
        person = demo_person(SAMPLE_PROVINCE, 100 + n, here, series=SAMPLE_NEW_SERIES)
        row = _sheet_row(0, person, names)
        for position, value in changes.items():
            row[position] = value
        add(row)

    wrong = demo_identifier(SAMPLE_PROVINCE, 500, SAMPLE_NEW_SERIES)
    wrong = wrong[:-1] + str((int(wrong[-1]) + 1) % 10)
    other_district = next(a for a in here if a[0] != here[0][0])
    # Positions in SAMPLE_HEADER: 1 identifier, 6 birth date, 7 district, 8 sub-district, 9 category, 15 phone.
    rejected(0, {1: wrong})  # check digit
    rejected(1, {1: new[0]["identifier"]})  # the same identifier as row 14
    rejected(2, {7: "อำเภอไม่มีจริง", 8: ""})  # unknown district
    rejected(3, {7: here[0][1], 8: other_district[3]})  # a sub-district of another district
    rejected(4, {9: "เด็กเก่ง"})  # unknown category
    rejected(5, {6: "01/01/2590"})  # birth date in the future
    rejected(6, {15: "08123"})  # phone too short
    phayao = demo_person(OTHER_PROVINCE, 0, areas[OTHER_PROVINCE])
    rejected(7, {1: phayao["identifier"]})  # recorded in พะเยา
    return rows


def write_sample_upload(path: str | Path) -> Path:
    """docs/sample-upload.xlsx: the sample rows under SAMPLE_HEADER (see sample_upload_rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from core.spreadsheet_safety import neutralise_formula

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "ข้อมูลกลุ่มเป้าหมาย"
    sheet.append(SAMPLE_HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in sample_upload_rows():
        sheet.append([neutralise_formula(v) for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, datetime.date):
                cell.number_format = "dd/mm/yyyy"
    for letter, width in zip("ABCDEFGHIJKLMNOPQR", (7, 20, 9, 14, 14, 6, 13, 16, 14, 30, 26, 13, 9, 28, 22, 13, 9,
                                                    30), strict=True):  # fmt: skip
        sheet.column_dimensions[letter].width = width
    path = Path(path)
    workbook.save(path)
    return path
