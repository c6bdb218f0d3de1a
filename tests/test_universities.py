"""Universities, support activities and capacity requests: who may do what, from which state.

The cast (conftest.py): KKU leads province A (40) this fiscal year, UP leads province B (56);
MU-IPSR supports A beside KKU. Dates are today's, so that they fall in the current fiscal year,
for which the demo assignments exist.
"""

import datetime
import io
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from accounts.models import Role
from conftest import PROVINCE_A, PROVINCE_B, make_user
from core.buddhist_dates import current_fiscal_year, fiscal_year_bounds
from portal.demo.provinces import DEMO_LEADS
from provinces.models import Province
from tests.builders import uploaded_file
from universities import attachments, services
from universities.models import CapacityRequest, SupportActivity, SupportRole, University

pytestmark = pytest.mark.django_db

Status = CapacityRequest.Status
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _today() -> datetime.date:
    return timezone.localdate()


def _days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def _uni(code: str) -> University:
    return University.objects.get(code=code)


def _province(code: int) -> Province:
    return Province.objects.get(code=code)


def _record(user, university="KKU", province=PROVINCE_A, **kwargs) -> SupportActivity:
    fields = {"role": SupportRole.COORDINATION, "date": _today(), "title": "ประชุมคณะทำงาน", **kwargs}
    return services.record_activity(user=user, university=_uni(university), province=_province(province), **fields)


def _file(user, province=PROVINCE_A, **kwargs) -> CapacityRequest:
    fields = {
        "topic": "การใช้ข้อมูลเพื่อวางแผน",
        "need": "อบรมการวิเคราะห์ข้อมูลกลุ่มเป้าหมาย",
        "desired_date": _today() + _days(30),
        "participants": 30,
        **kwargs,
    }
    return services.file_request(user=user, province=_province(province), **fields)


def _state(request_obj: CapacityRequest) -> str:
    return CapacityRequest.objects.get(pk=request_obj.pk).status


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded files go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def ipsr_member(cast):
    """A member of MU-IPSR's team, which supports province A (beside its lead, KKU)."""
    return make_user("ipsr@example.org", role=Role.UNIVERSITY_MEMBER, university="MU-IPSR")


@pytest.fixture
def up_member(cast):
    return make_user("up@example.org", role=Role.UNIVERSITY_MEMBER, university="UP")


@pytest.fixture
def request_b(cast) -> CapacityRequest:
    """Province B's open request, addressed to UP."""
    return _file(cast.coordinator_b, PROVINCE_B)


# --- Recording support activities -------------------------------------------------------------------


def test_university_team_records_an_activity_in_a_province_it_supports(cast):
    activity = _record(cast.university_member, participants=12)
    assert (activity.university.code, activity.province_id, activity.created_by) == (
        "KKU",
        PROVINCE_A,
        cast.university_member,
    )
    assert activity.participants == 12


def test_eef_admin_records_for_any_university_where_it_supports_the_province(cast):
    assert _record(cast.eef_admin, "UP", PROVINCE_B).university.code == "UP"


@pytest.mark.parametrize("member", ["coordinator_a", "viewer_a", "no_role", "coordinator_b"])
def test_only_the_team_records_its_university_activities(cast, member):
    with pytest.raises(PermissionDenied):
        _record(cast[member])


def test_team_of_another_university_cannot_record_for_kku(cast, up_member):
    with pytest.raises(PermissionDenied):
        _record(up_member, "KKU", PROVINCE_A)
    assert not SupportActivity.objects.exists()


def test_activity_in_a_province_the_university_does_not_support_is_refused(cast):
    with pytest.raises(ValidationError) as error:
        _record(cast.university_member, "KKU", PROVINCE_B)
    assert "province" in error.value.message_dict


def test_activity_must_fall_in_a_fiscal_year_the_university_supports_the_province(cast):
    # The demo assignments skip FY 2568-2569: KKU supported A in 2567, and supports it again now.
    start, _end = fiscal_year_bounds(2569)
    with pytest.raises(ValidationError):
        _record(cast.university_member, date=start + _days(30))
    start_2567, _end = fiscal_year_bounds(2567)
    assert _record(cast.university_member, date=start_2567 + _days(30)).date.year == 2023


def test_activity_needs_one_of_the_four_roles_and_a_title(cast):
    with pytest.raises(ValidationError):
        _record(cast.university_member, role=9)
    with pytest.raises(ValidationError) as error:
        _record(cast.university_member, title="  ")
    assert "title" in error.value.message_dict


# --- Filing capacity requests -----------------------------------------------------------------------


def test_coordinator_files_a_request_to_the_province_lead_university(cast):
    request_obj = _file(cast.coordinator_a)
    assert (request_obj.university.code, request_obj.status, request_obj.requested_by) == (
        "KKU",
        Status.OPEN,
        cast.coordinator_a,
    )


@pytest.mark.parametrize("member", ["coordinator_b", "viewer_a", "university_member", "no_role"])
def test_only_the_province_coordinators_file_its_requests(cast, member):
    with pytest.raises(PermissionDenied):
        _file(cast[member], PROVINCE_A)


def test_province_without_a_lead_university_gets_a_clear_message(cast):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        _file(cast.eef_admin, 10)  # Bangkok takes no part in the demo programme
    assert "lead university" in " ".join(error.value.messages)
    assert not CapacityRequest.objects.exists()


def test_desired_date_in_the_past_is_refused(cast):
    with pytest.raises(ValidationError):
        _file(cast.coordinator_a, desired_date=_today() - _days(1))


# --- Moving capacity requests -------------------------------------------------------------------------


def test_team_moves_a_request_open_accepted_scheduled_delivered_closed(cast):
    kku = cast.university_member
    request_obj = _file(cast.coordinator_a)
    services.accept_request(request_obj=request_obj, user=kku)
    services.schedule_request(request_obj=request_obj, user=kku, scheduled_for=_today() + _days(5))
    assert _state(request_obj) == Status.SCHEDULED
    delivered = services.deliver_request(request_obj=request_obj, user=kku, date=_today(), participants=28)
    assert delivered.status == Status.DELIVERED
    services.close_request(request_obj=request_obj, user=kku)
    assert _state(request_obj) == Status.CLOSED


def test_delivery_is_recorded_as_a_role_2_activity_linked_to_the_request(cast):
    request_obj = _file(cast.coordinator_a, topic="อบรมการใช้ข้อมูล")
    services.accept_request(request_obj=request_obj, user=cast.university_member)
    services.deliver_request(request_obj=request_obj, user=cast.university_member, date=_today())  # from accepted
    request_obj.refresh_from_db()
    activity = request_obj.delivered_activity
    assert (activity.role, activity.title, activity.date) == (SupportRole.CAPACITY, "อบรมการใช้ข้อมูล", _today())
    assert (activity.university.code, activity.province_id, activity.participants) == ("KKU", PROVINCE_A, 30)
    assert activity.created_by == cast.university_member


def test_coordinator_cannot_accept_their_own_request(cast):
    request_obj = _file(cast.coordinator_a)
    with pytest.raises(PermissionDenied):
        services.accept_request(request_obj=request_obj, user=cast.coordinator_a)
    assert _state(request_obj) == Status.OPEN


def test_another_universitys_team_cannot_move_the_request(cast, request_b):
    for action in ("accept", "close"):
        with pytest.raises(PermissionDenied):
            services.move_request(request_obj=request_b, user=cast.university_member, action=action)
    assert _state(request_b) == Status.OPEN


def test_supporting_university_cannot_move_the_lead_universitys_request(cast, ipsr_member):
    request_obj = _file(cast.coordinator_a)
    with pytest.raises(PermissionDenied):
        services.accept_request(request_obj=request_obj, user=ipsr_member)


def test_eef_admin_moves_any_request(cast, request_b):
    services.accept_request(request_obj=request_b, user=cast.eef_admin)
    assert _state(request_b) == Status.ACCEPTED


@pytest.mark.parametrize(
    ("prepare", "action", "data"),
    [
        ([], "close", {}),
        ([], "deliver", {"date": None}),
        ([], "schedule", {"scheduled_for": None}),
        (["accept"], "accept", {}),
        (["accept", "deliver"], "decline", {"reason": "ไม่ว่าง"}),
        (["accept", "deliver"], "schedule", {"scheduled_for": None}),
        (["decline"], "accept", {}),
        (["accept", "deliver", "close"], "deliver", {"date": None}),
    ],
)
def test_an_action_from_the_wrong_state_is_refused(cast, prepare, action, data):
    kku = cast.university_member
    request_obj = _file(cast.coordinator_a)
    steps = {"accept": {}, "deliver": {"date": _today()}, "close": {}, "decline": {"reason": "ไม่ว่าง"}}
    for step in prepare:
        services.move_request(request_obj=request_obj, user=kku, action=step, **steps[step])
    before = _state(request_obj)
    data = {k: v or _today() for k, v in data.items()}
    with pytest.raises(ValidationError):
        services.move_request(request_obj=request_obj, user=kku, action=action, **data)
    assert _state(request_obj) == before


def test_decline_needs_a_reason_and_keeps_it(cast):
    request_obj = _file(cast.coordinator_a)
    with pytest.raises(ValidationError):
        services.decline_request(request_obj=request_obj, user=cast.university_member, reason="   ")
    services.accept_request(request_obj=request_obj, user=cast.university_member)
    services.decline_request(request_obj=request_obj, user=cast.university_member, reason="ตรงกับการลงพื้นที่")
    request_obj.refresh_from_db()
    assert (request_obj.status, request_obj.decline_reason) == (Status.DECLINED, "ตรงกับการลงพื้นที่")


def test_schedule_and_delivery_dates_are_checked(cast):
    kku = cast.university_member
    request_obj = _file(cast.coordinator_a)
    services.accept_request(request_obj=request_obj, user=kku)
    with pytest.raises(ValidationError):
        services.schedule_request(request_obj=request_obj, user=kku, scheduled_for=_today() - _days(1))
    with pytest.raises(ValidationError):
        services.deliver_request(request_obj=request_obj, user=kku, date=_today() + _days(1))
    assert not SupportActivity.objects.exists()


def test_only_the_province_rates_and_only_after_delivery(cast):
    kku = cast.university_member
    request_obj = _file(cast.coordinator_a)
    with pytest.raises(ValidationError):
        services.rate_request(request_obj=request_obj, user=cast.coordinator_a, rating=5)  # not delivered yet
    services.accept_request(request_obj=request_obj, user=kku)
    services.deliver_request(request_obj=request_obj, user=kku, date=_today())
    for outsider in (kku, cast.viewer_a, cast.coordinator_b):
        with pytest.raises(PermissionDenied):
            services.rate_request(request_obj=request_obj, user=outsider, rating=5)
    for bad in (0, 6, "five"):
        with pytest.raises(ValidationError):
            services.rate_request(request_obj=request_obj, user=cast.coordinator_a, rating=bad)
    services.rate_request(request_obj=request_obj, user=cast.coordinator_a, rating=4, feedback="ดีมาก")
    services.close_request(request_obj=request_obj, user=kku)
    services.rate_request(request_obj=request_obj, user=cast.coordinator_a, rating=5)  # still, once closed
    request_obj.refresh_from_db()
    assert (request_obj.rating, request_obj.status) == (5, Status.CLOSED)


def test_unknown_action_is_refused(cast):
    with pytest.raises(ValidationError):
        services.move_request(request_obj=_file(cast.coordinator_a), user=cast.eef_admin, action="delete")


# --- Overdue ---------------------------------------------------------------------------------------


def test_request_is_overdue_once_its_desired_date_passed_before_delivery(cast):
    kku = cast.university_member
    late, delivered, _on_time = (_file(cast.coordinator_a, topic=t) for t in ("late", "delivered", "on time"))
    services.accept_request(request_obj=delivered, user=kku)
    services.deliver_request(request_obj=delivered, user=kku, date=_today())
    CapacityRequest.objects.filter(pk__in=[late.pk, delivered.pk]).update(desired_date=_today() - _days(3))
    assert set(CapacityRequest.objects.overdue().values_list("topic", flat=True)) == {"late"}
    assert [r.is_overdue for r in CapacityRequest.objects.order_by("pk")] == [True, False, False]


def test_request_list_flags_overdue_and_filters_them(cast, client_for):
    late = _file(cast.coordinator_a, topic="เลยกำหนด")
    _file(cast.coordinator_a, topic="ยังไม่ถึงกำหนด")
    CapacityRequest.objects.filter(pk=late.pk).update(desired_date=_today() - _days(3))
    client = client_for(cast.coordinator_a)
    html = client.get("/universities/requests/").content.decode()
    assert html.count('data-testid="overdue"') == 1
    html = client.get("/universities/requests/?overdue=on").content.decode()
    assert "เลยกำหนด" in html
    assert "ยังไม่ถึงกำหนด" not in html


# --- The request's page and its buttons (POST) ---------------------------------------------------------


def _post(client, request_obj, action, **data):
    """Press a button of the request's page, shown with the request's version now (tests/test_stale_edits.py)."""
    version = CapacityRequest.objects.filter(pk=request_obj.pk).values_list("version", flat=True).first()
    return client.post(
        f"/universities/requests/{request_obj.pk}/action/", {"action": action, "seen_version": version, **data}
    )


def test_coordinator_a_cannot_move_province_b_request(cast, client_for, request_b):
    for action in ("accept", "decline", "rate"):
        assert _post(client_for(cast.coordinator_a), request_b, action, reason="x", rating=5).status_code == 404
    assert _state(request_b) == Status.OPEN


def test_kku_member_cannot_move_a_request_addressed_to_up(cast, client_for, request_b):
    assert _post(client_for(cast.university_member), request_b, "accept").status_code == 404
    assert _state(request_b) == Status.OPEN


def test_supporting_team_sees_but_cannot_move_the_lead_universitys_request(cast, client_for, ipsr_member):
    request_obj = _file(cast.coordinator_a)
    client = client_for(ipsr_member)
    assert client.get(f"/universities/requests/{request_obj.pk}/").status_code == 200
    assert _post(client, request_obj, "accept").status_code == 403
    assert _state(request_obj) == Status.OPEN


def test_coordinator_cannot_accept_their_own_request_by_post(cast, client_for):
    request_obj = _file(cast.coordinator_a)
    assert _post(client_for(cast.coordinator_a), request_obj, "accept").status_code == 403
    assert _state(request_obj) == Status.OPEN


def test_team_walks_a_request_through_the_page(cast, client_for):
    request_obj = _file(cast.coordinator_a)
    kku = client_for(cast.university_member)
    detail = f"/universities/requests/{request_obj.pk}/"
    assert _post(kku, request_obj, "accept")["Location"] == detail
    assert _post(kku, request_obj, "schedule", scheduled_for=(_today() + _days(7)).isoformat()).status_code == 302
    response = _post(kku, request_obj, "deliver", date=_today().isoformat(), participants="27", description="อบรม")
    assert response.status_code == 302
    request_obj.refresh_from_db()
    assert request_obj.status == Status.DELIVERED
    assert (request_obj.delivered_activity.role, request_obj.delivered_activity.participants) == (2, 27)
    # Only the province rates.
    assert _post(kku, request_obj, "rate", rating="5").status_code == 403
    assert _post(client_for(cast.coordinator_a), request_obj, "rate", rating="4", feedback="ดี").status_code == 302
    assert _post(kku, request_obj, "close").status_code == 302
    request_obj.refresh_from_db()
    assert (request_obj.status, request_obj.rating, request_obj.feedback) == (Status.CLOSED, 4, "ดี")


def test_bad_input_shows_the_form_again_with_its_error(cast, client_for):
    request_obj = _file(cast.coordinator_a)
    kku = client_for(cast.university_member)
    response = _post(kku, request_obj, "decline", reason="")
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    _post(kku, request_obj, "accept")
    response = _post(kku, request_obj, "schedule", scheduled_for=(_today() - _days(2)).isoformat())
    assert response.status_code == 200
    assert _state(request_obj) == Status.ACCEPTED
    assert _post(kku, request_obj, "explode").status_code == 400


def test_request_action_answers_only_post(cast, client_for):
    request_obj = _file(cast.coordinator_a)
    assert client_for(cast.university_member).get(f"/universities/requests/{request_obj.pk}/action/").status_code == 405


def test_request_page_offers_each_user_only_their_buttons(cast, client_for):
    request_obj = _file(cast.coordinator_a)
    url = f"/universities/requests/{request_obj.pk}/"
    kku_html = client_for(cast.university_member).get(url).content.decode()
    assert 'data-testid="action-accept"' in kku_html
    assert 'data-testid="action-decline"' in kku_html
    assert 'data-testid="action-close"' not in kku_html
    assert 'data-testid="action-' not in client_for(cast.coordinator_a).get(url).content.decode()
    assert 'data-testid="action-' not in client_for(cast.viewer_a).get(url).content.decode()


def test_coordinator_files_a_request_on_the_page_only_for_their_province(cast, client_for):
    client = client_for(cast.coordinator_a)
    data = {"topic": "อบรม", "need": "ต้องการอบรม", "desired_date": (_today() + _days(20)).isoformat()}
    response = client.post("/universities/requests/new/", {**data, "province": PROVINCE_B})
    assert response.status_code == 200  # B is not among the choices
    assert not CapacityRequest.objects.exists()
    response = client.post("/universities/requests/new/", {**data, "province": PROVINCE_A})
    request_obj = CapacityRequest.objects.get()
    assert response["Location"] == f"/universities/requests/{request_obj.pk}/"
    assert (request_obj.university.code, request_obj.requested_by) == ("KKU", cast.coordinator_a)


# --- Activities on the pages; attachments --------------------------------------------------------------


def _activity_post(client, **extra):
    data = {
        "university": _uni("KKU").pk,
        "province": PROVINCE_A,
        "role": SupportRole.DATA,
        "date": _today().isoformat(),
        "title": "วิเคราะห์ข้อมูล",
        **extra,
    }
    return client.post("/universities/activities/new/", data)


def test_team_records_an_activity_on_the_page_with_an_attachment(cast, client_for, media):
    response = _activity_post(client_for(cast.university_member), attachment=uploaded_file("report.pdf", PDF))
    activity = SupportActivity.objects.get()
    assert response["Location"] == f"/universities/activities/{activity.pk}/"
    assert activity.attachment.name.endswith(".pdf")
    assert activity.created_by == cast.university_member


def test_activity_form_offers_only_the_provinces_the_university_supports(cast, client_for):
    client = client_for(cast.university_member)
    response = _activity_post(client, province=PROVINCE_B)
    assert response.status_code == 200
    assert not SupportActivity.objects.exists()
    response = _activity_post(client, university=_uni("UP").pk)
    assert response.status_code == 200
    assert not SupportActivity.objects.exists()


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # As Word writes it: the main part's content type says what the document is.
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", "MZ")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.pdf", b"just text pretending to be a PDF"),  # the content decides, not the name
        ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00"),
        ("report.exe", PDF),  # a PDF must be named as one
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>"),
        ("archive.docx", _plain_zip()),  # a ZIP that is no Office document
    ],
)
def test_attachment_of_a_type_not_accepted_is_refused(cast, client_for, media, name, content):
    response = _activity_post(client_for(cast.university_member), attachment=uploaded_file(name, content))
    assert response.status_code == 200
    assert not SupportActivity.objects.exists()
    assert not list(media.rglob("*.*"))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32),
        ("minutes.docx", _docx()),
        ("budget.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32),
    ],
)
def test_images_and_office_documents_are_accepted(name, content):
    assert attachments.validate_attachment(uploaded_file(name, content)) is not None


def test_attachment_over_the_size_limit_is_refused(cast, client_for, media, settings):
    settings.ABE_MAX_ATTACHMENT_BYTES = len(PDF) - 1
    response = _activity_post(client_for(cast.university_member), attachment=uploaded_file("report.pdf", PDF))
    assert response.status_code == 200
    assert not SupportActivity.objects.exists()
    with pytest.raises(ValidationError):
        _record(cast.university_member, attachment=uploaded_file("report.pdf", PDF))


def test_attachment_is_served_only_to_those_who_see_the_activity(cast, client_for, media):
    activity = _record(cast.university_member, attachment=uploaded_file("report.pdf", PDF))
    url = f"/universities/activities/{activity.pk}/attachment/"
    for member in ("eef_admin", "university_member", "coordinator_a", "viewer_a"):
        response = client_for(cast[member]).get(url)
        assert response.status_code == 200, member
        assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
        assert response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content) == PDF
    for outsider in ("coordinator_b", "no_role"):
        assert client_for(cast[outsider]).get(url).status_code == 404, outsider
    assert client_for(None).get(url).status_code == 302
    # The page links the download view, never the file's place under MEDIA_URL.
    html = client_for(cast.coordinator_a).get(f"/universities/activities/{activity.pk}/").content.decode()
    assert url in html
    assert "/media/" not in html


# --- Export -------------------------------------------------------------------------------------------


def test_export_holds_only_visible_activities_and_neutralises_formulas(cast, client_for):
    import openpyxl

    _record(cast.university_member, title='=HYPERLINK("http://evil","x")', description="@SUM(A1)")
    _record(cast.eef_admin, "UP", PROVINCE_B, title="งานของพะเยา")
    response = client_for(cast.coordinator_a).get("/universities/activities/export/")
    assert response["Content-Disposition"].startswith("attachment;")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2  # the header and A's activity; not B's
    titles = [row[6] for row in rows[1:]]
    assert titles == ['\'=HYPERLINK("http://evil","x")']
    assert rows[1][7] == "'@SUM(A1)"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    text = client_for(cast.coordinator_a).get("/universities/activities/export/?format=csv").content.decode()
    assert "'=HYPERLINK" in text
    assert "งานของพะเยา" not in text


def test_export_follows_the_list_filters(cast, client_for):
    _record(cast.university_member, role=SupportRole.DATA, title="ข้อมูล")
    _record(cast.university_member, role=SupportRole.ACADEMIC, title="วิชาการ")
    text = client_for(cast.eef_admin).get("/universities/activities/export/?format=csv&role=3").content.decode()
    assert "ข้อมูล" in text
    assert "วิชาการ" not in text


# --- Universities' pages ------------------------------------------------------------------------------


def test_university_list_shows_the_provinces_each_supports_within_the_users_scope(cast, client_for):
    html = client_for(cast.eef_admin).get("/universities/").content.decode()
    assert all(f'data-testid="university-{code}"' in html for code in DEMO_LEADS.values())
    assert '<li class="chip lead">พะเยา' in html
    html = client_for(cast.coordinator_a).get("/universities/").content.decode()
    assert '<li class="chip lead">ขอนแก่น' in html
    assert '<li class="chip lead">พะเยา' not in html  # B's assignment is outside A's scope


def test_user_without_a_role_gets_an_empty_university_list(cast, client_for):
    response = client_for(cast.no_role).get("/universities/")
    assert response.status_code == 200
    assert 'data-testid="no-role"' in response.content.decode()
    assert 'data-testid="university-' not in response.content.decode()


def test_university_team_is_named_only_to_the_team_and_eef(cast, client_for):
    up_member = make_user("up@example.org", role=Role.UNIVERSITY_MEMBER, university="UP")
    for member in ("eef_admin", "university_member"):
        html = client_for(cast[member]).get("/universities/KKU/").content.decode()
        assert "mailto:kku@example.org" in html, member
    for member in ("coordinator_a", "viewer_a"):
        html = client_for(cast[member]).get("/universities/KKU/").content.decode()
        assert "kku@example.org" not in html, member
        assert '<p class="stat">1</p>' in html  # the team's size only
    html = client_for(cast.university_member).get("/universities/UP/").content.decode()
    assert "up@example.org" not in html
    assert "mailto:up@example.org" in client_for(up_member).get("/universities/UP/").content.decode()


def test_university_page_groups_activities_by_role_within_the_users_scope(cast, client_for):
    _record(cast.eef_admin, "UP", PROVINCE_B, role=SupportRole.DATA, title="ข้อมูลพะเยา")
    html = client_for(cast.coordinator_b).get("/universities/UP/").content.decode()
    assert "ข้อมูลพะเยา" in html
    assert html.index('data-testid="role-3"') < html.index("ข้อมูลพะเยา") < html.index('data-testid="role-4"')
    assert "ข้อมูลพะเยา" not in client_for(cast.coordinator_a).get("/universities/UP/").content.decode()


def test_university_page_flags_overdue_requests_in_its_queue(cast, client_for):
    late = _file(cast.coordinator_a)
    CapacityRequest.objects.filter(pk=late.pk).update(desired_date=_today() - _days(1))
    html = client_for(cast.university_member).get("/universities/KKU/").content.decode()
    assert f"/universities/requests/{late.pk}/" in html
    assert 'data-testid="overdue"' in html


def test_unknown_university_code_is_404(cast, client_for):
    assert client_for(cast.eef_admin).get("/universities/XYZ/").status_code == 404


# --- Query counts: the same with ten times the rows ---------------------------------------------------


def _grow(size: int) -> None:
    """`size` activities and requests of KKU in A and of UP in B, in every role and state."""
    kku, up = _uni("KKU"), _uni("UP")
    today = _today()
    SupportActivity.objects.bulk_create(
        SupportActivity(
            university=kku if i % 2 else up,
            province_id=PROVINCE_A if i % 2 else PROVINCE_B,
            role=i % 4 + 1,
            date=max(today - _days(i), fiscal_year_bounds(current_fiscal_year())[0]),
            title=f"กิจกรรม {i}",
            participants=i,
        )
        for i in range(size)
    )
    statuses = list(Status)
    CapacityRequest.objects.bulk_create(
        CapacityRequest(
            university=kku if i % 2 else up,
            province_id=PROVINCE_A if i % 2 else PROVINCE_B,
            topic=f"คำขอ {i}",
            need="อบรม",
            desired_date=today + _days(i - size // 2),
            status=statuses[i % len(statuses)],
            decline_reason="ไม่ว่าง" if statuses[i % len(statuses)] == Status.DECLINED else "",
        )
        for i in range(size)
    )


# Every request of a signed-in user also costs two queries outside the view: the session and
# the user before it (the session is written again only after SESSION_REFRESH_SECONDS,
# accounts.middleware.SessionRefreshMiddleware). The comments below name the view's own queries;
# the figures are the totals, the same on PostgreSQL and SQLite.
OVERHEAD = 2

PAGES = {
    # url: (user, queries of the view)
    # 1 memberships and 2 this year's assignments of KKU (scope_for), 3 universities, 4 this year's
    # visible assignments with their provinces, 5 activity counts per university, 6 open and overdue
    # request counts per university
    "/universities/": ("university_member", 6),
    # 1 memberships, 2 assignments (scope_for), 3 the university, 4 its team, 5 its assignments with
    # their provinces, 6 activity counts per role, 7 the latest activities of each role (one window
    # query), 8 the first open requests of the queue, 9 their totals (open, overdue)
    "/universities/KKU/": ("university_member", 9),
    # 1 memberships (scope_for; national: no assignments), 2 universities, 3 visible assignments
    # (the filters' years and provinces), 4 the count, 5 the page's rows with university and province
    "/universities/activities/": ("eef_admin", 5),
    "/universities/activities/?role=2&year={year}&period=Q1": ("eef_admin", 5),
    # the same for requests: memberships, universities, assignments, count, page
    "/universities/requests/": ("eef_admin", 5),
    "/universities/requests/?overdue=on&status=active": ("eef_admin", 5),
    # 1 memberships, 2 universities, 3 assignments (the filters), 4 every visible activity with its
    # university and province
    "/universities/activities/export/?format=csv": ("eef_admin", 4),
}


@pytest.mark.parametrize("url", list(PAGES))
def test_list_pages_cost_the_same_queries_with_ten_times_the_rows(cast, client_for, django_assert_num_queries, url):
    user, view_queries = PAGES[url]
    url = url.format(year=current_fiscal_year())
    client = client_for(cast[user])
    for size in (6, 60):
        SupportActivity.objects.all().delete()
        CapacityRequest.objects.all().delete()
        _grow(size)
        client.get(url)  # a first request: the session records the two-factor check once
        with django_assert_num_queries(OVERHEAD + view_queries):
            assert client.get(url).status_code == 200


def test_query_counts_hold_for_a_coordinator_too(cast, client_for, django_assert_num_queries):
    _grow(40)
    client = client_for(cast.coordinator_a)
    client.get("/universities/activities/")
    # the request's five, and 1 memberships (a coordinator's scope needs no assignments),
    # 2 universities, 3 visible assignments, 4 count, 5 page
    with django_assert_num_queries(OVERHEAD + 5):
        assert client.get("/universities/activities/").status_code == 200


# --- Demo data ------------------------------------------------------------------------------------


def test_demo_support_covers_every_role_and_state_and_loads_once(cast):
    from portal.demo.support import load_demo_support

    counts = load_demo_support()
    assert counts["support_activities"] > 0
    assert counts["capacity_requests"] >= 14
    assert load_demo_support() == {"support_activities": 0, "capacity_requests": 0}

    activities = SupportActivity.objects.all()
    assert not activities.filter(is_demo=False).exists()
    this_year = fiscal_year_bounds(current_fiscal_year())
    for province in DEMO_LEADS:
        roles = set(activities.filter(province_id=province, date__range=this_year).values_list("role", flat=True))
        assert roles == set(SupportRole.values), province
        assert activities.filter(province_id=province, date__lt=this_year[0]).count() >= 4  # a previous year too
    requests = CapacityRequest.objects.all()
    assert set(requests.values_list("status", flat=True)) == set(Status.values)
    assert requests.overdue().exists()
    assert not requests.filter(status=Status.DECLINED, decline_reason="").exists()
    for delivered in requests.filter(status__in=[Status.DELIVERED, Status.CLOSED]):
        assert delivered.rating is not None
        assert delivered.delivered_activity.role == SupportRole.CAPACITY
    assert not requests.filter(is_demo=False).exists()


# --- Django admin: import of activities, requests moved only by the services ---------------------------


def test_activity_import_refuses_rows_of_another_university_or_province(cast):
    import tablib

    from universities.resources import SupportActivityResource

    lead = make_user("kku.lead@example.org", role=Role.UNIVERSITY_LEAD, university="KKU", staff=True)
    today = _today().isoformat()
    dataset = tablib.Dataset(headers=["date", "university", "province", "role", "title", "description", "participants"])
    dataset.append([today, "KKU", PROVINCE_A, 1, "ประชุมขอนแก่น", "", 10])
    dataset.append([today, "UP", PROVINCE_B, 1, "ของพะเยา", "", 10])  # another university
    dataset.append([today, "KKU", PROVINCE_B, 1, "พะเยาโดย มข.", "", 10])  # a province KKU does not support
    dataset.append([today, "KKU", PROVINCE_A, 7, "บทบาทไม่มีจริง", "", 10])  # no such role
    result = SupportActivityResource(user=lead).import_data(dataset, dry_run=False)
    assert [row.import_type for row in result.rows] == ["new", "invalid", "invalid", "invalid"]
    activity = SupportActivity.objects.get()
    assert (activity.title, activity.created_by) == ("ประชุมขอนแก่น", lead)

    # A re-import of the same sheet updates the row instead of adding another.
    SupportActivityResource(user=lead).import_data(dataset, dry_run=False)
    assert SupportActivity.objects.count() == 1


def test_activity_import_by_a_coordinator_saves_nothing(cast):
    import tablib

    from universities.resources import SupportActivityResource

    dataset = tablib.Dataset(headers=["date", "university", "province", "role", "title"])
    dataset.append([_today().isoformat(), "KKU", PROVINCE_A, 1, "ประชุม"])
    result = SupportActivityResource(user=cast.coordinator_a).import_data(dataset, dry_run=False)
    assert result.has_validation_errors()
    assert not SupportActivity.objects.exists()


def test_capacity_requests_are_never_imported(cast):
    import tablib

    from universities.resources import CapacityRequestResource

    dataset = tablib.Dataset(headers=["province", "university", "topic", "need", "desired_date", "status"])
    dataset.append([PROVINCE_A, "KKU", "x", "y", _today().isoformat(), "closed"])
    result = CapacityRequestResource(user=cast.eef_admin).import_data(dataset, dry_run=False)
    assert result.has_validation_errors()
    assert not CapacityRequest.objects.exists()


def test_admin_export_of_activities_neutralises_formulas(cast):
    from universities.resources import SupportActivityResource

    _record(cast.university_member, title="+cmd|' /C calc'!A0")
    dataset = SupportActivityResource(user=cast.coordinator_a).export()
    assert dataset.dict[0]["title"] == "'+cmd|' /C calc'!A0"
    assert len(SupportActivityResource(user=cast.coordinator_b).export()) == 0


def test_admin_cannot_set_a_request_status_by_hand(cast, client_for):
    request_obj = _file(cast.coordinator_a)
    url = f"/admin/universities/capacityrequest/{request_obj.pk}/change/"
    data = {
        "topic": "แก้ชื่อเรื่อง",
        "need": request_obj.need,
        "desired_date": request_obj.desired_date.isoformat(),
        "participants": "30",
        "status": "closed",
        "rating": "5",
        "seen_version": request_obj.version,
    }
    response = client_for(cast.eef_admin).post(url, data)
    assert response.status_code == 302
    request_obj.refresh_from_db()
    assert (request_obj.topic, request_obj.status, request_obj.rating) == ("แก้ชื่อเรื่อง", Status.OPEN, None)


def test_admin_action_moves_requests_through_the_services(cast, client_for):
    open_request = _file(cast.coordinator_a, topic="เปิด")
    to_close = _file(cast.coordinator_a, topic="ส่งมอบแล้ว")
    services.accept_request(request_obj=to_close, user=cast.eef_admin)
    services.deliver_request(request_obj=to_close, user=cast.eef_admin, date=_today())
    client = client_for(cast.eef_admin)
    url = "/admin/universities/capacityrequest/"
    ids = [open_request.pk, to_close.pk]
    client.post(url, {"action": "accept_selected", "_selected_action": ids})
    client.post(url, {"action": "close_selected", "_selected_action": ids})
    assert (_state(open_request), _state(to_close)) == (Status.ACCEPTED, Status.CLOSED)
    # A coordinator has no such action: the request stays as it is.
    request_b = _file(cast.coordinator_b, PROVINCE_B)
    client_for(cast.coordinator_b).post(url, {"action": "accept_selected", "_selected_action": [request_b.pk]})
    assert _state(request_b) == Status.OPEN


def test_admin_add_of_an_activity_checks_the_province_the_university_supports(cast, client_for):
    lead = make_user("kku.lead@example.org", role=Role.UNIVERSITY_LEAD, university="KKU", staff=True)
    client = client_for(lead)
    data = {
        "university": _uni("KKU").pk,
        "province": PROVINCE_B,
        "role": 1,
        "date": _today().isoformat(),
        "title": "ประชุม",
    }
    response = client.post("/admin/universities/supportactivity/add/", data)
    assert response.status_code == 200  # the form again, with the error
    # In FY 2569 KKU did not support A (no assignment): services.check_activity_place says so.
    no_year = {**data, "province": PROVINCE_A, "date": (fiscal_year_bounds(2569)[0] + _days(9)).isoformat()}
    response = client.post("/admin/universities/supportactivity/add/", no_year)
    assert response.status_code == 200
    assert "2569" in response.content.decode()
    assert not SupportActivity.objects.exists()
    response = client.post("/admin/universities/supportactivity/add/", {**data, "province": PROVINCE_A})
    assert response.status_code == 302
    assert SupportActivity.objects.get().created_by == lead


def test_pages_show_the_thai_short_name_where_the_code_was(cast, client_for):
    # The reference data gives every university its Thai abbreviation; the code stays the key.
    assert dict(University.objects.values_list("code", "short_name_th")) == {
        "KKU": "มข.",
        "UP": "มพ.",
        "KU": "มก.",
        "RMUTTO": "มทร.ตะวันออก",
        "TSU": "มทษ.",
        "PSU": "ม.อ.",
        "MU-IPSR": "ม.มหิดล",
        "NU": "มน.",
    }
    client = client_for(cast.eef_admin)
    html = client.get("/universities/").content.decode()
    assert '<span class="badge">มข.</span>' in html
    assert '<span class="badge">KKU</span>' not in html
    assert 'href="/universities/KKU/"' in html  # addresses keep the code
    detail = client.get(f"/provinces/{PROVINCE_A}/").content.decode()
    assert '<span class="muted">(มข.)</span>' in detail
    assert "(KKU)" not in detail
    # In English the code is the short name.
    with translation.override("en"):
        assert _uni("KKU").short_name == "KKU"
    assert _uni("KKU").short_name == "มข."


@pytest.mark.parametrize("given", ["abc", "9999", "2024", ""])
def test_a_year_that_is_not_one_of_the_university_shows_the_current_year(cast, client_for, given):
    response = client_for(cast.eef_admin).get(f"/universities/KKU/?year={given}")
    assert response.status_code == 200
    assert response.context["year"] == current_fiscal_year()
