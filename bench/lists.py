"""The records list at national scale (PostgreSQL): `python -m bench lists`, or `python -m bench --keep lists`.

Builds BENCH_LISTS_RECORDS records (default 3,000,000) over the 77 provinces in SQL (generate_series; the
list's indexes dropped during the load and built again after it, as a restore would; the audit triggers
off for the generation only, as bench/cases.py does), with Thai names made of common syllables (so that
a name search finds a realistic few thousand), districts, birth dates (one in twenty unknown), a help row
for one record in ten. Then it times pages of the records list through the Django test client, as an
EEF admin (national) and as a coordinator (one province): the median of 5 and the slowest, in ms, and
the page's queries. "before" is the same page as it was before issue 15: a full COUNT (the cap lifted)
and, for a name search, no trigram index (dropped inside a transaction that is rolled back).

--keep: the scratch database (<name>_bench) is kept after the run and reused by the next one, so that
the records are built once (minutes on 2 shared cores); drop it with `dropdb <name>_bench`.
"""

import os
import statistics
import time
from collections.abc import Callable
from functools import partial

from django.db import connection, transaction
from django.db.models import QuerySet
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from bench.sql import rows as _rows
from bench.sql import sql as _sql
from bench.sql import step as _step

RECORDS = int(os.environ.get("BENCH_LISTS_RECORDS", "3000000"))
RUNS = 5
PROVINCE = 40  # ขอนแก่น: the coordinator's
DOMAIN = "bench-lists.abe-portal.local"
# Common syllables of Thai given and family names: a first name is two of them, a family name three.
# fmt: off
SYLLABLES = [
    "สม", "ศรี", "ปิ่น", "มณี", "น้ำ", "ผึ้ง", "ใจ", "ดี", "สุข", "วงศ์", "ไทย", "ทอง", "คำ", "แก้ว",
    "บุญ", "มา", "ชัย", "พร", "รัตน์", "นวล", "จันทร์", "เพ็ญ", "ประ", "เสริฐ", "วิ", "ไล", "กมล", "ธร",
    "นิ", "ภา", "อร", "อุ", "ศักดิ์", "สิทธิ์", "กิตติ", "พงษ์", "ณัฐ", "ธิดา", "สุ", "ภัทร",
]
# fmt: on
NAME_SEARCH = "ปิ่นมณี"  # a given name: one of 1,600 pairs of syllables
SHORT_SEARCH = "มณ"  # two letters: no trigram to look up


def _build() -> None:
    syllables = "ARRAY[" + ",".join(f"'{s}'" for s in SYLLABLES) + "]"
    n_syl = len(SYLLABLES)
    # The table's own indexes, but for its primary key and constraints: dropped for the load, built after.
    indexes = _rows(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.tablename = 'targets_targetrecord'
             AND i.indexname NOT IN (SELECT conname FROM pg_constraint)"""
    )
    _sql("TRUNCATE targets_targetrecord CASCADE")
    for name, _definition in indexes:
        _sql(f"DROP INDEX {name}")
    _sql("SET session_replication_role = replica")
    _sql("SET maintenance_work_mem = '512MB'")
    try:
        _step(
            "records",
            f"""
            WITH syl AS (SELECT {syllables} AS s),
            prov AS (SELECT array_agg(code ORDER BY code) AS codes FROM provinces_province),
            dist AS (SELECT province_id AS p, array_agg(code ORDER BY code) AS ids FROM provinces_district
                     GROUP BY province_id),
            cat AS (SELECT array_agg(id ORDER BY id) AS ids FROM targets_category),
            st AS (SELECT array_agg(id ORDER BY id) AS ids FROM targets_outcome),
            made AS (SELECT n, prov.codes[1 + n %% array_length(prov.codes, 1)] AS p,
                            abs(hashint8(n)) AS h1, abs(hashint8(-n)) AS h2
                     FROM generate_series(1, %s) n, prov)
            INSERT INTO targets_targetrecord (version, identifier, identifier_kind, name_prefix, first_name,
                last_name, sex, birth_date, province_id, district_id, sub_district_id, category_id, status_id,
                education_status, last_grade, school, guardian_name, phone, consent, notes, created_at,
                updated_at, is_demo, case_worker_id, case_assigned_at)
            SELECT 1, lpad((5000000000000 + n)::text, 13, '0'), 'national_id', '',
                   syl.s[1 + h1 %% {n_syl}] || syl.s[1 + (h1 / {n_syl}) %% {n_syl}],
                   syl.s[1 + h2 %% {n_syl}] || syl.s[1 + (h2 / {n_syl}) %% {n_syl}]
                       || syl.s[1 + (h2 / {n_syl * n_syl}) %% {n_syl}],
                   CASE WHEN n %% 2 = 0 THEN 'M' ELSE 'F' END,
                   CASE WHEN n %% 20 = 0 THEN NULL ELSE date '2002-01-01' + ((h1 / 7) %% 8000)::int END,
                   made.p, dist.ids[1 + (h1 / 11) %% array_length(dist.ids, 1)], NULL,
                   cat.ids[1 + (h2 / 13) %% array_length(cat.ids, 1)],
                   st.ids[1 + (h2 / 17) %% array_length(st.ids, 1)], '', '', '', '', '', true, '',
                   now() - ((h1 / 19) %% 1500 || ' days')::interval, now() - ((h2 / 23) %% 700 || ' days')::interval,
                   false, NULL, NULL
            FROM made JOIN dist ON dist.p = made.p, syl, cat, st
            """,  # noqa: S608 - numbers and the constant syllables only
            [RECORDS],
        )
        kind = _rows("SELECT id FROM targets_assistancetype ORDER BY id LIMIT 1")[0][0]
        _step(
            "help given (one record in ten)",
            """
            INSERT INTO targets_assistance (record_id, type_id, date, given_by, outcome, recorded_by_id, created_at)
            SELECT id, %s, date '2024-01-01' + (id %% 500)::int, 'อบต.', '', NULL, now()
            FROM targets_targetrecord WHERE id %% 10 = 0
            """,
            [kind],
        )
        for name, definition in indexes:
            _step(f"index {name}", definition)
    finally:
        _sql("SET session_replication_role = DEFAULT")
    for table in ("targets_targetrecord", "targets_assistance"):
        _sql(f"VACUUM ANALYZE {table}")


def _users():
    from accounts.models import Membership, Role, User

    def user(email: str, role: str, province: int | None, staff: bool = False) -> User:
        found, _created = User.objects.get_or_create(email=email, defaults={"is_staff": staff})
        if province is None:
            Membership.objects.get_or_create(user=found, role=role, province=None)
        else:
            Membership.objects.get_or_create(user=found, role=role, province_id=province)
        return found

    return (user(f"eef@{DOMAIN}", Role.EEF_ADMIN, None, staff=True),
            user(f"coord@{DOMAIN}", Role.PROVINCE_COORDINATOR, PROVINCE, staff=True))  # fmt: skip


def _time(client: Client, url: str, runs: int = RUNS) -> tuple[float, float, int]:
    """(median ms, slowest ms, queries) of GET url."""
    times, queries = [], 0
    client.get(url)  # warm: the session, the scope, the plan cache
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(ctx.captured_queries)
    return statistics.median(times) * 1000, max(times) * 1000, queries


def _search_url(client: Client, text: str, query: str = "") -> str:
    return client.post(f"/records/?{query}" if query else "/records/", {"q": text})["Location"]


def _before(measure: Callable[[], tuple[float, float, int]], *, drop_trigrams: bool = False):
    """The same measure as before issue 15: a full COUNT (the cap lifted) and, if asked, no trigram index
    (dropped in a transaction rolled back after)."""
    import core.paginator

    cap = core.paginator.LIST_COUNT_CAP
    core.paginator.LIST_COUNT_CAP = 10**12  # COUNT over a LIMIT no list reaches: a full count
    try:
        with transaction.atomic():
            if drop_trigrams:
                _sql("DROP INDEX target_record_first_name_trgm, target_record_last_name_trgm")
            result = measure()
            transaction.set_rollback(True)
    finally:
        core.paginator.LIST_COUNT_CAP = cap
    return result


def _first_page(records: QuerySet, order: str) -> list:
    return list(records.order_by(order, "pk")[:50])


def _orm(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def run() -> None:
    from provinces.reference_data import load_admin_areas
    from targets.models import TargetRecord
    from targets.reference_data import load_target_reference_data

    if connection.vendor != "postgresql":
        print("skipped: the lists benchmark needs PostgreSQL")
        return
    connection.autocommit = True
    load_admin_areas()
    load_target_reference_data()
    have = TargetRecord.objects.count()
    if have == RECORDS:
        print(f"{have:,} records kept from an earlier run (--keep)")
    else:
        print(f"building {RECORDS:,} records over 77 provinces:")
        started = time.perf_counter()
        _build()
        print(f"built in {time.perf_counter() - started:.0f} s")
    eef, coordinator = _users()
    sample = TargetRecord.objects.filter(province_id=PROVINCE).order_by("pk").values_list("identifier", flat=True)[7]
    found = TargetRecord.objects.filter(first_name__contains=NAME_SEARCH).count()
    print(f"a name search for {NAME_SEARCH} matches {found:,} records nationally")
    from targets.models import Category, Outcome

    filtered = f"category={Category.objects.order_by('pk')[1].pk}&status={Outcome.objects.order_by('pk')[0].pk}"

    with override_settings(ALLOWED_HOSTS=["*"], ABE_REQUIRE_MFA=False, DEBUG=False):
        clients = {"EEF admin": Client(), "coordinator": Client()}
        clients["EEF admin"].force_login(eef)
        clients["coordinator"].force_login(coordinator)
        pages: list[tuple[str, str, Callable[[Client], str], bool]] = [
            # (what, who, url maker, compare with "before": full count / no trigram index)
            ("list, national", "EEF admin", lambda c: "/records/", True),
            ("list, one province", "EEF admin", lambda c: f"/records/?province={PROVINCE}", True),
            ("list", "coordinator", lambda c: "/records/", True),
            ("list, filtered (category, status)", "coordinator", lambda c: f"/records/?{filtered}", True),
            (f"name search {NAME_SEARCH}", "EEF admin", lambda c: _search_url(c, NAME_SEARCH), True),
            (f"name search {NAME_SEARCH}", "coordinator", lambda c: _search_url(c, NAME_SEARCH), True),
            (f"name search {SHORT_SEARCH} (2 letters)", "EEF admin", lambda c: _search_url(c, SHORT_SEARCH), True),
            (f"name search {SHORT_SEARCH} (2 letters)", "coordinator", lambda c: _search_url(c, SHORT_SEARCH), True),
            ("identifier search (dashed)", "EEF admin",
             lambda c: _search_url(c, f"{sample[0]}-{sample[1:5]}-{sample[5:10]}-{sample[10:12]}-{sample[12]}"), False),
            ("identifier search", "coordinator", lambda c: _search_url(c, sample), False),
            ("sort by age", "coordinator", lambda c: "/records/?sort=age", False),
            ("sort by name, reversed", "coordinator", lambda c: "/records/?sort=-name", False),
            ("sort by updated", "EEF admin", lambda c: "/records/?sort=updated", False),
            ("sort by age", "EEF admin", lambda c: "/records/?sort=-age", False),
            ("deep page (200, the last within the cap)", "EEF admin", lambda c: "/records/?page=200", False),
            ("deep page (200) sorted by age", "coordinator", lambda c: "/records/?sort=age&page=200", False),
            ("unassigned records (/cases/unassigned/)", "coordinator", lambda c: "/cases/unassigned/", True),
            ("admin changelist of records", "EEF admin", lambda c: "/admin/targets/targetrecord/", True),
        ]  # fmt: skip
        print(f"\n{'page':<46} {'who':<12} {'median ms':>9} {'max ms':>7} {'queries':>7}   before (full COUNT"
              ", no trigram index)")  # fmt: skip
        slowest = 0.0
        for what, who, make_url, compare in pages:
            client = clients[who]
            url = make_url(client)
            ms, worst, queries = _time(client, url)
            slowest = max(slowest, worst)
            line = f"{what:<46} {who:<12} {ms:9.1f} {worst:7.1f} {queries:7d}"
            if compare:
                before_ms, _worst, _q = _before(partial(_time, client, url, runs=3), drop_trigrams="search" in what)
                line += f"   {before_ms:9.1f} ms"
            print(line, flush=True)
        # A deep page before: offsets were not capped (page 30,000 nationally = OFFSET 1,499,950).
        deep = _before(lambda: _time(clients["EEF admin"], "/records/?page=30000", runs=1))
        print(f"{'before: deep page 30,000 (OFFSET 1,499,950)':<46} {'EEF admin':<12} {deep[0]:9.1f}")
        # The sorts dropped (no index gives their order): what they cost as queries of the page's rows.
        records = TargetRecord.objects.select_related("province", "district", "category", "status")
        for label, order in (("status", "status__sort_order"), ("district", "district__name_th")):
            national = _orm(partial(_first_page, records, order))
            one = _orm(partial(_first_page, records.filter(province_id=PROVINCE), order))
            print(f"dropped sort by {label} (its query alone): national {national:.0f} ms, one province {one:.0f} ms")
    print(f"\nslowest single page load above: {slowest:.0f} ms (goal: p95 <= 300 ms at 3,000,000 records)")
