"""NUL and other control characters, wherever text comes in (core/control_characters.py).

Each entry point of issue 11's "Inputs that fail today" first: a NUL in an uploaded cell (the check
passed, then the confirm answered 500 in COPY), `"notes": "a\\u0000b"` in POST /api/v1/records/, an
item key holding \\u0000 in a bulk write with an Idempotency-Key; then the pages (query strings,
forms, file names, admin search) and the other control characters. A refused character is named,
with its field or column, in the user's language; nothing of it reaches the database.
"""

import io
import json
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import translation
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from api.idempotency import idempotent
from api.models import IdempotentRequest
from conftest import PROVINCE_A
from core import control_characters
from provinces.models import Province
from targets.forms import validate_record
from targets.models import TargetRecord, UploadBatch, UploadRejection
from tests import test_upload_worker
from tests.api_support import key_client, make_key
from tests.builders import HEADER, OUT, batch_status, national_id, upload, upload_and_apply, xlsx

pytestmark = pytest.mark.django_db

# The Celery worker fixtures of tests/test_upload_worker.py, for the one worker test at the end.
workers = test_upload_worker.workers

API = "/api/v1"
NUL_REASON_TH = "มีอักขระควบคุม (U+0000)"  # the Thai message names the character


def _json(response):
    return json.loads(response.content)


def _item(n: int, **fields) -> dict:
    return {
        "identifier": national_id(PROVINCE_A * 10_000_000 + n),
        "first_name": f"สมชาย{n}",
        "last_name": "ใจดี",
        "category": "out-of-school",
        **fields,
    }


@pytest.fixture
def client_a(programme):
    return key_client(make_key(provinces=[PROVINCE_A], name="key-a")[1])


# --- the rule ------------------------------------------------------------------------------------------


REFUSED = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", chr(0xD800), chr(0xDFFF)]


@pytest.mark.parametrize("char", REFUSED)
def test_nul_other_c0_controls_del_and_lone_surrogates_are_refused(char):
    assert control_characters.first_forbidden(f"สม{char}ชาย") == char
    assert control_characters.scrub(f"a{char}b") == "a\ufffdb"


@pytest.mark.parametrize("text", ["สมชาย ใจดี", "line one\nline two\r\n\tindented", "emoji 😀", "€ ฿ ๑๒๓", "\x80\x9f"])
def test_tab_newline_thai_and_astral_characters_are_allowed(text):
    assert control_characters.first_forbidden(text) is None


def test_a_refused_character_in_json_data_is_found_with_its_path():
    data = {"records": [{"notes": "ok"}, {"notes": "a\x00b"}]}
    assert control_characters.find_in_data(data) == ("records[1].notes", "\x00", False)
    assert control_characters.find_in_data({"records": [{"a\x00": 1}]}) == ("records[0]", "\x00", True)
    assert control_characters.find_in_data({"records": [{"notes": "fine\n"}]}) is None


# --- the API: the two examples, then the rest of a request ------------------------------------


def test_a_nul_in_the_notes_of_a_new_record_is_refused_with_400_naming_the_field(client_a):
    item = _item(1, notes="a\u0000b")
    response = client_a.post(f"{API}/records/", json.dumps(item), content_type="application/json")
    assert response.status_code == 400  # 500 before: PostgreSQL refused the NUL in the INSERT
    error = _json(response)["error"]
    assert error["code"] == "invalid"
    assert NUL_REASON_TH in error["details"]["notes"][0]
    assert not TargetRecord.objects.exists()


def test_the_refusal_reads_in_english_with_lang_en(client_a):
    item = _item(1, first_name="\u0001สมชาย")
    response = client_a.post(f"{API}/records/?lang=en", json.dumps(item), content_type="application/json")
    assert response.status_code == 400
    assert _json(response)["error"]["details"] == {
        "first_name": ["The text holds a control character (U+0001), which cannot be saved. Remove it and try again."]
    }


def test_a_bulk_write_with_an_idempotency_key_and_a_nul_in_an_item_key_is_refused_and_can_be_retried(client_a):
    body = json.dumps({"records": [_item(1), _item(2, **{"no\u0000tes": "x"})]})
    for _attempt in range(2):  # the retry with the same key gets the same answer, and nothing is stored
        response = client_a.post(
            f"{API}/records/bulk/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="bulk-1"
        )
        assert response.status_code == 400  # 500 before: the stored response quoted the key (jsonb)
        details = _json(response)["error"]["details"]
        assert list(details) == ["records[1]"]
        assert "U+0000" in details["records[1]"][0]
    assert not TargetRecord.objects.exists()
    assert not IdempotentRequest.objects.exists()


@pytest.mark.parametrize(
    ("escape", "code"), [("\\ud800", "U+D800"), ("\\u007f", "U+007F"), ("\\u001b", "U+001B"), ("\x7f", "U+007F")]
)
def test_lone_surrogates_and_other_controls_in_a_json_body_are_refused(client_a, escape, code):
    raw = json.dumps(_item(1), ensure_ascii=False).replace('"ใจดี"', f'"ใจ{escape}ดี"', 1)
    assert escape in raw
    response = client_a.post(f"{API}/records/", raw.encode(), content_type="application/json")
    assert response.status_code == 400
    assert code in _json(response)["error"]["details"]["last_name"][0]
    assert not TargetRecord.objects.exists()


def test_newlines_and_tabs_in_notes_are_kept_through_the_api(client_a):
    item = _item(1, notes="บรรทัดแรก\nบรรทัดที่สอง\tจบ")
    response = client_a.post(f"{API}/records/", json.dumps(item), content_type="application/json")
    assert response.status_code == 201
    assert TargetRecord.objects.get().notes == "บรรทัดแรก\nบรรทัดที่สอง\tจบ"


@pytest.mark.parametrize("query", ["category=a%00b", "lang=%00", "x%01=1", "status=%7F"])
def test_a_control_character_in_an_api_query_string_is_refused(client_a, query):
    response = client_a.get(f"{API}/records/?{query}")
    assert response.status_code == 400
    assert _json(response)["error"]["code"] == "invalid"
    detail = client_a.get(f"{API}/provinces/{PROVINCE_A}/?{query}")
    assert detail.status_code == 400


def test_a_control_character_in_an_api_upload_form_is_refused_and_one_in_a_file_name_dropped(client_a):
    csv = (",".join(HEADER) + "\n").encode()
    response = client_a.post(
        f"{API}/imports/", {"province": "4\x000", "file": SimpleUploadedFile("a.csv", csv)}, HTTP_IDEMPOTENCY_KEY="i1"
    )
    assert response.status_code == 400
    assert "province" in _json(response)["error"]["details"]
    assert not UploadBatch.objects.exists()
    # Django's multipart parser drops non-printable characters from file names itself.
    response = client_a.post(f"{API}/imports/", {"province": PROVINCE_A, "file": SimpleUploadedFile("a\x01.csv", csv)})
    assert response.status_code == 201
    assert UploadBatch.objects.get().original_name == "a.csv"


class _Echo(APIView):
    """A view whose response quotes a NUL (which api.parsers now keeps out of every real one)."""

    authentication_classes = []
    permission_classes = []

    @idempotent
    def post(self, request):
        return Response({"echo": "a\x00b", "items": [{"k\x00": "v"}]}, status=201)


def test_an_idempotent_response_quoting_a_nul_is_stored_and_replayed(cast):
    factory = APIRequestFactory()

    def call():
        request = factory.post("/echo/", {}, format="json", HTTP_IDEMPOTENCY_KEY="echo-1")
        force_authenticate(request, user=cast.coordinator_a)
        return _Echo.as_view()(request)

    first = call()  # 500 before: PostgreSQL's jsonb refused "\u0000" in the stored response
    assert first.status_code == 201
    stored = IdempotentRequest.objects.get(key="echo-1")
    assert stored.response_body == {"echo": "a\ufffdb", "items": [{"k\ufffd": "v"}]}
    again = call()
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.data == stored.response_body


# --- uploads: the row is refused with its column, nothing reaches COPY --------------------------------


def _csv(rows: list[list]) -> SimpleUploadedFile:
    text = "\n".join(",".join(row) for row in [HEADER, *rows]) + "\n"
    return SimpleUploadedFile("nul.csv", text.encode())


def _row(n: int, first_name: str = "สมชาย") -> list[str]:
    return ["ใจดี", first_name, national_id(n), "ชาย", "15/03/2553", "", "", OUT, ""]


def test_a_nul_in_a_csv_cell_rejects_its_row_and_the_confirm_applies_the_rest(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.post("/uploads/new/", {"file": _csv([_row(1), _row(2, "สม\x00ชาย"), _row(3)])})
    batch = UploadBatch.objects.get()
    assert response["Location"] == f"/uploads/{batch.pk}/"
    assert (batch.status, batch.created, batch.rejected) == ("checked", 2, 1)  # the check used to pass it
    [rejection] = UploadRejection.objects.filter(batch=batch)
    assert (rejection.row_number, rejection.column) == (3, "ชื่อ")
    assert NUL_REASON_TH in rejection.reason
    assert "สม\ufffdชาย" in rejection.values  # kept for the rejected-rows file, where it can be stored
    response = client.post(f"/uploads/{batch.pk}/confirm/")  # answered 500 before (COPY)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.rejected) == ("applied", 2, 1)
    assert sorted(TargetRecord.objects.values_list("identifier", flat=True)) == [national_id(1), national_id(3)]
    rejected_file = client.get(f"/uploads/{batch.pk}/rejections.xlsx")
    assert rejected_file.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(rejected_file.content)).worksheets[0]
    assert "สม\ufffdชาย" in [cell.value for row in sheet.iter_rows() for cell in row]


def _xlsx_with_escape(escape: str, header: list | None = None, rows: list[list] | None = None) -> SimpleUploadedFile:
    """An xlsx whose cell PLACEHOLDER holds an OOXML escape (_x0000_) or a character reference that
    calamine decodes into a control character: openpyxl refuses to write them, so they go in by hand."""
    source = xlsx(header or HEADER, rows or [_row(1, "PLACEHOLDER")])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source.read())) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename).replace(b"PLACEHOLDER", escape.encode()))
    return SimpleUploadedFile("escape.xlsx", out.getvalue())


@pytest.mark.parametrize(("escape", "code"), [("a_x0000_b", "U+0000"), ("a_x0001_b", "U+0001")])
def test_a_control_character_hidden_in_an_xlsx_cell_rejects_its_row(cast, escape, code):
    batch = upload(cast.coordinator_a, _xlsx_with_escape(escape))
    assert (batch.status, batch.rejected) == ("checked", 1)
    assert code in UploadRejection.objects.get(batch=batch).reason


def test_a_control_character_reference_is_no_xml_and_refuses_the_file_as_damaged(cast):
    # XML 1.0 has no &#1;: Excel writes _x0001_. calamine would decode it; the sheet's scan
    # (targets/upload/sheet_scan.py) reads the XML as XML and refuses the file.
    batch = upload(cast.coordinator_a, _xlsx_with_escape("a&#1;b"))
    assert (batch.status, batch.rejected) == ("failed", 0)
    assert "ไฟล์เสียหาย" in batch.error


def test_other_controls_are_refused_in_notes_and_tabs_become_spaces_in_one_line_fields(cast):
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "โรงเรียน", "หมายเหตุ"]
    rows = [
        [national_id(1), "สมชาย", "ใจดี", OUT, "โรงเรียน\tบ้านหนองแวง", "บรรทัดแรก\nบรรทัดที่สอง"],
        [national_id(2), "สมหญิง", "ใจดี", OUT, "", "PLACEHOLDER"],
    ]
    batch = upload_and_apply(cast.coordinator_a, _xlsx_with_escape("กด_x001B_หนี", header, rows))
    assert (batch.status, batch.created, batch.rejected) == ("applied", 1, 1)
    [rejection] = UploadRejection.objects.filter(batch=batch)
    assert (rejection.row_number, rejection.column) == (3, "บันทึก")  # the notes column
    assert "U+001B" in rejection.reason
    record = TargetRecord.objects.get()
    assert (record.school, record.notes) == ("โรงเรียน บ้านหนองแวง", "บรรทัดแรก\nบรรทัดที่สอง")


def test_a_control_character_in_a_header_refuses_the_file_with_a_thai_message(cast):
    batch = upload(cast.coordinator_a, _xlsx_with_escape("คอลัมน์_x001B_อื่น", [*HEADER[:-1], "PLACEHOLDER"], [_row(1)]))
    assert batch.status == "failed"
    assert "หัวคอลัมน์ที่ 9" in batch.error
    assert "U+001B" in batch.error


def test_a_nul_in_a_csv_header_line_refuses_the_file_as_damaged_or_utf16(cast):
    # A NUL in the first line is no typing slip: a damaged file, or UTF-16 without its byte-order mark.
    batch = upload(cast.coordinator_a, _csv_with_header([*HEADER[:-1], "คอลัมน์\x00อื่น"]))
    assert batch.status == "failed"
    assert "บรรทัดที่ 1 ของไฟล์ CSV มีอักขระ NUL" in batch.error


def _csv_with_header(header: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile("h.csv", ("\n".join([",".join(header), ",".join(_row(1))]) + "\n").encode())


# --- the record form and the help form (their services) -------------------------------------------------


def test_the_record_forms_validation_names_the_field_of_a_control_character(programme):
    data = {"identifier": national_id(1), "first_name": "สมชาย", "category": "out-of-school", "school": "บ้าน\x02นา"}
    clean_row, messages = validate_record(province=Province.objects.get(code=PROVINCE_A), data=data)
    assert clean_row is None
    assert list(messages) == ["school"]
    assert "U+0002" in messages["school"][0]


def test_help_given_refuses_control_characters(cast):
    from django.core.exceptions import ValidationError

    from targets.models import AssistanceType
    from targets.record_services import record_help
    from tests.api_support import make_records

    [record] = make_records(PROVINCE_A, 1)
    with pytest.raises(ValidationError) as refused:
        record_help(
            record=record, user=cast.coordinator_a, type=AssistanceType.objects.first(),
            date=record.created_at.date(), given_by="อบต.\x00", outcome="ok\x0c",
        )  # fmt: skip
    assert set(refused.value.message_dict) == {"given_by", "outcome"}


# --- pages: query strings, forms, file names, admin search ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/records/?school=%00", "school"),
        ("/records/?district=1%01", "district"),
        ("/admin/targets/targetrecord/?q=%00", "q"),
        ("/admin/audit/accesslog/?q=a%7Fb", "q"),
        ("/universities/K%00U/", "ที่อยู่หน้า"),  # 500 before: the code went into a query
        ("/meetings/feed/a%00b.ics", "ที่อยู่หน้า"),  # 500 before: the token went into a query
    ],
)
def test_a_control_character_in_a_page_address_or_query_string_gets_400_in_thai(cast, client_for, url, field):
    response = client_for(cast.eef_admin).get(url)
    assert response.status_code == 400
    text = response.content.decode()
    assert f"ช่อง “{field}”" in text
    assert "ระบบไม่รับคำขอนี้" in text


def test_the_refusal_page_reads_in_english_for_an_english_reader(cast, client_for):
    client = client_for(cast.coordinator_a)
    client.cookies["django_language"] = "en"
    response = client.get("/records/?school=%00")
    assert response.status_code == 400
    assert "The field “school” holds a control character (U+0000)" in response.content.decode()


def test_a_search_with_a_nul_gets_400_and_is_not_kept(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.post("/records/", {"q": "สม\x00ชาย"})
    assert response.status_code == 400
    assert "targets.searches" not in client.session


def test_a_record_form_with_a_control_character_creates_nothing(cast, client_for):
    client = client_for(cast.coordinator_a)
    data = {"identifier": national_id(1), "first_name": "สมชาย", "category": "out-of-school", "status": "in-follow-up"}
    response = client.post("/records/new/", {**data, "notes": "a\x00b"})
    assert response.status_code == 400
    assert "ช่อง “notes”" in response.content.decode()
    assert not TargetRecord.objects.exists()
    response = client.post("/records/new/", {**data, "notes": "บรรทัดแรก\r\nบรรทัดที่สอง"})
    assert response.status_code == 302
    assert TargetRecord.objects.get().notes == "บรรทัดแรก\r\nบรรทัดที่สอง"


def test_the_middleware_leaves_the_api_to_answer_in_its_own_shape():
    request = RequestFactory().get("/api/v1/records/?x=%00")
    seen = []
    middleware = control_characters.RefuseControlCharactersMiddleware(lambda r: seen.append(r) or "view")
    assert middleware(request) == "view"
    with translation.override("en"):
        request = RequestFactory().get("/records/?x=%00")
        assert control_characters.find_in_request(request) == ("x", "\x00", False)


# --- through a real Celery worker: the upload ends checked, then applied (it used to stay "applying") -------


@pytest.mark.django_db(transaction=True)
def test_a_nul_upload_checked_and_applied_by_a_celery_worker_ends_applied(cast, client_for, workers):
    workers.start()
    client = client_for(cast.coordinator_a)
    client.post("/uploads/new/", {"file": _csv([_row(1), _row(2, "สม\x00ชาย")])})
    batch = UploadBatch.objects.get()
    test_upload_worker._wait_for(
        lambda: batch_status(batch) == UploadBatch.Status.CHECKED, what="the check", workers=workers
    )
    assert client.post(f"/uploads/{batch.pk}/confirm/").status_code == 302
    test_upload_worker._wait_for(
        lambda: batch_status(batch) == UploadBatch.Status.APPLIED, what="the apply", workers=workers
    )
    batch.refresh_from_db()
    assert (batch.created, batch.rejected) == (1, 1)
    assert list(TargetRecord.objects.values_list("identifier", flat=True)) == [national_id(1)]
    assert "CharacterNotInRepertoire" not in workers.logs()
