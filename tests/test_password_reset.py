"""Password reset does the same work in the request for an address with an account and one without
(accounts/password_reset.py): the request enqueues the mail task for both, the task looks the address
up and mails the link. Compared by queries, enqueued tasks and the functions run, never by time."""

import base64
import gc
import json
import os
import re
import socket
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.password_reset import KEY_PLACEHOLDER
from accounts.tasks import send_password_reset
from conftest import PASSWORD

KNOWN = "coord.a@example.org"
UNKNOWN = "nobody.here@example.org"
TASK = "accounts.tasks.send_password_reset"
QUEUE = "celery"  # Celery's default queue: a Redis list of that name on REDIS_URL's database


@pytest.fixture
def broker(redis_url, settings):
    """The real Redis as the broker (REDIS_URL's database), its queue emptied before and after."""
    import redis

    assert not settings.CELERY_TASK_ALWAYS_EAGER, "with REDIS_URL set, tasks go to the broker"
    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)


def _enqueued(broker) -> list[tuple[str, dict]]:
    """(task name, keyword arguments) of each message waiting in the queue, oldest first."""
    messages = []
    for raw in reversed(broker.lrange(QUEUE, 0, -1)):  # kombu pushes on the left
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], kwargs))
    return messages


@pytest.fixture
def reset(django_capture_on_commit_callbacks):
    """reset(client, email): ask for a reset link. The test's transaction never commits, so the
    on-commit callbacks (the enqueue) run as a commit would run them."""

    def post(client: Client, email: str):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/accounts/password/reset/", {"email": email})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password/reset/done/"
        return response

    return post


def test_a_reset_for_a_known_address_enqueues_the_mail_task_which_sends_a_working_link(cast, broker, reset):
    client = Client()
    reset(client, KNOWN)
    assert mail.outbox == [], "the request sends nothing itself"
    [(task, kwargs)] = _enqueued(broker)
    assert task == TASK
    assert kwargs["email"] == KNOWN
    assert kwargs["link"] == f"http://testserver/accounts/password/reset/key/{KEY_PLACEHOLDER}/"
    assert kwargs["language"] == "th"

    # What a worker does with the message.
    assert send_password_reset.apply(kwargs=kwargs).get() == 1
    [message] = mail.outbox
    assert message.to == [KNOWN]
    assert message.subject.startswith("[testserver] ")
    assert "ท่านได้รับอีเมลนี้" in message.body, "in the language of the request (Thai)"
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", message.body).group(1)
    assert KEY_PLACEHOLDER not in link
    # The link works: it leads to the form for a new password, which signs the user in with it.
    form_page = client.get(link)
    assert form_page.status_code == 302
    new_password = "a-brand-new-pass-2567"
    done = client.post(form_page["Location"], {"password1": new_password, "password2": new_password})
    assert done.status_code == 302
    cast.coordinator_a.refresh_from_db()
    assert cast.coordinator_a.check_password(new_password)
    assert not cast.coordinator_a.check_password(PASSWORD)


def test_a_reset_for_an_unknown_address_enqueues_the_same_task_which_sends_nothing(cast, broker, reset):
    reset(Client(), UNKNOWN)
    [(task, kwargs)] = _enqueued(broker)
    assert (task, kwargs["email"]) == (TASK, UNKNOWN)
    assert send_password_reset.apply(kwargs=kwargs).get() == 0
    assert mail.outbox == []


def test_an_inactive_account_gets_no_mail(cast, broker, reset):
    cast.coordinator_a.is_active = False
    cast.coordinator_a.save(update_fields=["is_active"])
    reset(Client(), KNOWN)
    [(_task, kwargs)] = _enqueued(broker)
    assert send_password_reset.apply(kwargs=kwargs).get() == 0
    assert mail.outbox == []


PROJECT = str(Path(django_settings.BASE_DIR))
TESTS = str(Path(__file__).parent)


def _traced(filename: str) -> bool:
    """The project's code and allauth's: the code path of a reset. Django's own internals are left out:
    their caches (signal receivers, templates) make the order of their calls vary from run to run."""
    if f"{os.sep}allauth{os.sep}" in filename:
        return True
    # The virtualenv may live inside the project (.venv, as in CI): its packages are not the project's.
    return (
        filename.startswith(PROJECT)
        and not filename.startswith(TESTS)
        and f"{os.sep}site-packages{os.sep}" not in filename
    )


class _CallTrace:
    """The project's and allauth's functions a block runs (file and name), in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def _profile(self, frame, event, _arg) -> None:
        if event == "call" and _traced(frame.f_code.co_filename):
            self.calls.append((frame.f_code.co_filename, frame.f_code.co_name))

    def __enter__(self):
        # No garbage collection inside: a finaliser run at a random moment would show as a call.
        gc.collect()
        gc.disable()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)
        gc.enable()


def _request_work(reset, client: Client, email: str, broker) -> dict:
    with CaptureQueriesContext(connection) as queries, _CallTrace() as trace:
        reset(client, email)
    [(task, kwargs)] = _enqueued(broker)
    broker.delete(QUEUE)
    return {
        "queries": [q["sql"] for q in queries.captured_queries],
        "task": (task, sorted(kwargs), kwargs["link"], kwargs["language"]),
        "calls": trace.calls,
    }


def test_known_and_unknown_addresses_cost_the_request_the_same_work(cast, broker, reset):
    client = Client()
    for email in (KNOWN, UNKNOWN):  # warm up: imports, templates, the rate limit's first count
        reset(client, email)
    broker.delete(QUEUE)
    known = _request_work(reset, client, KNOWN, broker)
    unknown = _request_work(reset, client, UNKNOWN, broker)
    assert known["queries"] == unknown["queries"]
    assert known["task"] == unknown["task"]
    assert known["calls"] == unknown["calls"], "the same functions, in the same order"
    called = {name for _filename, name in known["calls"]}
    assert {"clean_email", "save", "enqueue_reset_mail", "get_reset_password_from_key_url"} <= called
    # None of the mail's work happens in the request: no lookup, no token, no rendering, no sending.
    assert not called & {"send_reset_mail", "filter_users_by_email", "make_token", "render_mail", "send_mail"}
    assert mail.outbox == []


def test_in_the_embedded_default_the_task_runs_inside_the_request(cast, settings, reset):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # REDIS_URL unset: tasks run in-process
    reset(Client(), KNOWN)
    [message] = mail.outbox
    assert message.to == [KNOWN]


def test_with_the_broker_down_the_mail_is_sent_from_the_request(cast, caplog, reset):
    """Nothing is lost when Redis is away: the request sends the mail itself, and says so in the log."""
    from abe_portal.celery import app

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The app's connection and producer pools are made for one broker (and kept in kombu's registry
    # by its URL): set aside for the test, so that the next publish connects to the dead port.
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = f"redis://127.0.0.1:{port}/0"
    app._pool = app.amqp._producer_pool = None
    try:
        reset(Client(), KNOWN)
    finally:
        app.pool.force_close_all()  # the dead broker's pool only
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved
    [message] = mail.outbox
    assert message.to == [KNOWN]
    assert "Broker unreachable" in caplog.text
    assert KNOWN not in caplog.text, "no address in the log"
