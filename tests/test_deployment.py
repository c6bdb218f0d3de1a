"""Deployment (issue 15): docker-compose.yml's processes (and docker-compose.pgbouncer.yml), gunicorn.conf.py's
sizing, the cache's own Redis (REDIS_CACHE_URL), and the settings of a read replica (DATABASE_REPLICA_URL; the
router's routing of real requests: tests/test_read_replica.py).
"""

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


# --- docker-compose.yml ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_migrations_run_once_in_a_service_that_web_worker_and_beat_wait_for(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == "python manage.py migrate --noinput"
    assert services["migrate"]["restart"] == "no"  # a one-off: it exits, and is not started again
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "migrate" not in str(services[name]["command"])  # two web containers would race


def test_the_broker_keeps_its_queue_on_disk_and_the_cache_is_a_redis_that_forgets(compose):
    services = compose["services"]
    broker = services["redis"]["command"]
    assert broker[broker.index("--appendonly") + 1] == "yes"
    assert broker[broker.index("--maxmemory-policy") + 1] == "noeviction"
    assert "redisdata:/data" in services["redis"]["volumes"]
    cache = services["redis-cache"]["command"]
    assert cache[cache.index("--appendonly") + 1] == "no"
    assert cache[cache.index("--maxmemory-policy") + 1] == "allkeys-lru"
    assert "--maxmemory" in cache
    environment = services["web"]["environment"]
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["REDIS_CACHE_URL"] == "redis://redis-cache:6379/0"


def test_long_running_processes_restart_and_the_one_off_does_not(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "redis-cache", "web", "worker", "beat"):
        assert services[name]["restart"] == "unless-stopped", name
    assert "WEB_CONCURRENCY" in services["web"]["environment"]


def test_behind_pgbouncer_only_web_pools_in_transaction_mode_and_the_rest_keep_a_session(compose):
    pooled = yaml.safe_load((ROOT / "docker-compose.pgbouncer.yml").read_text())["services"]
    assert pooled["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    web = pooled["web"]["environment"]
    assert web["DATABASE_URL"] == "postgres://abe:abe@pgbouncer:6432/abe"
    # README.md: server-side cursors and the upload jobs' session locks do not survive transaction pooling.
    assert web["DISABLE_SERVER_SIDE_CURSORS"] == "1"
    assert web["TARGETS_UPLOAD_INLINE_BYTES"] == "0"
    assert set(pooled) == {"pgbouncer", "web"}  # worker, beat and migrate keep docker-compose.yml's PostgreSQL
    assert compose["x-portal"]["environment"]["DATABASE_URL"] == "postgres://abe:abe@postgres:5432/abe"


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose is not installed (.ci/run installs it)")
def test_docker_compose_validates_the_file():
    env = {**os.environ, "SECRET_KEY": "x" * 50}
    result = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    both = ["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.pgbouncer.yml", "config", "-q"]
    result = subprocess.run(both, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    unset = {k: v for k, v in env.items() if k != "SECRET_KEY"}
    refused = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, env=unset, capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stderr


# --- gunicorn.conf.py ------------------------------------------------------------------------------------


def _gunicorn_config(monkeypatch, **variables: str) -> dict:
    for name in ("WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_GRACEFUL_TIMEOUT", "GUNICORN_KEEPALIVE",
                 "GUNICORN_BIND", "GUNICORN_MAX_REQUESTS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_workers_follow_web_concurrency_or_the_cores(monkeypatch):
    cores = os.cpu_count() or 1
    assert _gunicorn_config(monkeypatch)["workers"] == 2 * cores + 1
    assert _gunicorn_config(monkeypatch, WEB_CONCURRENCY="0")["workers"] == 2 * cores + 1  # compose's "unset"
    assert _gunicorn_config(monkeypatch, WEB_CONCURRENCY="")["workers"] == 2 * cores + 1
    assert _gunicorn_config(monkeypatch, WEB_CONCURRENCY="7")["workers"] == 7


def test_gunicorn_timeouts_are_sized_and_can_be_changed(monkeypatch):
    config = _gunicorn_config(monkeypatch)
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (60, 30, 5)
    assert config["bind"] == "0.0.0.0:8000"
    assert config["logger_class"] == "audit.gunicorn_logging.RedactingLogger"  # the IDs stay masked
    config = _gunicorn_config(
        monkeypatch, GUNICORN_TIMEOUT="90", GUNICORN_GRACEFUL_TIMEOUT="20", GUNICORN_KEEPALIVE="75",
        GUNICORN_BIND="127.0.0.1:9000", GUNICORN_MAX_REQUESTS="0",
    )  # fmt: skip
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == (90, 20, 75)
    assert config["bind"] == "127.0.0.1:9000"
    assert (config["max_requests"], config["max_requests_jitter"]) == (0, 0)


# --- settings read from the environment ------------------------------------------------------------------

_SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "cache": settings.CACHES["default"]["BACKEND"], "cache_at": settings.CACHES["default"].get("LOCATION"),
    "broker": settings.CELERY_BROKER_URL,
    "databases": {alias: {"name": db["NAME"], "mirror": db.get("TEST", {}).get("MIRROR"),
                          "server_side_cursors_off": db.get("DISABLE_SERVER_SIDE_CURSORS")}
                  for alias, db in settings.DATABASES.items()},
    "routers": settings.DATABASE_ROUTERS,
}))
"""


def _settings_with(**variables: str) -> dict:
    """The settings a fresh process reads from these variables (and none of this run's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS", "DATABASE", "DISABLE_SERVER"))}
    env.update(DJANGO_SETTINGS_MODULE="abe_portal.settings", **variables)
    result = subprocess.run(
        [sys.executable, "-c", _SHOW_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_the_cache_uses_redis_url_unless_it_has_a_redis_of_its_own():
    shared = _settings_with(REDIS_URL="redis://broker:6379/0")
    assert shared["cache"] == "abe_portal.fail_open_cache.FailOpenRedisCache"
    assert shared["cache_at"] == shared["broker"] == "redis://broker:6379/0"
    apart = _settings_with(REDIS_URL="redis://broker:6379/0", REDIS_CACHE_URL="redis://cache:6379/0")
    assert apart["cache_at"] == "redis://cache:6379/0"
    assert apart["broker"] == "redis://broker:6379/0"
    embedded = _settings_with()  # `make run`: no Redis at all
    assert embedded["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert embedded["broker"] == "memory://"


def test_a_replica_url_adds_a_replica_alias_mirrored_in_tests_and_the_router():
    alone = _settings_with(DATABASE_URL="postgres://u@primary:5432/abe")
    assert list(alone["databases"]) == ["default"]
    assert alone["routers"] == []
    assert alone["databases"]["default"]["server_side_cursors_off"] is False
    both = _settings_with(
        DATABASE_URL="postgres://u@pgbouncer:6432/abe",
        DATABASE_REPLICA_URL="postgres://u@replica:5432/abe",
        DISABLE_SERVER_SIDE_CURSORS="1",
    )
    assert both["databases"]["replica"] == {"name": "abe", "mirror": "default", "server_side_cursors_off": True}
    assert both["databases"]["default"]["server_side_cursors_off"] is True
    assert both["routers"] == ["core.replica.ReplicaRouter"]


def test_without_a_replica_everything_reads_from_default():
    from core.replica import ReplicaRouter, replica_reads
    from targets.models import TargetRecord

    with replica_reads():
        assert ReplicaRouter().db_for_read(TargetRecord) is None  # no "replica" alias: default
    assert ReplicaRouter().db_for_write(TargetRecord) == "default"
