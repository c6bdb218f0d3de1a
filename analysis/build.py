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

At scale (bench/analysis.py: 1,000,000 records in ≤ 90 s and ≤ 1.5 GB): each table is read with one COPY ... TO
STDOUT (CSV) into a temporary file that pyarrow parses (never a Python tuple per row); the codes are mapped,
the groups counted and the history matched to the pseudonyms with vectorised pandas/numpy; repeated values
(codes, levels, dates) are shared objects, not one per row; and each table is written to the zip as it is made,
the CSV a batch at a time.
"""

import contextlib
import csv
import hashlib
import hmac
import io
import logging
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pa_csv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber, TruncDate

from cases.models import Contact, Referral
from targets.models import Assistance, AssistanceType, Category, Outcome, StatusChange, TargetRecord

logger = logging.getLogger(__name__)
CHUNK = 50_000
CSV_BATCH = 200_000  # rows of a table written to its CSV at a time
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
    seconds = time.perf_counter() - started
    logger.info("analysis set build: %s in %.2f s", name, seconds, extra={"step": name, "seconds": seconds})


def pseudonymiser(secret: str):
    key = bytes.fromhex(secret)

    def pseudonym(record_id: int) -> str:
        return hmac.digest(key, str(record_id).encode(), "sha256").hex()[:32]

    return pseudonym


def pseudonyms(secret: str, record_ids: np.ndarray) -> np.ndarray:
    """Every record's pseudonym, as pseudonymiser's, as an object array. The HMAC's keyed inner and outer SHA-256
    states are made once and copied per id (RFC 2104), three times faster than a new HMAC per id."""
    key = bytes.fromhex(secret)
    block = hashlib.sha256().block_size
    key = key if len(key) <= block else hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def one(record_id: int) -> str:
        digest = inner.copy()
        digest.update(str(record_id).encode())
        final = outer.copy()
        final.update(digest.digest())
        return final.hexdigest()[:32]

    out = np.empty(len(record_ids), dtype=object)
    out[:] = [one(record_id) for record_id in record_ids.tolist()]
    return out


def age_in_years(birth: pd.Series, as_of: date) -> pd.Series:
    born = pd.to_datetime(birth, errors="coerce")
    before_birthday = (born.dt.month > as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day > as_of.day))
    age = as_of.year - born.dt.year - before_birthday.astype("int64")
    return age.where(born.notna()).astype("Int64")


def age_band(age: pd.Series) -> pd.Series:
    """The band of each age: one shared string object per band, not one per row."""
    known = age.notna().to_numpy()
    years = age.fillna(-1).to_numpy(dtype="int64")
    labels = [f"{low}-{high}" for low, high in AGE_BANDS] + [f"{AGE_BANDS[-1][1] + 1}+", UNKNOWN]
    which = np.full(len(years), len(labels) - 1, dtype="int64")
    which[known & (years >= AGE_BANDS[-1][1] + 1)] = len(AGE_BANDS)
    for n, (low, high) in enumerate(AGE_BANDS):
        which[known & (years >= low) & (years <= high)] = n
    return pd.Series(np.array(labels, dtype=object)[which], index=age.index, dtype="object")


def _group_sizes(df: pd.DataFrame) -> np.ndarray:
    """How many records share each record's sex × age band × area × category (missing values a value of their
    own, as groupby(dropna=False)): the columns' codes folded into one key, counted with bincount."""
    key = np.zeros(len(df), dtype="int64")
    for column in QUASI_IDENTIFIERS:
        codes, uniques = pd.factorize(df[column], use_na_sentinel=False)
        key, _keys = pd.factorize(key * (len(uniques) + 1) + codes)
    return np.bincount(key)[key] if len(key) else np.zeros(0, dtype="int64")


def generalise(records: pd.DataFrame, k: int) -> tuple[pd.DataFrame, int]:
    """Give each record's area at the finest level where its group (sex × age band × area × category) holds at
    least k records: sub-district, else district, else province; records whose province group is still smaller
    are withheld. Returns the records kept and how many were withheld. Changes `records` in place."""
    df = records
    district = df["district"].notna().to_numpy()
    sub_district = df["sub_district"].notna().to_numpy()
    level = np.where(sub_district, 2, np.where(district, 1, 0))

    to_district = (_group_sizes(df) < k) & (level == 2)
    df.loc[to_district, "sub_district"] = pd.NA
    level[to_district] = 1
    to_province = (_group_sizes(df) < k) & (level == 1)
    df.loc[to_province, "district"] = pd.NA
    level[to_province] = 0
    withheld = _group_sizes(df) < k
    df["area_level"] = np.array(["province", "district", "sub_district"], dtype=object)[level]
    return df.loc[~withheld].reset_index(drop=True), int(withheld.sum())


def read_table(queryset: QuerySet, names: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """The queryset's rows (a values_list) as an Arrow table. On PostgreSQL one COPY (...) TO STDOUT as CSV into a
    temporary file, which pyarrow parses: no Python object per row. Elsewhere (SQLite) the rows are written to
    the same CSV, CHUNK at a time. A moment (a timestamp type with a zone) comes the same from both: PostgreSQL's
    COPY writes it with its offset, SQLite's rows hold it in UTC without one, so there it is read as it is and then
    said to be in the type's zone."""
    sql, params = queryset.query.sql_with_params()
    with tempfile.TemporaryFile() as spool:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                statement = cursor.mogrify(sql, params).decode()
                cursor.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)", spool)
            else:
                cursor.execute(sql, params)
                text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
                writer = csv.writer(text, lineterminator="\n")
                while rows := cursor.fetchmany(CHUNK):
                    writer.writerows(rows)
                text.flush()
                text.detach()
        if not spool.tell():
            return pa.table({name: pa.array([], type=types[name]) for name in names})
        spool.seek(0)
        zoned = {}
        if connection.vendor != "postgresql":
            zoned = {name: kind for name, kind in types.items() if pa.types.is_timestamp(kind) and kind.tz}
        parsed = {**types, **{name: pa.timestamp(kind.unit) for name, kind in zoned.items()}}
        table = pa_csv.read_csv(
            spool,
            read_options=pa_csv.ReadOptions(column_names=names),
            convert_options=pa_csv.ConvertOptions(column_types=parsed, quoted_strings_can_be_null=False),
        )
    for name, kind in zoned.items():
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, pc.assume_timezone(table.column(name), timezone=kind.tz))
    return table


def _ints(table: pa.Table, column: str) -> pd.Series:
    """A nullable integer column as pandas Int64."""
    return pd.Series(pd.array(table.column(column).to_numpy(zero_copy_only=False), dtype="Int64"))


def _codes(table: pa.Table, column: str, codes: dict[int, str]) -> pd.Series:
    """Ids mapped to their codes, NaN where there is none (as Series.map(dict)), as one shared string object per
    code: Series.map would give pandas' str dtype, and its astype(object) a new string per row."""
    ids = pc.fill_null(table.column(column), -1).to_numpy()
    keys = np.array(sorted(codes), dtype="int64")
    labels = np.array([*(codes[key] for key in keys.tolist()), np.nan], dtype=object)
    at = np.searchsorted(keys, ids)
    inside = at < len(keys)
    found = np.zeros(len(ids), dtype=bool)
    found[inside] = keys[at[inside]] == ids[inside]
    at[~found] = len(keys)
    return pd.Series(labels[at], dtype="object")


def _matched(ids: pd.Series, kept_ids: np.ndarray, kept_pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which rows name a kept record, their pseudonyms): kept_ids is sorted (the records are read by id)."""
    values = ids.to_numpy(dtype="int64")
    at = np.searchsorted(kept_ids, values)
    inside = at < len(kept_ids)
    found = np.zeros(len(values), dtype=bool)
    found[inside] = kept_ids[at[inside]] == values[inside]
    return found, kept_pids[at[found]]


def build_tables(*, provinces: list[int], secret: str, as_of: date, k: int) -> Built:
    categories = dict(Category.objects.values_list("pk", "code"))
    outcomes = dict(Outcome.objects.values_list("pk", "code"))
    help_types = dict(AssistanceType.objects.values_list("pk", "code"))

    fields = ["pk", "sex", "birth_date", "category_id", "status_id", "province_id", "district_id", "sub_district_id"]
    with step("records read"):
        raw = read_table(
            TargetRecord.objects.filter(province_id__in=provinces).order_by("pk").values_list(*fields),
            fields,
            {
                "pk": pa.int64(),
                "sex": pa.string(),
                "birth_date": pa.date32(),
                "category_id": pa.int64(),
                "status_id": pa.int64(),
                "province_id": pa.int64(),
                "district_id": pa.int64(),
                "sub_district_id": pa.int64(),
            },
        )
    with step("pseudonyms, ages, codes"):
        ids = raw.column("pk").to_numpy()
        sex = pc.fill_null(raw.column("sex"), "U")
        sex = pc.if_else(pc.equal(sex, ""), "U", sex).dictionary_encode().combine_chunks()
        records = pd.DataFrame(
            {
                "record": ids,
                # object, not pandas' inferred str: the Parquet types stay as they were (string).
                "pid": pd.Series(pseudonyms(secret, ids), dtype="object"),
                "sex": pd.Series(
                    np.array(sex.dictionary.to_pylist(), dtype=object)[sex.indices.to_numpy(zero_copy_only=False)],
                    dtype="object",
                ),
                "category": _codes(raw, "category_id", categories),
                "status": _codes(raw, "status_id", outcomes),
                "province": _ints(raw, "province_id"),
                "district": _ints(raw, "district_id"),
                "sub_district": _ints(raw, "sub_district_id"),
            }
        )
        born = pd.Series(raw.column("birth_date").to_pandas(date_as_object=False))
        del raw
        records["age_years"] = age_in_years(born, as_of)
        records["age_band"] = age_band(records["age_years"])
        del born

    with step("contacts and referrals counts"):
        counts = _case_counts(provinces).reindex(records["record"].to_numpy())
        for column in ("contacts", "contacts_reached", "referrals"):
            records[column] = counts[column].fillna(0).to_numpy(dtype="int64")

    with step("k-generalisation"):
        records, withheld = generalise(records, k)
        kept_ids = records["record"].to_numpy(dtype="int64")
        kept_pids = records["pid"].to_numpy(dtype=object)

    with step("transitions"):
        transitions = _transitions(provinces, kept_ids, kept_pids, outcomes)
    with step("assistance"):
        assistance = _assistance(provinces, kept_ids, kept_pids, help_types)
    records = records[ALLOWED_COLUMNS["records"]]
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
    whole = pa.int64()
    left = read_table(contacts, ["record", "contacts", "contacts_reached"], dict.fromkeys(["record", "contacts",
                 "contacts_reached"], whole)).to_pandas().set_index("record")  # fmt: skip
    right = read_table(referrals, ["record", "referrals"], dict.fromkeys(["record", "referrals"], whole))
    return left.join(right.to_pandas().set_index("record"), how="outer")


def _transitions(provinces: list[int], kept_ids: np.ndarray, kept_pids: np.ndarray, outcomes: dict) -> pd.DataFrame:
    # The step and the local day are computed by the database (the day in the current time zone, as before).
    rows = (
        StatusChange.objects.filter(record__province_id__in=provinces)
        .annotate(
            step=Window(RowNumber(), partition_by=[F("record_id")], order_by=[F("changed_at").asc(), F("pk").asc()]),
            changed_on=TruncDate("changed_at"),
        )
        .order_by("record_id", "changed_at", "pk")
        .values_list("record_id", "step", "from_status_id", "to_status_id", "changed_on")
    )
    names = ["record", "step", "from_status", "to_status", "changed_on"]
    raw = read_table(rows, names, {**dict.fromkeys(names[:4], pa.int64()), "changed_on": pa.date32()})
    found, pids = _matched(pd.Series(raw.column("record").to_numpy()), kept_ids, kept_pids)
    raw = raw.filter(pa.array(found))
    days = raw.column("changed_on").combine_chunks().dictionary_encode()
    # One date object per distinct day, shared by the rows of that day.
    changed_on = np.array([*days.dictionary.to_pylist(), None], dtype=object)[
        days.indices.fill_null(len(days.dictionary)).to_numpy(zero_copy_only=False)
    ]
    return pd.DataFrame(
        {
            "pid": pd.Series(pids, dtype="object"),
            "step": raw.column("step").to_numpy().astype("int64"),
            "from_status": _codes(raw, "from_status", outcomes),
            "to_status": _codes(raw, "to_status", outcomes),
            "changed_on": pd.Series(changed_on, dtype="object"),
        },
        columns=ALLOWED_COLUMNS["transitions"],
    )


def _assistance(provinces: list[int], kept_ids: np.ndarray, kept_pids: np.ndarray, help_types: dict) -> pd.DataFrame:
    rows = (
        Assistance.objects.filter(record__province_id__in=provinces)
        .order_by()
        .values("record_id", "type_id")
        .annotate(times=Count("pk"))
        .values_list("record_id", "type_id", "times")
        .order_by("record_id", "type_id")
    )
    names = ["record", "type", "times"]
    raw = read_table(rows, names, dict.fromkeys(names, pa.int64()))
    found, pids = _matched(pd.Series(raw.column("record").to_numpy()), kept_ids, kept_pids)
    raw = raw.filter(pa.array(found))
    return pd.DataFrame(
        {
            "pid": pd.Series(pids, dtype="object"),
            "assistance_type": _codes(raw, "type", help_types),
            "times": raw.column("times").to_numpy().astype("int64"),
        },
        columns=ALLOWED_COLUMNS["assistance"],
    )


_QUOTED = re.compile(rb'[,"\r\n]')  # what pandas' to_csv (csv.QUOTE_MINIMAL) quotes


def _plain(batch: pa.RecordBatch) -> bool:
    """Whether no text of the batch needs quoting in a CSV (then pyarrow writes it as pandas would): one scan of
    each text column's bytes (the whole buffer of a sliced column: a false alarm at worst, never a miss)."""
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            data = column.buffers()[2]
            if data is not None and _QUOTED.search(memoryview(data)):
                return False
    return True


def _write_csv(table: pd.DataFrame, arrow: pa.Table, out: IO[bytes]) -> None:
    """The table as pandas' to_csv(index=False) writes it, UTF-8 with a byte-order mark (for Excel's Thai), a
    batch at a time: by pyarrow where no text needs quoting, by pandas where some does."""
    out.write(table.iloc[:0].to_csv(index=False).encode("utf-8-sig"))
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    offset = 0
    for batch in arrow.to_batches(max_chunksize=CSV_BATCH):
        if _plain(batch):
            buffer = io.BytesIO()
            pa_csv.write_csv(batch, buffer, options)
            out.write(buffer.getvalue())
        else:
            rows = table.iloc[offset : offset + batch.num_rows]
            out.write(rows.to_csv(index=False, header=False).encode("utf-8"))
        offset += batch.num_rows


def write_zip(built: Built, out: IO[bytes]) -> None:
    """Each table as Parquet (pyarrow) and as CSV (UTF-8 with a byte-order mark, for Excel's Thai) in one zip,
    deflated at level 1: deflate was most of the writing's time at level 6, for a zip a few percent smaller."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, table in built.tables.items():
            with step(f"{name}.parquet written"):
                arrow = pa.Table.from_pandas(table, preserve_index=False)  # as DataFrame.to_parquet(index=False)
                parquet = io.BytesIO()
                pq.write_table(arrow, parquet, compression="snappy")
                archive.writestr(f"{name}.parquet", parquet.getvalue())
                del parquet
            with step(f"{name}.csv written"), archive.open(f"{name}.csv", "w", force_zip64=True) as handle:
                _write_csv(table, arrow, handle)
            del arrow
