"""The partner API over 100,000 generated target-group records (PostgreSQL for figures worth quoting).

Prints, for a partner key of one province:
- the queries of a page of 100 records, on the first page and on a deep one (half-way);
- the DRF list endpoint (/api/v1/records/) against a plain values() + JsonResponse view of the same
  page, side by side in one run (requests alternate; median of N each, full middleware for both),
  and their ratio;
- 1,000 records read and serialised by a DRF ModelSerializer and by the API's values() rows;
- the changes feed walked from the start to the end, in pages of 100 and of 1,000: records/s.

Records are generated in SQL (generate_series) in province 40 with the audit triggers off for the
generation only (session_replication_role, as bench/summaries.py does); every 10,000 share one
updated_at, as an upload's do. Set BENCH_API_RECORDS for another size.
"""

import datetime
import os
import statistics
import time
from typing import Any

from django.db import connection
from django.http import JsonResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

RECORDS = int(os.environ.get("BENCH_API_RECORDS", "100000"))
PROVINCE = 40
RUNS = int(os.environ.get("BENCH_API_RUNS", "200"))


def plain_records(request):
    """The baseline: the same page of the same records as the API's first page, values() and JsonResponse."""
    from api.views.records import COLUMNS
    from targets.models import TargetRecord

    rows = list(TargetRecord.objects.filter(province_id=PROVINCE).order_by("updated_at", "id").values(*COLUMNS)[:100])
    return JsonResponse({"results": rows, "next": None})


# The bench's URLconf: the API as deployed, and the plain view beside it.
urlpatterns = [
    path("plain/records/", plain_records),
    path("api/", include("api.urls")),
]


def _generate(total: int) -> int:
    """At least `total` records in PROVINCE (a suite run before may have made some); their number."""
    from targets.models import TargetRecord

    have = TargetRecord.objects.filter(province_id=PROVINCE).count()
    if have >= total:
        return have
    if connection.vendor != "postgresql":
        from django.utils import timezone

        from tests.api_support import make_records

        a_day_ago = timezone.now() - datetime.timedelta(days=1)
        for start in range(have, total, 5000):
            make_records(PROVINCE, min(5000, total - start), start=start, updated_at=a_day_ago)
        return total
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            """
            INSERT INTO targets_targetrecord (identifier, identifier_kind, name_prefix, first_name, last_name, sex,
                birth_date, province_id, district_id, sub_district_id, category_id, status_id, education_status,
                last_grade, school, guardian_name, phone, consent, notes, created_at, updated_at, is_demo)
            SELECT lpad((4000000000000 + n)::text, 13, '0'), 'national_id', 'ด.ช.', 'ชื่อ' || n, 'สกุลทดสอบ', 'M',
                   date '2010-01-01' + (n %% 3000), %s, NULL, NULL, c.ids[1 + n %% array_length(c.ids, 1)],
                   s.ids[1 + n %% array_length(s.ids, 1)], 'out_of_school', 'ม.1', 'โรงเรียนบ้านทดสอบ', 'ผู้ปกครอง',
                   '0812345678', true, '', now() - interval '2 days',
                   now() - interval '1 day' + ((n / 10000) || ' seconds')::interval, true
            FROM generate_series(%s, %s) AS n,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_category) c,
                 (SELECT array_agg(id ORDER BY id) AS ids FROM targets_outcome) s
            """,
            [PROVINCE, have + 1, total],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    connection.cursor().execute("VACUUM ANALYZE targets_targetrecord")
    return total


def _queries(client: Client, url: str) -> tuple[int, float]:
    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries), elapsed


def _walk(client: Client, size: int) -> tuple[int, float, int]:
    url, seen, pages = f"/api/v1/records/changes/?page_size={size}", 0, 0
    started = time.perf_counter()
    while True:
        body = client.get(url).json()
        seen += len(body["results"])
        pages += 1
        url = body["next"]
        if not body["has_more"]:
            return seen, time.perf_counter() - started, pages


def _serialisers() -> tuple[float, float]:
    """ms to read and serialise 1,000 records to JSON: a DRF ModelSerializer over model instances
    against the API's values() rows (api.views.records.record_row); medians of 5."""
    import json

    from rest_framework import serializers

    from api.views.records import COLUMNS, record_row
    from targets.models import TargetRecord

    class ModelRecordSerializer(serializers.ModelSerializer):
        category: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(slug_field="code", read_only=True)
        status: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(slug_field="code", read_only=True)

        class Meta:
            model = TargetRecord
            exclude = ["updated_by", "is_demo"]

    queryset = TargetRecord.objects.filter(province_id=PROVINCE).order_by("updated_at", "id")

    def model_serializer() -> None:
        records = list(queryset.select_related("category", "status")[:1000])
        json.dumps(ModelRecordSerializer(records, many=True).data, ensure_ascii=False)

    def rows() -> None:
        json.dumps([record_row(row, False) for row in queryset.values_list(*COLUMNS)[:1000]], ensure_ascii=False)

    def median(fn) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    return median(model_serializer), median(rows)


def run() -> None:
    from portal.demo.provinces import load_demo_assignments
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data
    from tests.api_support import make_key
    from universities.reference_data import load_universities

    load_admin_areas()
    load_universities()
    load_target_reference_data()
    load_demo_assignments()
    started = time.perf_counter()
    connection.autocommit = True  # VACUUM cannot run inside a transaction
    count = _generate(RECORDS)
    print(f"{count:,} records of province {PROVINCE} ready in {time.perf_counter() - started:.1f} s")
    _key, secret = make_key(provinces=[PROVINCE], name="bench")
    rates = {"partner_key": "1000000/minute", "portal_user": "1000000/minute"}
    from django.conf import settings

    with override_settings(
        ROOT_URLCONF="bench.api",
        ALLOWED_HOSTS=["*"],
        DEBUG=False,
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates},
    ):
        client = Client(HTTP_AUTHORIZATION=f"Api-Key {secret}")
        plain = Client()
        first = "/api/v1/records/?page_size=100"
        client.get(first)  # warm-up: connections, caches (the access log's content type)
        plain.get("/plain/records/")
        # A deep page: the cursor of the 50,000th record.
        deep_url = "/api/v1/records/?page_size=1000&updated_since=1970-01-01T00:00:00%2B00:00"
        for _ in range(count // 2000):
            deep_url = client.get(deep_url).json()["next"]
        deep_url = deep_url.replace("page_size=1000", "page_size=100")
        first_queries, _t = _queries(client, first)
        deep_queries, _t = _queries(client, deep_url)
        first_times, deep_times, api_times, plain_times = [], [], [], []
        for _ in range(RUNS):
            first_times.append(_queries(client, first)[1])
            deep_times.append(_queries(client, deep_url)[1])
            started = time.perf_counter()
            plain.get("/plain/records/")
            plain_times.append(time.perf_counter() - started)
        api_times = first_times
        api_ms, plain_ms = statistics.median(api_times) * 1000, statistics.median(plain_times) * 1000
        print(
            f"page of 100 records: {first_queries} queries on the first page, {deep_queries} on a deep page "
            f"(record {count // 2:,}); median {api_ms:.2f} ms first, "
            f"{statistics.median(deep_times) * 1000:.2f} ms deep (of {RUNS})"
        )
        print(
            f"DRF list endpoint: {1000 / api_ms:,.0f} pages/s ({api_ms:.2f} ms); plain values()+JsonResponse: "
            f"{1000 / plain_ms:,.0f} pages/s ({plain_ms:.2f} ms); the API serves at {plain_ms / api_ms:.0%} "
            "of the plain view's rate"
        )
        model_ms, rows_ms = _serialisers()
        print(f"1,000 records read and serialised: ModelSerializer {model_ms:.0f} ms, values() rows {rows_ms:.0f} ms")
        for size in (100, 1000):
            seen, elapsed, pages = _walk(client, size)
            print(
                f"changes feed, pages of {size:>5,}: {seen:,} records in {pages:,} pages, {elapsed:.1f} s, "
                f"{seen / elapsed:,.0f} records/s"
            )
