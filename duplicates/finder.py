"""The probable-duplicate finder (README.md, "Probable duplicates"): keys, blocks, pg_trgm, a score.

1. **Keys** (`refresh_keys`): each record's normalised name (duplicates.normalise), sex (from the prefix when the
   column is blank), birth date, province and district, in `NameKey`, written in batches of KEY_BATCH records
   read by id (keyset pages: memory stays flat at any size).
2. **Blocks**: two records are compared only inside one province, of one sex, and
   - pass 1: born in the same year, where the month or the day is the same (or day and month swapped); or
   - pass 2: born on the same day and month, in years at most DUPLICATES_BIRTH_YEARS apart;
   and in the same district where both have one. Records without a birth date are never paired. So the
   database never compares every pair: a province of 40,000 records compares a few hundred thousand pairs,
   the cheap integer tests first, pg_trgm's `similarity()` only on what passes them.
3. **The score** (`score_pair`, Python, only for pairs whose full names' trigram similarity is at least
   DUPLICATES_TRIGRAM_MIN): given and family names compared apart by edit distance, so that twins and siblings
   (the same family name and birth date, other given names) do not pair; then a weighted score of the names,
   the dates and the area, kept at DUPLICATES_MIN_SCORE or more.

`find_pairs` returns a province's pairs; `run` (the nightly job) stores them as DuplicateCandidate, and
`warnings_for_rows` answers an upload's dry run for its new rows.
"""

import datetime
import io
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from core.copy_text import copy_value
from provinces.models import Province
from targets.models import TargetRecord

from .models import DuplicateCandidate, NameKey, NotSamePerson
from .normalise import edit_ratio, normalise_name, sex_from_prefix

logger = logging.getLogger(__name__)

KEY_BATCH = 10_000

# The reasons a candidate carries (shown on the review queue, in the reviewer's language: duplicates/views.py).
REASONS = (
    "name_same",  # the normalised names are equal
    "name_close",  # the names differ by a letter or two
    "date_same",
    "date_day_month_swapped",
    "date_one_part_differs",  # the day, the month or the year (within DUPLICATES_BIRTH_YEARS)
    "same_district",
    "district_unknown",  # one of the two has no district
    "identifier_kinds_differ",  # a G-code and a national ID
)


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


# --- keys ---------------------------------------------------------------------------------------------------


def _key(row: tuple) -> tuple:
    """A record's key as the values of _KEY_WRITTEN, in order (a tuple: millions are made by the nightly run)."""
    pk, prefix, first, last, sex, birth, province, district, updated = row
    full, given, family = normalise_name(prefix, first, last)
    return (
        pk,
        province,
        district,
        sex or sex_from_prefix(prefix, first),
        birth,
        birth.year if birth else None,
        birth.month * 100 + birth.day if birth else None,
        full[:220],
        given[:110],
        family[:110],
        given[:1],
        family[:1],
        updated,
    )


_KEY_COLUMNS = (
    "pk", "name_prefix", "first_name", "last_name", "sex", "birth_date", "province_id", "district_id", "updated_at",
)  # fmt: skip
_KEY_FIELDS = [
    "province_id", "district_id", "sex", "birth_date", "birth_year", "birth_md", "name", "given", "family",
    "given_initial", "family_initial", "record_updated_at",
]  # fmt: skip
_KEY_WRITTEN = ["record_id", *_KEY_FIELDS]


def refresh_keys(*, province_id: int | None = None, since: datetime.datetime | None = None) -> int:
    """Write the keys of the records (of one province, changed after `since`), KEY_BATCH at a time; returns how
    many. Idempotent: a key is overwritten with what its record says now."""
    records = TargetRecord.objects.order_by("pk")
    if province_id is not None:
        records = records.filter(province_id=province_id)
    if since is not None:
        # After: an upload writes all its rows with one time, and they are the newest keys already.
        records = records.filter(updated_at__gt=since)
    written, last = 0, 0
    while True:
        rows = list(records.filter(pk__gt=last).values_list(*_KEY_COLUMNS)[:KEY_BATCH])
        if not rows:
            return written
        _write_keys([_key(row) for row in rows])
        written += len(rows)
        last = rows[-1][0]


def _write_keys(keys: list[tuple]) -> None:
    """Upsert a batch of keys (tuples of _KEY_WRITTEN): on PostgreSQL COPY into a temporary table, then one
    INSERT ... ON CONFLICT that rewrites only the keys that changed (a key unchanged costs no new row version, no
    index entry)."""
    if connection.vendor != "postgresql":
        NameKey.objects.bulk_create(
            [NameKey(**dict(zip(_KEY_WRITTEN, key, strict=True))) for key in keys],
            update_conflicts=True,
            unique_fields=["record"],
            update_fields=_KEY_FIELDS,
        )
        return
    table = NameKey._meta.db_table
    columns = _KEY_WRITTEN
    text = "".join("\t".join(map(copy_value, key)) + "\n" for key in keys)
    changed = " OR ".join(f"k.{c} IS DISTINCT FROM excluded.{c}" for c in _KEY_FIELDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS dup_keys_in (LIKE {table}) ON COMMIT DELETE ROWS")
        cursor.execute("TRUNCATE dup_keys_in")  # an outer transaction (a test, a dry run) may still hold rows
        cursor.cursor.copy_expert(f"COPY dup_keys_in ({', '.join(columns)}) FROM STDIN", io.StringIO(text))
        cursor.execute(
            f"INSERT INTO {table} AS k ({', '.join(columns)}) SELECT {', '.join(columns)} FROM dup_keys_in "  # noqa: S608
            f"ON CONFLICT (record_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _KEY_FIELDS)} "
            f"WHERE {changed}"
        )


def refresh_province_keys(province_id: int) -> int:
    """The upload's dry run: the keys of its province's records changed since its newest key (all of them the
    first time). Records changed by a plain UPDATE that leaves updated_at (none do today) wait for the night."""
    newest = NameKey.objects.filter(province_id=province_id).aggregate(newest=Max("record_updated_at"))["newest"]
    return refresh_keys(province_id=province_id, since=newest)


def drop_orphan_keys() -> int:
    """Remove the keys of records that are gone (deleted, or merged away by identity)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {NameKey._meta.db_table} k WHERE NOT EXISTS "  # noqa: S608 - table names only
            f"(SELECT 1 FROM {TargetRecord._meta.db_table} r WHERE r.id = k.record_id)"
        )
        return cursor.rowcount


def vacuum_keys() -> None:
    """VACUUM (ANALYZE) the keys after they were written: the finder reads a province's keys from the covering
    index alone only where the visibility map says their pages are all visible, which the writes cleared (without
    it PostgreSQL reads the table, 250–350 ms a question at 3,000,000 records instead of 10 ms; autovacuum comes
    later, if at all before the next upload). Not inside a transaction (VACUUM cannot run there: tests)."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {NameKey._meta.db_table}")


# --- pairs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    record_id: int
    given: str
    family: str
    birth_date: datetime.date
    district_id: int | None


@dataclass
class Pair:
    record_a: int
    record_b: int
    score: float
    reasons: list[str] = field(default_factory=list)


def date_relation(a: datetime.date, b: datetime.date) -> str | None:
    """How two birth dates relate, or None when they are too far apart for one child typed twice."""
    if a == b:
        return "date_same"
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return "date_day_month_swapped"
    same = (a.year == b.year) + (a.month == b.month) + (a.day == b.day)
    if same == 2 and abs(a.year - b.year) <= int(_setting("DUPLICATES_BIRTH_YEARS", 1)):
        return "date_one_part_differs"
    return None


_DATE_SCORE = {"date_same": 1.0, "date_day_month_swapped": 0.9, "date_one_part_differs": 0.75}


def score_pair(a: Side, b: Side) -> tuple[float, list[str]] | None:
    """The score of two records in one block (0–1) and its reasons, or None when they are two children.

    Given names must be close (DUPLICATES_GIVEN_MIN, edit ratio): twins and siblings share the family name and
    perhaps the birth date, never the given name. Family names too, unless one is blank (children without civil
    registration often have none). Score: 0.5 given name + 0.2 family name + 0.2 date + 0.1 area."""
    relation = date_relation(a.birth_date, b.birth_date)
    if relation is None:
        return None
    given = edit_ratio(a.given, b.given)
    if given < _setting("DUPLICATES_GIVEN_MIN", 0.8):
        return None
    family: float
    if a.family and b.family:
        family = edit_ratio(a.family, b.family)
        if family < _setting("DUPLICATES_FAMILY_MIN", 0.75):
            return None
    else:
        family = 0.5  # one of them has no family name: it neither helps nor hurts much
    if a.district_id is not None and a.district_id == b.district_id:
        area, area_reason = 1.0, "same_district"
    else:
        area, area_reason = 0.5, "district_unknown"
    score = 0.5 * given + 0.2 * family + 0.2 * _DATE_SCORE[relation] + 0.1 * area
    names = "name_same" if (a.given, a.family) == (b.given, b.family) else "name_close"
    if score < _setting("DUPLICATES_MIN_SCORE", 0.8):
        return None
    return round(score, 4), [names, relation, area_reason]


# The date blocks: each an equality join (a hash join's keys), so that a province's records are never paired all
# with all; together they are "born in the same year where the month or the day is the same, or day and month
# swapped; or on the same day and month in years 1..DUPLICATES_BIRTH_YEARS apart". A pair found by two blocks (the
# same date is in "month" only: "day" and "swap" ask for another month) is kept once (find_pairs' dict).
# (name, the join's equality keys, the further test, whether the relation is symmetric)
_DATE_BLOCKS = (
    ("month", "b.birth_year = a.birth_year AND b.m = a.m", "", True),
    ("day", "b.birth_year = a.birth_year AND b.d = a.d", "AND b.m <> a.m", True),
    ("swap", "b.birth_year = a.birth_year AND b.m = a.d AND b.d = a.m", "AND b.m <> a.m", True),
    ("years", "b.birth_md = a.birth_md", "AND b.birth_year <> a.birth_year "
     "AND abs(b.birth_year - a.birth_year) <= %(span)s", False),
)  # fmt: skip


# After the blocks' keys, the names: the cheap test first (one of the two names starts with the same letter),
# then pg_trgm's similarity() of the full names.
_ALIKE = "({a}.gi = {b}.gi OR {a}.fi = {b}.fi) AND similarity({a}.name, {b}.name) >= %(trigram)s"


def _pair_branch(block: tuple[str, str, str, bool], *, with_district: bool) -> str:
    """One block, for pairs that both have a district (the same district) or whose first has none (any record of
    the province). Each pair once: by id for symmetric blocks, by year for "years"."""
    name, keys, further, symmetric = block
    once = "b.record_id > a.record_id" if symmetric else "b.birth_year > a.birth_year"
    if with_district:
        area = f"b.district_id = a.district_id AND {keys} AND b.sex = a.sex"
        tests = [once]
    else:
        area = f"{keys} AND b.sex = a.sex"
        tests = ["a.district_id IS NULL", f"(b.district_id IS NOT NULL OR {once})"]
        if symmetric:
            tests.append("b.record_id <> a.record_id")
    where = " AND ".join(tests) + (f" {further}" if further else "")
    label = f"-- {name}, {'both with a district' if with_district else 'the first without one'}"
    select = f"SELECT a.record_id AS a_id, b.record_id AS b_id FROM k a JOIN k b ON {area}"  # noqa: S608 - fixed names
    return f"{label}\n    {select}\n    WHERE {where} AND {_ALIKE.format(a='a', b='b')}"


_PAIRS_SQL = (
    """
WITH k AS MATERIALIZED (  -- narrow: the covering index dup_key_cover_idx answers it alone
    SELECT record_id, district_id, sex, birth_year, birth_md, birth_md / 100 AS m, birth_md %% 100 AS d,
           given_initial AS gi, family_initial AS fi, name
    FROM {table} WHERE province_id = %(province)s AND birth_year IS NOT NULL
),
pairs AS (
    """  # noqa: S608 - fixed names and parameters
    + "\n    UNION ALL\n    ".join(
        _pair_branch(block, with_district=with_district) for with_district in (True, False) for block in _DATE_BLOCKS
    )
    + """
)
SELECT a.record_id, a.given, a.family, a.birth_date, a.district_id,
       b.record_id, b.given, b.family, b.birth_date, b.district_id
FROM pairs p JOIN {table} a ON a.record_id = p.a_id JOIN {table} b ON b.record_id = p.b_id
"""
)


# How the finder's questions are planned (measured at 3,000,000 records, README "Benchmarks"): hash joins of the
# blocks, not merge joins that sort a province's keys once per block (PostgreSQL's estimates of the CTEs favour
# them); and no JIT compilation, which the questions' cost estimates call for and which costs more than it saves
# (seconds for a question answered in a few hundred milliseconds).
_PLANNER = {"enable_mergejoin": "off", "jit": "off"}


@contextmanager
def _planned() -> Iterator[Any]:
    """A cursor for one of the finder's questions with _PLANNER's settings, put back after it: set_config(...,
    is_local) in a transaction of its own (or a savepoint of the caller's), then the values found before."""
    names = list(_PLANNER)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), names)
        before = cursor.fetchone()
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names),
            [value for name in names for value in (name, _PLANNER[name])],
        )
        yield cursor
        # (On an error the transaction's or savepoint's rollback puts them back.)
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names),
            [value for name, old in zip(names, before, strict=True) for value in (name, old)],
        )


def find_pairs(province_id: int) -> list[Pair]:
    """The probable duplicates among one province's records (their keys as they stand), each pair once, without
    the pairs reviewers said are two children."""
    if connection.vendor != "postgresql":
        return []  # pg_trgm: PostgreSQL only (the embedded SQLite default finds none)
    params = {
        "province": province_id,
        "trigram": _setting("DUPLICATES_TRIGRAM_MIN", 0.5),
        "span": int(_setting("DUPLICATES_BIRTH_YEARS", 1)),
    }
    with _planned() as cursor:
        cursor.execute(_PAIRS_SQL.format(table=NameKey._meta.db_table), params)
        rows = cursor.fetchall()
    pairs: dict[tuple[int, int], Pair] = {}
    for row in rows:
        a, b = Side(*row[:5]), Side(*row[5:])
        scored = score_pair(a, b)
        if scored is None:
            continue
        low, high = sorted((a.record_id, b.record_id))
        pairs[(low, high)] = Pair(low, high, *scored)
    return _without_decided(pairs)


def _without_decided(pairs: dict[tuple[int, int], Pair]) -> list[Pair]:
    if not pairs:
        return []
    lows = sorted({low for low, _ in pairs})
    decided: set[tuple[int, int]] = set()
    for start in range(0, len(lows), KEY_BATCH):
        decided.update(
            NotSamePerson.objects.filter(record_a_id__in=lows[start : start + KEY_BATCH]).values_list(
                "record_a_id", "record_b_id"
            )
        )
    return [pair for key, pair in pairs.items() if key not in decided]


def _mark_identifier_kinds(pairs: list[Pair]) -> None:
    """Add "a G-code and a national ID" to the pairs that are (the case identity's merge is for)."""
    ids = {i for pair in pairs for i in (pair.record_a, pair.record_b)}
    kinds = dict(TargetRecord.objects.filter(pk__in=ids).values_list("pk", "identifier_kind")) if ids else {}
    for pair in pairs:
        if kinds.get(pair.record_a) != kinds.get(pair.record_b):
            pair.reasons.append("identifier_kinds_differ")


# --- the nightly run ----------------------------------------------------------------------------------------


def store(province_id: int, pairs: list[Pair], *, now: datetime.datetime) -> tuple[int, int]:
    """Make the province's open candidates what `pairs` says: new ones added, open ones updated, open ones not
    found any more deleted; decided ones (merged, not the same person) left as they are. (stored, removed)"""
    _mark_identifier_kinds(pairs)
    with transaction.atomic():
        for start in range(0, len(pairs), KEY_BATCH):
            DuplicateCandidate.objects.bulk_create(
                [
                    DuplicateCandidate(
                        record_a_id=p.record_a,
                        record_b_id=p.record_b,
                        province_id=province_id,
                        score=p.score,
                        reasons=p.reasons,
                        last_seen_at=now,
                    )
                    for p in pairs[start : start + KEY_BATCH]
                ],
                update_conflicts=True,
                unique_fields=["record_a", "record_b"],
                update_fields=["score", "reasons", "last_seen_at", "province"],
            )
        removed, _ = DuplicateCandidate.objects.filter(
            province_id=province_id, state=DuplicateCandidate.State.OPEN, last_seen_at__lt=now
        ).delete()
    return len(pairs), removed


def close_gone() -> int:
    """Open candidates one of whose records is gone (merged away by identity, or deleted): merged. Two index
    look-ups per open pair, whatever the number of records."""
    gone = DuplicateCandidate.objects.open().filter(
        ~Exists(TargetRecord.objects.filter(pk=OuterRef("record_a_id")))
        | ~Exists(TargetRecord.objects.filter(pk=OuterRef("record_b_id")))
    )
    return gone.update(state=DuplicateCandidate.State.MERGED, decided_at=timezone.now())


def provinces_with_keys() -> Iterator[int]:
    yield from NameKey.objects.order_by("province_id").values_list("province_id", flat=True).distinct()


def run(*, provinces: Iterable[int] | None = None, full: bool | None = None) -> dict[str, int]:
    """The nightly job: bring the keys up to date, then find and store each province's pairs (one province at a
    time in memory). Idempotent: a second run finds the same pairs and changes nothing but `last_seen_at`.

    The keys: each province's records changed after its newest key (an index range per province); every key,
    whatever `updated_at` says, when `full` or on DUPLICATES_FULL_REFRESH_WEEKDAY (Sunday: 6), so that a record
    changed by a plain UPDATE that left `updated_at` alone is caught within a week."""
    counts = {"keys": 0, "orphans": 0, "candidates": 0, "removed": 0, "closed": 0}
    if connection.vendor != "postgresql":
        return counts
    if full is None:
        full = timezone.localdate().weekday() == int(_setting("DUPLICATES_FULL_REFRESH_WEEKDAY", 6))
    if full:
        counts["keys"] = refresh_keys()
    else:
        for province_id in Province.objects.order_by("pk").values_list("pk", flat=True):
            counts["keys"] += refresh_province_keys(province_id)
    counts["orphans"] = drop_orphan_keys()
    if counts["keys"] or counts["orphans"]:
        vacuum_keys()
    # Before the provinces' runs, which would delete these pairs as not found any more.
    counts["closed"] = close_gone()
    for province_id in list(provinces if provinces is not None else provinces_with_keys()):
        now = timezone.now()
        stored, removed = store(province_id, find_pairs(province_id), now=now)
        counts["candidates"] += stored
        counts["removed"] += removed
    logger.info("probable duplicates: %s", counts)
    return counts


# --- the upload's dry run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRow:
    """A valid new row of an upload, as the dry run hands it over (targets/upload/hooks.py)."""

    row_number: int
    identifier_kind: str
    name_prefix: str
    first_name: str
    last_name: str
    sex: str
    birth_date: datetime.date | None
    district_id: int | None


# Each pass in three parts so that every join has equality keys to hash on: a row with a district against the
# keys of that district, and against the keys without one; a row without a district against the province's.
_ROWS_AREAS = (
    # (the rows, the keys, the area's test): each side read from the smallest set that holds it
    ("r", "k", "k.district_id = r.district_id"),  # both with a district (a null district equals nothing)
    ("r", "kn", "r.district_id IS NOT NULL"),  # a row with a district, keys without one
    ("rn", "k", "true"),  # a row without a district: the province's keys
)


def _rows_branch(block: tuple[str, str, str, bool], area: tuple[str, str, str]) -> str:
    """One block of the dry run's question: the new rows (r) against the keys (k), no pair counted twice."""
    _name, keys, further, _symmetric = block
    keys, further = (text.replace("b.", "k.").replace("a.", "r.") for text in (keys, further))
    rows, keyset, test = area
    return f"""SELECT r.row_number, k.record_id FROM {rows} r JOIN {keyset} k ON {keys} AND k.sex = r.sex AND {test}
WHERE {_ALIKE.format(a="r", b="k")} {further}"""  # noqa: S608 - fixed names


_ROWS_SEP = "\x1f"  # between the values of one column of the dry run's rows (warnings_for_rows)

_ROWS_SQL = (
    """
WITH r AS MATERIALIZED (
    SELECT u.*, u.birth_md / 100 AS m, u.birth_md %% 100 AS d
    FROM unnest(string_to_array(%(rows)s, ',')::int[], string_to_array(%(names)s, %(sep)s),
                string_to_array(%(gis)s, %(sep)s), string_to_array(%(fis)s, %(sep)s), string_to_array(%(sexes)s, ','),
                string_to_array(%(years)s, ',')::int[], string_to_array(%(mds)s, ',')::int[],
                string_to_array(%(districts)s, ',', '')::int[])
        AS u (row_number, name, gi, fi, sex, birth_year, birth_md, district_id)
),
-- The province's keys once (the covering index dup_key_cover_idx alone), hashed or sorted by each block below.
k AS MATERIALIZED (
    SELECT record_id, district_id, sex, birth_year, birth_md, birth_md / 100 AS m, birth_md %% 100 AS d,
           given_initial AS gi, family_initial AS fi, name
    FROM {table} WHERE province_id = %(province)s AND birth_year IS NOT NULL
),
rn AS MATERIALIZED (SELECT * FROM r WHERE district_id IS NULL),  -- rows without a district (few)
kn AS MATERIALIZED (SELECT * FROM k WHERE district_id IS NULL),  -- keys without one (few)
found AS (
"""  # noqa: S608 - fixed names and parameters
    + "\nUNION ALL\n".join(_rows_branch(block, area) for block in _DATE_BLOCKS for area in _ROWS_AREAS)
    + """
)
-- The records' names and dates compared by score_pair (the rows' own are in Python already), for those found only.
SELECT f.row_number, n.record_id, n.given, n.family, n.birth_date, n.district_id
FROM found f JOIN {table} n ON n.record_id = f.record_id
"""
)


def warnings_for_rows(province_id: int, rows: list[NewRow], *, raw_connection: Any = None) -> list[dict]:
    """The dry run's warnings for an upload's new rows: [{"row", "record", "province", "score", "reasons"}],
    the best existing record per row, one query for the chunk. Compared with the upload's province's records
    (the same area rule as the nightly run)."""
    if connection.vendor != "postgresql" or not rows:
        return []
    columns: dict[str, list] = {k: [] for k in ("rows", "names", "gis", "fis", "sexes", "years", "mds", "districts")}
    sides: dict[int, Side] = {}
    for row in rows:
        if row.birth_date is None:
            continue  # never paired (as in the nightly run)
        full, given, family = normalise_name(row.name_prefix, row.first_name, row.last_name)
        sides[row.row_number] = Side(row.row_number, given, family, row.birth_date, row.district_id)
        columns["rows"].append(row.row_number)
        columns["names"].append(full)
        columns["gis"].append(given[:1])
        columns["fis"].append(family[:1])
        columns["sexes"].append(row.sex or sex_from_prefix(row.name_prefix, row.first_name))
        columns["years"].append(row.birth_date.year)
        columns["mds"].append(row.birth_date.month * 100 + row.birth_date.day)
        columns["districts"].append(row.district_id)
    if not sides:
        return []
    # Each column goes as one delimited string, split by the database: psycopg2 adapts a list element by element,
    # in Python, holding the GIL (~0.2 s for a chunk of 10,000 rows, as long as the question itself, and taken from
    # the check running beside it); one string is escaped in C at once. Names are normalised (no control
    # characters are left in them); the unit separator is taken out all the same, so a name never splits.
    params: dict[str, Any] = {
        **{
            key: _ROWS_SEP.join(value.replace(_ROWS_SEP, "") for value in values)
            for key, values in columns.items()
            if key in ("names", "gis", "fis")
        },
        **{
            key: ",".join("" if value is None else str(value) for value in values)
            for key, values in columns.items()
            if key not in ("names", "gis", "fis")
        },
        "sep": _ROWS_SEP,
        "province": province_id,
        "trigram": _setting("DUPLICATES_TRIGRAM_MIN", 0.5),
        "span": int(_setting("DUPLICATES_BIRTH_YEARS", 1)),
    }
    sql = _ROWS_SQL.format(table=NameKey._meta.db_table)
    if raw_connection is not None:
        # From the dry run's helper thread (duplicates/upload.py): the request's or task's own psycopg2
        # connection, shared between threads as the upload's COPY thread shares it; one statement at a time.
        with raw_connection.cursor() as raw:
            raw.execute(sql, params)
            found = raw.fetchall()
    else:
        with _planned() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
    best: dict[int, dict] = {}
    for row in found:
        new, existing = sides[row[0]], Side(*row[1:])
        scored = score_pair(new, existing)
        if scored is None:
            continue
        score, reasons = scored
        if new.record_id not in best or score > best[new.record_id]["score"]:
            best[new.record_id] = {
                "row": new.record_id,
                "record": existing.record_id,
                "province": province_id,
                "score": score,
                "reasons": reasons,
            }
    return [best[n] for n in sorted(best)]
