"""The records list at millions of rows (issue 15, "Lists at scale"; README.md, "The records list at scale").

- Thai name search through pg_trgm: exactly the right records for whole names and 1-3 letter pieces (with
  vowels and tone marks), and the trigram index in the plan for a search of three letters or more.
- Identifier search: an indexed equality, with or without dashes, national ID or G-code.
- Counts capped (core/paginator.py): no unbounded COUNT in any list page's SQL, "more than" past the cap,
  pages that still work and a page number past the cap handled; the same in the case lists and admin.
- Sorts on indexed orders only, each read from an index within a province.
"""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

import core.paginator
from audit.models import AccessLog
from conftest import PROVINCE_A, PROVINCE_B
from core.paginator import CappedPaginator, capped_count
from core.thai_id import format_identifier
from targets.checks import thai_trigrams, trigrams_of
from targets.models import Category, Outcome, TargetRecord
from targets.views import RECORD_SORTS, _search_condition, record_order
from tests.builders import national_id

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm and plans are PostgreSQL's")

# First and last names with Thai vowels above and below, tone marks and the sara am; a Latin one for case.
NAMES = [
    ("สมศรี", "ใจดี"),
    ("น้ำผึ้ง", "ศรีสุข"),
    ("ปิ่นมณี", "วงศ์ไทย"),
    ("ปินตา", "มณีรัตน์"),  # ปิน without the tone mark: not ปิ่น
    ("สมชาย", "น้ำใจ"),
    ("ศรีนวล", "ผึ้งหลวง"),
    ("Somsri", "Jaidee"),
    ("มณี", ""),  # no family name
]


def _build(province: int = PROVINCE_A, names=NAMES, start: int = 9000) -> list[TargetRecord]:
    category, status = Category.objects.first(), Outcome.objects.first()
    return TargetRecord.objects.bulk_create(
        TargetRecord(identifier=national_id(start + i), identifier_kind="national_id", first_name=first,
                     last_name=last, province_id=province, category=category, status=status)
        for i, (first, last) in enumerate(names)
    )  # fmt: skip


def _searched(client, text: str, path: str = "/records/"):
    location = client.post(path, {"q": text})["Location"]
    return client.get(location)


def _found(client, text: str) -> set[tuple[str, str]]:
    response = _searched(client, text)
    assert response.status_code == 200
    return {(row["record"].first_name, row["record"].last_name) for row in response.context["rows"]}


def _expected(text: str) -> set[tuple[str, str]]:
    words = text.upper().split()
    return {(f, last) for f, last in NAMES if all(w in f.upper() or w in last.upper() for w in words)}


# --- Thai name search ----------------------------------------------------------------------------------


@postgres_only
def test_this_databases_ctype_keeps_thai_letters_vowels_and_tone_marks():
    # pg_trgm keeps "word" characters by LC_CTYPE: every Thai character of these names is one here,
    # marks included (n characters: n + 1 trigrams, with the padding), so the index holds Thai names.
    for name in ("สมศรี", "น้ำผึ้ง", "ปิ่นมณี"):
        assert len(trigrams_of(connection, name)) == len(name) + 1, name
    assert thai_trigrams(None, databases=["default"]) == []  # the system check is quiet


@pytest.mark.parametrize(
    "text",
    [
        "สมศรี", "น้ำผึ้ง", "ปิ่นมณี", "ศรี", "ผึ้ง", "ปิ่น", "ปิน", "มณี", "น้ำ", "วงศ์",  # whole names, 3+ characters
        "ณ", "ศ", "ี", "่", "มณ", "ิ่", "สม", "ึ้",  # 1-2 characters: few or no trigrams, still exact
        "สม ใจ", "มณี ปิ่น", "somsri", "JAI", "jAi dEE", "ไม่มี", "%", "_", "\\",  # two words, case, none, LIKE's
    ],
)  # fmt: skip
def test_thai_name_search_finds_exactly_the_records_holding_the_text(cast, client_for, text):
    _build()
    _build(PROVINCE_B, names=[("สมศรี", "นอกจังหวัด")], start=9500)  # another province's: never found
    found = _found(client_for(cast.coordinator_a), text)
    assert found == _expected(text)


@postgres_only
@pytest.mark.parametrize("who", ["coordinator_a", "eef_admin"])
def test_a_thai_search_of_three_letters_or_more_reads_the_trigram_index(cast, client_for, who):
    _build()
    _grow(3000)  # a province of thousands: its own condition narrows little, the name a lot
    client = client_for(cast[who])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE targets_targetrecord")
        # A GIN index's statistics come from its build or VACUUM (not possible in a test's transaction):
        # rows still in its pending list are not counted yet, and the planner would think it empty.
        cursor.execute("REINDEX INDEX target_record_first_name_trgm")
        cursor.execute("REINDEX INDEX target_record_last_name_trgm")
    for text in ("ศรี", "น้ำผึ้ง", "ปิ่นมณี", "มณี ปิ่น"):
        with CaptureQueriesContext(connection) as ctx:
            assert _searched(client, text).status_code == 200
        count_sql = next(q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"])
        page_sql = next(q["sql"] for q in ctx.captured_queries if "help_count" in q["sql"].lower())
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plans = []
            for sql in (count_sql, page_sql):
                cursor.execute("EXPLAIN " + sql)
                plans.append("\n".join(line for (line,) in cursor.fetchall()))
            cursor.execute("RESET enable_seqscan")
        for plan in plans:
            assert "target_record_first_name_trgm" in plan, plan
            assert "target_record_last_name_trgm" in plan, plan


@postgres_only
def test_the_trigram_indexes_serve_the_lookup_as_django_writes_it():
    condition, kind = _search_condition("สมศรี Jai")
    assert kind == "name"
    sql = str(TargetRecord.objects.filter(condition).query)
    # Thai has no case: a plain LIKE, no case-folding of every row; a Latin word: ILIKE. No UPPER().
    assert """"targets_targetrecord"."first_name"::text LIKE %สมศรี%""" in sql
    assert """"targets_targetrecord"."last_name"::text ILIKE %Jai%""" in sql
    assert "UPPER" not in sql
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'targets_targetrecord' AND indexname LIKE %s",
            ["%trgm"],
        )
        indexes = dict(cursor.fetchall())
    assert set(indexes) == {
        "target_record_first_name_trgm",
        "target_record_last_name_trgm",
        "target_record_school_trgm",
    }
    assert "USING gin (first_name gin_trgm_ops)" in indexes["target_record_first_name_trgm"]


@postgres_only
def test_the_school_filter_finds_exactly_its_records_from_the_trigram_index(cast, client_for):
    _grow(3000)  # a province of thousands: the school narrows it to a few
    schools = {
        "โรงเรียนบ้านหนองแสง": national_id(41001),
        "โรงเรียนบ้านหนองแสงวิทยา": national_id(41002),
        "Khon Kaen Wittayayon School": national_id(41003),
    }
    category, status = Category.objects.first(), Outcome.objects.first()
    for school, identifier in schools.items():
        TargetRecord.objects.create(
            identifier=identifier, identifier_kind="national_id", first_name="นักเรียน", last_name="ทดสอบ",
            province_id=PROVINCE_A, category=category, status=status, school=school,
        )  # fmt: skip
    client = client_for(cast.coordinator_a)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE targets_targetrecord")
        cursor.execute("REINDEX INDEX target_record_school_trgm")  # its statistics (see the name search's test)
    for text, expected in (("หนองแสง", 2), ("หนองแสงวิทยา", 1), ("wittayayon", 1), ("ไม่มีโรงเรียนนี้", 0)):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/records/", {"school": text})
        assert response.status_code == 200
        found = {row["record"].school for row in response.context["rows"]}
        assert len(found) == expected, (text, found)
        assert all(text.lower() in school.lower() for school in found)
        count_sql = next(q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"] and "school" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + count_sql)
            plan = "\n".join(line for (line,) in cursor.fetchall())
            cursor.execute("RESET enable_seqscan")
        assert "target_record_school_trgm" in plan, plan


# --- identifier search stays exact ------------------------------------------------------------------------


def test_identifier_search_is_exact_with_or_without_dashes(cast, client_for):
    records = _build()
    g_code = TargetRecord.objects.create(identifier="G123456789012", identifier_kind="g_code", first_name="จี",
                                         province_id=PROVINCE_A, category=records[0].category,
                                         status=records[0].status)  # fmt: skip
    client = client_for(cast.coordinator_a)
    wanted = records[3]
    for text in (wanted.identifier, format_identifier(wanted.identifier)):
        rows = _searched(client, text).context["rows"]
        assert [row["record"].pk for row in rows] == [wanted.pk]
    assert [r["record"].pk for r in _searched(client, "g123456789012").context["rows"]] == [g_code.pk]
    # A piece of an ID is no search for a part of it: nothing.
    assert _searched(client, wanted.identifier[:6]).context["rows"] == []


@postgres_only
def test_identifier_search_is_an_index_lookup():
    condition, kind = _search_condition("1-0000-00090-00-0")
    assert kind == "identifier"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = TargetRecord.objects.filter(condition).explain()
        cursor.execute("RESET enable_seqscan")
    assert "target_record_identifier_unique" in plan
    assert "LIKE" not in str(TargetRecord.objects.filter(condition).query)


# --- capped counts --------------------------------------------------------------------------------------------


def _grow(size: int, province: int = PROVINCE_A, start: int = 20000) -> None:
    category, status = Category.objects.first(), Outcome.objects.first()
    TargetRecord.objects.bulk_create(
        TargetRecord(identifier=national_id(start + i), identifier_kind="national_id", first_name=f"เด็ก{i:04d}",
                     last_name="สกุล", province_id=province, category=category, status=status)
        for i in range(size)
    )  # fmt: skip


RECORDS_TABLE = "targets_targetrecord"
BIG_TABLES = (RECORDS_TABLE, "audit_")


def _no_unbounded_count(queries) -> list[str]:
    """The queries that count rows of the big tables: each must count a LIMIT subquery. (The page's help
    counts are correlated subqueries of its 50 rows; the unread-notifications badge counts one user's.)"""
    counts = [q["sql"] for q in queries
              if q["sql"].upper().startswith("SELECT COUNT(") and any(t in q["sql"] for t in BIG_TABLES)]  # fmt: skip
    for sql in counts:
        assert re.search(r"COUNT\(\*\) FROM \(SELECT .* LIMIT \d+\) subquery", sql, re.S | re.I), sql
    return counts


def test_capped_count_counts_up_to_the_cap_plus_one():
    _grow(30)
    records = TargetRecord.objects.all()
    assert capped_count(records, 100) == 30
    assert capped_count(records, 10) == 11
    with CaptureQueriesContext(connection) as ctx:
        capped_count(records.select_related("province").order_by("last_name"), 10)
    assert "LIMIT 11" in ctx.captured_queries[0]["sql"]
    assert "JOIN" not in ctx.captured_queries[0]["sql"]
    assert "ORDER BY" not in ctx.captured_queries[0]["sql"]


def test_under_the_cap_the_list_counts_exactly(cast, client_for):
    _grow(120)
    with CaptureQueriesContext(connection) as ctx:
        response = client_for(cast.coordinator_a).get("/records/")
    assert len(_no_unbounded_count(ctx.captured_queries)) == 1
    assert response.context["page"].paginator.count == 120
    assert "120 ราย" in response.content.decode()


def test_past_the_cap_the_list_says_more_than_and_pages_within_it(cast, client_for, monkeypatch):
    monkeypatch.setattr(core.paginator, "LIST_COUNT_CAP", 100)
    _grow(260)
    client = client_for(cast.coordinator_a)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/records/")
    _no_unbounded_count(ctx.captured_queries)
    html = response.content.decode()
    assert "มากกว่า 100 ราย" in html
    page = response.context["page"]
    assert page.paginator.capped
    assert page.paginator.num_pages == 2
    assert page.has_next()
    second = client.get("/records/", {"page": 2})
    assert second.context["page"].number == 2
    assert not second.context["page"].has_next()
    assert second.context["page"].has_previous()
    first_names = [r["record"].first_name for r in response.context["rows"]]
    second_names = [r["record"].first_name for r in second.context["rows"]]
    assert len(second_names) == 50
    assert not set(first_names) & set(second_names)
    assert 'data-testid="list-capped"' in second.content.decode()
    # A page number past the cap is the last page within it, not an error and not a deep OFFSET.
    with CaptureQueriesContext(connection) as ctx:
        deep = client.get("/records/", {"page": 5000})
    assert deep.status_code == 200
    assert deep.context["page"].number == 2
    assert not any(re.search(r"OFFSET (\d+)", q["sql"]) and int(re.search(r"OFFSET (\d+)", q["sql"])[1]) > 100
                   for q in ctx.captured_queries)  # fmt: skip


@postgres_only
def test_a_national_list_past_the_cap_shows_the_planners_estimate(cast, client_for, monkeypatch):
    monkeypatch.setattr(core.paginator, "LIST_COUNT_CAP", 100)
    _grow(150)
    _grow(150, province=PROVINCE_B, start=30000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE targets_targetrecord")
    html = client_for(cast.eef_admin).get("/records/").content.decode()
    assert "มากกว่า 100 ราย (ประมาณ 300)" in html
    # Filtered, the estimate would be a guess: only "more than".
    html = client_for(cast.eef_admin).get("/records/", {"province": PROVINCE_A}).content.decode()
    assert "มากกว่า 100 ราย" in html
    assert "ประมาณ" not in html


def test_a_searched_list_past_the_cap_counts_only_to_the_cap(cast, client_for, monkeypatch):
    monkeypatch.setattr(core.paginator, "LIST_COUNT_CAP", 100)
    _grow(150)
    client = client_for(cast.coordinator_a)
    location = client.post("/records/", {"q": "เด็ก"})["Location"]
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(location)
    _no_unbounded_count(ctx.captured_queries)
    assert response.context["page"].paginator.capped


@pytest.mark.parametrize("path", ["/cases/assign/", "/cases/unassigned/"])
def test_the_case_lists_count_up_to_the_cap(cast, client_for, monkeypatch, path):
    monkeypatch.setattr(core.paginator, "LIST_COUNT_CAP", 100)
    _grow(130)
    client = client_for(cast.coordinator_a)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    assert len(_no_unbounded_count(ctx.captured_queries)) == 1
    assert "มากกว่า 100 ราย" in response.content.decode()
    assert client.get(path, {"page": 99}).context["page"].number == 2


def _event_admin_urls() -> list[str]:
    import pghistory.models

    models = [m for m in admin.site._registry if issubclass(m, pghistory.models.Event) and m._meta.app_label == "audit"]
    return [f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in models]


def test_the_big_admin_changelists_have_capped_paginators():
    from django.apps import apps

    for label in ("targets.TargetRecord", "audit.AccessLog"):
        model_admin = admin.site._registry[apps.get_model(label)]
        assert model_admin.paginator is CappedPaginator
        assert model_admin.show_full_result_count is False
    events = [m for m in admin.site._registry if m._meta.app_label == "audit" and m._meta.model_name.endswith("event")]
    assert events
    for model in events:
        assert admin.site._registry[model].paginator is CappedPaginator
    pghistory_events = next(a for m, a in admin.site._registry.items() if m._meta.model_name == "middlewareevents")
    assert pghistory_events.paginator is CappedPaginator


@pytest.mark.parametrize("path", ["/admin/targets/targetrecord/", "/admin/audit/accesslog/", "events"])
def test_admin_changelists_count_up_to_the_cap(cast, client_for, monkeypatch, path):
    monkeypatch.setattr(core.paginator, "LIST_COUNT_CAP", 100)
    _grow(130)
    client = client_for(cast.eef_admin)
    for _ in range(3):
        client.get("/records/")  # access-log rows
    AccessLog.objects.bulk_create(AccessLog(actor="x@example.org", action=AccessLog.Action.VIEW, path="/")
                                  for _ in range(130))  # fmt: skip
    if path == "events":
        if connection.vendor != "postgresql":
            pytest.skip("the audit trail is PostgreSQL's (triggers)")
        path = next(u for u in _event_admin_urls() if "targetrecord" in u)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, path
    assert len(_no_unbounded_count(ctx.captured_queries)) >= 1
    html = response.content.decode()
    assert "มากกว่า 100" in html or "More than 100" in html
    assert client.get(path, {"p": 99}).status_code in (200, 302)  # admin: ?e=1 for a page past the end


def test_admin_record_list_sorts_only_within_a_province(cast, client_for):
    _grow(5)
    client = client_for(cast.eef_admin)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/admin/targets/targetrecord/", {"o": "-6"})  # updated_at, nationally: not honoured
    listed = next(q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"] and RECORDS_TABLE in q["sql"])
    assert re.search(r'ORDER BY "targets_targetrecord"."province_id" ASC, "targets_targetrecord"."last_name"', listed)
    html = client.get("/admin/targets/targetrecord/").content.decode()
    assert "sortable" not in html.split("<thead>")[1].split("</thead>")[0]
    with CaptureQueriesContext(connection) as ctx:
        client.get("/admin/targets/targetrecord/", {"o": "-6", "province": PROVINCE_A})
    listed = next(q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"] and RECORDS_TABLE in q["sql"])
    assert 'ORDER BY "targets_targetrecord"."updated_at" DESC' in listed


# --- sorts on indexes ----------------------------------------------------------------------------------------


@postgres_only
@pytest.mark.parametrize("sort", [*RECORD_SORTS, *(f"-{key}" for key in RECORD_SORTS), ""])
def test_every_sort_of_a_province_is_read_from_an_index(sort):
    _grow(50)
    _sort, order = record_order(sort)
    records = TargetRecord.objects.filter(province_id=PROVINCE_A).order_by(*order)[:50]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE targets_targetrecord")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = records.explain()
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_sort")
    # No full sort: the rows come in order from an index (ties on pk at most sorted in small groups).
    assert not re.search(r"^\s*(->\s*)?Sort  \(", plan, re.M), plan
    assert "Index" in plan, plan


@pytest.mark.parametrize("sort", list(RECORD_SORTS))
def test_a_sort_and_its_reverse_are_mirror_images(cast, client_for, sort):
    _build()
    client = client_for(cast.coordinator_a)

    def pks(value: str) -> list[int]:
        return [row["record"].pk for row in client.get("/records/", {"sort": value}).context["rows"]]

    assert pks(f"-{sort}") == pks(sort)[::-1]


@pytest.mark.parametrize("sort", ["", "age", "-name", "-updated"])
def test_a_later_page_joins_only_its_own_rows_and_keeps_the_order(cast, client_for, sort):
    _grow(130)
    client = client_for(cast.coordinator_a)
    _sort, order = record_order(sort)
    expected = list(TargetRecord.objects.filter(province_id=PROVINCE_A).order_by(*order).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/records/", {"page": 2, "sort": sort})
    assert [row["record"].pk for row in response.context["rows"]] == expected[50:100]
    listed = next(q["sql"] for q in ctx.captured_queries if "help_count" in q["sql"].lower())
    # The OFFSET is in the subquery of keys; the joins and the help counts are the page's 50 rows only.
    assert re.search(r'"targets_targetrecord"\."id" IN \(SELECT .* LIMIT 50 OFFSET 50\)', listed), listed


def test_admin_offers_no_facet_counts_over_the_big_tables():
    from django.apps import apps

    for label in ("targets.TargetRecord", "audit.AccessLog"):
        assert admin.site._registry[apps.get_model(label)].show_facets is admin.ShowFacets.NEVER
