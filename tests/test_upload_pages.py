"""The upload pages (targets/upload/views.py), the template, the rejected-rows file, the upload admin,
the demo records and the sample upload file.

The pipeline's own rules are tested in tests/test_upload.py; here every step goes through the pages
as a coordinator does: upload → the check's report → download the rejected rows → fix them →
upload again → confirm.
"""

import contextlib
import datetime
import io
import re
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F

from audit.models import AccessLog
from conftest import PROVINCE_A, PROVINCE_B
from core.thai_id import parse_identifier
from portal.demo.provinces import DEMO_LEADS
from portal.demo.records import (
    SAMPLE_BUCKETS,
    SAMPLE_BUCKETS_WITHOUT_DEMO,
    SAMPLE_DEMO_NUMBERS,
    SAMPLE_HEADER,
    load_demo_records,
    sample_upload_rows,
)
from provinces.models import Province
from targets.models import Assistance, Category, StatusChange, TargetRecord, UploadBatch
from targets.upload.columns import TEMPLATE_FIELDS, label, match_columns
from targets.upload.services import progress_key, read_progress, receive_upload, start_apply
from targets.upload.template_file import (
    DATA_SHEET,
    HELP_SHEET,
    LISTS_SHEET,
    REASON_HEADER,
    ROW_HEADER,
    SAMPLE_IDENTIFIER,
)
from tests.builders import HEADER, OUT, batch_of, messy_file, national_id, upload, workbook_file, xlsx

pytestmark = pytest.mark.django_db

SAMPLE_FILE = Path(django_settings.BASE_DIR) / "docs" / "sample-upload.xlsx"


def _en(client):
    """The client, reading the portal in English (the language switch sets this cookie)."""
    client.cookies["django_language"] = "en"
    return client


def _post_upload(client, file, **data):
    return client.post("/uploads/new/", {"file": file, **data})


def _sheet_rows(content: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _to_upload(rows: list[list], name: str = "fixed.xlsx") -> SimpleUploadedFile:
    return workbook_file(rows, name)


# --- the whole journey -----------------------------------------------------------------------------


def test_coordinator_uploads_fixes_the_rejected_rows_and_uploads_them_again(cast, client_for):
    client = _en(client_for(cast.coordinator_a))
    page = client.get("/uploads/new/")
    assert page.status_code == 200
    assert "province" not in page.context["form"].fields, "a coordinator uploads for their own province"

    response = _post_upload(client, messy_file())
    assert response.status_code == 302
    batch = batch_of(response)  # the URL holds the upload's number only, never an identifier
    assert (batch.province_id, batch.status) == (PROVINCE_A, UploadBatch.Status.CHECKED)

    report = client.get(f"/uploads/{batch.pk}/")
    assert report.status_code == 200
    text = report.content.decode()
    assert "Rows in the file: 8 = 4 new + 0 changed + 0 unchanged + 4 rejected." in text
    assert "คอลัมน์อื่น" in text  # the unknown column, reported
    assert "อำเภอไม่มีจริง" in text  # a reason, in the rejected rows' table
    assert not TargetRecord.objects.exists(), "the check writes nothing"
    reasons = {(r.row_number, r.column) for r in report.context["page"].object_list}
    assert {number for number, _column in reasons} == {5, 7, 8, 9}
    assert (5, label("identifier")) in reasons

    download = client.get(f"/uploads/{batch.pk}/rejections.xlsx")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    header, *rows = _sheet_rows(download.content)
    assert header == [ROW_HEADER, REASON_HEADER, *HEADER]
    assert [row[0] for row in rows] == [5, 7, 8, 9], "exactly the rejected rows, in order"
    by_number = {row[0]: row for row in rows}
    assert "check digit" in by_number[5][1]
    assert "row 2" in by_number[7][1]
    assert "อำเภอไม่มีจริง" in by_number[8][1]
    assert "formula" in by_number[9][1]
    sheet = openpyxl.load_workbook(io.BytesIO(download.content)).worksheets[0]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), "no cell is a formula"
    assert by_number[8][4] == national_id(5), "the identifier stays text, unchanged"

    # Fix each row in the downloaded file and upload it again: the two added columns are ignored.
    identifier, first_name, district = (2 + HEADER.index(h) for h in ("เลขประจำตัวประชาชน", "ชื่อ", "อำเภอ"))
    by_number[5][identifier] = national_id(14)
    by_number[7][identifier] = national_id(15)
    by_number[8][district] = "อ.เมืองขอนแก่น"
    by_number[9][first_name] = "สมใจ"
    again = batch_of(_post_upload(client, _to_upload([header, *rows])))
    assert (again.rows_total, again.created, again.updated, again.unchanged, again.rejected) == (4, 4, 0, 0, 0)
    assert again.columns["unknown"] == [ROW_HEADER, REASON_HEADER, "คอลัมน์อื่น"]

    for each in (batch, again):
        assert client.post(f"/uploads/{each.pk}/confirm/").status_code == 302
    assert TargetRecord.objects.filter(province_id=PROVINCE_A).count() == 8
    assert TargetRecord.objects.get(identifier=national_id(5)).district_id == 4001
    applied = client.get(f"/uploads/{again.pk}/")
    assert applied.context["batch"].status == UploadBatch.Status.APPLIED
    assert "Applied" in applied.content.decode()


def test_the_report_lists_updates_with_their_changed_fields(cast, client_for):
    client = _en(client_for(cast.coordinator_a))
    client.post(f"/uploads/{batch_of(_post_upload(client, messy_file())).pk}/confirm/")
    rows = [["ใจดี", "ด.ช.สมชาย", national_id(1), "ชาย", "15/03/2553", "ต.ในเมือง", "อ.เมืองขอนแก่น", "at-risk", ""]]
    batch = batch_of(_post_upload(client, xlsx(HEADER, rows)))
    page = client.get(f"/uploads/{batch.pk}/")
    out, at_risk = (Category.objects.get(code=code).name_en for code in ("out-of-school", "at-risk"))
    assert page.context["updates"] == [
        {
            "row": 2,
            "identifier": f"x-xxxx-xxxxx-{national_id(1)[10:12]}-{national_id(1)[12]}",
            "fields": ["target-group category"],
            # old → new, by name, not by id
            "changes": [{"field": "target-group category", "old": out, "new": at_risk}],
        }
    ]
    html = page.content.decode()
    assert f"<del>{out}</del> → <ins>{at_risk}</ins>" in html
    assert national_id(1) not in html, "identifiers are shown masked"
    assert "Confirm: create 0, update 1" in html
    # The confirm form disables its button once sent (static/js/submit_once.js, no inline script).
    assert "data-submit-once" in html
    assert 'data-busy-text="Saving…"' in html
    assert "js/submit_once.js" in html
    # The old and new values are personal data: the view is in the access log.
    assert AccessLog.objects.filter(description="changes an upload makes to records", count=1).exists()


def test_updates_keep_old_and_new_of_each_changed_field_bounded(cast, client_for):
    client = client_for(cast.coordinator_a)
    client.post(f"/uploads/{batch_of(_post_upload(client, messy_file())).pk}/confirm/")
    header = [*HEADER, "หมายเหตุ"]
    long_note = "ก" * 500
    rows = [["ใจดีมาก", "ด.ญ.สมชาย", national_id(1), "หญิง", "16/03/2553", "", "อ.พระยืน", OUT, "", long_note]]
    batch = batch_of(_post_upload(client, xlsx(header, rows)))
    [stored] = batch.preview["updates"]
    changes = {field: (old, new) for field, old, new in stored["changes"]}
    assert changes["last_name"] == ("ใจดี", "ใจดีมาก")
    assert changes["sex"] == ("M", "F")
    assert changes["birth_date"] == ("2010-03-15", "2010-03-16")
    assert changes["notes"][1] == "ก" * 59 + "…"  # text is cut: the report stays small whatever the file holds
    shown = {
        c["field"]: (c["old"], c["new"]) for c in client.get(f"/uploads/{batch.pk}/").context["updates"][0]["changes"]
    }
    assert shown[label("sex")] == ("ชาย", "หญิง")
    assert shown[label("birth_date")] == ("15 มี.ค. 2553", "16 มี.ค. 2553")
    assert shown[label("district")][1] == "พระยืน"


def test_each_rejection_shows_the_value_it_refused(cast, client_for):
    client = client_for(cast.coordinator_a)
    rows = [
        ["วันผิด", "สมชาย", national_id(1), "ชาย", "31/02/2555", "", "", OUT, ""],
        ["เพศผิด", "สมหญิง", national_id(2), "อื่นๆ", "01/01/2555", "", "", OUT, ""],
    ]
    batch = batch_of(_post_upload(client, xlsx(HEADER, rows)))
    page = client.get(f"/uploads/{batch.pk}/")
    refused = {(r.column, r.value) for r in page.context["page"].object_list}
    assert refused == {(label("birth_date"), "31/02/2555"), (label("sex"), "อื่นๆ")}
    html = page.content.decode()
    assert "<code>31/02/2555</code>" in html
    assert "ค่าในไฟล์" in html  # the column's Thai header


def test_confirming_twice_applies_once_and_the_same_file_again_changes_nothing(cast, client_for):
    client = _en(client_for(cast.coordinator_a))
    batch = batch_of(_post_upload(client, messy_file()))
    client.post(f"/uploads/{batch.pk}/confirm/")
    response = client.post(f"/uploads/{batch.pk}/confirm/", follow=True)
    assert "applied already" in response.content.decode()
    assert TargetRecord.objects.count() == 4

    second = batch_of(_post_upload(client, messy_file()))
    assert (second.created, second.updated, second.unchanged, second.rejected) == (0, 0, 4, 4)
    client.post(f"/uploads/{second.pk}/confirm/")
    second.refresh_from_db()
    assert (second.status, second.created, second.updated) == (UploadBatch.Status.APPLIED, 0, 0)
    assert TargetRecord.objects.count() == 4


def test_cancelled_upload_cannot_be_confirmed(cast, client_for):
    client = _en(client_for(cast.coordinator_a))
    batch = batch_of(_post_upload(client, messy_file()))
    assert "cancelled" in client.post(f"/uploads/{batch.pk}/cancel/", follow=True).content.decode()
    response = client.post(f"/uploads/{batch.pk}/confirm/", follow=True)
    assert "Only a checked upload can be applied." in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == UploadBatch.Status.CANCELLED
    assert not TargetRecord.objects.exists()


def test_a_file_without_the_required_columns_says_which_are_missing(cast, client_for):
    client = _en(client_for(cast.coordinator_a))
    batch = batch_of(_post_upload(client, xlsx(["ชื่อ", "นามสกุล"], [["ก", "ข"]])))
    page = client.get(f"/uploads/{batch.pk}/")
    assert batch.status == UploadBatch.Status.FAILED
    assert "national ID or G-code" in page.content.decode()
    assert not page.context["can_confirm"]


def test_the_form_refuses_other_files_and_files_over_the_limit(cast, client_for, settings):
    client = _en(client_for(cast.coordinator_a))
    response = _post_upload(client, SimpleUploadedFile("รายชื่อ.pdf", b"%PDF-1.4"))
    assert response.status_code == 200
    assert "Upload an Excel file (.xlsx or .xls) or a CSV file." in response.context["form"].errors["file"]
    settings.TARGETS_UPLOAD_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.csv", b"x" * (1024 * 1024 + 1))
    assert "The file is larger than 1 MB." in _post_upload(client, big).context["form"].errors["file"]
    assert not UploadBatch.objects.exists()


def test_eef_admin_chooses_the_province(cast, client_for):
    client = _en(client_for(cast.eef_admin))
    assert "province" in client.get("/uploads/new/").context["form"].fields
    response = _post_upload(client, messy_file())
    assert response.status_code == 200
    assert response.context["form"].errors["province"]
    batch = batch_of(_post_upload(client, messy_file(), province=PROVINCE_B))
    assert batch.province_id == PROVINCE_B


def test_a_csv_in_tis620_goes_through_the_pages(cast, client_for):
    text = "เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n" + f"{national_id(8)},สมปอง,ทองดี,{OUT}\n"
    client = client_for(cast.coordinator_a)
    batch = batch_of(_post_upload(client, SimpleUploadedFile("ข้อมูล.csv", text.encode("cp874"))))
    assert (batch.created, batch.rejected) == (1, 0)


# --- big files: the background task and its progress -----------------------------------------------


def test_a_big_file_is_checked_by_a_task_after_commit_and_the_page_polls_its_progress(
    cast, client_for, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0  # every file is "big"
    client = _en(client_for(cast.coordinator_a))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch = batch_of(_post_upload(client, messy_file()))
    assert len(callbacks) == 1, "the check is enqueued once the upload is committed"
    assert batch.status == UploadBatch.Status.CHECKING

    page = client.get(f"/uploads/{batch.pk}/")
    html = page.content.decode()
    assert f'data-progress-url="/uploads/{batch.pk}/progress.json"' in html
    assert '<script src="/static/js/upload_progress.js" defer></script>' in html
    assert "<script>" not in html, "no inline script (CSP)"

    from django.core.cache import cache

    cache.set(progress_key(batch.pk), 40)
    assert client.get(f"/uploads/{batch.pk}/progress.json").json() == {
        "status": "checking",
        "label": "checking",
        "percent": 40,
        "done": False,
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True  # run the task here, as the worker would
    for callback in callbacks:
        callback()
    progress = client.get(f"/uploads/{batch.pk}/progress.json").json()
    assert progress == {"status": "checked", "label": "checked", "percent": 100, "done": True}
    assert "upload_progress.js" not in client.get(f"/uploads/{batch.pk}/").content.decode()


def test_a_big_file_is_applied_by_a_task(cast, client_for, settings, django_capture_on_commit_callbacks):
    client = _en(client_for(cast.coordinator_a))
    batch = batch_of(_post_upload(client, messy_file()))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"/uploads/{batch.pk}/confirm/", follow=True)
    assert "being applied" in response.content.decode()
    assert 'data-status="applying"' in response.content.decode()
    assert not TargetRecord.objects.exists()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    for callback in callbacks:
        callback()
    batch.refresh_from_db()
    assert (batch.status, batch.created) == (UploadBatch.Status.APPLIED, 4)


# --- the template ----------------------------------------------------------------------------------


def test_template_header_round_trips_and_its_sample_row_is_refused_only_as_the_sample(cast, client_for):
    response = client_for(cast.coordinator_a).get("/uploads/template.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [DATA_SHEET, HELP_SHEET, LISTS_SHEET]
    assert workbook[LISTS_SHEET].sheet_state == "hidden"
    sheet = workbook[DATA_SHEET]
    header = [cell.value for cell in sheet[1]]
    columns = match_columns(header)
    assert list(columns.fields) == TEMPLATE_FIELDS, "every field matched, in the template's order"
    assert (columns.unknown, columns.duplicates) == ([], [])
    validated = {str(v.sqref).split(":")[0].rstrip("0123456789") for v in sheet.data_validations.dataValidation}
    letters = {f: openpyxl.utils.get_column_letter(TEMPLATE_FIELDS.index(f) + 1) for f in TEMPLATE_FIELDS}
    assert validated == {
        letters[f] for f in ("name_prefix", "sex", "category", "status", "education_status", "consent")
    }
    help_rows = [row for row in workbook[HELP_SHEET].iter_rows(min_row=2, values_only=True) if row[0]]
    assert [row[0] for row in help_rows] == header, "a Thai and English explanation for every column"

    # Uploaded as it is, the sample row (in the coordinator's province) passes every check but one: it is
    # the template's sample, which must never become a record.
    batch = upload(cast.coordinator_a, SimpleUploadedFile("template.xlsx", response.content))
    assert (batch.rows_total, batch.created, batch.rejected) == (1, 0, 1)
    from targets.upload.columns import label

    assert list(batch.rejections.values_list("column", flat=True)) == [label("identifier")]


def test_every_choice_of_the_template_lists_is_read_back(cast, client_for):
    response = client_for(cast.coordinator_a).get("/uploads/template.xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    lists = workbook[LISTS_SHEET]
    choices = {col[0].value: [c.value for c in col[1:] if c.value] for col in lists.iter_cols()}
    header, sample = ([c.value for c in row] for row in workbook[DATA_SHEET].iter_rows(max_row=2))
    longest = max(len(values) for values in choices.values())
    rows = []
    for n in range(longest):
        row = list(sample)
        row[0] = national_id(100 + n)
        row[-1] = ""
        for thai_header, values in choices.items():
            row[header.index(thai_header)] = values[n % len(values)]
        rows.append(row)
    batch = upload(cast.coordinator_a, _to_upload([header, *rows]))
    assert list(batch.rejections.values_list("reason", flat=True)) == []
    assert batch.created == longest


def test_template_is_for_anyone_with_a_role(cast, client_for):
    for member in ("eef_admin", "university_member", "coordinator_b", "viewer_a"):
        assert client_for(cast[member]).get("/uploads/template.xlsx").status_code == 200, member
    assert client_for(cast.no_role).get("/uploads/template.xlsx").status_code == 404


def test_template_sample_row_is_plainly_a_sample(cast, client_for):
    workbook = openpyxl.load_workbook(io.BytesIO(client_for(cast.eef_admin).get("/uploads/template.xlsx").content))
    sample = [c.value for c in workbook[DATA_SHEET][2]]
    assert parse_identifier(sample[0]).value == SAMPLE_IDENTIFIER
    assert "ลบแถวนี้" in sample[TEMPLATE_FIELDS.index("notes")]
    # The optional case worker column closes the row, empty in the sample.
    assert workbook[DATA_SHEET][1][-1].value == "ผู้ดูแลรายกรณี (อีเมล)"
    assert sample[-1] is None


# --- access ----------------------------------------------------------------------------------------


@pytest.fixture
def upload_b(cast) -> UploadBatch:
    return upload(cast.coordinator_b, messy_file(), province=PROVINCE_B)


def test_coordinator_of_other_province_gets_404_for_its_uploads(cast, client_for, upload_b):
    client = client_for(cast.coordinator_a)
    for suffix in ("", "progress.json", "rejections.xlsx"):
        assert client.get(f"/uploads/{upload_b.pk}/{suffix}").status_code == 404, suffix
    for suffix in ("confirm/", "cancel/"):
        assert client.post(f"/uploads/{upload_b.pk}/{suffix}").status_code == 404, suffix
    upload_b.refresh_from_db()
    assert upload_b.status == UploadBatch.Status.CHECKED
    assert not TargetRecord.objects.exists()
    assert upload_b not in client.get("/uploads/").context["page"].object_list


@pytest.mark.parametrize("member", ["viewer_a", "university_member", "no_role"])
def test_viewers_and_universities_get_404_for_uploads(cast, client_for, member):
    """Uploads are the province's working files, with personal data: only its writers see them."""
    upload_a = upload(cast.coordinator_a, messy_file())
    client = client_for(cast[member])
    for url in ("/uploads/", "/uploads/new/", f"/uploads/{upload_a.pk}/", f"/uploads/{upload_a.pk}/rejections.xlsx"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/uploads/{upload_a.pk}/confirm/").status_code == 404


def test_list_shows_each_writer_the_uploads_of_their_provinces(cast, client_for, upload_b):
    upload_a = upload(cast.coordinator_a, messy_file())

    def listed(user) -> list[int]:
        return [b.pk for b in client_for(user).get("/uploads/").context["page"].object_list]

    assert listed(cast.coordinator_a) == [upload_a.pk]
    assert listed(cast.coordinator_b) == [upload_b.pk]
    assert listed(cast.eef_admin) == [upload_a.pk, upload_b.pk]


def test_viewing_and_downloading_rejected_rows_is_in_the_access_log(cast, client_for):
    client = client_for(cast.coordinator_a)
    batch = batch_of(_post_upload(client, messy_file()))
    client.get(f"/uploads/{batch.pk}/")
    client.get(f"/uploads/{batch.pk}/rejections.xlsx")
    entries = AccessLog.objects.filter(
        user=cast.coordinator_a, content_type=ContentType.objects.get_for_model(UploadBatch), object_id=str(batch.pk)
    ).order_by("pk")
    assert [(e.action, e.count) for e in entries] == [(AccessLog.Action.VIEW, 5), (AccessLog.Action.EXPORT, 4)]
    assert all(national_id(1) not in e.path for e in entries)


def test_rejected_row_of_another_provinces_identifier_comes_back_with_its_cells(cast, client_for):
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"]
    upload(cast.coordinator_b, xlsx(header, [[national_id(7), "ของ", "พะเยา", OUT]]), province=PROVINCE_B)
    start_apply(batch=UploadBatch.objects.get(province_id=PROVINCE_B), user=cast.coordinator_b)
    client = _en(client_for(cast.coordinator_a))
    batch = batch_of(_post_upload(client, xlsx(header, [[national_id(7), "แก้", "ขอนแก่น", OUT]])))
    _header, row = _sheet_rows(client.get(f"/uploads/{batch.pk}/rejections.xlsx").content)
    assert row[0] == 2
    assert row[2:] == [national_id(7), "แก้", "ขอนแก่น", OUT], "the uploader's own row, read back from the file"
    assert "outside your province" in row[1]
    assert "พะเยา" not in row[1]
    assert "Phayao" not in row[1]


# --- admin -----------------------------------------------------------------------------------------


def test_admin_lists_uploads_read_only_and_links_to_the_upload_page(cast, client_for, upload_b):
    upload_a = upload(cast.coordinator_a, messy_file())
    client = _en(client_for(cast.coordinator_a))
    changelist = client.get("/admin/targets/uploadbatch/")
    assert changelist.status_code == 200
    assert 'href="/uploads/new/"' in changelist.content.decode()
    assert list(changelist.context["cl"].queryset) == [upload_a]
    change = client.get(f"/admin/targets/uploadbatch/{upload_a.pk}/change/")
    assert change.status_code == 200
    html = change.content.decode()
    assert f'href="/uploads/{upload_a.pk}/"' in html
    assert "อำเภอไม่มีจริง" in html  # the rejected rows, read-only
    assert 'name="_save"' not in html, "nothing to save: read-only"
    assert AccessLog.objects.filter(
        user=cast.coordinator_a, action=AccessLog.Action.VIEW, object_id=str(upload_a.pk), description__contains="admin"
    ).exists(), "the rejected rows' reasons shown in admin are a view of personal data"
    assert client.get(f"/admin/targets/uploadbatch/{upload_b.pk}/change/").status_code == 404
    assert client.get("/admin/targets/uploadbatch/add/").status_code == 403
    assert client.post(f"/admin/targets/uploadbatch/{upload_a.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UploadBatch.objects.filter(pk=upload_a.pk).exists()


# --- query counts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 30])
def test_list_page_query_count_holds_as_uploads_grow(cast, client_for, django_assert_num_queries, count):
    province = Province.objects.get(code=PROVINCE_A)
    for n in range(count):
        receive_upload(user=cast.coordinator_a, province=province, uploaded_file=xlsx(HEADER, [[str(n)]]))
    client = client_for(cast.coordinator_a)
    client.get("/uploads/")  # warm up: the first request of a session writes it (and the two-factor mark)
    # 1 session, 2 user, 3 memberships (scope), 4 count (paginator), 5 the page of uploads with their
    # provinces and uploaders.
    with django_assert_num_queries(5):
        response = client.get("/uploads/")
    assert len(response.context["page"].object_list) == min(count, 25)


@pytest.mark.parametrize("bad_rows", [6, 60])
def test_detail_page_query_count_holds_as_rejections_grow(cast, client_for, django_assert_num_queries, bad_rows):
    rows = [["ผิด", "เลขผิด", national_id(n)[:-1] + str((int(national_id(n)[-1]) + 1) % 10), "ชาย", "", "", "",
             OUT, ""] for n in range(1, bad_rows + 1)]  # fmt: skip
    batch = upload(
        cast.coordinator_a, xlsx(HEADER, [*rows, *[[*r[:2], national_id(500 + i), *r[3:]] for i, r in enumerate(rows)]])
    )
    client = client_for(cast.coordinator_a)
    client.get(f"/uploads/{batch.pk}/")
    # 1 session, 2 user, 3 memberships (scope), 4 the upload with its province and uploader, 5 count of
    # the rejections (paginator), 6 the page of rejections, 7 the access log entry.
    with django_assert_num_queries(7):
        response = client.get(f"/uploads/{batch.pk}/")
    assert len(response.context["page"].object_list) == min(bad_rows, 50)
    assert (batch.rejected, batch.created) == (bad_rows, bad_rows)


# --- demo records and the sample file --------------------------------------------------------------


def test_demo_records_cover_every_demo_province_with_valid_identifiers_and_a_rerun_creates_nothing():
    assert load_demo_records(count=240) == 240
    records = TargetRecord.objects.all()
    assert records.count() == 240
    assert set(records.values_list("province_id", flat=True)) == set(DEMO_LEADS)
    assert all(records.values_list("is_demo", flat=True))
    for identifier, kind in records.values_list("identifier", "identifier_kind"):
        assert parse_identifier(identifier).kind == kind  # a valid check digit, or a G-code
    for province, district, sub in records.values_list(
        "province_id", "district__province_id", "sub_district__district__province_id"
    ):
        assert province == district == sub, "addresses inside the record's province"
    assert not records.filter(sub_district__isnull=False).exclude(sub_district__district=F("district")).exists()
    histories, helps = StatusChange.objects.count(), Assistance.objects.count()
    assert histories > 0
    assert helps > 0
    assert (
        records.exclude(status__code="in-follow-up").count()
        == records.filter(status_history__isnull=False).distinct().count()
    )
    assert StatusChange.objects.filter(changed_at__gt=datetime.datetime.now(tz=datetime.UTC)).count() == 0

    assert load_demo_records(count=240) == 0
    assert (TargetRecord.objects.count(), StatusChange.objects.count(), Assistance.objects.count()) == (
        240,
        histories,
        helps,
    )
    assert load_demo_records(count=252) == 12, "a larger count adds only the missing ones"


def test_demo_records_spread_like_abe_reports():
    load_demo_records(count=1200)
    from collections import Counter

    categories = Counter(TargetRecord.objects.values_list("category__code", flat=True))
    statuses = Counter(TargetRecord.objects.values_list("status__code", flat=True))
    assert categories.most_common(2)[0][0] == "out-of-school"
    assert {code for code, _n in categories.most_common(2)} == {"out-of-school", "at-risk"}
    assert statuses.most_common(1)[0][0] == "in-follow-up"
    returned = statuses["returned-to-school"] + statuses["flexible-learning"] + statuses["vocational"]
    assert 0.1 < returned / 1200 < 0.4


def _buckets(batch: UploadBatch) -> dict:
    return {
        "rows": batch.rows_total,
        "created": batch.created,
        "updated": batch.updated,
        "unchanged": batch.unchanged,
        "rejected": batch.rejected,
        "blank_rows": batch.columns["blank_rows"],
    }


def test_sample_file_gives_the_documented_buckets(cast):
    load_demo_records(count=SAMPLE_DEMO_NUMBERS * len(DEMO_LEADS))
    batch = upload(cast.coordinator_a, SimpleUploadedFile("sample-upload.xlsx", SAMPLE_FILE.read_bytes()))
    assert _buckets(batch) == SAMPLE_BUCKETS
    assert batch.columns["unknown"] == ["ลำดับ"]
    assert sorted(set(batch.rejections.values_list("row_number", flat=True))) == list(range(45, 53))
    assert batch.rejections.count() == 8, "one reason each"
    assert [u["row"] for u in batch.preview["updates"]] == list(range(8, 14))


def test_sample_file_without_demo_records(cast):
    batch = upload(cast.coordinator_a, SimpleUploadedFile("sample-upload.xlsx", SAMPLE_FILE.read_bytes()))
    assert _buckets(batch) == SAMPLE_BUCKETS_WITHOUT_DEMO


def test_committed_sample_file_is_what_make_sample_upload_writes(tmp_path):
    from django.core.management import call_command

    call_command("make_sample_upload", output=str(tmp_path / "sample.xlsx"), stdout=io.StringIO())
    assert _sheet_rows((tmp_path / "sample.xlsx").read_bytes()) == _sheet_rows(SAMPLE_FILE.read_bytes())
    header, *rows = _sheet_rows(SAMPLE_FILE.read_bytes())
    assert header == SAMPLE_HEADER

    def plain(value):
        if isinstance(value, datetime.datetime):
            return value.date()
        return None if value == "" else value

    assert [[plain(v) for v in row] for row in rows] == [[plain(v) for v in row] for row in sample_upload_rows()]


# --- a reader fix the lead owns ----------------------------------------------------------------------


def test_rejected_rows_file_round_trips_values_starting_with_a_dash(cast, client_for):
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "หมายเหตุ"]
    bad = national_id(9)[:-1] + str((int(national_id(9)[-1]) + 1) % 10)
    client = client_for(cast.coordinator_a)
    batch = batch_of(_post_upload(client, xlsx(header, [[bad, "สมปอง", "-", OUT, "- ติดตามแล้ว"]])))
    top, row = _sheet_rows(client.get(f"/uploads/{batch.pk}/rejections.xlsx").content)
    row[2] = national_id(9)  # fix the identifier only
    fixed = batch_of(_post_upload(client, _to_upload([top, row])))
    client.post(f"/uploads/{fixed.pk}/confirm/")
    record = TargetRecord.objects.get(identifier=national_id(9))
    assert (record.last_name, record.notes) == ("-", "- ติดตามแล้ว")


def test_a_queued_apply_starts_its_progress_bar_at_zero(cast, settings, django_capture_on_commit_callbacks):
    batch = upload(cast.coordinator_a, messy_file())  # checked inline: its progress ended at 100
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0
    with django_capture_on_commit_callbacks(execute=False):
        start_apply(batch=batch, user=cast.coordinator_a)
    batch.refresh_from_db()
    assert batch.status == UploadBatch.Status.APPLYING
    assert read_progress(batch) == 0


def test_an_apply_refused_in_its_task_marks_the_upload_failed(cast, settings, django_capture_on_commit_callbacks):
    from django.core.exceptions import PermissionDenied

    batch = upload(cast.coordinator_a, messy_file())
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TARGETS_UPLOAD_INLINE_BYTES = 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start_apply(batch=batch, user=cast.coordinator_a)
    cast.coordinator_a.memberships.all().delete()  # the coordinator left the province meanwhile
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with contextlib.suppress(PermissionDenied):
        callbacks[0]()
    batch.refresh_from_db()
    assert batch.status == UploadBatch.Status.FAILED
    assert not TargetRecord.objects.exists()


def test_report_counts_have_thousands_separators_and_years_none(cast, client_for):
    client = client_for(cast.coordinator_a)
    batch = batch_of(_post_upload(client, messy_file()))
    UploadBatch.objects.filter(pk=batch.pk).update(rows_total=12004, created=6000, updated=4000, unchanged=2000)
    html = client.get(f"/uploads/{batch.pk}/").content.decode()
    assert '<span class="stat">6,000</span>' in html
    assert "12,004" in html
    assert "6,000" in html[html.index('data-testid="confirm-upload"') :]  # the button names the counts too
    # Only counts: a พ.ศ. year or an upload's number never gets a separator (no USE_THOUSAND_SEPARATOR).
    assert not re.search(r"\b2,5\d\d\b", html)
    assert "12,004" in client.get("/uploads/").content.decode()
