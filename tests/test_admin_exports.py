"""Django admin's spreadsheet exports (accounts/admin_access.ScopedExportMixin): a link with filters the
list does not have leads back to the list with a message instead of a 500, and exports stay scoped.

Every admin with an export is here: ADMINS must name them all (test_every_admin_with_an_export_is_tested).
"""

import datetime

import pytest
from django.contrib import admin
from import_export.admin import ExportMixin

from conftest import PROVINCE_A, PROVINCE_B
from provinces.models import WorkingGroupMember
from reports.models import ProgressReport
from universities.models import CapacityRequest, SupportActivity, SupportAssignment, SupportRole, University

# model -> a filter its change list has (so the export must honour it)
ADMINS = {
    WorkingGroupMember: "is_demo__exact=0",
    ProgressReport: "is_demo__exact=0",
    SupportAssignment: "is_demo__exact=1",  # the programme's assignments are demo rows
    SupportActivity: "is_demo__exact=0",
    CapacityRequest: "is_demo__exact=0",
}
BAD_FILTERS = ["foo=1", "province__id__exact=56", "fiscal_year=abc"]
THAI_MESSAGE = "ไม่ได้ส่งออกข้อมูล"


def _url(model, view: str) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/{view}/"


@pytest.fixture
def work_in_both_provinces(cast):
    """One row of each exported model in province A and one in B (the assignments come from the programme)."""
    kku, up = University.objects.get(code="KKU"), University.objects.get(code="UP")
    day = datetime.date(2024, 1, 15)
    both = ((PROVINCE_A, kku, cast.coordinator_a), (PROVINCE_B, up, cast.coordinator_b))
    for province, university, coordinator in both:
        WorkingGroupMember.objects.create(province_id=province, name=f"สมาชิก {province}", phone="0812345678")
        ProgressReport.objects.create(province_id=province, fiscal_year=2567, period="Q1", created_by=coordinator)
        SupportActivity.objects.create(
            university=university, province_id=province, role=SupportRole.DATA, date=day, title=f"อบรม {province}"
        )
        CapacityRequest.objects.create(
            province_id=province, university=university, topic=f"คำขอ {province}", need="อบรม", desired_date=day
        )


def _export_post_data(client, model, query: str) -> dict:
    """The export form as the page offers it: the first format (CSV), the first resource, every field ticked."""
    form = client.get(f"{_url(model, 'export')}?{query}").context["form"]
    fields = {name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)}
    assert fields, "the export page offers fields to choose"
    return {"format": "0", "resource": "0", **fields}


def test_every_admin_with_an_export_is_tested():
    exporting = {model for model, model_admin in admin.site._registry.items() if isinstance(model_admin, ExportMixin)}
    assert exporting == set(ADMINS)


@pytest.mark.parametrize("model", list(ADMINS), ids=lambda m: m._meta.model_name)
@pytest.mark.parametrize("query", BAD_FILTERS)
@pytest.mark.parametrize("member", ["eef_admin", "coordinator_a"])
def test_an_export_link_with_a_filter_the_list_does_not_have_leads_back_to_the_list(
    cast, client_for, work_in_both_provinces, model, query, member
):
    from audit.models import AccessLog

    client = client_for(cast[member])
    changelist = _url(model, "changelist").removesuffix("changelist/")
    logged = AccessLog.objects.count()
    form = _export_post_data(client, model, ADMINS[model])
    for method, data in (("get", None), ("post", form)):
        response = getattr(client, method)(f"{_url(model, 'export')}?{query}", data)
        assert response.status_code == 302
        assert response["Location"] == changelist
        assert "Content-Disposition" not in response, "nothing is exported"
        page = client.get(response["Location"])
        assert page.status_code == 200
        assert THAI_MESSAGE in page.content.decode()
    assert AccessLog.objects.count() == logged, "no file, no access-log entry"
    # The change list itself answers the same link as before: its own error page, not a 500.
    assert client.get(f"{changelist}?{query}")["Location"] == f"{changelist}?e=1"


@pytest.mark.parametrize("model", list(ADMINS), ids=lambda m: m._meta.model_name)
def test_a_filtered_export_holds_only_the_rows_in_the_users_scope(cast, client_for, work_in_both_provinces, model):
    query = ADMINS[model]
    rows = model.objects.filter(**dict([query.split("=")]))
    for member, province_rows in (
        ("eef_admin", rows),
        ("coordinator_a", rows.filter(province_id=PROVINCE_A)),
    ):
        client = client_for(cast[member])
        response = client.post(f"{_url(model, 'export')}?{query}", _export_post_data(client, model, query))
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        lines = [line for line in response.content.decode("utf-8-sig").splitlines()[1:] if line]
        assert len(lines) == province_rows.count() > 0, (member, lines)
    # Coordinator A's file never holds B's rows.
    assert rows.filter(province_id=PROVINCE_A).count() < rows.count()
