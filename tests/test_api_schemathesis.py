"""Schemathesis against the API's own OpenAPI schema, with two partner keys of different provinces.

Every operation of /api/v1/ gets a bounded number of generated requests (valid and invalid,
deterministic), each sent once with a key of province A (ขอนแก่น) and once with a key of province B
(พะเยา), both allowed to read and write everything. For every response:

- no 5xx (schemathesis' not_a_server_error), and only documented status codes, content types and
  bodies (status_code_conformance, content_type_conformance, response_schema_conformance); strings
  may hold NUL (allow-x00), which the API refuses with 400 (api.parsers, issue 11);
- every object with a province in it is of the key's province: no key reads the other's data;
- nothing of the other province's records shows (their names, their identifiers in any form).

The schema is generated in-process (drf-spectacular) and requests go to the WSGI application in the
same thread, so they see the test's data. Runs in `make test` (CI), about a minute; it ends by printing
how many cases ran (and how many carried a NUL).
"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings, strategies
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from conftest import PROVINCE_A, PROVINCE_B, make_user
from tests.api_support import key_client, make_key, make_records

MAX_EXAMPLES = 6
# No 5xx; and the answers are the ones the schema documents (status codes, content types, bodies).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 2567,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "allow-x00": True},
        "phases": {"stateful": {"enabled": False}},
    }
)


def _load_schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)), config=CONFIG)
    schema.app = get_wsgi_application()
    return schema


schema = _load_schema()


def _provinces_in(data, found: set) -> set:
    """Every province code in the body: `province` and `owner_province` of any object."""
    if isinstance(data, dict):
        for name in ("province", "owner_province"):
            if isinstance(data.get(name), int):
                found.add(data[name])
        for value in data.values():
            _provinces_in(value, found)
    elif isinstance(data, list):
        for value in data:
            _provinces_in(value, found)
    return found


@pytest.fixture
def partners(db, programme, settings):
    """Data in both provinces, and one read-and-write key for each; the WSGI app keeps the test's
    database connection (as Django's test client does)."""
    from tests.matrix import province_b_work

    settings.ALLOWED_HOSTS = ["*"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"partner_key": "100000/minute", "portal_user": "100000/minute"},
    }
    province_b_work(type("Cast", (), {"coordinator_b": make_user("coordinator.b@example.org")})())
    records = {
        # Names of one length (เด็ก100..., เด็ก500...): no name of one province is part of another's.
        PROVINCE_A: make_records(PROVINCE_A, 15, start=100),
        PROVINCE_B: make_records(PROVINCE_B, 15, start=500),
    }
    for province in records:
        _case_work(province, records[province][0])
    keys = {province: make_key(provinces=[province], name=f"schemathesis-{province}")[1] for province in records}
    # One upload of A, so that the import endpoints have something to find.
    from django.core.files.uploadedfile import SimpleUploadedFile

    key_client(keys[PROVINCE_A]).post(
        "/api/v1/imports/",
        {"province": PROVINCE_A, "file": SimpleUploadedFile("a.csv", "เลขประจำตัวประชาชน,ชื่อ\n1,ก\n".encode())},
    )
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {province: (secret, records[province]) for province, secret in keys.items()}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _case_work(province: int, record) -> None:
    """Case follow-up of one record of `province`, through the services: a goal, a contact, a plan step
    done, a referral accepted, so that the case endpoints and the feed have real objects."""
    import datetime

    from django.utils import timezone

    from accounts.models import Role
    from cases import services
    from cases.models import Agency, AgencyType
    from targets.models import Outcome

    coordinator = make_user(
        f"case.coordinator.{province}@example.org", role=Role.PROVINCE_COORDINATOR, province=province
    )
    agency = Agency.objects.create(
        province_id=province, type=AgencyType.objects.get(code="non-formal-education"), name=f"กศน. {province}"
    )
    services.set_goal(
        user=coordinator, record=record, goal=Outcome.objects.get(code="returned-to-school"), version=None
    )
    services.log_contact(user=coordinator, record=record, kind="home_visit", happened_at=timezone.now())
    services.finish_step(user=coordinator, step=services.add_step(user=coordinator, record=record, text="เยี่ยมบ้าน"))
    referral = services.refer(
        user=coordinator, record=record, agency=agency, reason="อยากเรียนต่อ", services="สมัครเรียน",
        deadline=timezone.localdate() + datetime.timedelta(days=7),
    )  # fmt: skip
    services.move_referral(user=coordinator, referral=referral, to_state="accepted", version=referral.version)


# Cases generated and requests sent (issue 11 asks how many ran): each test passes on its own counts in
# its report, which reaches pytest's main process from any xdist worker; tests/conftest.py prints the sum.
RAN = {"cases": 0, "requests": 0, "with_nul": 0}


@pytest.fixture(autouse=True)
def _report_how_many_ran(request):
    before = dict(RAN)
    yield
    request.node.user_properties.append(("schemathesis", {name: RAN[name] - before[name] for name in RAN}))


def _has_nul(case) -> bool:
    parts = [case.path_parameters, case.query, case.headers, case.cookies, case.body]
    text = json.dumps(parts, default=repr)  # a NUL shows as \u0000 in JSON, as \x00 in the repr of bytes
    return "\\u0000" in text or "\\x00" in text


def _with_nul(value):
    """JSON-like `value` with a NUL in every string, keys included: the shapes of issue 11's failures
    ("notes": "a\\u0000b", an item key with \\u0000), which generation with allow-x00 alone reaches in
    only a handful of cases."""
    if isinstance(value, str):
        return f"{value[:1]}\x00{value[1:]}"
    if isinstance(value, dict):
        return {_with_nul(k): _with_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_nul(v) for v in value]
    return value


def flatmap_case(context, case):
    """Half the cases that carry a JSON body or a query string carry them with NULs everywhere."""
    carries_json = case.media_type == "application/json" and isinstance(case.body, dict | list)
    if not (carries_json or case.query):
        return strategies.just(case)

    def nul(flag: bool):
        if flag:
            if carries_json:
                case.body = _with_nul(case.body)
            case.query = _with_nul(case.query or {}) or None
        return case

    return strategies.booleans().map(nul)


def _one_nul_each(value):
    """Copies of JSON-like `value`, each with a NUL in one of its strings (a value or a key)."""
    if isinstance(value, str):
        yield f"{value[:1]}\x00{value[1:]}"
    elif isinstance(value, dict):
        for key, item in value.items():
            for nulled in _one_nul_each(key):
                yield {nulled if k == key else k: v for k, v in value.items()}
            for nulled in _one_nul_each(item):
                yield {**value, key: nulled}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for nulled in _one_nul_each(item):
                yield [*value[:index], nulled, *value[index + 1 :]]


def before_add_examples(context, examples):
    """Each documented example with a JSON body is also sent once per string it holds, with a NUL in
    that string: the examples are valid records (a national ID with its check digit, a known
    category), so the NUL in their notes, names or keys goes as far as it can (issue 11: PostgreSQL)."""
    for example in list(examples):
        if example.media_type == "application/json" and isinstance(example.body, dict | list):
            examples.extend(
                example.operation.Case(
                    method=example.method,
                    path_parameters=example.path_parameters,
                    headers=example.headers,
                    query=example.query,
                    body=body,
                    media_type=example.media_type,
                )
                for body in _one_nul_each(example.body)
            )


@schema.hooks.apply(before_add_examples)
@schema.hooks.apply(flatmap_case)
@schema.include(path_regex="^/api/v1/").parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None, database=None)
def test_no_server_error_and_no_read_across_provinces(case, partners):
    RAN["cases"] += 1
    RAN["with_nul"] += _has_nul(case)
    for province, (secret, _records) in partners.items():
        RAN["requests"] += 1
        other = PROVINCE_B if province == PROVINCE_A else PROVINCE_A
        _other_secret, other_records = partners[other]
        response = case.call(headers={"Authorization": f"Api-Key {secret}"})
        case.validate_response(response, checks=CHECKS)
        text = response.text
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        seen = _provinces_in(body, set())
        assert seen <= {province}, f"key of {province} read {seen - {province}}: {case.method} {case.formatted_path}"
        for record in other_records:
            assert record.first_name not in text, f"key of {province} read a record of {other}"
            assert record.identifier not in text


def _work_of(province: int, user) -> dict:
    """One object of each kind of provincial work in `province`, by API path."""
    import datetime

    from meetings.models import ActionItem, Kind, Meeting
    from provinces.models import District, ProvincialPlan, SubDistrict, WorkingGroupMember
    from reports.models import ProgressReport
    from universities.models import CapacityRequest, SupportActivity, SupportAssignment, SupportRole

    assignment = SupportAssignment.objects.current().leads().select_related("university").get(province_id=province)
    meeting = Meeting.objects.create(
        title="ประชุมคณะทำงาน",
        kind=Kind.PROVINCIAL,
        starts_on=datetime.date(2026, 3, 1),
        ends_on=datetime.date(2026, 3, 1),
    )
    meeting.provinces.add(province)
    day = datetime.date(2026, 1, 15)
    district = District.objects.filter(province_id=province).first()
    sub_district = SubDistrict.objects.filter(district__province_id=province).first()
    assert district is not None
    assert sub_district is not None
    return {
        "provinces": province,
        "districts": district.pk,
        "sub-districts": sub_district.pk,
        "assignments": assignment.pk,
        "working-group-members": WorkingGroupMember.objects.create(province_id=province, name="ประธาน").pk,
        "plans": ProvincialPlan.objects.create(province_id=province, fiscal_year=2569).pk,
        "progress-reports": ProgressReport.objects.create(
            province_id=province, fiscal_year=2569, period="Q2", created_by=user
        ).pk,
        "support-activities": SupportActivity.objects.create(
            university=assignment.university, province_id=province, role=SupportRole.DATA, date=day, title="อบรม"
        ).pk,
        "capacity-requests": CapacityRequest.objects.create(
            province_id=province, university=assignment.university, topic="ข้อมูล", need="อบรม", desired_date=day
        ).pk,
        "meetings": meeting.pk,
        "action-items": ActionItem.objects.create(meeting=meeting, what="ส่งข้อมูล", owner_province_id=province).pk,
        "records": make_records(province, 1, start=900)[0].pk,
    }


def test_each_key_reads_its_own_objects_and_gets_404_for_the_others(partners):
    from cases.models import Referral
    from core.buddhist_dates import current_fiscal_year
    from summaries.models import Snapshot, SummaryRun
    from summaries.services import run_summary
    from targets.models import UploadBatch

    user = make_user("someone@example.org")
    objects = {province: _work_of(province, user) for province in partners}
    run_summary(run_id=SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger="command").pk)
    for province in partners:
        objects[province]["summaries"] = Snapshot.objects.get(level="province", province_id=province).pk
    objects[PROVINCE_A]["imports"] = UploadBatch.objects.get(province_id=PROVINCE_A).pk
    for province in partners:
        referral = Referral.objects.filter(case__province_id=province).latest("pk")  # _case_work's
        objects[province]["referrals"] = referral.pk
        objects[province]["records"] = referral.case_id
    detail_suffixes = {"records": ["", "history/", "help/", "case/", "contacts/", "steps/"]}
    for province, (secret, _records) in partners.items():
        client = key_client(secret)
        other = PROVINCE_B if province == PROVINCE_A else PROVINCE_A
        for path, pk in objects[province].items():
            for suffix in detail_suffixes.get(path, [""]):
                assert client.get(f"/api/v1/{path}/{pk}/{suffix}").status_code == 200, (province, path, suffix)
        for path, pk in objects[other].items():
            for suffix in detail_suffixes.get(path, [""]):
                response = client.get(f"/api/v1/{path}/{pk}/{suffix}")
                assert response.status_code == 404, (province, path, suffix)
                assert json.loads(response.content)["error"]["code"] == "not_found"
