"""Upload applies take turns per province, and no web request waits for another upload's apply
(targets/upload/pipeline.py apply_in_turn, targets/upload/services.py, targets/upload/background.py).

Real concurrency on PostgreSQL: an apply runs in a thread of its own, on its own connection, and holds
its transaction open (Holder) while another apply, in another thread or in a request, runs beside it.
pg_locks and pg_stat_activity show who waits for what. Transactional tests: each connection sees only
committed rows.
"""

import threading
import time
from collections.abc import Callable

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from conftest import PROVINCE_A, PROVINCE_B
from targets.models import TargetRecord, UploadBatch
from targets.upload import background, pipeline, services
from tests.builders import national_id, upload

pytestmark = pytest.mark.django_db(transaction=True)

Status = UploadBatch.Status
OUT = "เด็กและเยาวชนนอกระบบการศึกษา"
OTHER_PROVINCE_TH = "เลขประจำตัวนี้มีระเบียนอยู่นอกจังหวัดของท่านแล้ว"
APPLY_ERROR_TH = "เกิดข้อผิดพลาดที่ไม่คาดคิดระหว่างบันทึกข้อมูลจากไฟล์นี้"
WAIT = 60  # seconds: a bound on a wait that should end at once, so a regression fails instead of hanging


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks and concurrent transactions: PostgreSQL only")


def _csv(identifiers: list[str], name: str = "รายชื่อ.csv") -> SimpleUploadedFile:
    lines = ["เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย"]
    lines += [f"{identifier},เด็ก{n},ใจดี,{OUT}" for n, identifier in enumerate(identifiers)]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode())


class Holder:
    """An apply in a thread of its own (its own connection) that holds its transaction open, with its
    locks and its records not yet committed, until released."""

    def __init__(self, batch: UploadBatch, user) -> None:
        self.batch, self.user = batch, user
        self.holding = threading.Event()
        self.release = threading.Event()
        self.report: pipeline.Report | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.holding.wait(WAIT), "the holder never applied"
        assert self.error is None, self.error

    def _run(self) -> None:
        try:
            with transaction.atomic():
                self.report = pipeline.apply_in_turn(self.batch, user=self.user)
                self.holding.set()
                self.release.wait(WAIT)
        except BaseException as exc:  # noqa: BLE001 - shown by the test
            self.error = exc
            self.holding.set()
        finally:
            connection.close()

    def commit(self) -> None:
        self.release.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


class InThread:
    """Something that may wait (an apply, a request), run in a thread with its own connection."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.work = work
        self.result: object = None
        self.error: BaseException | None = None
        self.pid: int | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.started.wait(WAIT)

    def _run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                (self.pid,) = cursor.fetchone()
            self.started.set()
            self.result = self.work()
        except BaseException as exc:  # noqa: BLE001 - shown by the test
            self.error = exc
        finally:
            self.started.set()
            connection.close()

    def join(self, timeout: float = WAIT):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "still waiting"
        assert self.error is None, self.error
        return self.result


def _until(condition: Callable[[], object], what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _province_lock(province_id: int) -> list[tuple[int, bool]]:
    """(backend pid, granted) of each holder of or waiter for the province's apply lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
            "AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [pipeline.PROVINCE_LOCK_CLASS, province_id],
        )
        return cursor.fetchall()


def _waits_on(pid: int) -> str | None:
    """What the backend waits for (pg_stat_activity's wait_event of type Lock), or None."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", [pid])
        row = cursor.fetchone()
    return row[0] if row else None


def _row(batch: UploadBatch) -> UploadBatch:
    return UploadBatch.objects.get(pk=batch.pk)


# --- two provinces side by side, one province in turn ---------------------------------------------------


def test_two_provinces_apply_side_by_side(cast):
    a = upload(cast.coordinator_a, _csv([national_id(n) for n in range(1, 4)]), PROVINCE_A)
    b = upload(cast.coordinator_b, _csv([national_id(n) for n in range(11, 14)]), PROVINCE_B)
    holder = Holder(a, cast.coordinator_a)
    try:
        # A's apply holds its province's lock in an open transaction; B's runs to the end meanwhile.
        assert [granted for _, granted in _province_lock(a.province_id)] == [True]
        InThread(lambda: services.apply_upload(batch_id=b.pk, user_id=cast.coordinator_b.pk)).join()
        assert (_row(b).status, _row(b).created) == (Status.APPLIED, 3)
        assert holder.thread.is_alive(), "A still holds its transaction open"
        assert not TargetRecord.objects.filter(province_id=a.province_id).exists(), "A's rows are not committed"
    finally:
        holder.commit()
    assert TargetRecord.objects.filter(province_id=a.province_id).count() == 3


def test_the_same_provinces_second_apply_waits_for_the_first(cast):
    first = upload(cast.coordinator_a, _csv([national_id(n) for n in range(1, 4)]), PROVINCE_A)
    second = upload(cast.coordinator_a, _csv([national_id(n) for n in range(4, 6)], "อีกไฟล์.csv"), PROVINCE_A)
    holder = Holder(first, cast.coordinator_a)
    try:
        waiting = InThread(lambda: services.apply_upload(batch_id=second.pk, user_id=cast.coordinator_a.pk))
        # The second apply waits on the province's lock (pg_locks: not granted), writing nothing.
        _until(lambda: (waiting.pid, False) in _province_lock(first.province_id), "the second apply to wait")
        assert _waits_on(waiting.pid) == "advisory"
        assert waiting.thread.is_alive()
        assert _row(second).status == Status.APPLYING
    finally:
        holder.commit()
    waiting.join()
    assert (_row(second).status, _row(second).created) == (Status.APPLIED, 2), "it ran once the first committed"
    assert TargetRecord.objects.filter(province_id=first.province_id).count() == 5


# --- two provinces racing on a new identifier ---------------------------------------------------------


def test_two_provinces_racing_on_a_new_identifier_the_second_rejects_it_as_held_by_another_province(cast, caplog):
    """Both files bring the same new identifier: neither sees it when it classifies its rows. A's apply writes
    it and holds its transaction open; B's COPY waits on it, then fails on the unique index once A commits.
    B is redone under the national lock, where the row is A's: rejected with its reason, nothing dropped."""
    shared = national_id(99)
    a = upload(cast.coordinator_a, _csv([shared, national_id(1)]), PROVINCE_A)
    b = upload(cast.coordinator_b, _csv([national_id(11), shared, national_id(12)]), PROVINCE_B)
    assert (a.created, b.created) == (2, 3), "each check finds the identifier new"
    holder = Holder(a, cast.coordinator_a)
    try:
        racing = InThread(lambda: services.apply_upload(batch_id=b.pk, user_id=cast.coordinator_b.pk))
        # B's COPY waits for A's transaction: the index entry of the shared identifier is A's, uncommitted.
        _until(lambda: _waits_on(racing.pid) == "transactionid", "B's COPY to wait on A's identifier")
        assert _province_lock(a.province_id) == [(holder_pid(a.province_id), True)]
    finally:
        holder.commit()
    racing.join()

    b = _row(b)
    assert (b.status, b.rows_total, b.created, b.updated, b.unchanged, b.rejected) == (Status.APPLIED, 3, 2, 0, 0, 1)
    (rejection,) = b.rejections.all()
    assert (rejection.row_number, rejection.reason.startswith(OTHER_PROVINCE_TH)) == (3, True)
    assert TargetRecord.objects.get(identifier=shared).province_id == a.province_id
    assert set(TargetRecord.objects.filter(province_id=b.province_id).values_list("identifier", flat=True)) == {
        national_id(11),
        national_id(12),
    }
    assert "another province wrote one of its new identifiers first" in caplog.text


def holder_pid(province_id: int) -> int:
    ((pid, _),) = _province_lock(province_id)
    return pid


# --- a request never waits: with a broker, it queues ----------------------------------------------------


def _queued_tasks(url: str) -> list[tuple[str, str]]:
    """(task name, its arguments) of each upload task waiting in the broker's default queue (an applied
    upload also queues the summaries' refresh: not counted)."""
    import json

    messages = [json.loads(m) for m in redis.Redis.from_url(url).lrange("celery", 0, -1)]
    tasks = [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages]
    return [(name, args) for name, args in tasks if name.startswith("targets.")]


@pytest.fixture
def broker(redis_url, settings):
    """The real broker, its default queue emptied before and after (no worker takes the messages here)."""
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    client = redis.Redis.from_url(redis_url)
    client.delete("celery")
    yield redis_url
    client.delete("celery")


def test_a_confirm_while_the_province_is_busy_answers_at_once_and_queues_the_apply(cast, client_for, broker):
    first = upload(cast.coordinator_a, _csv([national_id(1)]), PROVINCE_A)
    small = upload(cast.coordinator_a, _csv([national_id(2), national_id(3)], "เล็ก.csv"), PROVINCE_A)
    assert small.size <= services.settings.TARGETS_UPLOAD_INLINE_BYTES, "a file the request would apply itself"
    client = client_for(cast.coordinator_a)
    holder = Holder(first, cast.coordinator_a)
    try:
        response = InThread(lambda: client.post(f"/uploads/{small.pk}/confirm/", follow=True)).join()
        assert response.status_code == 200
        row = _row(small)
        # Queued as a big file's apply is: no attempt counted, the sweeper's clock started.
        assert (row.status, row.attempts, row.started_at, row.queued_at is not None) == (Status.APPLYING, 0, None, True)
        assert _queued_tasks(broker) == [
            ("targets.tasks.apply_upload_task", f"({small.pk}, {cast.coordinator_a.pk}, 'th')")
        ]
        html = response.content.decode()
        assert f'data-progress-url="/uploads/{small.pk}/progress.json"' in html
        assert (
            '<button type="button" data-testid="confirm-upload" disabled aria-disabled="true">กำลังบันทึก…</button>'
            in html
        )
        assert not TargetRecord.objects.filter(identifier=national_id(2)).exists()
    finally:
        holder.commit()
    # The task does the apply once the province is free (as the worker would).
    services.apply_upload(batch_id=small.pk, user_id=cast.coordinator_a.pk, language="th", in_task=True)
    assert (_row(small).status, _row(small).created, _row(small).attempts) == (Status.APPLIED, 2, 1)


def test_a_confirm_whose_identifier_another_province_is_writing_queues_instead_of_waiting(cast, client_for, broker):
    shared = national_id(99)
    a = upload(cast.coordinator_a, _csv([shared]), PROVINCE_A)
    b = upload(cast.coordinator_b, _csv([shared, national_id(11)]), PROVINCE_B)
    holder = Holder(a, cast.coordinator_a)
    try:
        started = time.monotonic()
        InThread(lambda: client_for(cast.coordinator_b).post(f"/uploads/{b.pk}/confirm/")).join()
        print(f"the confirm answered in {time.monotonic() - started:.2f} s")  # lock_timeout: 200 ms
        assert (_row(b).status, _row(b).attempts) == (Status.APPLYING, 0)
        assert [name for name, _ in _queued_tasks(broker)] == ["targets.tasks.apply_upload_task"]
        assert not TargetRecord.objects.filter(province_id=b.province_id).exists(), "nothing of it written"
    finally:
        holder.commit()
    services.apply_upload(batch_id=b.pk, user_id=cast.coordinator_b.pk, in_task=True)
    b = _row(b)
    assert (b.status, b.created, b.rejected) == (Status.APPLIED, 1, 1)
    assert b.rejections.get().reason.startswith(OTHER_PROVINCE_TH)


def test_a_confirm_of_a_free_province_still_applies_within_the_request(cast, client_for, broker):
    small = upload(cast.coordinator_a, _csv([national_id(2)]), PROVINCE_A)
    client_for(cast.coordinator_a).post(f"/uploads/{small.pk}/confirm/")
    assert (_row(small).status, _row(small).created) == (Status.APPLIED, 1)
    assert _queued_tasks(broker) == []
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("0",), "the request's short lock_timeout does not outlive its apply"


# --- without a broker: the background thread ----------------------------------------------------------


@pytest.fixture
def embedded(settings):
    """The embedded default: no broker, jobs on the web process's background thread."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.TARGETS_UPLOAD_BACKGROUND_THREAD = True
    yield settings
    background.wait_for_all(WAIT)


def _client_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def test_without_a_broker_the_confirm_answers_at_once_and_a_thread_applies_it(cast, client_for, embedded):
    first = upload(cast.coordinator_a, _csv([national_id(1)]), PROVINCE_A)
    second = upload(cast.coordinator_a, _csv([national_id(2), national_id(3)], "อีกไฟล์.csv"), PROVINCE_A)
    client = client_for(cast.coordinator_a)
    backends = _client_backends()
    holder = Holder(first, cast.coordinator_a)
    try:
        response = client.post(f"/uploads/{second.pk}/confirm/", follow=True)  # the province is busy: no matter
        assert response.status_code == 200
        html = response.content.decode()
        assert f'data-progress-url="/uploads/{second.pk}/progress.json"' in html
        assert "กำลังบันทึกข้อมูลจากไฟล์…" in html
        assert 'disabled aria-disabled="true">กำลังบันทึก…</button>' in html
        # The apply waits on the thread, on its own connection, for the province's turn.
        waiter = _until(
            lambda: [pid for pid, granted in _province_lock(first.province_id) if not granted], "the thread to wait"
        )
        assert len(waiter) == 1
        assert _row(second).status == Status.APPLYING
    finally:
        holder.commit()
    background.wait_for_all(WAIT)
    assert (_row(second).status, _row(second).created, _row(second).attempts) == (Status.APPLIED, 2, 1)
    # The thread closed its connection: its backend leaves pg_stat_activity a moment after the client hangs up
    # (a CI run caught it still listed), so wait for it, up to WAIT; a connection left open fails the wait.
    _until(lambda: _client_backends() == backends, "the thread's connection to close")


def test_without_a_broker_a_big_files_check_runs_on_the_thread_and_a_failing_apply_ends_failed(
    cast, client_for, embedded, monkeypatch
):
    embedded.TARGETS_UPLOAD_INLINE_BYTES = 0  # every file is big
    threads = []
    real_run = pipeline.run

    def run(batch, *, apply, **kwargs):
        threads.append(threading.current_thread().name)
        if apply:
            raise RuntimeError("a bug nobody foresaw")
        return real_run(batch, apply=apply, **kwargs)

    monkeypatch.setattr(pipeline, "run", run)
    client = client_for(cast.coordinator_a)
    response = client.post("/uploads/new/", {"province": PROVINCE_A, "file": _csv([national_id(1)])})
    assert response.status_code == 302
    batch = UploadBatch.objects.get()
    background.wait_for_all(WAIT)
    assert (_row(batch).status, _row(batch).attempts) == (Status.CHECKED, 1)

    client.post(f"/uploads/{batch.pk}/confirm/")
    background.wait_for_all(WAIT)
    batch = _row(batch)
    assert (batch.status, batch.failure, batch.progress) == (Status.FAILED, UploadBatch.Failure.ERROR, 100)
    assert batch.error.startswith(APPLY_ERROR_TH)
    assert [name.startswith("upload-job") for name in threads] == [True, True], threads
    assert not TargetRecord.objects.exists()


def test_without_a_broker_the_page_restarts_a_cut_off_job_on_the_thread_and_leaves_a_live_one_alone(
    cast, client_for, embedded
):
    """No beat without a broker: the upload's page does the sweeper's work, and the thread does the job."""
    from datetime import timedelta

    from django.utils import timezone

    embedded.TARGETS_UPLOAD_REQUEUE_AFTER_SECONDS = 300
    batch = upload(cast.coordinator_a, _csv([national_id(1), national_id(2)]), PROVINCE_A)
    # The server stopped in the middle of the apply: the row says an apply started six minutes ago.
    UploadBatch.objects.filter(pk=batch.pk).update(
        status=Status.APPLYING, attempts=1, started_at=timezone.now() - timedelta(seconds=360)
    )
    client = client_for(cast.coordinator_a)
    held, release = threading.Event(), threading.Event()

    def live_job() -> None:  # a job still at work holds its job lock (on its own connection): left alone
        with services._job_lock(batch.pk) as ours:
            assert ours
            held.set()
            release.wait(WAIT)

    live = InThread(live_job)
    assert held.wait(WAIT)
    try:
        assert client.get(f"/uploads/{batch.pk}/").status_code == 200
        assert _row(batch).restarted_at is None
    finally:
        release.set()
    live.join()
    page = client.get(f"/uploads/{batch.pk}/")
    assert 'data-status="applying"' in page.content.decode(), "the page answers, the thread applies"
    background.wait_for_all(WAIT)
    row = _row(batch)
    # The cut-off attempt counts, and the restarted one (TARGETS_UPLOAD_MAX_ATTEMPTS bounds them).
    assert (row.status, row.created, row.attempts, row.restarted_at is not None) == (Status.APPLIED, 2, 2, True)


def test_the_apis_apply_while_the_province_is_busy_answers_202_and_queues(cast, client_for, broker):
    first = upload(cast.coordinator_a, _csv([national_id(1)]), PROVINCE_A)
    small = upload(cast.coordinator_a, _csv([national_id(2)], "เล็ก.csv"), PROVINCE_A)
    client = client_for(cast.coordinator_a)
    holder = Holder(first, cast.coordinator_a)
    try:
        response = InThread(lambda: client.post(f"/api/v1/imports/{small.pk}/apply/")).join()
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "applying"
        assert [name for name, _ in _queued_tasks(broker)] == ["targets.tasks.apply_upload_task"]
    finally:
        holder.commit()


def test_a_keys_small_apply_while_the_province_is_busy_answers_202_at_once_and_the_task_applies_it(cast, broker):
    """A partner key's apply goes the way of a user's: it never waits for another upload's, and the task applies
    it later as the partner's service account with the key's scope, naming the key in the audit trail."""
    import ast

    from django.apps import apps

    from api.models import Partner
    from targets.tasks import apply_upload_task
    from tests.api_support import key_client, make_key

    key, secret = make_key(provinces=[PROVINCE_A], name="key-a")
    client = key_client(secret)
    first = upload(cast.coordinator_a, _csv([national_id(1)]), PROVINCE_A)
    checked = client.post("/api/v1/imports/", {"province": PROVINCE_A, "file": _csv([national_id(2), national_id(3)])})
    assert checked.status_code == 201, checked.content
    small = UploadBatch.objects.get(pk=checked.json()["id"])
    assert small.size <= services.settings.TARGETS_UPLOAD_INLINE_BYTES, "a file the request would apply itself"
    holder = Holder(first, cast.coordinator_a)
    try:
        started = time.monotonic()
        response = InThread(lambda: client.post(f"/api/v1/imports/{small.pk}/apply/")).join()
        print(f"the key's apply answered in {time.monotonic() - started:.2f} s")
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "applying"
        row = _row(small)
        assert (row.status, row.attempts, row.started_at, row.api_key) == (Status.APPLYING, 0, None, key.prefix)
        [(name, args)] = _queued_tasks(broker)
        assert name == "targets.tasks.apply_upload_task"
        assert not TargetRecord.objects.filter(identifier=national_id(2)).exists()
    finally:
        holder.commit()
    apply_upload_task(*ast.literal_eval(args))  # as the worker would, once the province is free
    row = _row(small)
    assert (row.status, row.created, row.attempts) == (Status.APPLIED, 2, 1)
    service_user = Partner.objects.get(pk=key.partner_id).service_user
    assert row.confirmed_by_id == service_user.pk
    inserted = apps.get_model("audit", "TargetRecordEvent").objects.filter(
        pgh_label="insert", identifier__in=[national_id(2), national_id(3)]
    )
    assert {e.pgh_context.metadata.get("api_key") for e in inserted} == {key.prefix}


def test_without_a_broker_a_keys_apply_answers_202_and_the_thread_applies_it_with_the_keys_scope(cast, embedded):
    from api.models import Partner
    from tests.api_support import key_client, make_key

    key, secret = make_key(provinces=[PROVINCE_A], name="key-a")
    client = key_client(secret)
    checked = client.post("/api/v1/imports/", {"province": PROVINCE_A, "file": _csv([national_id(2), national_id(3)])})
    assert (checked.status_code, checked.json()["status"]) == (201, "checked")
    response = client.post(f"/api/v1/imports/{checked.json()['id']}/apply/")
    assert (response.status_code, response.json()["status"]) == (202, "applying")
    background.wait_for_all(WAIT)
    row = UploadBatch.objects.get(pk=checked.json()["id"])
    assert (row.status, row.created, row.api_key) == (Status.APPLIED, 2, key.prefix)
    service_user = Partner.objects.get(pk=key.partner_id).service_user
    assert set(TargetRecord.objects.values_list("updated_by_id", flat=True)) == {service_user.pk}
