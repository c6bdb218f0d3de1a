"""One way to enter dates (core/date_input.py): every date field of the portal and of admin is a
text box read by buddhist_dates.parse_thai_date, so "20/01/2570" is 20 January 2027 on every form, and
none is the browser's Gregorian <input type="date">."""

import datetime
import io

import openpyxl
import pytest
from django import forms
from django.conf import settings
from django.contrib import admin
from django.db import models
from django.test import RequestFactory
from django.utils import timezone, translation

from conftest import PROVINCE_A
from core.buddhist_dates import EXCEL_BUDDHIST_DATE, file_date, with_excel_date_formats
from core.date_input import (
    ThaiDateField,
    ThaiDateInput,
    ThaiDateTimeField,
    ThaiSplitDateTimeWidget,
)
from meetings.models import ActionItem, Meeting
from provinces.models import Province, WorkingGroupMember
from targets.models import Assistance, AssistanceType, TargetRecord
from tests.test_meetings import _admin_meeting_data
from tests.test_records import _form_data, make_record
from universities.models import CapacityRequest, SupportActivity, SupportRole, University
from universities.services import accept_request, file_request

TYPED = "20/01/2570"  # what a Thai user types: พ.ศ. 2570
TYPED_EN = "20/01/2027"  # the English interface's ค.ศ.
STORED = datetime.date(2027, 1, 20)


@pytest.fixture
def after_the_day(monkeypatch):
    """Today is 1 February 2027, so that 20 January 2027 is in the past for the forms that take only past
    days (an activity, a delivered session, help given, a birth date)."""
    fixed = datetime.datetime(2027, 2, 1, 10, 0, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: fixed)
    return fixed


@pytest.fixture(params=["th", "en"])
def typed(request, client_for):
    """The date as typed in each language: พ.ศ. in Thai, ค.ศ. in English; the client speaks it."""
    language = request.param

    def client(user):
        c = client_for(user)
        c.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        return c

    return {"text": TYPED if language == "th" else TYPED_EN, "client": client, "language": language}


# --- The field and the widget ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20/01/2570", STORED),
        ("20/01/2027", STORED),
        ("๒๐/๐๑/๒๕๗๐", STORED),
        ("20 ม.ค. 2570", STORED),
        ("2027-01-20", STORED),  # ISO, as older links and the API write it
        ("", None),
    ],
)
def test_field_reads_thai_and_christian_years_alike(text, expected):
    field = ThaiDateField(required=False, years_back=5, years_ahead=5)
    assert field.clean(text) == expected


def test_field_refuses_an_implausible_year_naming_the_range_in_buddhist_years():
    field = ThaiDateField(years_back=1, years_ahead=3)
    this_year = timezone.localdate().year
    with translation.override("th"), pytest.raises(forms.ValidationError) as error:
        field.clean("20/01/3113")
    assert error.value.messages == [f"ปีต้องอยู่ระหว่าง พ.ศ. {this_year - 1 + 543} ถึง {this_year + 3 + 543}"]
    with translation.override("en"):
        with pytest.raises(forms.ValidationError) as error:
            field.clean(f"20/01/{this_year + 10}")
        assert error.value.messages == [f"The year must be between {this_year - 1} and {this_year + 3}."]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("31/02/2570", "ไม่มีวันที่นี้"),
        ("ยี่สิบมกรา", "ระบุวันที่เป็น วัน/เดือน/ปี เช่น 15/03/2553"),
    ],
)
def test_field_says_why_a_date_is_not_read(text, message):
    with translation.override("th"), pytest.raises(forms.ValidationError) as error:
        ThaiDateField().clean(text)
    assert error.value.messages == [message]


def test_widget_shows_buddhist_years_in_thai_and_christian_years_in_english():
    class Form(forms.Form):
        day = ThaiDateField()

    with translation.override("th"):
        html = str(Form(initial={"day": STORED})["day"])
    assert 'type="text"' in html
    assert 'value="20/01/2570"' in html
    assert 'placeholder="วว/ดด/ปปปป"' in html
    assert "data-thai-date" in html
    with translation.override("en"):
        html = str(Form(initial={"day": STORED})["day"])
    assert 'value="20/01/2027"' in html
    assert 'placeholder="dd/mm/yyyy"' in html
    # What was typed comes back as typed with its error.
    with translation.override("th"):
        bound = Form({"day": "31/02/2570"})
        assert not bound.is_valid()
        assert 'value="31/02/2570"' in str(bound["day"])


def test_base_page_loads_the_calendar_script_and_its_stylesheet(cast, client_for):
    html = client_for(cast.coordinator_a).get("/universities/requests/new/").content.decode()
    assert "js/thai-date.js" in html
    assert "css/thai-date.css" in html  # named on the script, which adds it (one line in base.html)
    assert 'type="date"' not in html
    assert 'data-thai-date=""' in html


# --- Each form of the portal -------------------------------------------------------------------------


def test_capacity_request_form_stores_the_typed_date(cast, typed):
    data = {"province": PROVINCE_A, "topic": "อบรม", "need": "ต้องการอบรม", "desired_date": typed["text"]}
    response = typed["client"](cast.coordinator_a).post("/universities/requests/new/", data)
    assert response.status_code == 302
    assert CapacityRequest.objects.get().desired_date == STORED


def test_capacity_request_shows_the_typed_year_not_2570_christian(cast, client_for):
    """The bug: "20/01/2570" was stored as 20 January 2570 CE and shown as 20 ม.ค. 3113."""
    client = client_for(cast.coordinator_a)
    data = {"province": PROVINCE_A, "topic": "อบรม", "need": "ต้องการอบรม", "desired_date": TYPED}
    html = client.get(client.post("/universities/requests/new/", data)["Location"]).content.decode()
    assert "20 มกราคม 2570" in html  # the page's long form
    assert "3113" not in html
    # A year no one means is refused, naming the years the field takes.
    response = client.post("/universities/requests/new/", {**data, "desired_date": "20/01/3113"})
    assert response.context["form"].errors["desired_date"][0].startswith("ปีต้องอยู่ระหว่าง พ.ศ.")
    assert CapacityRequest.objects.count() == 1


def test_activity_form_stores_the_typed_date(cast, typed, after_the_day):
    data = {
        "university": University.objects.get(code="KKU").pk,
        "province": PROVINCE_A,
        "role": SupportRole.DATA,
        "date": typed["text"],
        "title": "วิเคราะห์ข้อมูล",
    }
    response = typed["client"](cast.university_member).post("/universities/activities/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    assert SupportActivity.objects.get().date == STORED


def _version(request_obj) -> int:
    return CapacityRequest.objects.filter(pk=request_obj.pk).values_list("version", flat=True).get()


def test_schedule_and_deliver_forms_store_the_typed_date(cast, typed, after_the_day):
    request_obj = file_request(
        user=cast.coordinator_a,
        province=Province.objects.get(code=PROVINCE_A),
        topic="อบรม",
        need="ต้องการอบรม",
        desired_date=timezone.localdate() + datetime.timedelta(days=30),
    )
    accept_request(request_obj=request_obj, user=cast.university_member)
    client = typed["client"](cast.university_member)
    url = f"/universities/requests/{request_obj.pk}/action/"
    later = "20/03/2570" if typed["language"] == "th" else "20/03/2027"
    data = {"action": "schedule", "seen_version": _version(request_obj), "scheduled_for": later}
    assert client.post(url, data).status_code == 302
    assert CapacityRequest.objects.get().scheduled_for == datetime.date(2027, 3, 20)
    data = {"action": "deliver", "seen_version": _version(request_obj), "date": typed["text"], "participants": "9"}
    assert client.post(url, data).status_code == 302
    assert SupportActivity.objects.get().date == STORED


def test_meeting_form_stores_the_typed_dates(cast, typed):
    data = {"title": "ประชุมคณะทำงาน", "kind": "provincial", "status": "planned", "provinces": [PROVINCE_A]}
    data |= {"starts_on": typed["text"], "ends_on": typed["text"]}
    response = typed["client"](cast.coordinator_a).post("/meetings/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    assert Meeting.objects.values_list("starts_on", "ends_on").get() == (STORED, STORED)


def test_action_item_form_stores_the_typed_date(cast, typed):
    client = typed["client"](cast.coordinator_a)
    data = {"title": "ประชุม", "kind": "provincial", "status": "planned", "provinces": [PROVINCE_A]}
    client.post("/meetings/new/", data | {"starts_on": "01/12/2569", "ends_on": "01/12/2569"})
    meeting = Meeting.objects.get()
    data = {"what": "ส่งข้อมูล", "owner_province": PROVINCE_A, "due_date": typed["text"], "status": "open"}
    assert client.post(f"/meetings/{meeting.pk}/actions/new/", data).status_code == 302
    assert ActionItem.objects.get().due_date == STORED


def test_working_group_form_stores_the_typed_date(cast, typed):
    data = {"name": "นางสาวกาญจนา บุญมา", "group_role": "secretary", "active_from": typed["text"]}
    data |= {"position": "", "organisation": "", "phone": "", "email": "", "active_until": ""}
    response = typed["client"](cast.coordinator_a).post(f"/provinces/{PROVINCE_A}/working-group/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    assert WorkingGroupMember.objects.get().active_from == STORED


def test_help_given_form_stores_the_typed_date(cast, typed, after_the_day):
    record = make_record(cast.coordinator_a, 1)
    kind = AssistanceType.objects.get(code="home-visit")
    data = {"type": kind.pk, "date": typed["text"], "given_by": "อบต.บ้านโนน"}
    response = typed["client"](cast.coordinator_a).post(f"/records/{record.pk}/help/new/", data)
    assert response.status_code == 302
    assert Assistance.objects.get().date == STORED


def test_record_form_stores_the_typed_birth_date(cast, typed, after_the_day):
    response = typed["client"](cast.coordinator_a).post("/records/new/", _form_data(birth_date=typed["text"]))
    assert response.status_code == 302, response.context["form"].errors
    assert TargetRecord.objects.get().birth_date == STORED


def test_record_form_shows_the_birth_date_in_the_date_input(cast, client_for):
    record = make_record(cast.coordinator_a, 1, birth_date=datetime.date(2010, 3, 15))
    html = client_for(cast.coordinator_a).get(f"/records/{record.pk}/edit/").content.decode()
    assert 'value="15/03/2553"' in html
    assert "data-thai-date" in html


# --- Admin ---------------------------------------------------------------------------------------------


def _admins():
    for model_admin in admin.site._registry.values():
        yield model_admin
        for inline in model_admin.inlines:
            yield inline(model_admin.model, admin.site)


def test_every_date_field_in_admin_uses_the_date_input(cast):
    request = RequestFactory().get("/admin/")
    request.user = cast.eef_admin
    checked = []
    for model_admin in _admins():
        for db_field in model_admin.model._meta.get_fields():
            if type(db_field) is not models.DateField:  # DateTimeField (a subclass) is admin's split widget
                continue
            formfield = model_admin.formfield_for_dbfield(db_field, request)
            label = f"{type(model_admin).__name__}.{db_field.name}"
            assert isinstance(formfield, ThaiDateField), label
            assert isinstance(formfield.widget, ThaiDateInput), label
            assert formfield.clean(TYPED) == STORED, label
            checked.append(label)
        # A form declared by hand, not built from the model's fields, must use it too.
        for name, field in getattr(model_admin.form, "declared_fields", {}).items():
            if isinstance(field, forms.DateField):
                assert isinstance(field.widget, ThaiDateInput), f"{type(model_admin).__name__}.{name}"
    assert {"MeetingAdmin.starts_on", "ActionItemAdmin.due_date", "TargetRecordAdmin.birth_date",
            "AssistanceInline.date", "WorkingGroupMemberAdmin.active_from", "CapacityRequestAdmin.desired_date",
            "SupportActivityAdmin.date", "ActionItemInline.due_date"} <= set(checked)  # fmt: skip


def test_every_editable_date_and_time_in_admin_uses_the_date_input(cast):
    request = RequestFactory().get("/admin/")
    request.user = cast.eef_admin
    checked = []
    for model_admin in _admins():
        readonly = set(model_admin.get_readonly_fields(request))
        for db_field in model_admin.model._meta.get_fields():
            if isinstance(db_field, models.DateTimeField) and db_field.editable and db_field.name not in readonly:
                formfield = model_admin.formfield_for_dbfield(db_field, request)
                label = f"{type(model_admin).__name__}.{db_field.name}"
                assert isinstance(formfield, ThaiDateTimeField), label
                assert isinstance(formfield.widget, ThaiSplitDateTimeWidget), label
                checked.append(label)
    assert "PartnerKeyAdmin.expiry_date" in checked


def test_date_and_time_field_reads_the_buddhist_year():
    value = ThaiDateTimeField().clean([TYPED, "14:30"])
    assert timezone.localtime(value).replace(tzinfo=None) == datetime.datetime(2027, 1, 20, 14, 30)  # noqa: DTZ001
    with translation.override("th"):
        html = ThaiSplitDateTimeWidget().render("expiry", value)
    assert 'value="20/01/2570"' in html
    assert 'value="14:30"' in html


def test_admin_meeting_form_stores_the_typed_date(cast, typed):
    client = typed["client"](cast.coordinator_a)
    data = _admin_meeting_data(provinces=[PROVINCE_A], starts_on=typed["text"], ends_on=typed["text"])
    response = client.post("/admin/meetings/meeting/add/", data)
    assert response.status_code == 302
    assert Meeting.objects.values_list("starts_on", "ends_on").get() == (STORED, STORED)
    html = client.get(f"/admin/meetings/meeting/{Meeting.objects.get().pk}/change/").content.decode()
    assert f'value="{typed["text"]}"' in html
    assert 'type="date"' not in html
    assert "js/thai-date.js" in html
    assert "vDateField" not in html  # admin's own Gregorian calendar


def test_admin_working_group_form_stores_the_typed_date(cast, typed):
    data = {"province": PROVINCE_A, "name": "นายสมศักดิ์ ใจดี", "group_role": "secretary"}
    data |= {"position": "", "organisation": "", "phone": "", "email": "", "active_from": typed["text"]}
    response = typed["client"](cast.eef_admin).post("/admin/provinces/workinggroupmember/add/", data)
    assert response.status_code == 302
    assert WorkingGroupMember.objects.get().active_from == STORED


# --- Elsewhere: the calendar's address, file names, xlsx cells -------------------------------------------


def test_meeting_calendar_takes_a_buddhist_year(cast, client_for):
    client = client_for(cast.coordinator_a)
    response = client.get("/meetings/calendar/2569/12/")
    assert response.status_code == 301
    assert response["Location"] == "/meetings/calendar/2026/12/"
    assert client.get(response["Location"]).status_code == 200
    assert client.get("/meetings/calendar/2569/13/").status_code == 404


def test_file_names_carry_buddhist_dates(cast, client_for):
    assert file_date(datetime.date(2026, 12, 4)) == "2569-12-04"
    response = client_for(cast.coordinator_a).get("/universities/activities/export/?format=xlsx")
    assert f"support-activities-{file_date(timezone.localdate())}.xlsx" in response["Content-Disposition"]


def _date_cells(content: bytes) -> list:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.is_date]


def test_xlsx_date_cells_are_real_dates_shown_in_buddhist_years(cast, client_for):
    SupportActivity.objects.create(
        university=University.objects.get(code="KKU"),
        province_id=PROVINCE_A,
        role=SupportRole.DATA,
        date=datetime.date(2026, 11, 2),
        title="วิเคราะห์ข้อมูล",
    )
    response = client_for(cast.eef_admin).get("/universities/activities/export/?format=xlsx")
    [cell] = _date_cells(response.content)
    assert cell.value.date() == datetime.date(2026, 11, 2)  # a real date (openpyxl reads it back as a datetime)
    assert cell.number_format == EXCEL_BUDDHIST_DATE


def test_target_record_xlsx_export_shows_birth_dates_in_buddhist_years(cast, client_for):
    make_record(cast.coordinator_a, 1, birth_date=datetime.date(2010, 3, 15))
    response = client_for(cast.coordinator_a).get("/records/export/?format=xlsx")
    content = b"".join(response.streaming_content)
    assert f"target-records-{file_date(timezone.localdate())}.xlsx" in response["Content-Disposition"]
    formats = {cell.value.date() if hasattr(cell.value, "date") else cell.value: cell.number_format
               for cell in _date_cells(content)}  # fmt: skip
    assert formats[datetime.date(2010, 3, 15)] == EXCEL_BUDDHIST_DATE


def test_english_xlsx_keeps_christian_years():
    workbook = openpyxl.Workbook()
    workbook.active.append(["date"])
    workbook.active.append([datetime.date(2027, 1, 20)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with translation.override("en"):
        [cell] = _date_cells(with_excel_date_formats(buffer.getvalue()))
    assert cell.number_format == "d mmm yyyy"


def test_rejected_rows_file_keeps_date_cells_shown_in_buddhist_years(db):
    from targets.upload.template_file import rejections_workbook

    with translation.override("th"):
        content = rejections_workbook(header=["วันที่เยี่ยม"], rows=[(2, ["ชื่อ: ว่าง"], ["2010-03-15"])])
    [cell] = _date_cells(content)
    assert cell.value.date() == datetime.date(2010, 3, 15)
    assert cell.number_format == EXCEL_BUDDHIST_DATE
