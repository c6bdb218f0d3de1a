"""Data-quality rules (issue 17, quality/): one planted case per default rule, found by that rule and by no other;
a rule switched off; thresholds; the province page (queries, access); the records list; the xlsx (masked); the
record page's issues."""

import datetime
import io

import openpyxl
import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case, Contact
from conftest import PROVINCE_A, PROVINCE_B
from core.thai_id import mask_identifier
from duplicates.models import DuplicateCandidate
from quality.models import RuleSetting
from quality.rules import RULES, active_rules, counts, issues_of, records_with, years_before
from targets.models import Category, Outcome, TargetRecord
from tests.builders import national_id

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _record(n: int, province: int = PROVINCE_A, **fields) -> TargetRecord:
    """A record no rule finds, but for what `fields` change."""
    today = timezone.localdate()
    values = {
        "identifier": national_id(n),
        "identifier_kind": "national_id",
        "first_name": f"เด็ก{n}",
        "last_name": "ทดสอบ",
        "province_id": province,
        "birth_date": years_before(today, 10),
        "category": Category.objects.get(code="out-of-school"),
        "status": Outcome.objects.get(code="returned-to-school"),
        "phone": "0812345678",
        "consent": True,
    }
    values.update(fields)
    for key in ("category", "status"):
        if isinstance(values[key], str):
            values[key] = (Category if key == "category" else Outcome).objects.get(code=values[key])
    return TargetRecord.objects.create(**values)


def _contact(record: TargetRecord, *, days_ago: int, reached: bool = True) -> Contact:
    case, _ = Case.objects.get_or_create(record=record, defaults={"province_id": record.province_id})
    return Contact.objects.create(
        case=case, kind="home_visit", happened_at=timezone.now() - days_ago * DAY, reached=reached
    )


def _age(record: TargetRecord, *, days: int, created: bool = False) -> None:
    """The record as last saved (and, with created, created) `days` ago."""
    moment = timezone.now() - days * DAY
    fields = {"updated_at": moment} | ({"created_at": moment} if created else {})
    TargetRecord.objects.filter(pk=record.pk).update(**fields)


@pytest.fixture
def planted(db):
    """One record per rule (two for the duplicate pair), and clean ones around them."""
    today = timezone.localdate()
    found = {
        "birth-date-implausible": [_record(1, category="early-childhood", birth_date=years_before(today, 8))],
        "phone-missing-or-malformed": [_record(2, phone="021234567")],
        "consent-not-noted": [_record(3, consent=False)],
        "follow-up-without-contact": [_record(4, status="in-follow-up")],
        "not-found-without-failed-contact": [_record(5, status="not-found")],
        "last-name-missing": [_record(6, last_name="")],
        "untouched-for-a-year": [_record(7)],
        "probable-duplicate": [_record(8, first_name="สมชาย"), _record(9, first_name="สมชาย")],
    }
    # Followed up for 40 days, last contact 35 days ago (the default threshold is 30 days).
    _contact(found["follow-up-without-contact"][0], days_ago=35)
    _age(found["follow-up-without-contact"][0], days=40, created=True)
    _age(found["untouched-for-a-year"][0], days=400)
    a, b = found["probable-duplicate"]
    DuplicateCandidate.objects.create(
        record_a=a, record_b=b, province_id=PROVINCE_A, score=0.9, reasons=["name_same"], last_seen_at=timezone.now()
    )
    # Clean: a child of 6 in early childhood; followed up with a contact last week; followed up, new this week;
    # not found after a failed visit; a pair decided "not the same"; another province's record.
    _record(20, category="early-childhood", birth_date=years_before(today, 7) + DAY)
    recent = _record(21, status="in-follow-up")
    _contact(recent, days_ago=5)
    _age(recent, days=40, created=True)
    _record(22, status="in-follow-up")
    gone = _record(23, status="not-found")
    _contact(gone, days_ago=3, reached=False)
    c, d = _record(24), _record(25)
    DuplicateCandidate.objects.create(
        record_a=c, record_b=d, province_id=PROVINCE_A, score=0.9, reasons=[], state="not_same",
        last_seen_at=timezone.now(),
    )  # fmt: skip
    _record(26, province=PROVINCE_B, consent=False)
    return found


def _found(rule, records=None) -> set[int]:
    return set(records_with(records or TargetRecord.objects.filter(province_id=PROVINCE_A), rule).values_list(
        "pk", flat=True
    ))  # fmt: skip


def test_each_default_rule_finds_its_planted_record_and_no_other(planted, django_assert_num_queries):
    rules = active_rules()
    assert [r.code for r in rules] == [r.code for r in RULES] == list(planted)
    for rule in rules:
        with django_assert_num_queries(1):  # one set-based query per rule
            found = _found(rule)
        assert found == {r.pk for r in planted[rule.code]}, rule.code


def test_counts_and_one_records_issues_are_one_query_each(planted, django_assert_num_queries):
    rules = active_rules()
    with django_assert_num_queries(1):
        found = counts(TargetRecord.objects.filter(province_id=PROVINCE_A), rules)
    assert found == {code: len(records) for code, records in planted.items()}
    with django_assert_num_queries(1):
        issues = issues_of(planted["consent-not-noted"][0].pk, rules)
    assert [i.code for i in issues] == ["consent-not-noted"]


def test_a_rule_switched_off_finds_nothing_and_is_not_shown(planted, cast, client_for):
    RuleSetting.objects.create(code="consent-not-noted", enabled=False)
    assert "consent-not-noted" not in [r.code for r in active_rules()]
    client = client_for(cast.coordinator_a)
    html = client.get(f"/quality/{PROVINCE_A}/").content.decode()
    assert 'data-rule="consent-not-noted"' not in html
    assert 'data-rule="last-name-missing"' in html
    assert client.get(f"/quality/{PROVINCE_A}/consent-not-noted/").status_code == 404
    record = planted["consent-not-noted"][0]
    assert 'data-rule="consent-not-noted"' not in client.get(f"/records/{record.pk}/").content.decode()


def test_thresholds_apply(planted):
    late = planted["follow-up-without-contact"][0].pk
    old = planted["untouched-for-a-year"][0].pk

    def found(code: str) -> set[int]:
        return _found(next(r for r in active_rules() if r.code == code))

    RuleSetting.objects.create(code="follow-up-without-contact", threshold=36)  # the contact 35 days ago is recent
    assert late not in found("follow-up-without-contact")
    RuleSetting.objects.filter(code="follow-up-without-contact").update(threshold=10)
    # Now the record followed up last week (contact 5 days ago) is still fine; the one 35 days ago is late.
    assert found("follow-up-without-contact") == {late}
    RuleSetting.objects.create(code="untouched-for-a-year", threshold=500)
    assert old not in found("untouched-for-a-year")
    RuleSetting.objects.filter(code="untouched-for-a-year").update(threshold=None)  # back to the default, 365
    assert old in found("untouched-for-a-year")


def test_province_page_counts_every_rule_in_a_bounded_number_of_queries(
    planted, cast, client_for, django_assert_num_queries
):
    client = client_for(cast.coordinator_a)
    client.get(f"/quality/{PROVINCE_A}/")  # the session's first request reads more
    # The session; the user; their memberships and the provinces their university supports (the door's scope);
    # the province; the rule settings; every rule's count (one aggregation).
    with django_assert_num_queries(6):
        response = client.get(f"/quality/{PROVINCE_A}/")
    assert response.status_code == 200
    html = response.content.decode()
    for code in planted:
        assert f'data-rule="{code}"' in html
    assert f"/quality/{PROVINCE_A}/probable-duplicate/" in html


@pytest.mark.parametrize(
    ("member", "status"),
    [
        ("eef_admin", 200),
        ("coordinator_a", 200),
        ("viewer_a", 200),
        ("university_member", 200),  # KKU supports province A
        ("coordinator_b", 404),
        ("case_worker_a", 404),
        ("agency_user_a", 404),
        ("no_role", 404),
    ],
)
def test_who_reads_a_provinces_quality_pages(cast, client_for, member, status):
    client = client_for(cast[member])
    for url in (f"/quality/{PROVINCE_A}/", f"/quality/{PROVINCE_A}/consent-not-noted/",
                f"/quality/{PROVINCE_A}/records.xlsx"):  # fmt: skip
        assert client.get(url).status_code == status, url


def test_an_unknown_province_or_rule_is_404(cast, client_for):
    client = client_for(cast.eef_admin)
    assert client.get("/quality/99/").status_code == 404
    assert client.get(f"/quality/{PROVINCE_A}/no-such-rule/").status_code == 404


def test_the_records_of_a_rule_are_listed_masked(planted, cast, client_for):
    record = planted["last-name-missing"][0]
    html = client_for(cast.university_member).get(f"/quality/{PROVINCE_A}/last-name-missing/").content.decode()
    assert f"/records/{record.pk}/" in html
    assert mask_identifier(record.identifier) in html
    assert record.identifier not in html
    assert f"/records/{planted['consent-not-noted'][0].pk}/" not in html


def _sheet(response) -> list[tuple]:
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return list(book.active.iter_rows(values_only=True))


def test_the_xlsx_lists_the_records_to_fix_with_identifiers_masked(planted, cast, client_for):
    rows = _sheet(client_for(cast.university_member).get(f"/quality/{PROVINCE_A}/records.xlsx"))
    every = {r.identifier for records in planted.values() for r in records}
    body = rows[1:]
    assert {row[0] for row in body} == {mask_identifier(i) for i in every}
    cells = " ".join(str(cell) for row in rows for cell in row)
    assert not any(identifier in cells for identifier in every)
    assert national_id(26) not in cells  # province B's
    assert mask_identifier(national_id(26)) not in cells
    # One rule only.
    rows = _sheet(client_for(cast.coordinator_a).get(f"/quality/{PROVINCE_A}/records.xlsx?rule=consent-not-noted"))
    assert len(rows) == 2
    assert "Consent not noted" in rows[1][6] or "ความยินยอม" in rows[1][6]


def test_the_record_page_lists_its_issues(planted, cast, client_for):
    client = client_for(cast.coordinator_a)
    html = client.get(f"/records/{planted['consent-not-noted'][0].pk}/").content.decode()
    assert 'data-testid="record-quality"' in html
    assert 'data-rule="consent-not-noted"' in html
    assert 'data-rule="last-name-missing"' not in html
    clean = TargetRecord.objects.get(identifier=national_id(20))
    assert 'data-testid="record-quality"' not in client.get(f"/records/{clean.pk}/").content.decode()


def test_only_eef_admins_change_the_settings_in_admin(cast, client_for):
    assert client_for(cast.eef_admin).get("/admin/quality/rulesetting/add/").status_code == 200
    response = client_for(cast.eef_admin).post(
        "/admin/quality/rulesetting/add/", {"code": "untouched-for-a-year", "enabled": "on", "threshold": "200"}
    )
    assert response.status_code == 302
    setting = RuleSetting.objects.get(code="untouched-for-a-year")
    assert setting.threshold == 200
    assert client_for(cast.coordinator_a).get("/admin/quality/rulesetting/").status_code == 403
    if connection.vendor == "postgresql":  # the audit trail is PostgreSQL's triggers
        from audit.tracking import event_model

        events = list(event_model(RuleSetting).objects.filter(pgh_obj_id=setting.pk).select_related("pgh_context"))
        assert [(e.pgh_label, e.threshold, e.pgh_context.metadata["user"]) for e in events] == [
            ("insert", 200, cast.eef_admin.pk)
        ]


def test_the_records_list_links_to_the_provinces_quality_page(cast, client_for):
    html = client_for(cast.coordinator_a).get("/records/").content.decode()
    assert f'href="/quality/{PROVINCE_A}/"' in html
    html = client_for(cast.eef_admin).get(f"/records/?province={PROVINCE_B}").content.decode()
    assert f'href="/quality/{PROVINCE_B}/"' in html
    assert "/quality/" not in client_for(cast.case_worker_a).get("/records/").content.decode()


def test_the_pages_narrow_to_one_district_of_the_province(planted, cast, client_for, django_assert_num_queries):
    """?district= (the drill-down's district page links so): the counts, the lists and the xlsx of that district only,
    every link keeping it; a district of another province, or none, is 404."""
    from core.thai_id import format_identifier
    from provinces.models import District

    inside, elsewhere = District.objects.filter(province_id=PROVINCE_A).order_by("pk")[:2]
    consent = planted["consent-not-noted"][0]
    phone = planted["phone-missing-or-malformed"][0]
    TargetRecord.objects.filter(pk=consent.pk).update(district=inside)
    TargetRecord.objects.filter(pk=phone.pk).update(district=elsewhere)
    client = client_for(cast.coordinator_a)
    client.get(f"/quality/{PROVINCE_A}/")
    with django_assert_num_queries(7):  # the province page's six, and the district
        response = client.get(f"/quality/{PROVINCE_A}/", {"district": inside.pk})
    counts = {row["rule"].code: row["count"] for row in response.context["rows"]}
    assert counts["consent-not-noted"] == 1
    assert counts["phone-missing-or-malformed"] == 0  # in the other district
    html = response.content.decode()
    assert 'data-testid="quality-district"' in html
    assert f"เฉพาะอำเภอ{inside.name_th}" in html
    assert f"/quality/{PROVINCE_A}/consent-not-noted/?district={inside.pk}" in html
    assert f"/quality/{PROVINCE_A}/records.xlsx?district={inside.pk}" in html

    listed = client.get(f"/quality/{PROVINCE_A}/consent-not-noted/", {"district": inside.pk}).content.decode()
    assert f"/records/{consent.pk}/" in listed
    assert (
        client.get(f"/quality/{PROVINCE_A}/phone-missing-or-malformed/", {"district": inside.pk})
        .context["page"]
        .paginator.count
        == 0
    )
    rows = _sheet(client.get(f"/quality/{PROVINCE_A}/records.xlsx", {"district": inside.pk}))
    assert [row[0] for row in rows[1:]] == [format_identifier(consent.identifier)]  # a coordinator reads it in full

    other_province = District.objects.exclude(province_id=PROVINCE_A).first()
    for value in (other_province.pk, "abc", "999999"):
        assert client.get(f"/quality/{PROVINCE_A}/", {"district": value}).status_code == 404
