"""Two provinces' applies at once: per-province locks (targets/upload/pipeline.py, apply_in_turn).

Two 100,000-row csv files of new records, one for ขอนแก่น (40), one for พะเยา (56), different
identifiers. Each is applied alone (on an empty table), then both are started together, each in a
process of its own as two Celery workers would run them (one process would share one GIL between
them). Printed: each apply's time alone and together, the wall time of the pair, and its ratio to
one alone (the goal is < 1.5x; printed, not asserted); then the pair again with every apply taking the
national lock exclusively, as before locks went by province, for comparison on the same machine. Set
BENCH_UPLOAD_ROWS for another size.
"""

import csv
import multiprocessing
import os
import random
import statistics
import time
from pathlib import Path

ROWS = int(os.environ.get("BENCH_UPLOAD_ROWS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PROVINCES = (40, 56)  # ขอนแก่น, พะเยา
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/abe-bench"))  # noqa: S108 - generated files, reused
HEADER = ["เลขประจำตัวประชาชน", "คำนำหน้า", "ชื่อ", "นามสกุล", "เพศ", "วันเกิด", "อำเภอ", "ตำบล", "กลุ่มเป้าหมาย", "สถานะ"]
FIRST = ["สมชาย", "สมหญิง", "อนุชา", "กนกวรรณ", "ณัฐพล", "ปิยะดา", "ธนากร", "วรรณา"]
LAST = ["ใจดี", "รักเรียน", "มีสุข", "ศรีสวัสดิ์", "บุญมา", "แก้วมณี"]
CATEGORIES = ["เด็กและเยาวชนนอกระบบการศึกษา", "กลุ่มเสี่ยงหลุดออกจากระบบ", "นักเรียนยากจน/ยากจนพิเศษ"]
STATUSES = ["อยู่ระหว่างติดตาม", "กลับเข้าสู่ระบบการศึกษา", "ฝึกอาชีพ"]


def _file(province: int) -> Path:
    """A csv of ROWS new records in `province` (made once, kept in BENCH_CACHE)."""
    from core.thai_id import check_digit
    from provinces.models import SubDistrict

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"records-{province}-{ROWS}.csv"
    if path.exists():
        return path
    areas = list(SubDistrict.objects.filter(district__province_id=province).values_list("district__name_th", "name_th"))
    rng = random.Random(province)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for n in range(ROWS):
            first12 = f"1{province:02d}{n:09d}"
            boy = rng.random() < 0.5
            district, sub = rng.choice(areas)
            writer.writerow([
                first12 + str(check_digit(first12)), "ด.ช." if boy else "ด.ญ.", rng.choice(FIRST), rng.choice(LAST),
                "ชาย" if boy else "หญิง", f"{rng.randint(1, 28)}/{rng.randint(1, 12):02d}/{rng.randint(2548, 2562)}",
                district, sub, CATEGORIES[n % len(CATEGORIES)], STATUSES[n % len(STATUSES)],
            ])  # fmt: skip
    return path


def _received(province: int, path: Path) -> int:
    """The file received for `province` and marked checked (the dry run is not part of the figure)."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from provinces.models import Province
    from targets.models import UploadBatch
    from targets.upload import services

    user = get_user_model().objects.get(email=f"bench.{province}@example.org")
    batch = services.receive_upload(
        user=user,
        province=Province.objects.get(code=province),
        uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()),
    )
    UploadBatch.objects.filter(pk=batch.pk).update(status=UploadBatch.Status.CHECKED)
    return batch.pk


def _apply(batch_id: int, start_at: float, results, national: bool) -> None:
    """In a process of its own: wait for the common start, apply, send back (batch, seconds). `national`: as
    before locks went by province, every apply takes the national lock exclusively (for comparison)."""
    from django.db import connections

    from targets.models import UploadBatch
    from targets.upload import pipeline, services

    if national:
        by_province = pipeline._take_turn
        pipeline._take_turn = lambda batch, **kwargs: by_province(batch, national=True, wait=True)

    batch = UploadBatch.objects.get(pk=batch_id)
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    services.apply_upload(batch_id=batch_id, user_id=batch.uploaded_by_id)
    results.put((batch_id, time.perf_counter() - started))
    connections.close_all()


def _run_together(batch_ids: list[int], *, national: bool = False) -> tuple[dict[int, float], float]:
    from django.db import connections

    connections.close_all()  # no connection shared with the forked processes
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 1.0
    processes = [context.Process(target=_apply, args=(pk, start_at, results, national)) for pk in batch_ids]
    for process in processes:
        process.start()
    times = dict(results.get(timeout=900) for _ in processes)
    for process in processes:
        process.join()
    wall = max(times.values())
    return times, wall


def _empty_records() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE targets_targetrecord, targets_statuschange, targets_uploadbatch CASCADE")


def _check(batch_id: int) -> None:
    from targets.models import UploadBatch

    batch = UploadBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.created) == (UploadBatch.Status.APPLIED, ROWS), (batch.status, batch.error)


def run() -> None:
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Role
    from provinces.reference_data import load_admin_areas
    from targets.reference_data import load_target_reference_data
    from universities.reference_data import load_universities

    load_admin_areas()
    load_universities()
    load_target_reference_data()
    for province in PROVINCES:
        user = get_user_model().objects.create_user(f"bench.{province}@example.org", "bench-password-1")
        Membership.objects.create(user=user, role=Role.PROVINCE_COORDINATOR, province_id=province)
    started = time.perf_counter()
    files = {province: _file(province) for province in PROVINCES}
    print(f"files: {ROWS:,} rows of new records for each province, made or reused in "
          f"{time.perf_counter() - started:.1f} s ({CACHE})")  # fmt: skip

    # Interleaved rounds, medians: the machine's load changes from minute to minute.
    rounds: dict[str, list[float]] = {"40": [], "56": [], "pair": [], "40 beside": [], "56 beside": [], "national": []}
    for _ in range(ROUNDS):
        for province in PROVINCES:
            _empty_records()
            batch_id = _received(province, files[province])
            times, _ = _run_together([batch_id])
            _check(batch_id)
            rounds[str(province)].append(times[batch_id])
        for national in (False, True):
            _empty_records()
            batch_ids = [_received(province, files[province]) for province in PROVINCES]
            times, wall = _run_together(batch_ids, national=national)
            for batch_id in batch_ids:
                _check(batch_id)
            rounds["national" if national else "pair"].append(wall)
            if not national:
                for province, batch_id in zip(PROVINCES, batch_ids, strict=True):
                    rounds[f"{province} beside"].append(times[batch_id])
    median = {key: statistics.median(values) for key, values in rounds.items()}
    one = (median["40"] + median["56"]) / 2
    for province in PROVINCES:
        print(f"{'province ' + str(province) + ' alone':38}: {median[str(province)]:6.2f} s  "
              f"({ROWS / median[str(province)]:,.0f} rows/s)")  # fmt: skip
    for province in PROVINCES:
        print(f"{'province ' + str(province) + ' beside the other':38}: {median[f'{province} beside']:6.2f} s")
    print(f"{'both, started together (wall)':38}: {median['pair']:6.2f} s")
    ratio = median["pair"] / one
    print(f"{'ratio to one alone (goal < 1.5x)':38}: {ratio:6.2f}x  (one alone: {one:.2f} s, the mean of the two)")
    before = median["national"]
    print(f"{'both under one national lock (before)':38}: {before:6.2f} s  ({before / one:.2f}x one alone)")
    each = [p / ((a + b) / 2) for p, a, b in zip(rounds["pair"], rounds["40"], rounds["56"], strict=True)]
    print(f"(medians of {ROUNDS} interleaved rounds; each round's pair ratio: {', '.join(f'{r:.2f}x' for r in each)})")
