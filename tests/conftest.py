"""Fixtures of the browser tests (tests/test_browser*.py): Debian's Chromium driven by Playwright."""

import os
from pathlib import Path

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
