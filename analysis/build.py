"""The tables of an analysis set, built with pandas from the provinces' records (README.md, "Analysis sets
(de-identified)").

- records: one row per record, under a pseudonym of the set (HMAC-SHA256 of the record's id, keyed with the set's
  secret: stable within the set, different in every other set); age in years and an age band at the set's date,
  never the birth date; sex, category, status; the area, generalised (sub-district → district → province) where a
  group of sex × age band × area × category would hold fewer than ANALYSIS_K records, and withheld where even the
  province's group would; contacts and referrals counts.
- transitions: the status history, one row per change.
- assistance: the help given, counted by type.
- dictionary: every column of every table, in Thai and English.

Nothing else leaves: no name, identifier, phone, guardian, school, address or free text (ALLOWED_COLUMNS is the
list a test holds every built set to).
"""

import contextlib
import hashlib
import hmac
import io
import itertools
import logging
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO

import pandas as pd
from django.db.models import Count, Q
from django.utils import timezone

from cases.models import Contact, Referral
from targets.models import Assistance, AssistanceType, Category, Outcome, StatusChange, TargetRecord

logger = logging.getLogger(__name__)
CHUNK = 50_000
UNKNOWN = "unknown"
# Age bands of the quasi-identifiers (inclusive bounds), then "25+" and UNKNOWN (no birth date).
AGE_BANDS = ((0, 5), (6, 11), (12, 14), (15, 17), (18, 24))
QUASI_IDENTIFIERS = ["sex", "age_band", "category", "province", "district", "sub_district"]

# table → column → (type, Thai, English): the data dictionary, and the only columns a set may hold.
DICTIONARY: dict[str, dict[str, tuple[str, str, str]]] = {
    "records": {
        "pid": ("text", "รหัสแทนตัวบุคคลเฉพาะชุดข้อมูลนี้", "Pseudonymous ID, valid in this set only"),
        "age_years": ("integer", "อายุ (ปีเต็ม) ณ วันที่ของชุดข้อมูล", "Age in whole years at the set's date"),
        "age_band": ("text", "ช่วงอายุ", "Age band"),
        "sex": ("text", "เพศ (M ชาย, F หญิง, U ไม่ระบุ)", "Sex (M male, F female, U unknown)"),
        "category": ("text", "รหัสกลุ่มเป้าหมาย", "Target-group category code"),
        "status": ("text", "รหัสสถานะปัจจุบัน", "Current status (outcome) code"),
        "province": ("integer", "รหัสจังหวัด (กรมการปกครอง)", "Province (DOPA code)"),
        "district": ("integer", "รหัสอำเภอ (ว่าง: ปรับเป็นระดับจังหวัด)", "District (empty: generalised to province)"),
        "sub_district": (
            "integer",
            "รหัสตำบล (ว่าง: ปรับเป็นระดับอำเภอหรือจังหวัด)",
            "Sub-district (empty: generalised to district or province)",
        ),
        "area_level": (
            "text",
            "ระดับพื้นที่ที่เผยแพร่ (sub_district, district, province)",
            "Level of the area given (sub_district, district, province)",
        ),
        "contacts": ("integer", "จำนวนครั้งที่ติดต่อ", "Number of contacts"),
        "contacts_reached": ("integer", "จำนวนครั้งที่ติดต่อได้", "Number of contacts that reached the child"),
        "referrals": ("integer", "จำนวนการส่งต่อหน่วยงาน", "Number of referrals to agencies"),
    },
    "transitions": {
        "pid": ("text", "รหัสแทนตัวบุคคล (ตรงกับตาราง records)", "Pseudonymous ID (as in records)"),
        "step": ("integer", "ลำดับการเปลี่ยนสถานะ", "Order of the change"),
        "from_status": ("text", "สถานะเดิม", "Status before"),
        "to_status": ("text", "สถานะใหม่", "Status after"),
        "changed_on": ("date", "วันที่เปลี่ยนสถานะ", "Date of the change"),
    },
    "assistance": {
        "pid": ("text", "รหัสแทนตัวบุคคล (ตรงกับตาราง records)", "Pseudonymous ID (as in records)"),
        "assistance_type": ("text", "รหัสประเภทความช่วยเหลือ", "Type of help (code)"),
        "times": ("integer", "จำนวนครั้งที่ได้รับ", "Times given"),
    },
    "dictionary": {
        "table": ("text", "ตาราง", "Table"),
        "column": ("text", "คอลัมน์", "Column"),
        "type": ("text", "ชนิดข้อมูล", "Type"),
        "description_th": ("text", "คำอธิบาย (ไทย)", "Description (Thai)"),
        "description_en": ("text", "คำอธิบาย (อังกฤษ)", "Description (English)"),
    },
}
ALLOWED_COLUMNS = {table: list(columns) for table, columns in DICTIONARY.items()}


@dataclass
class Built:
    tables: dict[str, pd.DataFrame]
    withheld: int

    @property
    def rows(self) -> int:
        return len(self.tables["records"])


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Log how long a step of the build took (bench/analysis.py prints them; a worker's log keeps them)."""
    started = time.perf_counter()
    yield
    logger.info("analysis set build: %s in %.2f s", name, time.perf_counter() - started, extra={"step": name})


def pseudonymiser(secret: str):
    key = bytes.fromhex(secret)

    def pseudonym(record_id: int) -> str:
        return hmac.new(key, str(record_id).encode(), hashlib.sha256).hexdigest()[:32]

    return pseudonym


def age_in_years(birth: pd.Series, as_of: date) -> pd.Series:
    born = pd.to_datetime(birth, errors="coerce")
    before_birthday = (born.dt.month > as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day > as_of.day))
    age = as_of.year - born.dt.year - before_birthday.astype("int64")
    return age.where(born.notna()).astype("Int64")


def age_band(age: pd.Series) -> pd.Series:
    band = pd.Series(UNKNOWN, index=age.index, dtype="object")
    band[age.notna() & (age >= AGE_BANDS[-1][1] + 1)] = f"{AGE_BANDS[-1][1] + 1}+"
    for low, high in AGE_BANDS:
        band[age.notna() & (age >= low) & (age <= high)] = f"{low}-{high}"
    return band


def generalise(records: pd.DataFrame, k: int) -> tuple[pd.DataFrame, int]:
    """Give each record's area at the finest level where its group (sex × age band × area × category) holds at
    least k records: sub-district, else district, else province; records whose province group is still smaller
    are withheld. Returns the records kept and how many were withheld."""
    df = records.copy()
    df["area_level"] = "province"
    df.loc[df["district"].notna(), "area_level"] = "district"
    df.loc[df["sub_district"].notna(), "area_level"] = "sub_district"
    df.loc[df["area_level"] != "sub_district", "sub_district"] = pd.NA
    df.loc[df["area_level"] == "province", "district"] = pd.NA

    def small() -> pd.Series:
        sizes = df.groupby(QUASI_IDENTIFIERS, dropna=False)["pid"].transform("size")
        return sizes < k

    to_district = small() & (df["area_level"] == "sub_district")
    df.loc[to_district, "sub_district"] = pd.NA
    df.loc[to_district, "area_level"] = "district"
    to_province = small() & (df["area_level"] == "district")
    df.loc[to_province, "district"] = pd.NA
    df.loc[to_province, "area_level"] = "province"
    withheld = small()
    return df.loc[~withheld].reset_index(drop=True), int(withheld.sum())


def _frame(rows: Iterable[tuple], columns: list[str]) -> pd.DataFrame:
    """The rows as one DataFrame, made CHUNK rows at a time: never all the rows as Python tuples at once."""
    source = iter(rows)
    frames = []
    while chunk := list(itertools.islice(source, CHUNK)):
        frames.append(pd.DataFrame.from_records(chunk, columns=columns))
    if not frames:
        return pd.DataFrame.from_records([], columns=columns)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def build_tables(*, provinces: list[int], secret: str, as_of: date, k: int) -> Built:
    pseudonym = pseudonymiser(secret)
    categories = dict(Category.objects.values_list("pk", "code"))
    outcomes = dict(Outcome.objects.values_list("pk", "code"))
    help_types = dict(AssistanceType.objects.values_list("pk", "code"))

    fields = ["pk", "sex", "birth_date", "category_id", "status_id", "province_id", "district_id", "sub_district_id"]
    with step("records read"):
        source = (
            TargetRecord.objects.filter(province_id__in=provinces).order_by("pk").values_list(*fields).iterator(CHUNK)
        )
        raw = _frame(source, fields)
    with step("pseudonyms, ages, codes"):
        records = pd.DataFrame(
            {
                "record": raw["pk"].astype("int64"),
                "pid": raw["pk"].map(pseudonym).astype("object"),
                "sex": raw["sex"].replace("", "U").fillna("U").astype("object"),
                "category": raw["category_id"].map(categories).astype("object"),
                "status": raw["status_id"].map(outcomes).astype("object"),
                "province": raw["province_id"].astype("Int64"),
                "district": raw["district_id"].astype("Int64"),
                "sub_district": raw["sub_district_id"].astype("Int64"),
            }
        )
        records["age_years"] = age_in_years(raw["birth_date"], as_of)
        records["age_band"] = age_band(records["age_years"])

    with step("contacts and referrals counts"):
        counts = _case_counts(provinces)
        records = records.merge(counts, how="left", left_on="record", right_index=True)
        for column in ("contacts", "contacts_reached", "referrals"):
            records[column] = records[column].fillna(0).astype("int64")

    with step("k-generalisation"):
        records, withheld = generalise(records, k)
        kept = records.set_index("record")["pid"]

    with step("transitions"):
        transitions = _transitions(provinces, kept, outcomes)
    with step("assistance"):
        assistance = _assistance(provinces, kept, help_types)
    records = records.drop(columns=["record"])[ALLOWED_COLUMNS["records"]]
    dictionary = pd.DataFrame(
        [
            (table, column, kind, th, en)
            for table, columns in DICTIONARY.items()
            for column, (kind, th, en) in columns.items()
        ],
        columns=ALLOWED_COLUMNS["dictionary"],
    )
    return Built(
        tables={"records": records, "transitions": transitions, "assistance": assistance, "dictionary": dictionary},
        withheld=withheld,
    )


def _case_counts(provinces: list[int]) -> pd.DataFrame:
    contacts = (
        Contact.objects.filter(case__record__province_id__in=provinces)
        .order_by()
        .values("case_id")
        .annotate(contacts=Count("pk"), contacts_reached=Count("pk", filter=Q(reached=True)))
        .values_list("case_id", "contacts", "contacts_reached")
    )
    referrals = (
        Referral.objects.filter(case__record__province_id__in=provinces)
        .order_by()
        .values("case_id")
        .annotate(referrals=Count("pk"))
        .values_list("case_id", "referrals")
    )
    left = _frame(contacts, ["record", "contacts", "contacts_reached"]).set_index("record")
    right = _frame(referrals, ["record", "referrals"]).set_index("record")
    return left.join(right, how="outer")


def _transitions(provinces: list[int], kept: pd.Series, outcomes: dict) -> pd.DataFrame:
    rows = (
        StatusChange.objects.filter(record__province_id__in=provinces)
        .order_by("record_id", "changed_at", "pk")
        .values_list("record_id", "from_status_id", "to_status_id", "changed_at")
        .iterator(CHUNK)
    )
    raw = _frame(rows, ["record", "from_status", "to_status", "changed_at"])
    raw = raw[raw["record"].isin(kept.index)]
    zone = timezone.get_current_timezone()
    return pd.DataFrame(
        {
            "pid": raw["record"].map(kept).astype("object"),
            "step": raw.groupby("record").cumcount().astype("int64") + 1,
            "from_status": raw["from_status"].map(outcomes).astype("object"),
            "to_status": raw["to_status"].map(outcomes).astype("object"),
            "changed_on": pd.to_datetime(raw["changed_at"], utc=True).dt.tz_convert(zone).dt.date,
        },
        columns=ALLOWED_COLUMNS["transitions"],
    ).reset_index(drop=True)


def _assistance(provinces: list[int], kept: pd.Series, help_types: dict) -> pd.DataFrame:
    rows = (
        Assistance.objects.filter(record__province_id__in=provinces)
        .order_by()
        .values("record_id", "type_id")
        .annotate(times=Count("pk"))
        .values_list("record_id", "type_id", "times")
    )
    raw = _frame(rows, ["record", "type", "times"])
    raw = raw[raw["record"].isin(kept.index)].sort_values(["record", "type"])
    return pd.DataFrame(
        {
            "pid": raw["record"].map(kept).astype("object"),
            "assistance_type": raw["type"].map(help_types).astype("object"),
            "times": raw["times"].astype("int64"),
        },
        columns=ALLOWED_COLUMNS["assistance"],
    ).reset_index(drop=True)


def write_zip(built: Built, out: IO[bytes]) -> None:
    """Each table as Parquet (pyarrow) and as CSV (UTF-8 with a byte-order mark, for Excel's Thai) in one zip."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, table in built.tables.items():
            with step(f"{name}.parquet written"):
                parquet = io.BytesIO()
                table.to_parquet(parquet, engine="pyarrow", index=False)
                archive.writestr(f"{name}.parquet", parquet.getvalue())
            with step(f"{name}.csv written"):
                archive.writestr(f"{name}.csv", table.to_csv(index=False).encode("utf-8-sig"))
