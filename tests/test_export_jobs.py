"""Exports as background jobs (exports/): a job started from the records list shows its progress, is downloaded by
the one who asked and by nobody else (404), expires, and ends in a final state whatever happens; the API's
asynchronous export resource; the query count of the job page."""

import csv
import datetime
import io
import pathlib

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.test import TestCase
from django.utils import timezone

from audit.models import AccessLog
from conftest import PROVINCE_A, PROVINCE_B
from core.thai_id import format_identifier, mask_identifier
from exports import registry, services
from exports.models import ExportJob
from tests.api_support import READ_ALL, key_client, make_key, make_records
from tests.builders import start_export

CSV_URL = "/records/export/?format=csv"
OVERHEAD = 2  # the session and the user before the view (the session is not saved on each view: tests/test_records.py)


@pytest.fixture(autouse=True)
def _small_threshold(settings, tmp_path):
    # Any list of more than 5 records is a job here; files go to the test's own media folder.
    settings.EXPORTS_RECORDS_INLINE_ROWS = 5
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def records_a(cast):
    return make_records(PROVINCE_A, 12)


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _download(client, job_id: int):
    response = client.get(f"/exports/{job_id}/download/")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response, content


def test_a_records_export_job_shows_progress_downloads_and_is_404_for_another_province(
    cast, client_for, records_a, monkeypatch
):
    make_records(PROVINCE_B, 3, start=500)
    client = client_for(cast.coordinator_a)
    job_id = start_export(client, CSV_URL)
    job = ExportJob.objects.get(pk=job_id)
    assert (job.status, job.user, job.kind, job.params) == ("queued", cast.coordinator_a, "targets.records", {})

    # Before a worker takes it: its page has the progress bar (the upload's script) at 0 %.
    page = client.get(f"/exports/{job_id}/").content.decode()
    assert 'data-testid="export-progress"' in page
    assert f'data-progress-url="/exports/{job_id}/progress/"' in page
    assert "js/upload_progress.js" in page
    assert "กำลังรอคิว" in page or "รอ" in page  # Thai first
    assert client.get(f"/exports/{job_id}/progress/").json() == {"status": "queued", "percent": 0, "done": False}

    # While it runs, the page's progress (JSON) moves: the builder reports every CHUNK rows.
    monkeypatch.setattr("targets.exports.CHUNK", 4)
    monkeypatch.setattr(services, "PROGRESS_EVERY_SECONDS", 0)
    seen = []
    writer = services._progress_writer

    def watched(pk):
        write = writer(pk)

        def progress(done, total):
            write(done, total)
            seen.append(client.get(f"/exports/{pk}/progress/").json())

        return progress

    monkeypatch.setattr(services, "_progress_writer", watched)
    services.run_export(job_id=job_id)
    assert {"status": "running", "percent": 33, "done": False} in seen  # 4 of 12 rows
    assert [s["percent"] for s in seen] == sorted(s["percent"] for s in seen)

    job.refresh_from_db()
    assert (job.status, job.progress, job.row_count, job.message) == ("done", 100, 12, "")
    assert default_storage.exists(job.file.name)
    page = client.get(f"/exports/{job_id}/").content.decode()
    assert 'data-testid="export-ready"' in page
    assert "ไฟล์ส่งออกของคุณพร้อมแล้ว" in page
    assert f'href="/exports/{job_id}/download/"' in page

    response, content = _download(client, job_id)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="target-records-')
    assert "no-store" in response["Cache-Control"]
    rows = _csv(content)
    assert len(rows) == 13  # the header and A's 12, none of B's
    assert {row[6] for row in rows[1:]} == {"ขอนแก่น"}
    # The coordinator sees their province's IDs in full, as in the list's export.
    assert rows[1][0] == format_identifier(records_a[0].identifier) or rows[1][0] in {
        format_identifier(r.identifier) for r in records_a
    }
    entry = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
    assert (entry.user, entry.count, entry.description) == (cast.coordinator_a, 12, "csv export of records")
    assert entry.path == f"/exports/{job_id}/download/"

    # Nobody else sees it: another province's coordinator, the EEF admin, the viewer of the same province.
    for other in (cast.coordinator_b, cast.eef_admin, cast.viewer_a):
        outsider = client_for(other)
        for url in (f"/exports/{job_id}/", f"/exports/{job_id}/progress/", f"/exports/{job_id}/download/"):
            assert outsider.get(url).status_code == 404, (other, url)
        assert f"/exports/{job_id}/" not in outsider.get("/exports/").content.decode()
    assert AccessLog.objects.filter(action=AccessLog.Action.EXPORT).count() == 1


def test_an_xlsx_job_masks_identifiers_for_the_university_member(cast, client_for, records_a):
    client = client_for(cast.university_member)
    job_id = start_export(client, "/records/export/?format=xlsx")
    services.run_export(job_id=job_id)
    response, content = _download(client, job_id)
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "เลขประจำตัวประชาชน"
    assert len(rows) == 13
    assert {row[0] for row in rows[1:]} == {mask_identifier(r.identifier) for r in records_a}
    assert sheet["T2"].is_date
    assert "107041E" in sheet["T2"].number_format


def test_a_small_list_still_streams_at_once(cast, client_for):
    make_records(PROVINCE_A, 3)
    response = client_for(cast.coordinator_a).post(CSV_URL)
    assert response.status_code == 200
    assert len(_csv(b"".join(response.streaming_content))) == 4
    assert not ExportJob.objects.exists()


def test_a_get_of_a_large_export_offers_the_job_and_starts_nothing(cast, client_for, records_a):
    response = client_for(cast.coordinator_a).get(CSV_URL)
    assert response.status_code == 200
    assert 'data-testid="export-start"' in response.content.decode()
    assert not ExportJob.objects.exists()


def test_the_job_is_scoped_when_it_runs_not_only_when_asked(cast, client_for, records_a):
    # The job keeps the filters, not the rows, and its builder asks the door again: B's province asked for by A's
    # coordinator gives A's records only, as the list does (a single province's filter is not offered).
    make_records(PROVINCE_B, 8, start=500)
    client = client_for(cast.coordinator_a)
    job_id = start_export(client, f"{CSV_URL}&province={PROVINCE_B}")
    services.run_export(job_id=job_id)
    _response, content = _download(client, job_id)
    assert {row[6] for row in _csv(content)[1:]} == {"ขอนแก่น"}
    # The coordinator moved to another province before a job ran: it holds the new scope's rows, not the old.
    second = start_export(client, CSV_URL)
    cast.coordinator_a.memberships.update(province_id=PROVINCE_B)
    from accounts.access import forget_scope

    forget_scope(cast.coordinator_a)
    services.run_export(job_id=second)
    _response, content = _download(client, second)
    assert {row[6] for row in _csv(content)[1:]} == {"พะเยา"}


def test_an_expired_export_answers_410_in_thai_and_prune_expired_deletes_only_expired_files(
    cast, client_for, records_a
):
    client = client_for(cast.coordinator_a)
    old, fresh = start_export(client, CSV_URL), start_export(client, CSV_URL)
    services.run_export(job_id=old)
    services.run_export(job_id=fresh)
    old_job, fresh_job = ExportJob.objects.get(pk=old), ExportJob.objects.get(pk=fresh)
    assert fresh_job.expires_at - fresh_job.finished_at == datetime.timedelta(hours=24)  # EXPORTS_KEEP_HOURS
    ExportJob.objects.filter(pk=old).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))

    response = client.get(f"/exports/{old}/download/")
    assert response.status_code == 410
    assert "หมดอายุ" in response.content.decode()
    assert 'data-testid="export-expired"' in client.get(f"/exports/{old}/").content.decode()

    assert services.prune_expired(timezone.now()) == 1
    assert not default_storage.exists(old_job.file.name)
    assert default_storage.exists(fresh_job.file.name)
    old_job.refresh_from_db()
    assert (old_job.status, old_job.file.name) == ("expired", "")
    assert services.prune_expired(timezone.now()) == 0  # twice changes nothing
    assert client.get(f"/exports/{old}/download/").status_code == 410
    assert client.get(f"/exports/{fresh}/download/").status_code == 200


@pytest.fixture
def failing_kind():
    def build(job):
        job.progress(1, 2)
        raise RuntimeError("the disk is full")

    registry.register(
        registry.Kind(
            name="tests.failing", formats=("csv",), title=lambda params, fmt: "ทดสอบ", check=lambda p, params, f: {},
            build=build,
        )
    )  # fmt: skip
    yield "tests.failing"
    registry._kinds.pop("tests.failing")


def test_a_failed_job_ends_failed_with_a_thai_message_on_its_page(cast, client_for, failing_kind):
    with TestCase.captureOnCommitCallbacks(execute=False):
        job = services.start_export(principal=cast.coordinator_a, kind=failing_kind, file_format="csv", language="th")
    services.run_export(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.progress, job.file.name) == ("failed", 100, "")
    assert "the disk is full" not in job.message  # the details go to the log, never to the page
    client = client_for(cast.coordinator_a)
    page = client.get(f"/exports/{job.pk}/").content.decode()
    assert 'data-testid="export-failed"' in page
    assert job.message in page
    assert "ข้อผิดพลาด" in job.message
    assert client.get(f"/exports/{job.pk}/progress/").json() == {"status": "failed", "percent": 100, "done": True}
    assert client.get(f"/exports/{job.pk}/download/").status_code == 404
    services.run_export(job_id=job.pk)  # a duplicate message finds it finished and does nothing
    job.refresh_from_db()
    assert job.attempts == 1


def test_a_job_of_a_deactivated_user_fails_rather_than_runs(cast, records_a):
    with TestCase.captureOnCommitCallbacks(execute=False):
        job = services.start_export(principal=cast.coordinator_a, kind="targets.records", file_format="csv")
    type(cast.coordinator_a).objects.filter(pk=cast.coordinator_a.pk).update(is_active=False)
    services.run_export(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert not job.file


def test_the_sweeper_queues_a_lost_job_again_and_fails_one_whose_attempts_are_used_up(cast, records_a, settings):
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.EXPORTS_REQUEUE_AFTER_SECONDS + 60)
    with TestCase.captureOnCommitCallbacks(execute=False):
        lost = services.start_export(principal=cast.coordinator_a, kind="targets.records", file_format="csv")
        crashed = services.start_export(principal=cast.coordinator_a, kind="targets.records", file_format="csv")
        waiting = services.start_export(principal=cast.coordinator_a, kind="targets.records", file_format="csv")
    ExportJob.objects.filter(pk=lost.pk).update(queued_at=long_ago)
    # A worker that died three times on it: started, no lock held (its session is gone).
    ExportJob.objects.filter(pk=crashed.pk).update(status="running", started_at=long_ago, attempts=3)
    with TestCase.captureOnCommitCallbacks(execute=False) as dispatched:
        counts = services.sweep_exports()
    assert counts == {"requeued": 1, "failed": 1}
    assert len(dispatched) == 1
    lost.refresh_from_db()
    crashed.refresh_from_db()
    waiting.refresh_from_db()
    assert lost.status == "queued"
    assert lost.queued_at > long_ago
    assert crashed.status == "failed"
    assert "3" in crashed.message
    assert waiting.status == "queued"  # queued a moment ago: its message is still on its way
    services.run_export(job_id=lost.pk)
    lost.refresh_from_db()
    assert lost.status == "done"


def test_the_job_page_and_the_list_cost_the_same_queries_with_more_jobs(cast, client_for, django_assert_num_queries):
    client = client_for(cast.coordinator_a)
    make_records(PROVINCE_A, 8)
    for size in (1, 10):
        ids = [start_export(client, CSV_URL) for _ in range(size)]
        services.run_export(job_id=ids[0])
        client.get("/exports/")
        # 1 the job through its door (the progress comes from the cache), 2 the memberships (the header's door)
        with django_assert_num_queries(OVERHEAD + 2):
            assert client.get(f"/exports/{ids[0]}/").status_code == 200
        # 1 the user's recent jobs, 2 the memberships (the header's door)
        with django_assert_num_queries(OVERHEAD + 2):
            response = client.get("/exports/")
        assert len(response.context["jobs"]) >= size


def test_the_header_links_to_my_exports_in_thai(cast, client_for):
    html = client_for(cast.viewer_a).get("/exports/").content.decode()
    assert 'data-testid="nav-exports"' in html
    assert "ไฟล์ส่งออกของฉัน" in html
    assert 'data-testid="no-exports"' in html


# --- the API ---------------------------------------------------------------------------------------------------------


def test_api_export_is_asynchronous_and_scoped_to_the_key(cast, records_a):
    key, secret = make_key(provinces=[PROVINCE_A], permissions=READ_ALL)
    api = key_client(secret)
    with TestCase.captureOnCommitCallbacks(execute=False):
        response = api.post(
            "/api/v1/exports/", {"kind": "records", "format": "csv", "filters": {}}, content_type="application/json"
        )
    assert response.status_code == 202
    location = response["Location"]
    job_id = response.json()["id"]
    assert location.endswith(f"/api/v1/exports/{job_id}/")
    body = api.get(location).json()
    assert (body["status"], body["percent"], body["download"], body["kind"]) == ("queued", 0, None, "records")
    job = ExportJob.objects.get(pk=job_id)
    assert (job.user, job.api_key) == (None, key.prefix)

    services.run_export(job_id=job_id)  # the worker: as the key, with the key's scope
    body = api.get(location).json()
    assert (body["status"], body["percent"], body["row_count"]) == ("done", 100, 12)
    download = api.get(body["download"])
    assert download.status_code == 200
    rows = _csv(b"".join(download.streaming_content))
    assert {row[0] for row in rows[1:]} == {mask_identifier(r.identifier) for r in records_a}  # no full IDs
    entry = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
    assert entry.user is None
    assert key.prefix in entry.actor
    assert entry.count == 12

    # Another key, even of the same partner's provinces, and a signed-in user: 404; the list holds only its own.
    _other, other_secret = make_key(provinces=[PROVINCE_A], permissions=READ_ALL, name="อีกระบบ")
    other = key_client(other_secret)
    assert other.get(location).status_code == 404
    assert other.get(body["download"]).status_code == 404
    assert other.get("/api/v1/exports/").json() == []
    assert [j["id"] for j in api.get("/api/v1/exports/").json()] == [job_id]


def test_api_export_needs_the_resource_and_the_scope(cast, client_for):
    _key, secret = make_key(provinces=[PROVINCE_A], permissions={"meetings": "read"})
    api = key_client(secret)
    refused = api.post("/api/v1/exports/", {"kind": "records", "format": "csv"}, content_type="application/json")
    assert refused.status_code == 403
    bad = api.post("/api/v1/exports/", {"kind": "minutes", "format": "csv"}, content_type="application/json")
    assert bad.status_code == 400
    # A summary of another province: 404, as its dashboard; nothing is queued.
    user = client_for(cast.coordinator_a)
    response = user.post(
        "/api/v1/exports/",
        {"kind": "summary", "format": "xlsx", "filters": {"level": "province", "code": str(PROVINCE_B)}},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert not ExportJob.objects.exists()


def test_api_download_of_an_expired_export_is_410(cast, client_for, records_a):
    client = client_for(cast.coordinator_a)
    job_id = start_export(client, CSV_URL)
    services.run_export(job_id=job_id)
    ExportJob.objects.filter(pk=job_id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    body = client.get(f"/api/v1/exports/{job_id}/").json()
    assert body["expired"] is True
    assert body["download"] is None
    assert client.get(f"/api/v1/exports/{job_id}/download/").status_code == 410


# --- the embedded default: a background thread, not the request ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_job_runs_in_a_thread_after_the_request(cast, client_for, settings):
    import time

    settings.CELERY_TASK_ALWAYS_EAGER = True
    make_records(PROVINCE_A, 9)
    client = client_for(cast.coordinator_a)
    response = client.post(CSV_URL)
    assert response.status_code == 302
    job = ExportJob.objects.get()
    for _ in range(200):  # waits for the thread; asserts the outcome, never a time
        job.refresh_from_db()
        if job.finished:
            break
        time.sleep(0.05)
    assert (job.status, job.row_count) == ("done", 9)
    _response, content = _download(client, job.pk)
    assert len(_csv(content)) == 10


def test_an_export_job_writes_to_and_is_downloaded_from_the_object_store(
    cast, client_for, records_a, s3_storage, settings
):
    """Issue 15's storage acceptance for exports: the job's file lands in the S3 bucket, never under MEDIA_ROOT,
    and the download streams it back from there to the asker only."""
    client = client_for(cast.coordinator_a)
    job_id = start_export(client, CSV_URL)
    services.run_export(job_id=job_id)
    job = ExportJob.objects.get(pk=job_id)
    assert job.status == "done"
    assert job.file.name in s3_storage.object_keys()
    response, content = _download(client, job_id)
    assert response.status_code == 200
    assert content == s3_storage.read(job.file.name)
    assert len(_csv(content)) == 13
    assert client_for(cast.coordinator_b).get(f"/exports/{job_id}/download/").status_code == 404
    media = pathlib.Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(media.rglob("*"))
