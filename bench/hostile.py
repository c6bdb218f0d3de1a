"""Hostile spreadsheets beside a real one: peak memory and time of the check (the dry run).

Each file is uploaded here, then checked by a fresh Python process (`python -m bench.hostile
BATCH_ID`), so that its peak resident memory is that file's alone. Printed for each: the outcome,
the seconds, the checking process's peak (ru_maxrss: Django, validation, the rows in flight), the
reader children's ru_maxrss (the largest child; it also counts the parent's pages shared until
exec, so small files show the parent's size), and the children's own peaks, which they report
(VmHWM, reset by exec). The issue's bound: 500 MB for every process, whatever the file.

The files: the real 100,000-row xlsx of bench/upload.py, the hostile files of
tests/test_hostile_files.py, and the largest grid the limits let through to calamine (one cell in
A1, one at the last row and column allowed: 200,100 x 50 cells, all empty but two).
"""

import json
import logging
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

PROVINCE = 40  # ขอนแก่น
ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def _files() -> list[tuple[str, str, bytes]]:
    """(label, file name, content)."""
    from django.conf import settings

    from bench import upload
    from targets.upload.reading import SHEET_ROW_ROOM
    from targets.upload.sheet_scan import column_letters
    from tests import test_hostile_files as hostile

    real = upload._files()["xlsx"]
    last_row = settings.TARGETS_UPLOAD_MAX_ROWS + SHEET_ROW_ROOM
    last = column_letters(settings.TARGETS_UPLOAD_MAX_COLUMNS) + str(last_row)
    widest = hostile._xlsx(
        hostile._sheet_data(
            hostile._row(1, hostile.HEADER),
            f'<row r="{last_row}"><c r="{last}" t="inlineStr"><is><t>x</t></is></c></row>',
        )
    )
    files = [(f"real xlsx, {upload.ROWS:,} rows", real.name, real.read_bytes())]
    files += [(label, name, content) for label, (name, content, _message) in hostile.hostile_file_set().items()]
    files.append((f"largest grid allowed (A1:{last})", "widest.xlsx", widest))
    runs = hostile.whitespace_bomb(80 * 2**20, run=400 * 1024)
    files.append(("80 MB of whitespace in 400 KB runs", "runs.xlsx", runs))
    return files


def run() -> None:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import Membership, Role
    from provinces.models import Province
    from provinces.reference_data import load_admin_areas
    from targets.models import UploadBatch
    from targets.reference_data import load_target_reference_data
    from targets.upload import services
    from universities.reference_data import load_universities

    load_admin_areas()
    load_universities()
    load_target_reference_data()
    user, _created = get_user_model().objects.get_or_create(email="bench.hostile@example.org")
    Membership.objects.get_or_create(user=user, role=Role.PROVINCE_COORDINATOR, province_id=PROVINCE)
    province = Province.objects.get(code=PROVINCE)
    env = {**os.environ, "DATABASE_URL": _database_url(), "LOG_LEVEL": "WARNING"}
    print(f"{'file':40} {'outcome':9} {'seconds':>7} {'parent':>7} {'children':>9} {'read':>6} {'scan':>6}  (peak MB)")
    worst, real_top = (0.0, ""), 0.0
    for label, name, content in _files():
        upload = SimpleUploadedFile(name, content)
        batch = services.receive_upload(user=user, province=province, uploaded_file=upload)
        UploadBatch.objects.filter(pk=batch.pk).update(status=UploadBatch.Status.CHECKING)
        probe = subprocess.run(
            [sys.executable, "-m", "bench.hostile", str(batch.pk)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            result = json.loads(probe.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            print(f"{label:40} probe failed ({probe.returncode}): {probe.stderr[-500:]}")
            continue
        peaks = result["reported"]
        print(
            f"{label[:40]:40} {result['status']:9} {result['seconds']:7.2f} {result['parent_mb']:7.0f}"
            f" {result['children_mb']:9.0f} {peaks.get('read', '-'):>6} {peaks.get('scan', '-'):>6}"
        )
        top = max(result["parent_mb"], result["children_mb"])
        if label.startswith("real"):
            real_top = top
        elif top > worst[0]:
            worst = (top, label)
    print(f"worst hostile file: {worst[1]} ({worst[0]:.0f} MB) beside the real file ({real_top:.0f} MB); bound 500 MB")


def probe(batch_id: int) -> None:
    """In a fresh process: check one upload, print what it cost as one JSON line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "abe_portal.settings")
    import django

    django.setup()
    from targets.models import UploadBatch
    from targets.upload import services

    reported: dict[str, int] = {}

    class Peaks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            match = re.match(r"upload reader \((\w+), \w+\): peak memory (\d+) MB", record.getMessage())
            if match:
                reported[match.group(1)] = int(match.group(2))

    reader_log = logging.getLogger("targets.upload.reading")
    reader_log.setLevel(logging.DEBUG)
    reader_log.addHandler(Peaks())
    started = time.perf_counter()
    services.check_upload(batch_id=batch_id, language="th")
    seconds = time.perf_counter() - started
    batch = UploadBatch.objects.get(pk=batch_id)
    print(
        json.dumps(
            {
                "status": batch.status,
                "error": batch.error[:200],
                "seconds": seconds,
                "parent_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                "reported": reported,
            }
        )
    )


if __name__ == "__main__":
    probe(int(sys.argv[1]))
