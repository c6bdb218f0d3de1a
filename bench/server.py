"""A real server for the benchmarks that measure over HTTP (bench/fieldwork.py, bench/loadtest.py): gunicorn with
production settings (DEBUG off) on 127.0.0.1, in its own session so that stopping it stops its workers too."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def environment(*, database_url: str, port: int, secret_key: str) -> dict[str, str]:
    """Production settings over plain HTTP on 127.0.0.1 (no TLS proxy in front; TOTP off, so that EEF admins sign in
    with a password)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "REQUIRE_MFA": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def start(*, env: dict[str, str], port: int, logs: Path, args: list[str] | None = None) -> subprocess.Popen:
    """gunicorn started and answering /healthz with 200 (within a minute), or RuntimeError with its log's end."""
    import requests

    log = (logs / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "abe_portal.wsgi", *(args or [])],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.3)
    stop(server)
    log_path = logs / "gunicorn.log"
    raise RuntimeError(f"gunicorn did not start; its log: {log_path}\n{log_path.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # its own session: the arbiter and its workers
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
