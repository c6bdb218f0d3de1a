"""A generated set of records with known duplicates and known look-alikes, for the precision/recall check
(tests/test_duplicates_finder.py) and the benchmark (bench/duplicates.py). No database: records are dicts.

- **Duplicates**: DUPLICATE_SHARE of the children are entered a second time, with what real re-entries show: a
  prefix typed into the name cell (ด.ช., เด็กหญิง, …), spaces or zero-width characters, spelling variants
  (ศ/ษ/ส, ณ/น, ์ left out, a tone mark typed before its vowel, sara am as two marks), a real typo (one letter)
  in one of the names, a birth-date typo (the day, the month, the year by one, or day and month swapped), the
  district left blank, and another identifier (a G-code, or another national ID).
- **Look-alikes**, never duplicates: twins (the same family name, birth date and district, other given names),
  siblings a year or more apart, and very common names given to several children of one province in other
  districts or of other ages.
- **Names** as Thai names are: most composed of parts (a given name of two, a family name of two or three), the
  rest whole names of the lists; family names are nearly unique to a family in Thailand, so unrelated children
  rarely share a full name (see `_family` and `_common_name`).
"""

import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.thai_id import check_digit

# fmt: off
GIVEN_M = [
    "สมชาย", "สมศักดิ์", "ธนพล", "ณัฐวุฒิ", "กิตติพงษ์", "อนุชา", "ประเสริฐ", "วีระพงษ์", "จักรพันธ์", "ศุภชัย",
    "ธีรวัฒน์", "พงศกร", "ภาณุวัฒน์", "สุริยา", "อภิสิทธิ์", "วรวุฒิ", "ชัยวัฒน์", "ปิยะพงษ์", "ณรงค์ศักดิ์", "สิทธิชัย",
    "ธนากร", "กฤษณะ", "ศักดิ์ดา", "ปฏิภาณ", "เอกชัย", "นพดล", "ทรงศักดิ์", "วิษณุ", "ภูมิพัฒน์", "รัฐภูมิ",
    "ธีรภัทร", "ปัณณวัฒน์", "ศรัณย์", "ณัฐพงษ์", "อิทธิพล", "พีรพัฒน์", "คณิน", "ภัทรพล", "ชยพล", "ก้องภพ",
    "ณภัทร", "ธนภัทร", "ศิวกร", "กฤตภาส", "ปุณณวิช", "วชิรวิทย์", "ปรเมศวร์", "จิรายุ", "เตชินท์", "ภาคิน",
]
GIVEN_F = [
    "สมหญิง", "ปิ่นมณี", "น้ำผึ้ง", "ศิริพร", "สุภาพร", "กัญญารัตน์", "ณัฐธิดา", "วรรณา", "จันทร์เพ็ญ", "พรทิพย์",
    "ศศิธร", "อรอุมา", "กมลชนก", "ปวีณา", "ธิดารัตน์", "นันทนา", "รัตนาภรณ์", "ศิริลักษณ์", "วิภาวดี", "ชลธิชา",
    "เบญจวรรณ", "ภัทราภรณ์", "สุนิษา", "ณัฐณิชา", "พิมพ์ชนก", "กนกวรรณ", "ศุภิสรา", "อัญชลี", "ปนัดดา", "มณีรัตน์",
    "ธัญญารัตน์", "ณิชาภัทร", "ศิรินทร์", "ขวัญข้าว", "พัชราภา", "เพ็ญศรี", "ลลิตา", "กัลยา", "บุษบา", "ดวงใจ",
    "ชญานิศ", "ธนพร", "ณัฐชา", "ปภาวรินท์", "อรปรียา", "สิริกร", "ภัทรธิดา", "กชกร", "พิชชาพร", "วริศรา",
]
FAMILY = [
    "ใจดี", "ศรีสุข", "แก้วมณี", "ทองคำ", "บุญมา", "สุขสวัสดิ์", "วงศ์ไทย", "จันทร์แก้ว", "ศักดิ์สิทธิ์", "พรหมมา",
    "ประเสริฐศรี", "ณรงค์ฤทธิ์", "สมบูรณ์", "รัตนพันธ์", "อินทร์แก้ว", "ศรีวงษ์", "บุญเรือง", "คำภา", "ทองดี", "มีสุข",
    "พันธ์ุศรี", "เพ็ชรรัตน์", "ศรีสวัสดิ์", "ชัยมงคล", "ปัญญาดี", "แสงทอง", "ไชยวงศ์", "นาคสุข", "สายสุวรรณ", "ศิริวัฒน์",
    "ธรรมวงศ์", "ภูมิศักดิ์", "กิตติวงษ์", "พิมพ์ทอง", "ณ ระนอง", "อุดมศักดิ์", "สุวรรณรัตน์", "บัวทอง", "ขันคำ", "ดวงแก้ว",
    "จันทร์ศรี", "วิเศษสุวรรณ", "เรืองศรี", "ผิวขาว", "มาลัยทอง", "นิลสุวรรณ", "ทรัพย์มาก", "คงสมบัติ", "พลายงาม", "ศรีบุญเรือง",
    "สร้อยสน", "บุญประเสริฐ", "ทองสุข", "แก่นจันทร์", "ปานทอง", "ศรีนวล", "ยอดดี", "เหล็กกล้า", "รุ่งเรือง", "สีดา",
]
COMMON = [("M", "สมชาย", "ใจดี"), ("F", "สมหญิง", "ใจดี"), ("M", "ธนพล", "ศรีสุข"), ("F", "ศิริพร", "ทองคำ")]
# Names are also composed from parts, as Thai names are: a given name of two parts (ธน + พล), a family name of two
# or three (ศรี + สุข + สวัสดิ์). Thai family names are nearly unique to a family (each was registered once under
# the Surname Act of 1913): a few thousand names among millions of children would make unrelated children
# identical by chance, which no finder can tell apart and no real register shows.
GIVEN_HEAD_M = [
    "ธน", "ณัฐ", "กิตติ", "วีร", "ศุภ", "ธีร", "พงศ", "ภาณุ", "สุริย", "อภิ", "วร", "ชัย", "ปิย", "สิทธิ", "กฤษ",
    "ปฏิ", "เอก", "นพ", "ทรง", "ภูมิ", "รัฐ", "ปัณณ", "อิทธิ", "พีร", "ภัทร", "ชย", "ก้อง", "ศิว", "กฤต", "วชิร",
    "จิร", "เตช", "อนุ", "ประ", "จักร", "ศักดิ์", "ณรงค์", "วิษ", "คณ", "อัครา",
]
GIVEN_TAIL_M = [
    "พล", "วุฒิ", "พงษ์", "ชัย", "วัฒน์", "กร", "ภัทร", "ศักดิ์", "พัฒน์", "ภูมิ", "สิทธิ์", "ยุทธ", "นันท์", "เดช",
    "ชาติ", "กิจ", "วิทย์", "ภพ", "เมธ", "ธร", "รักษ์", "ศิลป์", "ไกร", "ณัฏฐ์",
]
GIVEN_HEAD_F = [
    "ปิ่น", "ศิริ", "สุภา", "กัญญา", "ณัฐ", "วรร", "จันทร์", "พร", "ศศิ", "อร", "กมล", "ปวี", "ธิดา", "นันท",
    "รัตน", "วิภา", "ชล", "เบญจ", "ภัทรา", "สุนิ", "พิมพ์", "กนก", "ศุภิ", "อัญ", "ปนัด", "มณี", "ธัญญา", "ณิชา",
    "ขวัญ", "พัชรา", "เพ็ญ", "ลลิ", "กัล", "บุษ", "ดวง", "ชญา", "ปภา", "สิริ", "กช", "วริ",
]
GIVEN_TAIL_F = [
    "พร", "มณี", "รัตน์", "ธิดา", "ณี", "ภรณ์", "ลักษณ์", "วดี", "ชนก", "นา", "ทิพย์", "ธร", "อุมา", "ศรี", "ชา",
    "ภา", "นิษา", "สรา", "ดา", "ใจ", "กานต์", "วรรณ", "ณิช", "ปรียา",
]
FAMILY_HEAD = [
    "ศรี", "บุญ", "ทอง", "แก้ว", "สุข", "วงศ์", "จันทร์", "ชัย", "พรหม", "อินทร์", "รัตน", "สุวรรณ", "ประเสริฐ",
    "มณี", "เพ็ชร", "ศักดิ์", "ธรรม", "ภูมิ", "กิตติ", "พิมพ์", "อุดม", "บัว", "ดวง", "เรือง", "นิล", "ทรัพย์", "คง",
    "แสง", "ไชย", "นาค", "สาย", "ปัญญา", "สม", "มี", "คำ", "วิเศษ", "เหล็ก", "รุ่ง", "ยอด", "ปาน", "แก่น", "พลาย",
    "สร้อย", "มาลัย", "ผิว", "ขัน", "ณ", "อ่อน",
]
FAMILY_TAIL = [
    "สุข", "ดี", "มา", "ทอง", "แก้ว", "ศรี", "วงศ์", "รัตน์", "มณี", "สวัสดิ์", "เรือง", "ชัย", "พันธ์", "สิทธิ์",
    "กุล", "วัฒน์", "สมบัติ", "งาม", "นวล", "คำ", "บุญ", "ภักดี", "เจริญ", "ประเสริฐ", "ศักดิ์", "พงษ์", "ทิพย์",
    "สกุล", "ไพศาล", "อำไพ", "วิไล", "ธานี", "นคร", "สาร", "ฤทธิ์", "จันทร์", "มงคล", "รักษ์", "ชาติ", "ไทย",
]
FAMILY_THIRD = ["", "", "", "", "", "", "กุล", "วงศ์", "ศรี", "สกุล", "ชัย", "ทอง", "รัตน์", "สุข", "เดช", "วัฒนา"]
# fmt: on
COMPOSED_SHARE = 0.8  # the rest take a whole name of the lists above (the common ones)

DUPLICATE_SHARE = 0.08
TWIN_SHARE = 0.03
SIBLING_SHARE = 0.03
COMMON_SHARE = 0.02
COMMON_FAMOUS_SHARE = 0.1
PREFIXES = {"M": ["ด.ช.", "เด็กชาย", "ด.ช", "นาย"], "F": ["ด.ญ.", "เด็กหญิง", "ด.ญ", "น.ส."]}
# Spelling variants as people type them: (what is written, what is typed instead).
VARIANTS = [("ศ", "ส"), ("ษ", "ศ"), ("ณ", "น"), ("์", ""), ("็", ""), ("ำ", "\u0e4d\u0e32"), ("่ี", "ี่"), ("้ำ", "ำ้")]
THAI_LETTERS = "กขคงจชซดตถทนบปผพฟมยรลวสหอ"


@dataclass
class GeneratedSet:
    records: list[dict] = field(default_factory=list)
    # Pairs of identifiers that are one child (each pair sorted).
    duplicates: set[tuple[str, str]] = field(default_factory=set)
    # Pairs that must not pair: twins, siblings, children sharing a common name.
    look_alikes: set[tuple[str, str]] = field(default_factory=set)


class _Ids:
    def __init__(self, start: int) -> None:
        self.n = start

    def national(self) -> str:
        self.n += 1
        twelve = f"1{self.n:011d}"
        return twelve + str(check_digit(twelve))

    def g_code(self) -> str:
        self.n += 1
        return f"G{self.n:012d}"


def _birth(rng: random.Random, today: datetime.date) -> datetime.date:
    return today - datetime.timedelta(days=rng.randint(3 * 365, 20 * 365))


def _typo(rng: random.Random, name: str) -> str:
    letters = [i for i, ch in enumerate(name) if ch in THAI_LETTERS]
    if len(name) < 6 or not letters:
        return name
    i = rng.choice(letters)
    return name[:i] + rng.choice(THAI_LETTERS.replace(name[i], "")) + name[i + 1 :]


def _variant(rng: random.Random, name: str) -> str:
    options = [(a, b) for a, b in VARIANTS if a in name]
    if not options:
        return name
    a, b = rng.choice(options)
    return name.replace(a, b, 1)


def _date_typo(rng: random.Random, date: datetime.date) -> datetime.date:
    for _ in range(10):
        kind = rng.choice(["day", "month", "year", "swap"])
        try:
            if kind == "day":
                changed = date.replace(day=rng.choice([d for d in range(1, 29) if d != date.day]))
            elif kind == "month":
                changed = date.replace(month=rng.choice([m for m in range(1, 13) if m != date.month]))
            elif kind == "year":
                changed = date.replace(year=date.year + rng.choice([-1, 1]))
            else:
                changed = date.replace(month=date.day, day=date.month)
        except ValueError:
            continue
        if changed != date:
            return changed
    return date


def _given(rng: random.Random, sex: str) -> str:
    if rng.random() >= COMPOSED_SHARE:
        return rng.choice(GIVEN_M if sex == "M" else GIVEN_F)
    if sex == "M":
        return rng.choice(GIVEN_HEAD_M) + rng.choice(GIVEN_TAIL_M)
    return rng.choice(GIVEN_HEAD_F) + rng.choice(GIVEN_TAIL_F)


def _other_given(rng: random.Random, sex: str, given: str) -> str:
    """A sibling's given name: another name, never the same one (parents do not give two children one name)."""
    while True:
        other = _given(rng, sex)
        if other != given:
            return other


def _family(rng: random.Random) -> str:
    if rng.random() >= COMPOSED_SHARE:
        return rng.choice(FAMILY)
    return rng.choice(FAMILY_HEAD) + rng.choice(FAMILY_TAIL) + rng.choice(FAMILY_THIRD)


def _common_name(rng: random.Random) -> tuple[str, str, str]:
    """The name of a group of look-alikes: one of the very common names now and then (COMMON_FAMOUS_SHARE),
    otherwise a whole name of the lists. Always the four most common would give, at 3,000,000 records, some 600
    children of one province with exactly one name: pairs of them born in one district, year and month are not
    look-alikes any rule could tell from a day typed wrong, and no real register has them."""
    if rng.random() < COMMON_FAMOUS_SHARE:
        return rng.choice(COMMON)
    sex = rng.choice("MF")
    return sex, rng.choice(GIVEN_M if sex == "M" else GIVEN_F), rng.choice(FAMILY)


def _pair(a: str, b: str) -> tuple[str, str]:
    low, high = sorted((a, b))
    return low, high


def generate(
    count: int, districts: dict[int, list[int]], *, seed: int = 16, start: int = 0, today: datetime.date | None = None
) -> GeneratedSet:
    """About `count` records over the provinces of `districts` (province code → its district codes)."""
    return collect(iter_records(count, districts, seed=seed, start=start, today=today))


def collect(rows: Iterator[tuple[str, dict, tuple[str, str] | None, tuple[str, str] | None]]) -> GeneratedSet:
    result = GeneratedSet()
    for _kind, record, duplicate, look_alike in rows:
        result.records.append(record)
        if duplicate:
            result.duplicates.add(duplicate)
        if look_alike:
            result.look_alikes.add(look_alike)
    return result


def iter_records(
    count: int, districts: dict[int, list[int]], *, seed: int = 16, start: int = 0, today: datetime.date | None = None
) -> Iterator[tuple[str, dict, tuple[str, str] | None, tuple[str, str] | None]]:
    """The records one by one, as (kind, record, duplicate pair or None, look-alike pair or None): the benchmark
    streams millions without keeping them."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test set, not a secret
    today = today or datetime.date(2026, 6, 1)
    ids = _Ids(start)
    provinces = sorted(districts)
    made = 0

    def record(sex: str, given: str, family: str, birth, province: int, district, identifier: str, **extra) -> dict:
        return {
            "identifier": identifier,
            "identifier_kind": "g_code" if identifier.startswith("G") else "national_id",
            "name_prefix": extra.get("name_prefix", ""),
            "first_name": given,
            "last_name": family,
            "sex": sex,
            "birth_date": birth,
            "province_id": province,
            "district_id": district,
        }

    while made < count:
        province = rng.choice(provinces)
        district = rng.choice(districts[province])
        sex = rng.choice("MF")
        given = _given(rng, sex)
        family = _family(rng)
        birth = _birth(rng, today)
        original = record(sex, given, family, birth, province, district, ids.national())
        yield "child", original, None, None
        made += 1
        roll = rng.random()
        if roll < DUPLICATE_SHARE:
            first, last = given, family
            if rng.random() < 0.2:  # a real typo, in one of the names
                if rng.random() < 0.5:
                    first = _typo(rng, first)
                else:
                    last = _typo(rng, last)
            if rng.random() < 0.5:
                first = _variant(rng, first)
            if rng.random() < 0.3:
                last = _variant(rng, last)
            prefix = ""
            sex_written = sex
            if rng.random() < 0.5:  # the prefix typed into the name cell, perhaps in place of the sex
                first = _variant(rng, rng.choice(PREFIXES[sex])) + rng.choice(["", " "]) + first
                if rng.random() < 0.3:
                    sex_written = ""
            elif rng.random() < 0.3:
                prefix = rng.choice(PREFIXES[sex])
            if rng.random() < 0.3:
                last = rng.choice([" ", "\u200b"]) + last
                first = first + rng.choice([" ", "\u200b", ""])
            born = _date_typo(rng, birth) if rng.random() < 0.3 else birth
            where = None if rng.random() < 0.1 else district
            identifier = ids.g_code() if rng.random() < 0.5 else ids.national()
            again = record(sex_written, first, last, born, province, where, identifier, name_prefix=prefix)
            yield "duplicate", again, _pair(original["identifier"], identifier), None
            made += 1
        elif roll < DUPLICATE_SHARE + TWIN_SHARE:
            other = _other_given(rng, sex, given)
            twin = record(sex, other, family, birth, province, district, ids.national())
            yield "twin", twin, None, _pair(original["identifier"], twin["identifier"])
            made += 1
        elif roll < DUPLICATE_SHARE + TWIN_SHARE + SIBLING_SHARE:
            other = _other_given(rng, sex, given)
            born_before = birth - datetime.timedelta(days=rng.randint(400, 2000))
            sibling = record(sex, other, family, born_before, province, district, ids.national())
            yield "sibling", sibling, None, _pair(original["identifier"], sibling["identifier"])
            made += 1
        elif roll < DUPLICATE_SHARE + TWIN_SHARE + SIBLING_SHARE + COMMON_SHARE:
            c_sex, c_given, c_family = _common_name(rng)
            base = _birth(rng, today)
            first_one = record(c_sex, c_given, c_family, base, province, district, ids.national())
            yield "common", first_one, None, None
            others = [d for d in districts[province] if d != district]
            if others:  # the same name, same age, another district of the province
                elsewhere = record(c_sex, c_given, c_family, base, province, rng.choice(others), ids.national())
                yield "common", elsewhere, None, _pair(first_one["identifier"], elsewhere["identifier"])
                made += 1
            # the same name and district, two or more years apart
            later = base.replace(year=base.year - rng.randint(2, 6)) if base.month * 100 + base.day != 229 else base
            if later != base:
                older = record(c_sex, c_given, c_family, later, province, district, ids.national())
                yield "common", older, None, _pair(first_one["identifier"], older["identifier"])
                made += 1
            made += 1


def precision_recall(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[float, float]:
    """Precision and recall of the pairs found (pairs of identifiers, sorted) against the known duplicates."""
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def save(records: list[dict]) -> None:
    """Write generated records (bulk_create; the benchmark COPYs its millions instead)."""
    from targets.models import Category, Outcome, TargetRecord

    category = Category.objects.get(code="out-of-school")
    status = Outcome.objects.get(code="in-follow-up")
    TargetRecord.objects.bulk_create(
        [TargetRecord(category=category, status=status, **record) for record in records], batch_size=2000
    )


def found_pairs() -> set[tuple[str, str]]:
    """The open candidates as pairs of identifiers (sorted), to compare with a GeneratedSet's."""
    from targets.models import TargetRecord

    from .models import DuplicateCandidate

    pairs = list(DuplicateCandidate.objects.open().values_list("record_a_id", "record_b_id"))
    ids = {i for pair in pairs for i in pair}
    identifiers = dict(TargetRecord.objects.filter(pk__in=ids).values_list("pk", "identifier"))
    return {_pair(identifiers[a], identifiers[b]) for a, b in pairs}
