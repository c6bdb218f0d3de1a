"""Fixtures of tests/: the browser tests' Chromium driven by Playwright (tests/test_browser*.py), and an S3 API
server for the storage-backed paths (`s3_storage`, below; tests/test_storage.py)."""

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds --headless and a fresh, empty --user-data-dir of its own (a temporary profile per launch).
# The rest: running as root in a container without a GPU, on a closed network (no QUIC, no update or sync calls).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def screenshot_dir() -> Path:
    path = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "artifacts" / "screenshots").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(monkeypatch):
    """A fresh Chromium page with a Thai browser's settings; the whole browser is closed after the test."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian: apt-get install chromium fonts-thai-tlwg)"
        if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
            pytest.fail(f"REQUIRE_REAL_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio event loop running in this (the test's) thread while the browser is
    # open, so Django's guard sees an "async context" and refuses ORM calls made here (SynchronousOnlyOperation).
    # Nothing runs concurrently with those calls (Playwright waits for each one), so the guard is lifted, for this
    # test only (monkeypatch restores the environment). The live server answers from its own thread, unaffected.
    # One side effect: in that "async context" Django keeps its database connections apart from the thread's usual
    # ones, so they are closed below while the loop still runs; left open, they stop the test database from being
    # dropped at the end of the session ("database ... is being accessed by other users").
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="th-TH", timezone_id="Asia/Bangkok"
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            yield page
        finally:
            connections.close_all()
            context.close()
            browser.close()


_schemathesis_ran = {"cases": 0, "requests": 0, "with_nul": 0}


def pytest_runtest_logreport(report) -> None:
    """Sum the counts that tests/test_api_schemathesis.py puts in its reports (from every xdist worker)."""
    if report.when == "teardown":  # the counts are added as the test's fixtures end
        for name, counts in report.user_properties:
            if name == "schemathesis":
                for key, value in counts.items():
                    _schemathesis_ran[key] += value


def pytest_terminal_summary(terminalreporter) -> None:
    ran = _schemathesis_ran
    if ran["cases"]:
        terminalreporter.write_line(
            f"schemathesis: {ran['cases']} cases, {ran['requests']} requests, "
            f"{ran['with_nul']} cases with a NUL (\\x00) somewhere in the request"
        )


def watch_for_problems(page) -> list[str]:
    """Collect what a user would see go wrong on `page`: console errors, script errors, failed loads, 4xx/5xx.

    A load that Chromium cancels because the page navigated on (the favicon, still in flight when a form's submit
    moves to the next page) fails with net::ERR_ABORTED: that is the browser's choice, not a broken asset, and it
    comes and goes with timing. Such loads are left out; a missing or failing asset still shows as its HTTP status
    (the response handler) or as any other network error.
    """
    problems: list[str] = []

    def request_failed(request) -> None:
        if request.failure != "net::ERR_ABORTED":
            problems.append(f"request failed: {request.url} {request.failure}")

    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", request_failed)
    page.on("response", lambda resp: problems.append(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None)
    return problems


# --- an S3 API server (moto's standalone server) ---------------------------------------------------------------

S3_REGION = "us-east-1"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "abe-test", "AWS_SECRET_ACCESS_KEY": "abe-test-secret"}  # moto takes any


@dataclass
class S3Server:
    """moto's standalone S3 API server, a subprocess on 127.0.0.1 (one per test session and xdist worker)."""

    endpoint: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        )


@contextlib.contextmanager
def moto_s3_server(log_path: Path) -> Iterator[S3Server]:
    """`python -m moto.server` on a free port of 127.0.0.1, until the block ends (bench/storage.py uses it too)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield S3Server(endpoint=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 API server for this test session (one per xdist worker), stopped at its end."""
    with moto_s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@dataclass
class S3Bucket:
    """A bucket of its own on the test's S3 API server, holding the portal's files for one test."""

    name: str
    endpoint: str
    client: Any  # boto3's S3 client, with the same credentials as the portal

    @property
    def environ(self) -> dict[str, str]:
        """The environment variables that put a portal process (gunicorn, a Celery worker) on this bucket,
        as README.md's configuration table says."""
        return {
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": S3_REGION,
            "AWS_S3_ADDRESSING_STYLE": "path",
            **S3_KEYS,
        }

    def object_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def acl_grants(self, key: str) -> list[dict]:
        return self.client.get_object_acl(Bucket=self.name, Key=key)["Grants"]


@pytest.fixture
def s3_storage(settings, s3_server) -> Iterator[S3Bucket]:
    """The portal's default storage on a new, empty bucket of the S3 API server, for this test.

    STORAGES["default"] becomes core.object_storage.PrivateS3Storage, configured as settings.py configures it
    from STORAGE_BACKEND=s3 (path-style addressing, for a server on 127.0.0.1), so default_storage and every
    FileField (uploads, attachments, exports) read and write the bucket, and so do admin imports between
    preview and confirmation; Django resets its storages when the setting changes and again when the test
    ends. Use it like:

        def test_the_export_is_downloaded_from_the_bucket(s3_storage, client_for, cast):
            ...  # make the file through the pages, then
            assert s3_storage.object_keys() == [...]  # what the bucket holds
            assert s3_storage.read(key) == expected_bytes

    `s3_storage.environ` has the variables for a server process started by the test (gunicorn) on the same
    bucket. The bucket's objects are deleted after the test.
    """
    client = s3_server.client()
    name = f"abe-test-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=name)
    bucket = S3Bucket(name=name, endpoint=s3_server.endpoint, client=client)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "core.object_storage.PrivateS3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_server.endpoint,
                "region_name": S3_REGION,
                "addressing_style": "path",
                "access_key": S3_KEYS["AWS_ACCESS_KEY_ID"],
                "secret_key": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
            },
        },
    }
    settings.IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"  # as settings.py sets it
    yield bucket
    for key in bucket.object_keys():
        client.delete_object(Bucket=name, Key=key)
    client.delete_bucket(Bucket=name)
