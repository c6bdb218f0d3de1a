"""The upload of target-group records: row-exact, idempotent, province-safe (targets/upload/)."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import PROVINCE_A, PROVINCE_B
from core.thai_id import IdentifierError, parse_identifier
from provinces.models import Province
from targets.models import StatusChange, TargetRecord, UploadBatch
from targets.upload.columns import label
from targets.upload.services import receive_upload, start_apply
from tests.builders import HEADER, OUT, messy_file, national_id, upload, upload_and_apply, xlsx

pytestmark = pytest.mark.django_db


def _checksum_message() -> str:
    try:
        parse_identifier("1103702071812")
    except IdentifierError as exc:
        return str(exc)
    raise AssertionError("a wrong check digit must be refused")


def test_messy_file_gives_exactly_the_expected_buckets(cast):
    batch = upload(cast.coordinator_a, messy_file())
    assert batch.status == UploadBatch.Status.CHECKED
    assert (batch.rows_total, batch.created, batch.updated, batch.unchanged, batch.rejected) == (8, 4, 0, 0, 4)
    assert batch.columns["unknown"] == ["คอลัมน์อื่น"]
    assert batch.columns["blank_rows"] == 1
    assert not TargetRecord.objects.exists(), "the dry run writes nothing"
    reasons = {r.row_number: (r.column, r.reason) for r in batch.rejections.all()}
    assert set(reasons) == {5, 7, 8, 9}
    assert reasons[5] == (label("identifier"), _checksum_message())
    assert "2" in reasons[7][1]  # "the same identifier as row 2"
    assert "อำเภอไม่มีจริง" in reasons[8][1]
    assert reasons[9][0]  # the first name's column is named

    start_apply(batch=batch, user=cast.coordinator_a)
    batch.refresh_from_db()
    assert batch.status == UploadBatch.Status.APPLIED
    assert (batch.created, batch.updated, batch.unchanged, batch.rejected) == (4, 0, 0, 4)
    somchai = TargetRecord.objects.get(identifier=national_id(1))
    assert (somchai.name_prefix, somchai.first_name, somchai.sex) == ("ด.ช.", "สมชาย", "M")
    assert somchai.birth_date == datetime.date(2010, 3, 15)
    assert (somchai.district_id, somchai.sub_district_id) == (4001, 400101)
    assert somchai.status.code == "in-follow-up"
    assert TargetRecord.objects.get(identifier=national_id(2)).sub_district_id == 400102
    assert TargetRecord.objects.get(identifier=national_id(3)).birth_date == datetime.date(2012, 1, 31)
    mali = TargetRecord.objects.get(identifier="G644200000001")
    assert (mali.name_prefix, mali.first_name, mali.sex, mali.identifier_kind) == ("ด.ญ.", "มะลิ", "F", "g_code")
    assert not StatusChange.objects.exists(), "a record's first status is its status until it changes"


def test_the_same_file_twice_changes_nothing_the_second_time(cast):
    upload_and_apply(cast.coordinator_a, messy_file())
    again = upload_and_apply(cast.coordinator_a, messy_file())
    assert (again.rows_total, again.created, again.updated, again.unchanged, again.rejected) == (8, 0, 0, 4, 4)
    assert TargetRecord.objects.count() == 4


def test_a_changed_row_is_an_update_with_its_changed_fields(cast):
    upload_and_apply(cast.coordinator_a, messy_file())
    rows = [["ใจดี", "ด.ช.สมชาย", national_id(1), "ชาย", "15/03/2553", "ต.ในเมือง", "อ.เมืองขอนแก่น", "at-risk", ""]]
    batch = upload(cast.coordinator_a, xlsx(HEADER, rows))
    assert (batch.created, batch.updated, batch.unchanged) == (0, 1, 0)
    assert batch.preview["updates"][0]["fields"] == ["category"]
    assert batch.preview["updates"][0]["identifier"].startswith("x-xxxx-xxxxx-")
    start_apply(batch=batch, user=cast.coordinator_a)
    assert TargetRecord.objects.get(identifier=national_id(1)).category.code == "at-risk"


def test_status_change_is_kept_in_the_history(cast):
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "สถานะ"]
    upload_and_apply(cast.coordinator_a, xlsx(header, [[national_id(1), "ก", "ข", OUT, "อยู่ระหว่างติดตาม"]]))
    upload_and_apply(cast.coordinator_a, xlsx(header, [[national_id(1), "ก", "ข", OUT, "กลับเข้าสู่ระบบการศึกษา"]]))
    record = TargetRecord.objects.get(identifier=national_id(1))
    history = list(record.status_history.values_list("from_status__code", "to_status__code"))
    assert history == [("in-follow-up", "returned-to-school")]


def test_identifier_of_another_province_is_rejected_and_reveals_nothing(cast):
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"]
    upload_and_apply(cast.coordinator_b, xlsx(header, [[national_id(7), "ของ", "พะเยา", OUT]]), province=PROVINCE_B)
    before = TargetRecord.objects.values().get(identifier=national_id(7))

    batch = upload_and_apply(cast.coordinator_a, xlsx(header, [[national_id(7), "แก้", "ขอนแก่น", OUT]]))
    assert (batch.created, batch.updated, batch.rejected) == (0, 0, 1)
    reason = batch.rejections.get().reason
    assert "พะเยา" not in reason
    assert "Phayao" not in reason
    assert TargetRecord.objects.values().get(identifier=national_id(7)) == before


def test_missing_required_column_stops_before_any_row(cast):
    batch = upload(cast.coordinator_a, xlsx(["ชื่อ", "นามสกุล"], [["ก", "ข"]]))
    assert batch.status == UploadBatch.Status.FAILED
    assert "เลขประจำตัวประชาชน" in batch.error or "national ID" in batch.error
    assert batch.rows_total == 0


def test_coordinator_cannot_upload_for_another_province(cast):
    with pytest.raises(PermissionDenied):
        receive_upload(
            user=cast.coordinator_a,
            province=Province.objects.get(code=PROVINCE_B),
            uploaded_file=xlsx(["เลขประจำตัวประชาชน"], []),
        )
    with pytest.raises(PermissionDenied):
        receive_upload(
            user=cast.viewer_a, province=Province.objects.get(code=PROVINCE_A), uploaded_file=xlsx(["x"], [])
        )


def test_csv_in_tis620_and_utf8_with_bom(cast):
    text = "เลขประจำตัวประชาชน,ชื่อ,นามสกุล,กลุ่มเป้าหมาย\n" + f"{national_id(8)},สมปอง,ทองดี,{OUT}\n"
    for encoding, name in (("cp874", "a.csv"), ("utf-8-sig", "b.csv")):
        TargetRecord.objects.all().delete()
        batch = upload_and_apply(cast.coordinator_a, SimpleUploadedFile(name, text.encode(encoding)))
        assert (batch.created, batch.rejected) == (1, 0), encoding
        assert TargetRecord.objects.get().first_name == "สมปอง"


def test_every_row_is_counted_once(cast):
    batch = upload(cast.coordinator_a, messy_file())
    assert batch.rows_total == batch.created + batch.updated + batch.unchanged + batch.rejected


def test_text_with_tabs_newlines_and_backslashes_survives_the_fast_path(cast):
    notes = "บรรทัดแรก\nบรรทัดสอง\tแท็บ \\ แบ็กสแลช \\N ไม่ใช่ค่าว่าง"
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย", "หมายเหตุ"]
    upload_and_apply(cast.coordinator_a, xlsx(header, [[national_id(9), "ก", "ข", OUT, notes]]))
    assert TargetRecord.objects.get(identifier=national_id(9)).notes == notes


def test_a_file_refused_during_the_apply_is_marked_failed_and_writes_nothing(cast, settings):
    batch = upload(cast.coordinator_a, messy_file())
    settings.TARGETS_UPLOAD_MAX_ROWS = 3  # the limit changed between the check and the confirm
    start_apply(batch=batch, user=cast.coordinator_a)
    batch.refresh_from_db()
    assert batch.status == UploadBatch.Status.FAILED
    assert "3" in batch.error
    assert not TargetRecord.objects.exists()


# --- Edge cases of dates and districts (issue 12) ----------------------------------------------------------


def test_a_year_of_birth_alone_is_a_year_not_an_excel_serial(cast):
    """A ปีเกิด column: 2553 (a number, as Excel keeps it) was read as Excel's day 2553, 27 December 1906,
    and refused as implausibly early."""
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "ปีเกิด", "กลุ่มเป้าหมาย"]
    rows = [
        [national_id(71), "สมชาย", "ใจดี", 2553, OUT],
        [national_id(72), "สมหญิง", "ใจดี", "๒๕๕๔", OUT],
        [national_id(73), "สมศรี", "ใจดี", 2011, OUT],
    ]
    batch = upload_and_apply(cast.coordinator_a, xlsx(header, rows))
    assert batch.rejected == 0, list(batch.rejections.values_list("reason", flat=True))
    born = dict(TargetRecord.objects.values_list("identifier", "birth_date"))
    assert born == {
        national_id(71): datetime.date(2010, 1, 1),
        national_id(72): datetime.date(2011, 1, 1),
        national_id(73): datetime.date(2011, 1, 1),
    }


def test_a_birth_date_with_a_time_after_it_is_read(cast):
    rows = [["ใจดี", "สมชาย", national_id(74), "ชาย", "15/03/2553 00:00", "", "", OUT, ""]]
    batch = upload_and_apply(cast.coordinator_a, xlsx(HEADER, rows))
    assert batch.rejected == 0, list(batch.rejections.values_list("reason", flat=True))
    assert TargetRecord.objects.get().birth_date == datetime.date(2010, 3, 15)


def test_amphoe_mueang_alone_is_the_provinces_own_mueang_district(cast):
    """ "อ.เมือง" alone, as forms in a province write it, is its เมือง district: เมืองขอนแก่น (4001) in Khon Kaen."""
    rows = [
        ["ใจดี", "สมชาย", national_id(75), "ชาย", "15/03/2553", "", "อ.เมือง", OUT, ""],
        ["ใจดี", "สมหญิง", national_id(76), "หญิง", "15/03/2553", "ในเมือง", "เมือง", OUT, ""],
    ]
    batch = upload_and_apply(cast.coordinator_a, xlsx(HEADER, rows))
    assert batch.rejected == 0, list(batch.rejections.values_list("reason", flat=True))
    assert set(TargetRecord.objects.values_list("district_id", flat=True)) == {4001}
    assert TargetRecord.objects.get(identifier=national_id(76)).sub_district_id == 400101


# --- the last name: not required, and the template, the validation and the dashboards agree -------------------------
# Some children the programme follows (without civil registration, from some ethnic groups) have no family name.


def test_a_row_without_a_last_name_is_accepted(cast):
    batch = upload_and_apply(
        cast.coordinator_a,
        xlsx(["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"], [[national_id(41), "อาซา", "", OUT]]),
    )
    assert batch.rejected == 0
    assert TargetRecord.objects.values_list("first_name", "last_name").get() == ("อาซา", "")


def test_a_file_without_a_last_name_column_is_read_and_keeps_known_last_names(cast):
    first = upload_and_apply(
        cast.coordinator_a,
        xlsx(["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "กลุ่มเป้าหมาย"], [[national_id(42), "สมใจ", "ดีงาม", OUT]]),
    )
    assert first.rejected == 0
    again = upload_and_apply(
        cast.coordinator_a, xlsx(["เลขประจำตัวประชาชน", "ชื่อ", "กลุ่มเป้าหมาย"], [[national_id(42), "สมใจ", OUT]])
    )
    assert again.status != UploadBatch.Status.FAILED, again.error
    assert again.rejected == 0
    # A column that is not there changes nothing: the last name given before stays.
    assert TargetRecord.objects.values_list("last_name", flat=True).get() == "ดีงาม"


def test_a_file_without_first_name_or_full_name_still_stops(cast):
    header = ["เลขประจำตัวประชาชน", "นามสกุล", "กลุ่มเป้าหมาย"]
    batch = upload(cast.coordinator_a, xlsx(header, [[national_id(43), "ก", OUT]]))
    assert batch.status == UploadBatch.Status.FAILED
    assert "ชื่อ (หรือชื่อ-นามสกุล)" in batch.error or "first name (or full name)" in batch.error


def test_template_explanations_say_what_the_upload_and_the_dashboards_do():
    from targets.upload.template_file import EXPLANATIONS

    required = {field for field, (thai, english) in EXPLANATIONS.items() if thai.startswith("จำเป็น")}
    should = {field for field, (thai, english) in EXPLANATIONS.items() if thai.startswith("ควรกรอก")}
    # Required: a row without it is rejected (validation); the last name is not among them.
    assert required == {"identifier", "first_name", "category"}
    assert all(EXPLANATIONS[field][1].startswith("Required.") for field in required)
    # Should be filled: accepted when blank, counted as incomplete on the dashboards (summaries.compute).
    assert should == {"sex", "birth_date", "sub_district"}
    assert all(EXPLANATIONS[field][1].startswith("Should be filled.") for field in should)
    assert "last_name" not in required | should


def test_a_record_without_a_last_name_is_not_counted_incomplete(cast):
    from core.buddhist_dates import current_fiscal_year
    from provinces.models import SubDistrict
    from summaries.models import Level, Snapshot, SummaryRun
    from summaries.services import run_summary

    sub = SubDistrict.objects.filter(district__province_id=PROVINCE_A).select_related("district").first()
    rows = [
        # complete but for the last name
        [national_id(44), "อาซา", "", "ชาย", "01/01/2555", sub.district.name_th, sub.name_th, OUT],
        # no birth date: incomplete
        [national_id(45), "สมใจ", "ดีงาม", "หญิง", "", sub.district.name_th, sub.name_th, OUT],
    ]
    header = ["เลขประจำตัวประชาชน", "ชื่อ", "นามสกุล", "เพศ", "วันเกิด", "อำเภอ", "ตำบล", "กลุ่มเป้าหมาย"]
    batch = upload_and_apply(cast.coordinator_a, xlsx(header, rows))
    assert batch.rejected == 0
    run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
    run_summary(run_id=run.pk)
    data = Snapshot.objects.get(run=run, level=Level.PROVINCE, province_id=PROVINCE_A).data
    assert data["completeness"]["incomplete"] == 1
    assert data["completeness"]["missing_birth_date"] == 1
