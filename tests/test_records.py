"""Target-group record pages (/records/): scope, masked IDs, the access log, the upload's validation,
status history, help given, exports and query counts.

The cast (conftest.py): coordinator A writes province A (ขอนแก่น, 40), coordinator B province B
(พะเยา, 56); KKU's member and A's viewer read A only; the EEF admin reads and writes everywhere.
"""

import csv
import datetime
import io
import re

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import AccessLog
from conftest import PROVINCE_A, PROVINCE_B
from core.spreadsheet_safety import FORMULA_TRIGGERS
from core.thai_id import format_identifier, mask_identifier
from provinces.models import District, Province, SubDistrict
from targets import record_services
from targets.forms import RecordForm, validate_record
from targets.models import Assistance, AssistanceType, Category, Outcome, RecordAlias, StatusChange, TargetRecord
from targets.views import age_band_filter, age_on, status_timeline
from tests.builders import national_id, upload, wrong_check_digit

pytestmark = pytest.mark.django_db


def _category(code: str = "out-of-school") -> Category:
    return Category.objects.get(code=code)


def _status(code: str = "in-follow-up") -> Outcome:
    return Outcome.objects.get(code=code)


def _values(**overrides) -> dict:
    values = {
        "name_prefix": "ด.ช.",
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "sex": "M",
        "birth_date": datetime.date(2012, 3, 15),
        "category_id": _category().pk,
        "status_id": _status().pk,
    }
    values.update(overrides)
    return values


def make_record(user, n: int, province: int = PROVINCE_A, **overrides) -> TargetRecord:
    """A record created through the service, as the record form does."""
    identifier = overrides.pop("identifier", national_id(n))
    return record_services.create_record(
        user=user,
        province=Province.objects.get(code=province),
        identifier=identifier,
        identifier_kind="g_code" if identifier.startswith("G") else "national_id",
        values=_values(**overrides),
    )


@pytest.fixture
def record_a(cast) -> TargetRecord:
    return make_record(cast.coordinator_a, 1, first_name="อนันต์", last_name="ขอนแก่น")


@pytest.fixture
def record_b(cast) -> TargetRecord:
    return make_record(cast.coordinator_b, 2, province=PROVINCE_B, first_name="บุญมี", last_name="พะเยา")


def _form_data(**overrides) -> dict:
    district = District.objects.filter(province_id=PROVINCE_A).order_by("code").first()
    sub = SubDistrict.objects.filter(district=district).order_by("code").first()
    assert district is not None
    assert sub is not None
    data = {
        "identifier": format_identifier(national_id(50)),
        "name_prefix": "ด.ญ.",
        "first_name": "สมหญิง",
        "last_name": "รักเรียน",
        "sex": "",
        "birth_date": "15/03/2555",
        "district": str(district.code),
        "sub_district": str(sub.code),
        "category": "at-risk",
        "status": "in-follow-up",
        "education_status": "in_school",
        "last_grade": "ป.6",
        "school": "โรงเรียนบ้านโนนสวรรค์",
        "guardian_name": "นางมาลี รักเรียน",
        "phone": "081-234-5678",
        "consent": "on",
        "notes": "",
    }
    data.update(overrides)
    return data


def _ids_in(html: str) -> set[str]:
    """Every 13-digit national ID in a page, however it is written (1-2345-67890-12-1 or plain)."""
    return {re.sub(r"\D", "", m) for m in re.findall(r"\b\d[\d-]{12,16}\d\b", html) if len(re.sub(r"\D", "", m)) == 13}


# --- Scope: who sees which records ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "sees_a", "sees_b"),
    [
        ("eef_admin", True, True),
        ("university_member", True, False),
        ("coordinator_a", True, False),
        ("coordinator_b", False, True),
        ("viewer_a", True, False),
        ("no_role", False, False),
    ],
)
def test_list_shows_only_the_records_in_scope(cast, client_for, record_a, record_b, member, sees_a, sees_b):
    html = client_for(cast[member]).get("/records/").content.decode()
    assert ("อนันต์" in html) is sees_a
    assert ("บุญมี" in html) is sees_b


@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [
        ("get", "", {}),
        ("post", "", {}),
        ("get", "edit/", {}),
        ("post", "edit/", {"first_name": "แก้"}),
        ("get", "help/new/", {}),
        ("post", "help/new/", {"given_by": "อบต."}),
        ("post", "status/", {"status": "1"}),
    ],
)
def test_coordinator_of_other_province_gets_404(cast, client_for, record_b, method, suffix, data):
    response = getattr(client_for(cast.coordinator_a), method)(f"/records/{record_b.pk}/{suffix}", data)
    assert response.status_code == 404
    record_b.refresh_from_db()
    assert record_b.first_name == "บุญมี"
    assert not record_b.assistance.exists()
    assert not record_b.status_history.exists()


@pytest.mark.parametrize("member", ["university_member", "viewer_a"])
@pytest.mark.parametrize(
    ("method", "suffix", "data"),
    [("get", "edit/", {}), ("get", "help/new/", {}), ("post", "status/", {"status": "1"})],
)
def test_readers_of_a_province_cannot_change_its_records(cast, client_for, record_a, member, method, suffix, data):
    response = getattr(client_for(cast[member]), method)(f"/records/{record_a.pk}/{suffix}", data)
    assert response.status_code == 403


def test_readers_may_not_open_the_new_record_form(cast, client_for):
    for member in ("university_member", "viewer_a", "no_role"):
        assert client_for(cast[member]).get("/records/new/").status_code == 403


def test_export_of_coordinator_a_never_holds_province_b(cast, client_for, record_a, record_b):
    for file_format in ("csv", "xlsx"):
        response = client_for(cast.coordinator_a).get(f"/records/export/?format={file_format}&province={PROVINCE_B}")
        rows = _export_rows(response)
        assert [row[2] for row in rows[1:]] == ["อนันต์"]  # the province filter outside the scope is ignored
        assert all("พะเยา" not in str(cell) for row in rows for cell in row)


def test_province_filter_cannot_widen_the_scope(cast, client_for, record_a, record_b):
    html = client_for(cast.coordinator_a).get(f"/records/?province={PROVINCE_B}").content.decode()
    assert "บุญมี" not in html


# --- National IDs: masked unless the role may see them, and then only on request ---------------------


@pytest.mark.parametrize("member", ["university_member", "viewer_a"])
def test_readers_see_masked_identifiers_only(cast, client_for, record_a, member):
    client = client_for(cast[member])
    for response in (
        client.get("/records/"),
        client.post("/records/", {"reveal": "1"}),
        client.get(f"/records/{record_a.pk}/"),
    ):
        html = response.content.decode()
        assert mask_identifier(record_a.identifier) in html
        assert record_a.identifier not in _ids_in(html)
    assert 'data-testid="reveal"' not in client.get(f"/records/{record_a.pk}/").content.decode()
    # Asking anyway: refused, and nothing is logged as a full view.
    assert client.post(f"/records/{record_a.pk}/").status_code == 403
    assert not AccessLog.objects.filter(action=AccessLog.Action.FULL_IDENTIFIER_VIEW).exists()


@pytest.mark.parametrize("member", ["coordinator_a", "eef_admin"])
def test_writers_see_the_full_id_only_after_asking(cast, client_for, record_a, member):
    client = client_for(cast[member])
    page = client.get(f"/records/{record_a.pk}/").content.decode()
    assert record_a.identifier not in _ids_in(page)
    assert 'data-testid="reveal"' in page
    assert record_a.identifier not in _ids_in(client.get("/records/").content.decode())

    shown = client.post(f"/records/{record_a.pk}/").content.decode()
    assert format_identifier(record_a.identifier) in shown
    listed = client.post("/records/", {"reveal": "1"}).content.decode()
    assert format_identifier(record_a.identifier) in listed
    full_views = AccessLog.objects.filter(action=AccessLog.Action.FULL_IDENTIFIER_VIEW, user=cast[member])
    assert full_views.count() == 2
    assert full_views.filter(object_id=str(record_a.pk)).exists()


def test_coordinator_sees_full_ids_of_own_province_only(cast, client_for, record_a, record_b):
    # EEF sees both provinces; a coordinator who could see B's list would still not see B's IDs in full.
    html = client_for(cast.eef_admin).post("/records/", {"reveal": "1"}).content.decode()
    assert {record_a.identifier, record_b.identifier} <= _ids_in(html)


def test_export_masks_identifiers_for_the_university_member(cast, client_for, record_a):
    for file_format in ("csv", "xlsx"):
        rows = _export_rows(client_for(cast.university_member).get(f"/records/export/?format={file_format}"))
        assert rows[1][0] == mask_identifier(record_a.identifier)
        rows = _export_rows(client_for(cast.coordinator_a).get(f"/records/export/?format={file_format}"))
        assert rows[1][0] == format_identifier(record_a.identifier)


# --- The access log ----------------------------------------------------------------------------------


def _assert_no_identifier_anywhere(entries, identifier: str) -> None:
    for entry in entries:
        for text in (entry.description, entry.path, entry.object_id, entry.user_agent):
            assert identifier not in re.sub(r"\D", "", text), (entry.action, text)


def test_views_full_views_and_exports_are_logged_without_identifiers(cast, client_for, record_a):
    client = client_for(cast.coordinator_a)
    client.get(f"/records/?help=no&status={_status().pk}")
    client.get(f"/records/{record_a.pk}/")
    client.post(f"/records/{record_a.pk}/")
    client.get("/records/export/?format=csv")
    client.get("/records/export/?format=xlsx")
    entries = list(AccessLog.objects.filter(user=cast.coordinator_a).order_by("pk"))
    assert [e.action for e in entries] == ["view", "view", "full_identifier_view", "export", "export"]
    assert entries[0].description == "records; filters: status, help"
    assert entries[0].count == 1
    assert (entries[1].object_id, entries[2].object_id) == (str(record_a.pk), str(record_a.pk))
    assert [e.count for e in entries[3:]] == [1, 1]
    assert all(e.path.startswith("/records/") and "?" not in e.path for e in entries)
    _assert_no_identifier_anywhere(entries, record_a.identifier)


def test_search_by_identifier_never_puts_it_in_a_url_or_the_log(cast, client_for, record_a, record_b):
    client = client_for(cast.coordinator_a)
    typed = format_identifier(record_a.identifier)  # 1-0000-00000-01-x, as people type it
    response = client.post("/records/?category=&page=3", {"q": typed})
    assert response.status_code == 302
    location = response["Location"]
    assert record_a.identifier not in re.sub(r"\D", "", location)
    assert re.fullmatch(r"/records/\?category=&search=[\w-]+", location)
    html = client.get(location).content.decode()
    assert "อนันต์" in html
    assert mask_identifier(record_a.identifier) in html  # what it searched for, masked
    entry = AccessLog.objects.filter(user=cast.coordinator_a).latest("pk")
    assert entry.description == "records; search by identifier"
    _assert_no_identifier_anywhere([entry], record_a.identifier)
    # B's record is not found through A's search, even by its exact identifier.
    html = client.get(client.post("/records/", {"q": record_b.identifier})["Location"]).content.decode()
    assert "บุญมี" not in html
    # The export link of a searched list does not carry the search.
    assert "search=" not in re.search(r'action="(/records/export/[^"]*)"', html).group(1)


def test_search_by_name_matches_first_or_last_name_and_stays_out_of_the_url(cast, client_for, record_a):
    make_record(cast.coordinator_a, 3, first_name="มานี", last_name="มีนา")
    client = client_for(cast.coordinator_a)
    location = client.post("/records/", {"q": "ขอนแก"})["Location"]
    assert "ขอนแก" not in location
    assert "%E0" not in location
    html = client.get(location).content.decode()
    assert "อนันต์" in html
    assert "มานี" not in html
    assert AccessLog.objects.latest("pk").description == "records; search by name"


def test_a_search_key_of_another_session_finds_nothing(cast, client_for, record_a):
    location = client_for(cast.coordinator_a).post("/records/", {"q": "อนันต์"})["Location"]
    html = client_for(cast.coordinator_a).get(location).content.decode()  # a new session
    assert "search-current" not in html  # the key means nothing there: the unsearched list


# --- The forms: the same validation as the upload -------------------------------------------------------


def _post_new(client, **overrides):
    return client.post("/records/new/", _form_data(**overrides))


def _upload_reason(user, header: list, row: list) -> str:
    """The reason the upload gives for one row (its dry run), from a csv: text as typed, where an xlsx
    would store "=..." as a formula."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, row])
    batch = upload(user, SimpleUploadedFile("records.csv", buffer.getvalue().encode("utf-8")))
    reasons = set(batch.rejections.values_list("reason", flat=True))
    assert len(reasons) == 1, reasons
    return reasons.pop()


@pytest.mark.parametrize(
    ("field", "value", "upload_header"),
    [
        ("identifier", wrong_check_digit(60), "เลขประจำตัวประชาชน"),
        ("identifier", national_id(61, first="9"), "เลขประจำตัวประชาชน"),
        ("identifier", "G12345", "เลขประจำตัวประชาชน"),
        ("birth_date", "31/02/2555", "วันเกิด"),
        ("phone", "12345", "เบอร์โทรศัพท์"),
        ("first_name", '=HYPERLINK("http://x")', "ชื่อ"),
    ],
)
def test_form_refuses_what_the_upload_refuses_with_the_same_message(cast, client_for, field, value, upload_header):
    response = _post_new(client_for(cast.coordinator_a), **{field: value})
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    # The same row through the upload.
    base = {"เลขประจำตัวประชาชน": national_id(62), "ชื่อ": "สมหญิง", "นามสกุล": "รักเรียน", "กลุ่มเป้าหมาย": "at-risk"}
    base[upload_header] = value
    assert _upload_reason(cast.coordinator_a, list(base), list(base.values())) in errors
    assert not TargetRecord.objects.exists()


def test_form_accepts_a_g_code_and_a_first_digit_zero(cast, client_for):
    client = client_for(cast.coordinator_a)
    assert _post_new(client, identifier="g644200000001").status_code == 302
    assert _post_new(client, identifier=national_id(63, first="0"), first_name="ศูนย์").status_code == 302
    g_code = TargetRecord.objects.get(identifier="G644200000001")
    assert g_code.identifier_kind == "g_code"
    assert g_code.province_id == PROVINCE_A
    assert TargetRecord.objects.get(identifier=national_id(63, first="0")).identifier_kind == "national_id"


def test_a_created_record_holds_the_cleaned_values(cast, client_for):
    response = _post_new(client_for(cast.coordinator_a))
    record = TargetRecord.objects.get()
    assert response["Location"] == f"/records/{record.pk}/"
    assert record.identifier == national_id(50)
    assert (record.name_prefix, record.sex) == ("ด.ญ.", "F")  # the sex taken from the prefix, as an upload does
    assert record.birth_date == datetime.date(2012, 3, 15)  # 15/03/2555 in พ.ศ.
    assert record.phone == "0812345678"
    assert record.consent is True
    assert record.category.code == "at-risk"
    assert record.updated_by == cast.coordinator_a
    assert not record.status_history.exists()  # the first status is not a history row


def test_sub_district_of_another_district_is_refused_as_the_upload_does(cast, client_for):
    districts = list(District.objects.filter(province_id=PROVINCE_A).order_by("code")[:2])
    elsewhere = SubDistrict.objects.filter(district=districts[1]).first()
    data = {"district": str(districts[0].code), "sub_district": str(elsewhere.code)}
    response = _post_new(client_for(cast.coordinator_a), **data)
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "อำเภอ", "ตำบล"]
    reason = _upload_reason(
        cast.coordinator_a, header, [national_id(64), "ก", "ข", "at-risk", data["district"], data["sub_district"]]
    )
    assert reason in response.context["form"].errors["sub_district"]


def test_unknown_sub_district_is_refused(cast, client_for):
    outside = SubDistrict.objects.filter(district__province_id=PROVINCE_B).first()
    response = _post_new(client_for(cast.coordinator_a), district="", sub_district=str(outside.code))
    assert response.context["form"].errors["sub_district"]
    assert not TargetRecord.objects.exists()


def test_duplicate_identifier_of_another_province_is_refused_without_naming_it(cast, client_for, record_b):
    response = _post_new(client_for(cast.coordinator_a), identifier=record_b.identifier)
    errors = response.context["form"].errors["identifier"]
    # The upload's words for the same identifier in the same province's upload.
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"]
    assert errors == [_upload_reason(cast.coordinator_a, header, [record_b.identifier, "ก", "ข", "at-risk"])]
    html = response.content.decode()
    assert "พะเยา" not in html
    assert "Phayao" not in html
    assert TargetRecord.objects.count() == 1


def test_duplicate_in_own_province_names_the_province(cast, client_for, record_a):
    response = _post_new(client_for(cast.coordinator_a), identifier=record_a.identifier)
    assert Province.objects.get(code=PROVINCE_A).name in response.context["form"].errors["identifier"][0]


def test_validate_record_maps_every_reason_to_its_field(cast):
    _row, messages = validate_record(
        province=Province.objects.get(code=PROVINCE_A),
        data={"identifier": "9", "first_name": "", "category": "nope", "sex": "x", "consent": "no"},
    )
    assert set(messages) == {"identifier", "first_name", "category", "sex"}


def test_edit_changes_the_record_and_keeps_a_status_change(cast, client_for, record_a):
    client = client_for(cast.coordinator_a)
    assert client.get(f"/records/{record_a.pk}/edit/").status_code == 200
    data = RecordForm.initial_from(record_a)
    data.update(school="โรงเรียนใหม่", status="returned-to-school", consent="", seen_version=record_a.version)
    response = client.post(f"/records/{record_a.pk}/edit/", data)
    assert response.status_code == 302
    record_a.refresh_from_db()
    assert record_a.school == "โรงเรียนใหม่"
    assert record_a.status.code == "returned-to-school"
    change = record_a.status_history.get()
    assert (change.from_status.code, change.to_status.code, change.changed_by) == (
        "in-follow-up",
        "returned-to-school",
        cast.coordinator_a,
    )


def test_only_eef_changes_an_identifier(cast, client_for, record_a):
    # The form's hidden version (tests/test_stale_edits.py): the record does not change until the end.
    data = {**RecordForm.initial_from(record_a), "seen_version": record_a.version}
    new = national_id(70)
    # A coordinator's form has no identifier field: a posted one is ignored.
    client_for(cast.coordinator_a).post(f"/records/{record_a.pk}/edit/", {**data, "identifier": new})
    record_a.refresh_from_db()
    assert record_a.identifier == national_id(1)
    with pytest.raises(PermissionDenied):
        record_services.update_record(record=record_a, user=cast.coordinator_a, values={}, identifier=new)
    # EEF may, with the same checks.
    response = client_for(cast.eef_admin).post(f"/records/{record_a.pk}/edit/", {**data, "identifier": "12345"})
    assert response.context["form"].errors["identifier"]
    client_for(cast.eef_admin).post(f"/records/{record_a.pk}/edit/", {**data, "identifier": new})
    record_a.refresh_from_db()
    assert record_a.identifier == new


def test_eef_moves_a_record_to_another_province(cast, client_for, record_a):
    client = client_for(cast.eef_admin)
    page = client.get(f"/records/{record_a.pk}/edit/?province={PROVINCE_B}")
    assert page.status_code == 200
    district = District.objects.filter(province_id=PROVINCE_B).first()
    data = {**RecordForm.initial_from(record_a), "district": str(district.code), "sub_district": "",
            "seen_version": record_a.version}  # fmt: skip
    assert client.post(f"/records/{record_a.pk}/edit/?province={PROVINCE_B}", data).status_code == 302
    record_a.refresh_from_db()
    assert (record_a.province_id, record_a.district_id) == (PROVINCE_B, district.code)
    with pytest.raises(PermissionDenied):
        record_services.update_record(
            record=record_a, user=cast.coordinator_b, values={}, province=Province.objects.get(code=PROVINCE_A)
        )


def test_eef_chooses_the_province_of_a_new_record_first(cast, client_for):
    client = client_for(cast.eef_admin)
    assert b'data-testid="province-form"' in client.get("/records/new/").content
    assert b'data-testid="record-form"' in client.get(f"/records/new/?province={PROVINCE_B}").content
    district = District.objects.filter(province_id=PROVINCE_B).first()
    data = _form_data(district=str(district.code), sub_district="")
    assert client.post(f"/records/new/?province={PROVINCE_B}", data).status_code == 302
    assert TargetRecord.objects.get().province_id == PROVINCE_B


# --- Status history and help given ----------------------------------------------------------------------


def test_status_change_writes_history_and_the_timeline_starts_with_the_first_status(cast, client_for, record_a):
    client = client_for(cast.coordinator_a)
    for code in ("referred", "returned-to-school"):
        record_a.refresh_from_db()  # the version the page shows (tests/test_stale_edits.py)
        response = client.post(
            f"/records/{record_a.pk}/status/", {"status": _status(code).pk, "seen_version": record_a.version}
        )
        assert response["Location"] == f"/records/{record_a.pk}/#history"
    changes = list(StatusChange.objects.filter(record=record_a).order_by("pk"))
    assert [(c.from_status.code, c.to_status.code) for c in changes] == [
        ("in-follow-up", "referred"),
        ("referred", "returned-to-school"),
    ]
    assert {c.changed_by for c in changes} == {cast.coordinator_a}
    record_a.refresh_from_db()
    timeline = status_timeline(record_a, changes)
    assert [e["status"].code for e in timeline] == ["in-follow-up", "referred", "returned-to-school"]
    html = client.get(f"/records/{record_a.pk}/").content.decode()
    assert html.index("อยู่ระหว่างติดตาม") < html.index("ส่งต่อหน่วยงาน")


def test_timeline_of_a_record_without_changes_is_its_current_status(record_a):
    assert [e["status"].code for e in status_timeline(record_a, [])] == ["in-follow-up"]


def test_the_same_status_again_writes_nothing(cast, record_a):
    assert record_services.change_status(record=record_a, user=cast.coordinator_a, status=_status()) is None
    assert not StatusChange.objects.exists()


def test_help_given_is_recorded_with_who_recorded_it(cast, client_for, record_a):
    client = client_for(cast.coordinator_a)
    kind = AssistanceType.objects.get(code="home-visit")
    response = client.post(
        f"/records/{record_a.pk}/help/new/",
        {"type": kind.pk, "date": "15/03/2567", "given_by": "อบต.บ้านโนน", "outcome": "ผู้ปกครองยินดีส่งเรียน"},
    )
    assert response["Location"] == f"/records/{record_a.pk}/#help"
    help_given = Assistance.objects.get()
    assert (help_given.type, help_given.date, help_given.recorded_by) == (
        kind,
        datetime.date(2024, 3, 15),
        cast.coordinator_a,
    )
    html = client.get(f"/records/{record_a.pk}/").content.decode()
    assert "อบต.บ้านโนน" in html
    assert "15 มี.ค. 2567" in html


def test_help_in_the_future_is_refused(cast, client_for, record_a):
    future = (timezone.localdate() + datetime.timedelta(days=3)).strftime("%d/%m/%Y")
    response = client_for(cast.coordinator_a).post(
        f"/records/{record_a.pk}/help/new/",
        {"type": AssistanceType.objects.first().pk, "date": future, "given_by": "อบต."},
    )
    assert response.context["form"].errors["date"]
    assert not Assistance.objects.exists()


# --- Filters ---------------------------------------------------------------------------------------------


def test_age_bands_are_birth_date_ranges(cast):
    today = datetime.date(2025, 6, 1)
    born = {
        "5": datetime.date(2019, 6, 2),  # turns 6 tomorrow
        "6": datetime.date(2019, 6, 1),  # turned 6 today
        "11": datetime.date(2013, 6, 2),
        "12": datetime.date(2013, 6, 1),
        "24": datetime.date(2000, 6, 2),
        "25": datetime.date(2000, 6, 1),
    }
    for n, (age, day) in enumerate(born.items(), start=100):
        make_record(cast.coordinator_a, n, first_name=f"อายุ{age}", birth_date=day)
        assert age_on(day, today) == int(age)
    records = TargetRecord.objects.all()

    def names(band):
        return sorted(records.filter(age_band_filter(band, today)).values_list("first_name", flat=True))

    assert names("0-5") == ["อายุ5"]
    assert names("6-11") == ["อายุ11", "อายุ6"]
    assert names("12-14") == ["อายุ12"]
    assert names("18-24") == ["อายุ24"]
    assert names("25+") == ["อายุ25"]


def test_filters_narrow_the_list(cast, client_for, record_a):
    other = make_record(
        cast.coordinator_a, 5, first_name="ปรีดา", category_id=_category("disability").pk, school="โรงเรียนบ้านหนองแวง"
    )
    Assistance.objects.create(record=other, type=AssistanceType.objects.first(), date=datetime.date(2024, 1, 1),
                              given_by="อบต.")  # fmt: skip
    client = client_for(cast.coordinator_a)

    def names(query: str) -> set[str]:
        rows = client.get(f"/records/?{query}").context["rows"]
        return {row["record"].first_name for row in rows}

    assert names("") == {"อนันต์", "ปรีดา"}
    assert names(f"category={_category('disability').pk}") == {"ปรีดา"}
    assert names("school=หนองแวง") == {"ปรีดา"}
    assert names("help=yes") == {"ปรีดา"}
    assert names("help=no") == {"อนันต์"}
    assert names(f"status={_status('referred').pk}") == set()


def test_list_sorts_by_the_whitelisted_columns_only(cast, client_for):
    make_record(cast.coordinator_a, 1, first_name="ข", last_name="กอ", birth_date=datetime.date(2010, 1, 1))
    make_record(cast.coordinator_a, 2, first_name="ก", last_name="ขอ", birth_date=datetime.date(2015, 1, 1))
    make_record(cast.coordinator_a, 3, first_name="ค", last_name="คอ", birth_date=None)
    client = client_for(cast.coordinator_a)

    def names(sort: str) -> list[str]:
        response = client.get("/records/", {"sort": sort})
        assert response.status_code == 200
        return [row["record"].first_name for row in response.context["rows"]]

    assert names("name") == ["ข", "ก", "ค"]
    assert names("-name") == ["ค", "ก", "ข"]
    # Youngest first, a record without a birth date last; the other way round exactly reversed (one index,
    # target_record_age_idx, read backwards), so it comes first.
    assert names("age") == ["ก", "ข", "ค"]
    assert names("-age") == ["ค", "ข", "ก"]
    # Columns no index can give in order are not sortable (README.md, "The records list at scale").
    for unindexed in ("help", "status", "category", "district", "province"):
        assert names(unindexed) == names("")
    # Not a column key (the identifier is not one: its order would hint at masked digits): the usual order.
    assert names("identifier") == names("") == names("-last_name; drop") == ["ข", "ก", "ค"]
    # The header of the sorted column says so and links to the other direction; the others start ascending.
    html = client.get("/records/", {"sort": "name"}).content.decode()
    assert re.search(r'aria-sort="ascending"><a class="sort-link" href="\?sort=-name"', html)
    assert re.search(r'aria-sort="none"><a class="sort-link" href="\?sort=age"', html)
    assert 'data-testid="sort-identifier"' not in html
    assert 'data-testid="sort-help"' not in html
    assert 'data-testid="sort-status"' not in html


def test_page_jump_keeps_the_filters_and_the_sort(cast, client_for):
    _grow(120)
    client = client_for(cast.coordinator_a)
    response = client.get("/records/", {"help": "no", "sort": "-name", "page": 2})
    assert response.context["page"].number == 2
    html = response.content.decode()
    jump = html[html.index('data-testid="page-jump"') : html.index("</form>", html.index('data-testid="page-jump"'))]
    assert '<input type="hidden" name="help" value="no">' in jump
    assert '<input type="hidden" name="sort" value="-name">' in jump
    assert 'name="page" min="1" max="' in jump
    assert jump.count('name="page"') == 1  # the number box only: the current page is not sent twice
    # A number past the end is the last page, not an error.
    last = client.get("/records/", {"page": 999}).context["page"]
    assert last.number == last.paginator.num_pages > 1


def test_the_record_count_has_a_thousands_separator(cast, client_for):
    _grow(1005)
    html = client_for(cast.coordinator_a).get("/records/").content.decode()
    assert "1,005 ราย" in html
    assert "หน้า 1 จาก 21" in html


def test_demo_rows_get_one_note_not_a_badge_each(cast, client_for):
    first = make_record(cast.coordinator_a, 1, first_name="สาธิต")
    second = make_record(cast.coordinator_a, 2, first_name="สาธิตสอง")
    TargetRecord.objects.filter(pk__in=[first.pk, second.pk]).update(is_demo=True)
    client = client_for(cast.coordinator_a)
    html = client.get("/records/").content.decode()
    assert 'data-testid="all-demo"' in html
    assert html.count('class="badge demo"') == 1  # the note's, none in the rows
    make_record(cast.coordinator_a, 3, first_name="จริง")
    html = client.get("/records/").content.decode()
    assert 'data-testid="all-demo"' not in html
    assert html.count('class="badge demo"') == 2  # the two demo rows, each marked


# --- Exports -----------------------------------------------------------------------------------------------


def _export_rows(response) -> list[list]:
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith("attachment;")
    content = b"".join(response.streaming_content)
    if response["Content-Type"].startswith("text/csv"):
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def test_export_streams_thousands_of_rows_with_formulas_neutralised(cast, client_for):
    category, status = _category(), _status()
    TargetRecord.objects.bulk_create(
        TargetRecord(
            identifier=national_id(1000 + i),
            identifier_kind="national_id",
            first_name='=HYPERLINK("http://evil.example","คลิก")' if i == 0 else f"ชื่อ{i}",
            last_name="+SUM(1,2)" if i == 1 else "@cmd" if i == 2 else f"สกุล{i:05d}",
            school="-1+1" if i == 3 else "\tโรงเรียน" if i == 4 else "",
            province_id=PROVINCE_A,
            category=category,
            status=status,
        )
        for i in range(3000)
    )
    client = client_for(cast.coordinator_a)
    response = client.get("/records/export/?format=csv")
    assert response.streaming  # rows go out as they are read
    rows = _export_rows(response)
    assert len(rows) == 3001
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://evil.example","คลิก")' in cells
    assert {"'+SUM(1,2)", "'@cmd", "'-1+1", "'\tโรงเรียน"} <= set(cells)
    assert [c for c in cells if isinstance(c, str) and c.startswith(FORMULA_TRIGGERS)] == []
    assert AccessLog.objects.get(action="export").count == 3000

    rows = _export_rows(client.get("/records/export/?format=xlsx"))
    assert len(rows) == 3001
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://evil.example","คลิก")' in cells
    assert [c for c in cells if isinstance(c, str) and c.startswith(FORMULA_TRIGGERS)] == []
    assert list(AccessLog.objects.filter(action="export").values_list("count", flat=True)) == [3000, 3000]


def test_export_headers_are_read_back_by_the_upload(cast, client_for, record_a):
    from targets.upload.columns import match_columns, missing_required

    for language in ("th", "en"):
        client = client_for(cast.coordinator_a)
        client.cookies["django_language"] = language
        header = _export_rows(client.get("/records/export/?format=csv"))[0]
        columns = match_columns(header)
        assert missing_required(columns) == []
        assert len(columns.fields) == 18, (language, columns.unknown)


def test_export_of_an_unknown_format_is_refused(cast, client_for):
    assert client_for(cast.coordinator_a).get("/records/export/?format=pdf").status_code == 400


# --- Admin -------------------------------------------------------------------------------------------------


def test_admin_lists_masked_ids_for_others_and_logs_the_view(cast, client_for, record_a, record_b):
    html = client_for(cast.coordinator_a).get("/admin/targets/targetrecord/").content.decode()
    assert format_identifier(record_a.identifier) in html
    assert "บุญมี" not in html
    assert AccessLog.objects.filter(user=cast.coordinator_a, description="admin list", count=1).exists()


def test_admin_change_goes_through_the_service_and_validation(cast, client_for, record_a):
    client = client_for(cast.coordinator_a)
    url = f"/admin/targets/targetrecord/{record_a.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert record_a.identifier not in _ids_in(page.content.decode())  # masked for a coordinator
    data = {
        "name_prefix": "ด.ช.", "first_name": "อนันต์", "last_name": "ขอนแก่น", "sex": "M", "birth_date": "2012-03-15",
        "district": "", "sub_district": "", "category": record_a.category_id, "status": _status("referred").pk,
        "education_status": "", "last_grade": "", "school": "", "guardian_name": "", "phone": "12", "notes": "",
        "assistance-TOTAL_FORMS": "0", "assistance-INITIAL_FORMS": "0", "seen_version": record_a.version,
    }  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 200  # the phone, refused as the upload refuses it
    assert "06, 08" in response.content.decode() or "06, 08 หรือ 09" in response.content.decode()
    data["phone"] = "0812345678"
    assert client.post(url, data).status_code == 302
    record_a.refresh_from_db()
    assert record_a.phone == "0812345678"
    assert record_a.status_history.get().changed_by == cast.coordinator_a


def test_admin_never_adds_records_and_only_eef_deletes(cast, client_for, record_a):
    assert client_for(cast.coordinator_a).get("/admin/targets/targetrecord/add/").status_code == 403
    assert client_for(cast.coordinator_a).get(f"/admin/targets/targetrecord/{record_a.pk}/delete/").status_code == 403
    assert client_for(cast.eef_admin).get(f"/admin/targets/targetrecord/{record_a.pk}/delete/").status_code == 200


# --- Query counts: the same with ten times the rows --------------------------------------------------------

# Every request of a signed-in user also costs two queries outside the view: the session and the
# user before it (the session is written again only after SESSION_REFRESH_SECONDS,
# accounts.middleware.SessionRefreshMiddleware). The figures below are the view's own.
OVERHEAD = 2


def _grow(size: int, helps: int = 0) -> TargetRecord:
    """`size` records in A with varied fields, and `helps` help rows and status changes on the first."""
    districts = list(District.objects.filter(province_id=PROVINCE_A).order_by("code")[:5])
    categories = list(Category.objects.all())
    statuses = list(Outcome.objects.all())
    today = timezone.localdate()
    TargetRecord.objects.bulk_create(
        TargetRecord(
            identifier=national_id(5000 + i),
            identifier_kind="national_id",
            first_name=f"เด็ก{i}",
            last_name=f"สกุล{i:04d}",
            sex="MF"[i % 2],
            birth_date=today - datetime.timedelta(days=365 * (6 + i % 14) + 30),  # the first is 6
            province_id=PROVINCE_A,
            district=districts[i % len(districts)],
            category=categories[i % len(categories)],
            status=statuses[i % len(statuses)],
            school="" if i % 3 == 1 else "โรงเรียนบ้านโนน",
        )
        for i in range(size)
    )
    first = TargetRecord.objects.order_by("last_name").first()
    assert first is not None
    kind = AssistanceType.objects.first()
    Assistance.objects.bulk_create(
        Assistance(record=first, type=kind, date=datetime.date(2024, 1, 1 + i % 28), given_by="อบต.", recorded_by=None)
        for i in range(helps)
    )
    StatusChange.objects.bulk_create(
        StatusChange(record=first, from_status=statuses[i % 3], to_status=statuses[(i + 1) % 3]) for i in range(helps)
    )
    return first


LIST_PAGES = {
    # 1 memberships (scope_for), 2 visible provinces (the filter), 3 the province's districts (the
    # district filter), 4 categories, 5 statuses, 6 count (capped: core/paginator.py), 7 the page's records
    # with district, category, status and their help counts (one subquery), 8 the access log's row; with a
    # district chosen, 9 its sub-districts (the sub-district filter)
    "/records/": 8,
    "/records/?category={category}&district={district}&help=yes": 9,
    "/records/?school=โรงเรียน&age=6-11&status={status}": 8,
    "/records/?sort=-age&page=2": 8,
}


@pytest.mark.parametrize("url", list(LIST_PAGES))
def test_list_costs_the_same_queries_with_ten_times_the_rows(cast, client_for, django_assert_num_queries, url):
    client = client_for(cast.coordinator_a)
    view_queries = LIST_PAGES[url]
    url = url.format(
        category=Category.objects.first().pk,
        status=Outcome.objects.first().pk,
        district=District.objects.filter(province_id=PROVINCE_A).order_by("code").first().pk,
    )
    for size in (20, 200):
        TargetRecord.objects.all().delete()
        _grow(size, helps=3)
        client.get(url)  # a first request: the two-factor check, the content type of the access log
        with django_assert_num_queries(OVERHEAD + view_queries):
            response = client.get(url)
        assert response.status_code == 200
        assert response.context["rows"]


def test_searched_list_costs_the_same_queries_with_ten_times_the_rows(cast, client_for, django_assert_num_queries):
    client = client_for(cast.coordinator_a)
    for size in (20, 200):
        TargetRecord.objects.all().delete()
        _grow(size)
        location = client.post("/records/", {"q": "สกุล00"})["Location"]
        client.get(location)
        # the same eight as the list (the search is read from the session, loaded in the overhead)
        with django_assert_num_queries(OVERHEAD + 8):
            response = client.get(location)
        assert response.context["rows"]


def test_list_for_eef_costs_no_district_query_without_a_province(cast, client_for, django_assert_num_queries):
    client = client_for(cast.eef_admin)
    for size in (20, 200):
        TargetRecord.objects.all().delete()
        _grow(size)
        client.get("/records/")
        # 1 memberships, 2 provinces, 3 categories, 4 statuses, 5 count, 6 page, 7 access log
        with django_assert_num_queries(OVERHEAD + 7):
            client.get("/records/")


def test_records_list_links_to_duplicates_transfers_and_merges_for_those_the_door_lets_in(cast, client_for):
    links = {
        "record-duplicates": "/duplicates/",
        "record-transfers": "/transfers/",
        "record-merges": "/identity/merges/",
    }
    for member in (cast.coordinator_a, cast.eef_admin):
        page = client_for(member).get("/records/").content.decode()
        tools = page.split('data-testid="record-tools"')[1].split("</nav>")[0]
        assert "ข้อมูลซ้ำและการโอนย้าย" in tools
        for testid, url in links.items():
            assert f'href="{url}" data-testid="{testid}"' in tools
    # A viewer reads records but reviews, transfers and merges nothing: no such line.
    assert 'data-testid="record-tools"' not in client_for(cast.viewer_a).get("/records/").content.decode()
    # On those pages the top bar marks "Records", where the links are.
    queue = client_for(cast.coordinator_a).get("/duplicates/").content.decode()
    nav = queue.split('<nav class="nav"')[1].split("</nav>")[0]
    assert 'href="/records/" aria-current="page"' in nav


def test_record_page_lists_the_identifiers_merges_kept_masked_until_the_click(cast, client_for):
    record = _grow(2)
    RecordAlias.objects.create(record=record, identifier="G409900000001", identifier_kind="g_code", merge_id=7)
    client = client_for(cast.coordinator_a)
    page = client.get(f"/records/{record.pk}/").content.decode()
    aliases = page.split('data-testid="aliases"')[1].split("</dd>")[0]
    assert mask_identifier("G409900000001") in aliases
    assert "G409900000001" not in page
    # In Thai, with the date of the merge (พ.ศ.).
    assert "รวมระเบียนเมื่อ" in aliases
    assert str(timezone.localdate().year + 543) in aliases
    revealed = client.post(f"/records/{record.pk}/").content.decode()
    assert "G409900000001" in revealed.split('data-testid="aliases"')[1]
    # A record without aliases has no such line.
    other = TargetRecord.objects.exclude(pk=record.pk).get()
    assert 'data-testid="aliases"' not in client.get(f"/records/{other.pk}/").content.decode()


def test_record_page_costs_the_same_queries_with_many_help_rows(cast, client_for, django_assert_num_queries):
    client = client_for(cast.coordinator_a)
    for helps in (0, 30):
        TargetRecord.objects.all().delete()
        record = _grow(20 if helps == 0 else 200, helps=helps)
        aliases = 0 if helps == 0 else 3  # identifiers kept by merges (identity), as many or none
        for n in range(aliases):
            RecordAlias.objects.create(record=record, identifier=f"G40990000000{n}", identifier_kind="g_code")
        client.get(f"/records/{record.pk}/")
        # 1 memberships, 2 the record with province, district, sub-district, category, status and updated_by,
        # 3 its other identifiers (prefetched with it; the one query the aliases added to this page),
        # 4 its status changes with their statuses and users, 5 its help with types and users,
        # 6 the statuses in use (the status select), 7 the access log's row, 8 its case (none here) and 9 the
        # province's case workers (the assign select): the case section (cases.views_case.section_context),
        # 10 its moves between provinces (transfers.templatetags.transfers_record), 11 the data-quality rules'
        # settings and 12 every rule over the record, in one query (quality.templatetags.quality_record)
        with django_assert_num_queries(OVERHEAD + 12):
            response = client.get(f"/records/{record.pk}/")
        assert len(response.context["help_given"]) == helps
        assert len(response.context["timeline"]) == helps + 1
        assert len(response.context["aliases"]) == aliases


def test_export_costs_the_same_queries_with_ten_times_the_rows(cast, client_for, django_assert_num_queries):
    client = client_for(cast.coordinator_a)
    for size in (20, 200):
        TargetRecord.objects.all().delete()
        _grow(size)
        client.get("/records/")
        # 1 memberships, 2 provinces, 3 districts, 4 categories, 5 statuses (the filters),
        # 6 the records counted up to EXPORTS_RECORDS_INLINE_ROWS + 1 (small: streamed at once), 7 the records
        # with their areas, category, status and help counts, 8 the access log's row
        with django_assert_num_queries(OVERHEAD + 8):
            response = client.get("/records/export/?format=xlsx")
        assert len(_export_rows(response)) == size + 1


def test_audit_trail_link_is_for_eef_only(cast, client_for, record_a):
    eef_page = client_for(cast.eef_admin).get(f"/records/{record_a.pk}/").content.decode()
    assert f"obj=targets.targetrecord%3A{record_a.pk}" in eef_page
    coordinator_page = client_for(cast.coordinator_a).get(f"/records/{record_a.pk}/").content.decode()
    assert 'data-testid="audit-history"' not in coordinator_page


def test_a_district_of_another_province_is_dropped_from_the_filters(cast, client_for, record_a, record_b):
    district_of_a = District.objects.filter(province_id=PROVINCE_A).first().pk
    response = client_for(cast.eef_admin).get(f"/records/?province={PROVINCE_B}&district={district_of_a}")
    assert [row["record"].first_name for row in response.context["rows"]] == ["บุญมี"]


def test_admin_export_action_goes_through_the_portals_export(cast, client_for, record_a, record_b):
    response = client_for(cast.eef_admin).post(
        "/admin/targets/targetrecord/",
        {"action": "export_csv", "_selected_action": [record_a.pk, record_b.pk]},
    )
    rows = _export_rows(response)
    assert sorted(row[2] for row in rows[1:]) == ["บุญมี", "อนันต์"]
    entry = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
    assert (entry.count, entry.description) == (2, "csv export of admin selection")
