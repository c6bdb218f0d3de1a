"""Every file through Django's storage API, on local disk or in an S3-compatible object store (README.md, "Files").

The storage-backed paths run against a real S3 API server, moto's standalone server started by the suite
(tests/conftest.py, `s3_storage`), never a mock of the storage class: an upload checked and applied through the
pages, the rejected rows read back from the stored file, meeting and support-activity attachments downloaded,
and two gunicorn processes, each with a media folder of its own, sharing one bucket.
"""

import http.client
import io
import os
import re
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from conftest import PASSWORD, PROVINCE_A, free_port, make_user
from core.object_storage import PrivateS3Storage
from core.stored_files import copy_into, local_copy
from meetings import services as meetings
from meetings.models import Kind, MeetingAttachment
from provinces.models import WorkingGroupMember
from targets.models import TargetRecord, UploadBatch
from targets.upload.template_file import REASON_HEADER, ROW_HEADER
from tests.builders import HEADER, batch_of, messy_file, uploaded_file
from universities import services as universities
from universities.models import SupportRole, University

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def _sheet_rows(content: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# --- through the pages, with the files in the bucket --------------------------------------------------


@pytest.mark.django_db
def test_an_upload_is_kept_checked_and_applied_from_the_bucket(cast, client_for, s3_storage, settings):
    media = Path(settings.MEDIA_ROOT)
    client = client_for(cast.coordinator_a)
    client.cookies["django_language"] = "en"
    file = messy_file()
    content = file.read()
    file.seek(0)

    batch = batch_of(client.post("/uploads/new/", {"file": file}))
    assert batch.status == UploadBatch.Status.CHECKED
    assert (batch.rows_total, batch.created, batch.rejected) == (8, 4, 4)
    assert s3_storage.object_keys() == [batch.file.name], "the file went to the bucket under the upload's own name"
    assert s3_storage.read(batch.file.name) == content
    grants = s3_storage.acl_grants(batch.file.name)
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"], "private: the owner alone"
    assert "URI" not in grants[0]["Grantee"], "no group (AllUsers, AuthenticatedUsers) may read it"

    report = client.get(f"/uploads/{batch.pk}/")
    assert "Rows in the file: 8 = 4 new + 0 changed + 0 unchanged + 4 rejected." in report.content.decode()
    # The rejected rows' file reads the stored file back for its header.
    download = client.get(f"/uploads/{batch.pk}/rejections.xlsx")
    header, *rows = _sheet_rows(download.content)
    assert header == [ROW_HEADER, REASON_HEADER, *HEADER]
    assert [row[0] for row in rows] == [5, 7, 8, 9]

    assert client.post(f"/uploads/{batch.pk}/confirm/").status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.created) == (UploadBatch.Status.APPLIED, 4)
    assert TargetRecord.objects.filter(province_id=PROVINCE_A).count() == 4
    assert _files_under(media) == [], "nothing was written under MEDIA_ROOT"


@pytest.mark.django_db
def test_a_big_upload_is_checked_and_applied_by_the_task_from_the_bucket(cast, client_for, s3_storage, settings):
    """The Celery task's path (run here, eagerly): the worker has no copy of the file but the bucket's."""
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0  # every file goes to the task
    settings.CELERY_TASK_ALWAYS_EAGER = True
    client = client_for(cast.coordinator_a)
    batch = batch_of(client.post("/uploads/new/", {"file": messy_file()}))
    client.post(f"/uploads/{batch.pk}/confirm/")
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.rejected) == (UploadBatch.Status.APPLIED, 4, 4)
    assert _files_under(Path(settings.MEDIA_ROOT)) == []


@pytest.mark.django_db
def test_a_meeting_attachment_is_kept_in_the_bucket_and_downloaded_from_it(
    cast, client_for, s3_storage, settings, django_capture_on_commit_callbacks
):
    meeting = meetings.save_meeting(
        user=cast.eef_admin,
        fields={"title": "ประชุมคณะทำงาน", "kind": Kind.PROVINCIAL, "starts_on": timezone.localdate(),
                "ends_on": timezone.localdate()},
        provinces=[PROVINCE_A],
        universities=[],
    )  # fmt: skip
    # Larger than what an S3File keeps in memory: the download streams from its spill file.
    content = PDF + os.urandom(3 * 1024 * 1024)
    response = client_for(cast.coordinator_a).post(
        f"/meetings/{meeting.pk}/attachments/new/", {"file": uploaded_file("สไลด์.pdf", content)}
    )
    assert response.status_code == 302
    attachment = MeetingAttachment.objects.get(meeting=meeting)
    assert s3_storage.object_keys() == [attachment.file.name]
    assert attachment.file.name.startswith(f"meetings/{meeting.pk}/")

    url = f"/meetings/{meeting.pk}/attachments/{attachment.pk}/"
    download = client_for(cast.viewer_a).get(url)
    assert download.status_code == 200
    assert (download["Content-Type"], download["Content-Length"]) == ("application/pdf", str(len(content)))
    assert download.streaming, "streamed from storage.open, not read whole into the response"
    assert b"".join(download.streaming_content) == content
    assert client_for(cast.coordinator_b).get(url).status_code == 404
    assert _files_under(Path(settings.MEDIA_ROOT)) == [], "nothing was written under MEDIA_ROOT"

    # Removing it removes the object once the transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        meetings.delete_attachment(user=cast.coordinator_a, attachment=attachment)
    assert s3_storage.object_keys() == []


@pytest.mark.django_db
def test_a_support_activity_attachment_is_downloaded_from_the_bucket(cast, client_for, s3_storage, settings):
    activity = universities.record_activity(
        user=cast.university_member,
        university=University.objects.get(code="KKU"),
        province=cast.coordinator_a.memberships.get().province,
        role=SupportRole.DATA,
        date=timezone.localdate(),
        title="วิเคราะห์ข้อมูล",
        attachment=uploaded_file("report.pdf", PDF),
    )
    assert s3_storage.object_keys() == [activity.attachment.name]
    again = universities.record_activity(
        user=cast.university_member,
        university=University.objects.get(code="KKU"),
        province=cast.coordinator_a.memberships.get().province,
        role=SupportRole.DATA,
        date=timezone.localdate(),
        title="อีกครั้ง",
        attachment=uploaded_file("report.pdf", b"%PDF-1.4 another"),
    )
    assert again.attachment.name != activity.attachment.name, "one name twice: two objects, none overwritten"
    response = client_for(cast.viewer_a).get(f"/universities/activities/{activity.pk}/attachment/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert _files_under(Path(settings.MEDIA_ROOT)) == []


@pytest.mark.django_db
def test_a_missing_object_is_a_404_not_an_error(cast, client_for, s3_storage):
    meeting = meetings.save_meeting(
        user=cast.eef_admin,
        fields={"title": "ประชุม", "kind": Kind.NATIONAL, "starts_on": timezone.localdate(),
                "ends_on": timezone.localdate()},
        provinces=[],
        universities=[],
    )  # fmt: skip
    attachment = meetings.add_attachment(user=cast.eef_admin, meeting=meeting, file=uploaded_file("a.pdf", PDF))
    s3_storage.client.delete_object(Bucket=s3_storage.name, Key=attachment.file.name)
    assert client_for(cast.viewer_a).get(f"/meetings/{meeting.pk}/attachments/{attachment.pk}/").status_code == 404


@pytest.mark.django_db
def test_an_admin_import_keeps_its_file_in_the_bucket_between_preview_and_confirmation(
    cast, client_for, s3_storage, settings
):
    """Another machine may answer the confirmation: the file waits in the bucket, not in one machine's /tmp."""
    body = "จังหวัด,ชื่อ-สกุล,บทบาท\nพะเยา,นายพะเยา ใจดี,ประธาน\n"
    client = client_for(cast.eef_admin)
    response = client.post(
        "/admin/provinces/workinggroupmember/import/",
        {"import_file": uploaded_file("wg.csv", body.encode()), "format": "0", "resource": "0"},
    )
    confirm = response.context["confirm_form"]
    waiting = f"django-import-export/{confirm.initial['import_file_name']}"
    assert s3_storage.object_keys() == [waiting]
    assert s3_storage.read(waiting).decode() == body
    assert client.post("/admin/provinces/workinggroupmember/process_import/", confirm.initial).status_code == 302
    assert WorkingGroupMember.objects.get().name == "นายพะเยา ใจดี"
    assert s3_storage.object_keys() == [], "removed once imported"
    assert _files_under(Path(settings.MEDIA_ROOT)) == []


# --- the storage and the local copy -------------------------------------------------------------------


def test_no_bucket_address_is_ever_given_out(s3_storage):
    name = default_storage.save("meetings/1/abc", ContentFile(b"x"))
    url = default_storage.url(name)
    assert url == f"{django_settings.MEDIA_URL}{name}"
    assert s3_storage.endpoint.split("//")[1] not in url
    assert "Signature" not in url
    assert "X-Amz" not in url
    assert isinstance(default_storage._wrapped, PrivateS3Storage)


def test_a_local_copy_of_an_object_is_a_temporary_file_removed_after_the_block(s3_storage):
    content = os.urandom(3 * 1024 * 1024 + 17)
    name = default_storage.save("uploads/40/sheet", ContentFile(content))
    field_file = _FieldFileLike(name)
    with local_copy(field_file) as path:
        assert path.read_bytes() == content
        assert not str(path).startswith(str(django_settings.MEDIA_ROOT))
    assert not path.exists(), "the copy is removed"
    with pytest.raises(RuntimeError), local_copy(field_file) as path:
        raise RuntimeError("a reader failed")
    assert not path.exists(), "also when the block fails"
    with pytest.raises(FileNotFoundError), local_copy(_FieldFileLike("uploads/40/gone")):
        pass


def test_a_storage_without_download_to_is_copied_through_open_in_chunks(s3_storage, tmp_path):
    """Any other storage (GCS, Azure...) goes through storage.open(), in chunks."""

    class PlainStorage:
        def __init__(self, inner):
            self.inner = inner
            self.reads: list[int] = []

        def open(self, name, mode="rb"):
            handle = self.inner.open(name, mode)
            read = handle.read

            def counted(size=-1):
                self.reads.append(size)
                return read(size)

            handle.read = counted
            return handle

    content = os.urandom(2 * 1024 * 1024 + 5)
    name = default_storage.save("exports/big", ContentFile(content))
    plain = PlainStorage(default_storage._wrapped)
    target = tmp_path / "copy"
    with open(target, "wb") as destination:
        copy_into(plain, name, destination)
    assert target.read_bytes() == content
    assert len(plain.reads) > 2
    assert all(0 < size <= 1024 * 1024 for size in plain.reads), "never whole into memory"


def test_on_local_disk_the_stored_file_itself_is_read(settings):
    name = default_storage.save("uploads/40/local", ContentFile(b"abc"))
    with local_copy(_FieldFileLike(name)) as path:
        assert path == Path(settings.MEDIA_ROOT) / name
        assert path.read_bytes() == b"abc"
    assert path.exists(), "the stored file stays"


class _FieldFileLike:
    def __init__(self, name: str) -> None:
        self.name = name
        self.storage = default_storage


def test_the_backend_follows_the_environment():
    """STORAGE_BACKEND, or AWS_STORAGE_BUCKET_NAME alone, chooses the object store; local disk otherwise."""
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "d = settings.STORAGES['default']; print(d['BACKEND'], sorted(d.get('OPTIONS', {}).items()), "
        "getattr(settings, 'IMPORT_EXPORT_TMP_STORAGE_CLASS', '-'))"
    )

    def backend(**variables: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STORAGE_"))}
        env |= {"DJANGO_SETTINGS_MODULE": "abe_portal.settings", **variables}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True
        )
        return (done.stdout + done.stderr).strip().splitlines()[-1]

    assert backend() == "django.core.files.storage.FileSystemStorage [] -"
    assert backend(AWS_STORAGE_BUCKET_NAME="abe-files", AWS_S3_REGION_NAME="ap-southeast-1") == (
        "core.object_storage.PrivateS3Storage [('bucket_name', 'abe-files'), ('default_acl', 'private'), "
        "('location', ''), ('region_name', 'ap-southeast-1')] import_export.tmp_storages.MediaStorage"
    )
    assert backend(STORAGE_BACKEND="local", AWS_STORAGE_BUCKET_NAME="abe-files").startswith(
        "django.core.files.storage.FileSystemStorage"
    )
    assert "STORAGE_BACKEND must be local or s3" in backend(STORAGE_BACKEND="ftp")
    assert "AWS_STORAGE_BUCKET_NAME" in backend(STORAGE_BACKEND="s3")


# --- two web machines, one bucket ---------------------------------------------------------------------


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    auth = quote(db["USER"] or "postgres") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class _Browser:
    """One person's session with one server over HTTP: cookies kept, CSRF token sent back as a form does."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {"django_language": "en"}

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body or None, headers={"Cookie": cookie, **(headers or {})})
            response = conn.getresponse()
            content = response.read()
            for header in response.msg.get_all("Set-Cookie") or []:
                for key, morsel in SimpleCookie(header).items():
                    self.cookies[key] = morsel.value
            return response.status, response.getheader("Location") or "", content
        finally:
            conn.close()

    def csrf(self, path: str) -> str:
        status, _location, content = self.request("GET", path)
        assert status == 200, (path, status)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content)
        assert match, path
        return match.group(1).decode()

    def post(
        self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None, *, form: str = ""
    ):
        """Submit the form of the page `form` (by default `path`'s own) to `path`."""
        form = form or path
        fields = {"csrfmiddlewaretoken": self.csrf(form), **fields}
        headers = {"Referer": f"http://127.0.0.1:{self.port}{form}"}
        if files:
            boundary = "abe-storage-test-boundary"
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                for k, v in fields.items()
            ]
            for key, (filename, content) in files.items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n".encode()
                    + content
                    + b"\r\n"
                )
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        else:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self.request("POST", path, body, headers)

    def log_in(self, email: str) -> None:
        status, location, content = self.post("/accounts/login/", {"login": email, "password": PASSWORD})
        assert status == 302, re.findall(rb'class="error"[^>]*>[^<]*', content)
        assert location == "/", location
        assert "sessionid" in self.cookies


@pytest.fixture
def two_web_machines(s3_storage, tmp_path):
    """Two gunicorn processes on the test database and the same bucket, each with a MEDIA_ROOT of its own and
    no Redis (the embedded default: tasks run in the process that queues them)."""
    if connection.vendor != "postgresql":
        pytest.skip("gunicorn needs the test database on PostgreSQL")
    machines, processes = [], []
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"} and not k.startswith(("AWS_", "STORAGE_"))}
    try:
        for name in ("a", "b"):
            port, media = free_port(), tmp_path / f"media-{name}"
            media.mkdir()
            errors = tmp_path / f"gunicorn-{name}.log"
            env = {
                **base,
                **s3_storage.environ,
                "DATABASE_URL": _database_url(),
                "MEDIA_ROOT": str(media),
                "DEBUG": "1",
                "CONN_MAX_AGE": "0",
            }
            command = [str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
            command += ["--error-logfile", str(errors), "--access-logfile", "-", "abe_portal.wsgi"]
            processes.append(
                subprocess.Popen(
                    command, cwd=django_settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            machines.append((port, media, errors))
        for (port, _media, errors), process in zip(machines, processes, strict=True):
            deadline = time.monotonic() + 60
            while True:
                try:
                    _Browser(port).request("GET", "/healthz")
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"gunicorn did not start:\n{errors.read_text() if errors.exists() else ''}")
                    time.sleep(0.2)
        yield machines
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.django_db(transaction=True)
def test_a_file_uploaded_through_one_web_machine_is_checked_and_applied_through_the_other(
    db, programme, s3_storage, two_web_machines
):
    (port_a, media_a, _log_a), (port_b, media_b, _log_b) = two_web_machines
    # A coordinator of province A without two-factor, whose password the servers' hashers read (the tests'
    # own MD5 hasher is not theirs).
    coordinator = make_user("coord.web@example.org", role=Role.PROVINCE_COORDINATOR, province=PROVINCE_A)
    coordinator.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    coordinator.save(update_fields=["password"])
    file = messy_file()
    content = file.read()

    on_a, on_b = _Browser(port_a), _Browser(port_b)
    on_a.log_in(coordinator.email)
    on_b.log_in(coordinator.email)
    status, location, _content = on_a.post("/uploads/new/", {}, files={"file": ("ข้อมูล.xlsx", content)})
    assert status == 302, status
    match = re.fullmatch(r"/uploads/(\d+)/", location)
    assert match, location
    batch = UploadBatch.objects.get(pk=int(match.group(1)))
    assert (batch.status, batch.rows_total, batch.created, batch.rejected) == (UploadBatch.Status.CHECKED, 8, 4, 4)
    assert s3_storage.object_keys() == [batch.file.name]
    assert s3_storage.read(batch.file.name) == content

    # Machine B has never seen the file on its disk: it reads it from the bucket.
    status, _location, page = on_b.request("GET", f"/uploads/{batch.pk}/")
    assert status == 200
    assert b"Rows in the file: 8 = 4 new + 0 changed + 0 unchanged + 4 rejected." in page
    status, _location, rejected = on_b.request("GET", f"/uploads/{batch.pk}/rejections.xlsx")
    assert status == 200
    assert _sheet_rows(rejected)[0] == [ROW_HEADER, REASON_HEADER, *HEADER]
    status, _location, _content = on_b.post(f"/uploads/{batch.pk}/confirm/", {}, form=f"/uploads/{batch.pk}/")
    assert status == 302

    # The apply may finish after the answer (a background thread): the row says when it is done.
    deadline = time.monotonic() + 60
    while batch.status != UploadBatch.Status.APPLIED and time.monotonic() < deadline:
        time.sleep(0.2)
        batch.refresh_from_db()
    assert (batch.status, batch.created) == (UploadBatch.Status.APPLIED, 4)
    assert TargetRecord.objects.filter(province_id=PROVINCE_A).count() == 4
    assert _files_under(media_a) == [], "neither machine kept the file on its disk"
    assert _files_under(media_b) == []
