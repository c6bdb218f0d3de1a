"""The bounded load test of `python -m bench scale` (bench/scale.py builds the dataset it runs on).

gunicorn (gunicorn.conf.py, production settings: DEBUG=0, whitenoise's manifest) serves the scale database
on 127.0.0.1 with the cache and rate limits on REDIS_URL. Each bench user is one simulated person, a thread
with its own session and its own address (X-Forwarded-For, gunicorn behind one trusted proxy as in
production): it signs in once through the real login form (allauth's, CSRF and all, with the login limits
on: 30 a minute per address, failures per address and account), then, until the fixed duration
ends, opens a page of the mix and waits a think time (uniform, 5-15 s by default: people read a page
before the next) before the next. Every request's time is taken at the client and printed as
p50/p95/p99 per page, with its errors (any answer but the expected, or no answer in 30 s).

The mix (weights of 100): home 15, records list 25 (page 1, sometimes a later one), search 15 (a name or
an exact national ID: the search box's POST and the list it leads to), record page 20, dashboard 12 (the
user's own: province, university or national), API page 8 (/api/v1/records/, session-signed), upload check
5 (coordinators and EEF admins: a 20-row csv of new children, checked in the request as small files
are; university teams, who do not upload, draw another page).
The client threads share the 2 cores with gunicorn and PostgreSQL: their cost is in the figures.
"""

from __future__ import annotations

import csv
import io
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench import server

BASE_DIR = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0
GOAL_P95_MS = 300
PROVINCES: list[int] = []  # the 77 provinces' codes, read before the run
MIX = [
    ("home", 15),
    ("records list", 25),
    ("search", 15),
    ("record page", 20),
    ("dashboard", 12),
    ("API page", 8),
    ("upload check", 5),
]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


@dataclass
class Person:
    email: str
    kind: str  # coord, uni, eef
    dashboard: str
    records: list[int]
    identifiers: list[str]
    session: object = None


@dataclass
class Results:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.times[page].append(seconds)
            if error:
                self.errors[page].append(error)


def _people(domain: str, rng: random.Random) -> list[Person]:
    """The bench users, each with records and identifiers it may see (by the door) and its own dashboard."""
    from accounts.models import Membership, Role, User
    from targets.models import TargetRecord
    from universities.models import University

    top = TargetRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    universities = dict(University.objects.values_list("pk", "code"))
    people = []
    users = User.objects.filter(email__endswith=f"@{domain}").order_by("pk")
    roles = {m.user_id: m for m in Membership.objects.filter(user__in=users)}
    for user in users:
        membership = roles[user.pk]
        if membership.role == Role.PROVINCE_COORDINATOR:
            kind, dashboard = "coord", f"/dashboards/province/{membership.province_id}/"
        elif membership.role == Role.UNIVERSITY_MEMBER:
            kind, dashboard = "uni", f"/dashboards/university/{universities[membership.university_id or 0]}/"
        else:
            kind, dashboard = "eef", "/dashboards/"
        visible = TargetRecord.objects.visible_to(user)
        start = rng.randrange(1, max(top, 2))
        sample = list(visible.filter(pk__gte=start).order_by("pk").values_list("pk", "identifier")[:20])
        if len(sample) < 20:
            sample += list(visible.order_by("pk").values_list("pk", "identifier")[: 20 - len(sample)])
        people.append(Person(user.email, kind, dashboard, [pk for pk, _ in sample], [i for _, i in sample]))
    return people


def _csv_upload(rng: random.Random) -> bytes:
    """20 rows of new children (valid national IDs nobody holds: they start 13...)."""
    from bench.scale import FIRST_NAMES, LAST_NAMES
    from core.thai_id import check_digit

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "เพศ", "กลุ่มเป้าหมาย", "สถานะ"])
    for _ in range(20):
        first = f"13{rng.randrange(10**10):010d}"
        writer.writerow(
            [first + str(check_digit(first)), rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng.choice("MF"),
             "out-of-school", "in-follow-up"]
        )  # fmt: skip
    return out.getvalue().encode("utf-8-sig")


class Client:
    def __init__(self, base: str, address: str) -> None:
        import requests

        self.base = base
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "abe-bench-scale"
        # As the proxy in front of production would say (gunicorn runs with TRUSTED_PROXY_COUNT=1): each
        # person signs in from an address of their own, so the per-address login limit counts them apart.
        self.http.headers["X-Forwarded-For"] = address

    def _csrf(self) -> str:
        return self.http.cookies.get("csrftoken") or ""

    def login(self, email: str, password: str) -> None:
        page = self.http.get(f"{self.base}/accounts/login/", timeout=TIMEOUT)
        page.raise_for_status()
        answer = self.http.post(
            f"{self.base}/accounts/login/",
            data={"login": email, "password": password, "csrfmiddlewaretoken": self._csrf()},
            headers={"Referer": f"{self.base}/accounts/login/"},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        if answer.status_code != 302 or "sessionid" not in self.http.cookies:
            raise RuntimeError(f"sign-in of {email} failed: {answer.status_code}")

    def get(self, path: str) -> int:
        return self.http.get(f"{self.base}{path}", timeout=TIMEOUT, allow_redirects=False).status_code

    def post(self, path: str, data: dict, files: dict | None = None) -> tuple[int, str]:
        answer = self.http.post(
            f"{self.base}{path}",
            data={**data, "csrfmiddlewaretoken": self._csrf()},
            files=files,
            headers={"Referer": f"{self.base}{path}"},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        return answer.status_code, answer.headers.get("Location", "")


class InProcessClient:
    """The same two calls as Client, through Django's test client in this process (no gunicorn, no HTTP),
    for the one-at-a-time profile: its queries can be captured."""

    def __init__(self, user) -> None:
        from django.test import Client as DjangoClient

        self.http = DjangoClient(HTTP_HOST="127.0.0.1")
        self.http.force_login(user)

    def get(self, path: str) -> int:
        return self.http.get(path).status_code

    def post(self, path: str, data: dict, files: dict | None = None) -> tuple[int, str]:
        from django.core.files.uploadedfile import SimpleUploadedFile

        fields = dict(data)
        for name, (filename, content, content_type) in (files or {}).items():
            fields[name] = SimpleUploadedFile(filename, content, content_type)
        answer = self.http.post(path, fields)
        return answer.status_code, answer.get("Location", "")


def profile(people: list[Person], rng: random.Random) -> None:
    """Each page of the mix for one person of each kind, one request at a time, in this process: median
    ms of 3 and queries, and the slowest page's slowest queries (what the load test's figures rest on)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from accounts.models import User

    print("\nservice time, one request at a time (in-process, no gunicorn): median of 3 ms / queries")
    kinds = {"coord": "coordinator", "uni": "university", "eef": "EEF admin"}
    chosen = {kind: next(p for p in people if p.kind == kind) for kind in kinds if any(p.kind == kind for p in people)}
    print(f"{'page':<14}" + "".join(f"{kinds[k]:>18}" for k in chosen))
    slowest: tuple[float, str, str, list[dict]] = (0.0, "", "", [])
    with override_settings(ABE_REQUIRE_MFA=False):
        clients = {kind: InProcessClient(User.objects.get(email=p.email)) for kind, p in chosen.items()}
        for page, _weight in MIX:
            cells = []
            for kind, person in chosen.items():
                if page == "upload check" and kind == "uni":
                    cells.append(f"{'-':>18}")
                    continue
                times, queries = [], []
                for _ in range(3):
                    with CaptureQueriesContext(connection) as captured:
                        begun = time.perf_counter()
                        error = _visit(page, person, clients[kind], rng)
                        times.append(time.perf_counter() - begun)
                    queries = captured.captured_queries
                median = statistics.median(times)
                if median > slowest[0]:
                    slowest = (median, page, kinds[kind], queries)
                cells.append(f"{median * 1000:>9.0f} ms {len(queries):>3} q" + ("!" if error else " "))
            print(f"{page:<14}" + "".join(cells))
    seconds, page, kind, queries = slowest
    print(f"slowest: {page} of an {kind}, {seconds * 1000:.0f} ms; its slowest queries:")
    for query in sorted(queries, key=lambda q: -float(q["time"]))[:3]:
        print(f"  {float(query['time']) * 1000:7.0f} ms  {query['sql'][:220]}")


def _visit(page: str, person: Person, client: Client | InProcessClient, rng: random.Random) -> str | None:
    """Open one page of the mix; the error, or None."""
    from bench.scale import FIRST_NAMES, LAST_NAMES

    def expect(status: int, *wanted: int) -> str | None:
        return None if status in wanted else f"HTTP {status}"

    if page == "home":
        return expect(client.get("/"), 200)
    if page == "records list":
        deeper = rng.random() < 0.25
        return expect(client.get(f"/records/?page={rng.randrange(2, 21)}" if deeper else "/records/"), 200)
    if page == "search":
        if rng.random() < 0.3 and person.identifiers:
            text = rng.choice(person.identifiers)
        else:
            text = rng.choice(FIRST_NAMES)
            if rng.random() < 0.5:
                text += f" {rng.choice(LAST_NAMES)}"
        status, location = client.post("/records/", {"q": text})
        if status != 302 or not location:
            return f"search POST HTTP {status}"
        target = urlsplit(location)
        return expect(client.get(f"{target.path}?{target.query}"), 200)
    if page == "record page":
        return expect(client.get(f"/records/{rng.choice(person.records)}/"), 200)
    if page == "dashboard":
        return expect(client.get(person.dashboard), 200)
    if page == "API page":
        return expect(client.get("/api/v1/records/"), 200)
    if page == "upload check":
        # A coordinator's upload is for their province; an EEF admin chooses one (the 20 rows are new
        # children wherever they go). University teams do not upload: their draw is taken again.
        chosen = {} if person.kind == "coord" else {"province": str(rng.choice(PROVINCES))}
        status, location = client.post(
            "/uploads/new/", chosen, files={"file": ("bench.csv", _csv_upload(rng), "text/csv")}
        )
        return None if status == 302 and "/uploads/" in location else f"upload HTTP {status}"
    raise ValueError(page)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _static_files_changed() -> bool:
    """Whether collectstatic must run: no manifest yet, or a static file newer than it (it takes minutes
    on a busy machine, compressing every file)."""
    from django.conf import settings

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [BASE_DIR / "static", *BASE_DIR.glob("*/static")]
    return any(f.stat().st_mtime > built for folder in sources for f in folder.rglob("*") if f.is_file())


def _start_gunicorn(
    *, database_url: str, port: int, workers: int | None, logs: Path, extra: list[str]
) -> subprocess.Popen:
    env = server.environment(database_url=database_url, port=port, secret_key=secrets.token_urlsafe(50))
    # Behind one proxy, as in production: the client's address is the last X-Forwarded-For entry. The sign-in
    # limits stay on (30 sign-ins a minute per address, allauth's; failures: settings.py).
    env["TRUSTED_PROXY_COUNT"] = "1"
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    env.update(item.partition("=")[::2] for item in extra)
    if _static_files_changed():  # DEBUG=0 serves whitenoise's manifest: the pages' {% static %} need it
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True
        )
        print(f"collectstatic (static files changed): {time.perf_counter() - started:.0f} s")
    try:
        return server.start(env=env, port=port, logs=logs, args=["--access-logfile", str(logs / "access.log")])
    except RuntimeError as error:
        sys.exit(str(error))


def run(*, database_url: str, args, password: str, domain: str) -> None:
    from django.conf import settings

    if not settings.REDIS_URL:
        sys.exit("the load test needs REDIS_URL (the cache, the login limits and the broker of production)")
    from provinces.models import Province

    rng = random.Random(args.seed)
    PROVINCES[:] = Province.objects.values_list("code", flat=True)
    people = _people(domain, rng)
    if not people:
        sys.exit("no bench users in the dataset: build it first (python -m bench scale --build-only)")
    profile(people, rng)
    if args.profile_only:
        return
    logs = Path(tempfile.mkdtemp(prefix="abe-scale-"))
    skipped = f", without {', '.join(args.skip)}" if args.skip else ""
    think = f"{args.think[0]:g}-{args.think[1]:g} s"
    print(f"\n## load test: {len(people)} users, {args.duration} s, think time {think}{skipped}")
    print(f"load average at start: {load_average()}")
    web_url = args.web_database_url or database_url
    if args.web_database_url or args.web_env:
        print(f"gunicorn's database: {web_url}; its other variables: {' '.join(args.web_env) or 'none'}")
    gunicorn = _start_gunicorn(
        database_url=web_url, port=args.port, workers=args.web_concurrency, logs=logs, extra=args.web_env
    )
    workers = len(subprocess.run(["pgrep", "-P", str(gunicorn.pid)], capture_output=True, text=True).stdout.split())
    print(f"gunicorn: pid {gunicorn.pid}, {workers} workers, logs in {logs}")
    base = f"http://127.0.0.1:{args.port}"
    try:
        results = Results()
        clients = {p.email: Client(base, f"10.15.{i // 250}.{1 + i % 250}") for i, p in enumerate(people)}
        started = time.perf_counter()
        login_times: list[float] = []
        login_errors: list[str] = []

        def sign_in(person: Person) -> None:
            begun = time.perf_counter()
            try:
                clients[person.email].login(person.email, password)
            except Exception as exc:  # noqa: BLE001 - counted and printed
                login_errors.append(f"{person.email}: {exc}")
            login_times.append(time.perf_counter() - begun)

        # Sign-ins 8 at a time: a morning's arrivals, not measured with the mix (each costs a password hash).
        threads: list[threading.Thread] = []
        for person in people:
            thread = threading.Thread(target=sign_in, args=(person,))
            threads.append(thread)
            thread.start()
            if len(threads) % 8 == 0:
                for t in threads[-8:]:
                    t.join()
        for t in threads:
            t.join()
        print(f"sign-in of {len(people)} users through the login form: {time.perf_counter() - started:.1f} s, "
              f"p50 {statistics.median(login_times) * 1000:.0f} ms, errors {len(login_errors)}")  # fmt: skip
        for error in login_errors[:5]:
            print(f"  {error}")
        deadline = time.perf_counter() + args.duration
        pages, weights = zip(*[(page, weight) for page, weight in MIX if page not in args.skip], strict=True)

        def person_loop(person: Person, seed: int) -> None:
            own = random.Random(seed)
            client = clients[person.email]
            time.sleep(own.uniform(0, args.think[1]))  # arrivals spread, not all at once
            while time.perf_counter() < deadline:
                page = own.choices(pages, weights)[0]
                while page == "upload check" and person.kind == "uni" and len(pages) > 1:
                    page = own.choices(pages, weights)[0]
                begun = time.perf_counter()
                try:
                    error = _visit(page, person, client, own)
                except Exception as exc:  # noqa: BLE001 - an error of the run, counted
                    error = type(exc).__name__
                results.add(page, time.perf_counter() - begun, error)
                time.sleep(own.uniform(*args.think))

        measured = time.perf_counter()
        threads = [
            threading.Thread(target=person_loop, args=(p, args.seed * 1000 + i), daemon=True)
            for i, p in enumerate(people)
            if p.email not in {e.split(":")[0] for e in login_errors}
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.perf_counter()) + TIMEOUT + 5)
        elapsed = time.perf_counter() - measured
    finally:
        server.stop(gunicorn)
    _report(results, elapsed)
    print(f"load average at end: {load_average()}")
    shutil.rmtree(logs, ignore_errors=True)


def _report(results: Results, elapsed: float) -> None:
    total = sum(len(v) for v in results.times.values())
    errors = sum(len(v) for v in results.errors.values())
    print(f"\n{total:,} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s), errors {errors}")
    header = f"{'page':<14} {'n':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(f"{header}  goal p95 ≤ {GOAL_P95_MS}")
    for page, _weight in MIX:
        times = results.times.get(page, [])
        if not times:
            continue
        p50, p95, p99 = (_percentile(times, s) * 1000 for s in (0.5, 0.95, 0.99))
        mark = "met" if p95 <= GOAL_P95_MS and not results.errors.get(page) else "NOT met"
        print(f"{page:<14} {len(times):>6} {len(results.errors.get(page, [])):>6} {p50:>8.0f} {p95:>8.0f} "
              f"{p99:>8.0f} {max(times) * 1000:>8.0f}  {mark}")  # fmt: skip
    for page, page_errors in results.errors.items():
        kinds: dict[str, int] = defaultdict(int)
        for error in page_errors:
            kinds[error] += 1
        print(f"  errors of {page}: " + ", ".join(f"{k} × {n}" for k, n in sorted(kinds.items())))
