"""The field app's sync at the size of a busy week (`python -m bench fieldwork`; issue 18's goal: 200 queued changes
synced in at most 10 s against the local server).

A case worker with 200 assigned children; their device's queue of 200 changes (150 contacts, 30 status changes,
20 help given) is POSTed to /field/api/sync/ in batches of 100, as the app sends it, to a real local server:
gunicorn (2 workers, production settings, DEBUG off) on a free port of 127.0.0.1, over the scratch database. The
session is the worker's (made here, in the database the server reads) and the CSRF token a cookie with its header,
as the browser sends them. Printed: the seconds for all 200 at the client, and the rows they wrote. Then the same
queue is sent again: every answer "replayed", and nothing written (the rows counted before and after). The queries
are counted last, on a second queue of 200 for the same children sent through Django's test client in this
process (CaptureQueriesContext: no HTTP, the same view; the server's own queries cannot be counted from here).
"""

import datetime
import os
import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import server

BASE_DIR = Path(__file__).resolve().parent.parent
PROVINCE = 40
CHILDREN = 200
BATCH = 100
GOAL_SECONDS = 10.0
URL = "/field/api/sync/"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _setup():
    """The worker and their 200 children; in a kept database (--keep) the ones of the last run, their statuses back
    to "in follow-up" so that the queue's status changes apply again."""
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Role
    from cases import services
    from provinces.reference_data import load_admin_areas
    from targets.models import Outcome, TargetRecord
    from targets.reference_data import load_target_reference_data
    from tests.api_support import make_records

    load_admin_areas()
    load_target_reference_data()
    users = get_user_model().objects
    coordinator, made = users.get_or_create(email="bench.field.coordinator@example.org")
    if made:
        Membership.objects.create(user=coordinator, role=Role.PROVINCE_COORDINATOR, province_id=PROVINCE)
    worker, made = users.get_or_create(email="bench.field.worker@example.org")
    if made:
        Membership.objects.create(user=worker, role=Role.CASE_WORKER, province_id=PROVINCE)
    mine = TargetRecord.objects.filter(case_worker=worker)
    if not mine.exists():
        services.assign(user=coordinator, records=make_records(PROVINCE, CHILDREN, start=8_000_000), worker=worker)
    mine.update(status=Outcome.objects.get(code="in-follow-up"))  # a kept database's last run moved them on
    return worker, list(mine.order_by("pk")[:CHILDREN])


def _queue(records, *, status_from: str, status_to: str) -> list[dict]:
    """150 contacts, 30 status changes and 20 help given, over the children, in the order a device queues them."""
    now = timezone.now()
    changes: list[dict] = []
    for n in range(150):
        record = records[n % len(records)]
        changes.append({
            "key": str(uuid.uuid4()), "kind": "contact", "made_at": now.isoformat(), "record": record.pk,
            "contact": {
                "kind": "home_visit", "happened_at": (now - datetime.timedelta(minutes=200 - n)).isoformat(),
                "reached": n % 5 != 0, "with_whom": "ผู้ปกครอง", "findings": f"เยี่ยมบ้านครั้งที่ {n}",
                "next_step": "ติดตามอีกครั้ง", "next_due": None,
                "location": {"lat": 16.44 + n / 10_000, "lon": 102.83, "accuracy": 15} if n % 2 else None,
            },
        })  # fmt: skip
    for n in range(30):
        record = records[150 + n]
        changes.append({
            "key": str(uuid.uuid4()), "kind": "status", "made_at": now.isoformat(), "record": record.pk,
            "base_version": record.version, "from": status_from, "to": status_to,
        })  # fmt: skip
    for n in range(20):
        record = records[180 + n]
        changes.append({
            "key": str(uuid.uuid4()), "kind": "help", "made_at": now.isoformat(), "record": record.pk,
            "help": {"type": "home-visit", "date": timezone.localdate().isoformat(), "given_by": "อบต.",
                     "outcome": ""},
        })  # fmt: skip
    return changes


def _counts() -> tuple[int, ...]:
    from cases.models import Contact
    from fieldwork.models import SyncedChange
    from targets.models import Assistance, StatusChange

    return tuple(m.objects.count() for m in (Contact, StatusChange, Assistance, SyncedChange))


def _start_gunicorn(port: int, logs: Path) -> subprocess.Popen:
    database = connection.settings_dict
    host = f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
    password = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    url = f"postgres://{quote(database['USER'], safe='')}{password}@{host}/{database['NAME']}"
    # SECRET_KEY: this process's, since the session made here is signed with it.
    env = server.environment(database_url=url, port=port, secret_key=settings.SECRET_KEY)
    env |= {"WEB_CONCURRENCY": "2", "GUNICORN_ACCESS_LOG": str(logs / "access.log")}
    return server.start(env=env, port=port, logs=logs)


def _post_all(http, base: str, changes: list[dict]) -> list[dict]:
    results: list[dict] = []
    for start in range(0, len(changes), BATCH):
        answer = http.post(f"{base}{URL}", json={"changes": changes[start : start + BATCH]}, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"sync answered {answer.status_code}: {answer.text[:500]}")
        results += answer.json()["results"]
    return results


def run() -> None:
    import requests

    from fieldwork.models import SyncedChange

    worker, records = _setup()
    # The worker's session, in the database the server reads; the CSRF token as a cookie and its header.
    signed_in = Client()
    signed_in.force_login(worker)
    token = secrets.token_hex(16)  # 32 characters: a CSRF secret, which Django takes unmasked too
    port = _free_port()
    logs = Path(os.environ.get("BENCH_FIELDWORK_LOGS") or f"/tmp/bench-fieldwork-{port}")  # noqa: S108
    logs.mkdir(parents=True, exist_ok=True)
    gunicorn = _start_gunicorn(port, logs)
    base = f"http://127.0.0.1:{port}"
    try:
        http = requests.Session()
        http.cookies.set("sessionid", signed_in.cookies["sessionid"].value, domain="127.0.0.1")
        http.cookies.set("csrftoken", token, domain="127.0.0.1")
        http.headers.update({"X-CSRFToken": token, "Referer": f"{base}/field/"})
        assert http.post(f"{base}{URL}", json={"changes": []}, timeout=30).status_code == 200  # warm the workers

        queue = _queue(records, status_from="in-follow-up", status_to="returned-to-school")
        before = _counts()
        started = time.perf_counter()
        results = _post_all(http, base, queue)
        seconds = time.perf_counter() - started
        after = _counts()
        applied = sum(r["result"] == "applied" for r in results)
        print(f"  gunicorn on 127.0.0.1:{port} (2 workers, DEBUG off), {CHILDREN} assigned children")
        print(f"  sync of {len(queue)} changes (150 contacts, 30 status, 20 help) in batches of {BATCH}: "
              f"{seconds:.2f} s, {len(queue) / seconds:.0f} changes/s, {applied} applied "
              f"(goal: <= {GOAL_SECONDS:.0f} s: {'met' if seconds <= GOAL_SECONDS else 'MISSED'})")  # fmt: skip
        print(f"  written: {after[0] - before[0]} contacts, {after[1] - before[1]} status changes, "
              f"{after[2] - before[2]} help given, {after[3] - before[3]} synced changes")  # fmt: skip

        # The same again: every answer replayed, nothing written.
        started = time.perf_counter()
        again = _post_all(http, base, queue)
        replay_seconds = time.perf_counter() - started
        replayed = sum(bool(r["replayed"]) for r in again)
        unchanged = _counts() == after
        print(f"  replay of the same {len(queue)}: {replay_seconds:.2f} s, {replayed} answered replayed, "
              f"{'nothing written' if unchanged else 'ROWS CHANGED: ' + str((after, _counts()))}")  # fmt: skip
    finally:
        server.stop(gunicorn)

    # The queries, counted in this process on a second queue for the same children (the status moves on).
    queue = _queue(records, status_from="returned-to-school", status_to="flexible-learning")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(worker)
    client.post(URL, data={"changes": []}, content_type="application/json")  # the session settles
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        for start in range(0, len(queue), BATCH):
            answer = client.post(URL, data={"changes": queue[start : start + BATCH]}, content_type="application/json")
            assert answer.status_code == 200, answer.content[:500]
    seconds = time.perf_counter() - started
    print(f"  in process (test client, no HTTP): {len(queue)} changes in {seconds:.2f} s, {len(queries)} queries "
          f"({len(queries) / len(queue):.1f} a change; BEGIN and COMMIT not counted)")  # fmt: skip
    print(f"  synced changes stored: {SyncedChange.objects.count()}")
