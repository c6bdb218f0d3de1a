"""What lets `make test` run in parallel (pytest-xdist, conftest.py): each worker its own Redis database,
and the reference data in place at the start of every test, whatever flushed it before."""

import os

import pytest
import redis
from django.core.cache import cache

from conftest import BASE_REDIS_URL, _worker_redis_url


def test_a_workers_redis_database_is_redis_urls_plus_its_number():
    assert _worker_redis_url("redis://127.0.0.1:6379/1", 0) == "redis://127.0.0.1:6379/1"
    assert _worker_redis_url("redis://127.0.0.1:6379/1", 1) == "redis://127.0.0.1:6379/2"
    assert _worker_redis_url("redis://:secret@redis:6379", 3) == "redis://:secret@redis:6379/3"
    with pytest.raises(pytest.UsageError, match="past Redis' 15"):
        _worker_redis_url("redis://127.0.0.1:6379/14", 2)


def test_the_cache_the_broker_and_worker_subprocesses_use_this_workers_database(redis_url, settings):
    from abe_portal.celery import app as celery_app

    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw1"; unset when the tests run serially
    expected = _worker_redis_url(BASE_REDIS_URL, int(worker.removeprefix("gw"))) if worker else BASE_REDIS_URL
    assert redis_url == expected
    assert settings.CACHES["default"]["LOCATION"] == expected
    assert settings.CELERY_BROKER_URL == celery_app.conf.broker_url == expected
    assert os.environ["REDIS_URL"] == expected  # what `celery worker` subprocesses are started with
    cache.set("parallel-runs:probe", "here", 30)
    keys = redis.Redis.from_url(expected).keys("*parallel-runs:probe")
    assert len(keys) == 1, "the cache writes into this worker's database"


# Kept on one worker and in this order: the first flushes the tables, the second must find the data back.
@pytest.mark.xdist_group("reference_data_flush")
@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_ends_by_flushing_every_table():
    from universities.models import University

    assert University.objects.filter(code="KKU").exists()


@pytest.mark.xdist_group("reference_data_flush")
@pytest.mark.django_db(transaction=True)
def test_the_next_test_finds_the_reference_data_back():
    from provinces.models import Province, SubDistrict
    from targets.models import Category
    from universities.models import University

    assert University.objects.filter(code="KKU").exists()
    assert Province.objects.filter(code=40).exists()
    assert SubDistrict.objects.exists()
    assert Category.objects.exists()


def test_every_test_has_a_node_id_of_its_own(request):
    """xdist hands out tests by node id: two with one id would run once (schemathesis' did, conftest.py)."""
    ids = [item.nodeid for item in request.session.items]
    assert len(ids) == len(set(ids))
    for item in request.session.items:
        assert item.nodeid.endswith(f"::{item.name}"), "the id names the operation, test_x[GET /api/v1/...]"
