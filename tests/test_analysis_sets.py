"""Analysis sets (analysis/): de-identified tables for university teams, built with pandas (README.md, "Analysis
sets (de-identified)"). Real database; only the storage is made to fail, for the failure test."""

import datetime
import io
import zipfile

import pandas as pd
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.utils import timezone

from conftest import PROVINCE_A, PROVINCE_B, make_user
from tests.builders import national_id

pytestmark = pytest.mark.django_db

# Everything a record holds that may identify a child, by column name, in any table of a set.
FORBIDDEN = {
    "id", "pk", "record", "record_id", "identifier", "identifier_kind", "name", "name_prefix", "first_name",
    "last_name", "birth_date", "phone", "guardian", "guardian_name", "school", "notes", "given_by", "outcome",
    "with_whom", "findings", "next_step", "reason", "services", "address", "case_worker",
}  # fmt: skip


def _records(count: int, *, province: int = PROVINCE_A, start: int = 0, sub_districts: int = 1) -> list:
    """`count` records of `province`, with identifying fields filled in (names, phone, school, guardian,
    notes) so that a leak would show, spread over the first `sub_districts` sub-districts of one district."""
    from provinces.models import SubDistrict
    from targets.models import Category, Outcome, TargetRecord

    places = list(SubDistrict.objects.filter(district__province_id=province).order_by("code")[:sub_districts])
    category = Category.objects.get(code="out-of-school")
    status = Outcome.objects.get(code="in-follow-up")
    return TargetRecord.objects.bulk_create(
        [
            TargetRecord(
                identifier=national_id(province * 10_000_000 + start + i),
                identifier_kind="national_id",
                first_name=f"เด็กชื่อ{start + i}",
                last_name="นามสกุลลับ",
                sex="M" if i % 2 else "F",
                birth_date=datetime.date(2012, 3, 1 + i % 20),
                phone="0812345678",
                school="โรงเรียนบ้านลับ",
                guardian_name="ผู้ปกครองลับ",
                notes="บันทึกลับ",
                province_id=province,
                district_id=places[i % len(places)].district_id,
                sub_district_id=places[i % len(places)].code,
                category=category,
                status=status,
            )
            for i in range(count)
        ]
    )


def _ask(user, provinces=(PROVINCE_A,), purpose="ศึกษาการกลับเข้าเรียน"):
    from analysis import services

    with TestCase.captureOnCommitCallbacks(execute=False):
        return services.request_set(user=user, provinces=list(provinces), purpose=purpose)


def _built(user, **kwargs):
    from analysis import services
    from analysis.models import AnalysisSetRequest

    analysis_set = _ask(user, **kwargs)
    services.build_set(set_id=analysis_set.pk)
    return AnalysisSetRequest.objects.get(pk=analysis_set.pk)


def _tables(analysis_set) -> dict[str, pd.DataFrame]:
    with analysis_set.file.open("rb") as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        names = archive.namelist()
        tables = {
            name[: -len(".parquet")]: pd.read_parquet(io.BytesIO(archive.read(name)))
            for name in names
            if name.endswith(".parquet")
        }
        csvs = {
            name[: -len(".csv")]: pd.read_csv(io.BytesIO(archive.read(name)), encoding="utf-8-sig")
            for name in names
            if name.endswith(".csv")
        }
    assert set(tables) == set(csvs) == {"records", "transitions", "assistance", "dictionary"}
    for name in tables:
        assert list(tables[name].columns) == list(csvs[name].columns)
    return tables


@pytest.fixture
def history(cast):
    """Twelve records of province A in two sub-districts, with status changes, help, contacts and a referral."""
    from cases.models import Agency, Case, Contact, Referral
    from targets.models import Assistance, AssistanceType, Outcome, StatusChange

    records = _records(12, sub_districts=2)
    back = Outcome.objects.exclude(code="in-follow-up").first()
    first = Outcome.objects.get(code="in-follow-up")
    for record in records[:4]:
        StatusChange.objects.create(record=record, from_status=first, to_status=back)
    help_type = AssistanceType.objects.first()
    Assistance.objects.create(
        record=records[0], type=help_type, date=datetime.date(2026, 1, 5), given_by="ครูลับ", outcome="ลับ"
    )
    Assistance.objects.create(record=records[0], type=help_type, date=datetime.date(2026, 2, 5), given_by="ครูลับ")
    case = Case.objects.create(record=records[0], province_id=PROVINCE_A)
    for reached in (True, False):
        Contact.objects.create(case=case, kind="home_visit", happened_at=timezone.now(), reached=reached, findings="ลับ")
    Referral.objects.create(
        case=case, agency=Agency.objects.get(province_id=PROVINCE_A), reason="ลับ", services="ลับ",
        deadline=datetime.date(2027, 1, 1),
    )  # fmt: skip
    return records


def test_a_built_set_holds_no_forbidden_column_and_no_identifying_value(cast, history, settings):
    from analysis.build import ALLOWED_COLUMNS
    from analysis.models import AnalysisSetRequest

    settings.ANALYSIS_K = 1  # every record stays, at its sub-district: the leak test sees every row
    analysis_set = _built(cast.eef_admin)
    assert analysis_set.status == AnalysisSetRequest.Status.READY, analysis_set.message
    tables = _tables(analysis_set)
    for name, table in tables.items():
        assert not FORBIDDEN & set(table.columns), name
        assert list(table.columns) == ALLOWED_COLUMNS[name], name
        text = table.astype(str).to_string()
        for secret in ("ลับ", "เด็กชื่อ", "0812345678", "2012-03", str(history[0].pk) + ",", history[0].identifier):
            assert secret not in text, (name, secret)
    records = tables["records"]
    assert len(records) == 12
    assert analysis_set.row_count == 12
    assert records["age_years"].tolist().count(14) + records["age_years"].tolist().count(13) == 12
    assert set(records["area_level"]) == {"sub_district"}
    mine = records[records["contacts"] > 0]
    assert mine[["contacts", "contacts_reached", "referrals"]].values.tolist() == [[2, 1, 1]]
    assert len(tables["transitions"]) == 4
    assert set(tables["transitions"]["pid"]) <= set(records["pid"])
    assert tables["assistance"][["times"]].values.tolist() == [[2]]
    dictionary = tables["dictionary"]
    assert set(dictionary["table"]) == set(ALLOWED_COLUMNS)
    assert dictionary["description_th"].str.len().min() > 0
    assert dictionary["description_en"].str.len().min() > 0


def test_no_group_smaller_than_k_on_the_quasi_identifiers(cast, settings):
    from analysis.build import QUASI_IDENTIFIERS

    settings.ANALYSIS_K = 5
    # 12 records over 5 sub-districts (2-3 each, too few), and 3 lone records of another category elsewhere.
    _records(12, sub_districts=5)
    lone = _records(3, start=100)
    from targets.models import Category, TargetRecord

    TargetRecord.objects.filter(pk__in=[r.pk for r in lone]).update(
        category=Category.objects.exclude(code="out-of-school").first()
    )
    analysis_set = _built(cast.eef_admin)
    records = _tables(analysis_set)["records"]
    sizes = records.groupby(QUASI_IDENTIFIERS, dropna=False).size()
    assert sizes.min() >= 5
    assert "district" in set(records["area_level"])  # generalised, not dropped
    # The three lone records make groups of 1 and 2 even in their province: withheld, and counted.
    assert (analysis_set.row_count, analysis_set.withheld) == (12, 3)


def test_pseudonyms_are_stable_within_a_set_and_differ_between_sets(cast, history, settings):
    settings.ANALYSIS_K = 1
    first = _tables(_built(cast.eef_admin))
    second = _tables(_built(cast.university_member))
    pids = first["records"]["pid"]
    assert pids.is_unique
    assert len(pids) == 12
    # Stable within the set: the transitions and help name the records' pseudonyms.
    assert set(first["transitions"]["pid"]) <= set(pids)
    assert set(first["assistance"]["pid"]) <= set(pids)
    assert not set(pids) & set(second["records"]["pid"])


def test_who_may_ask_and_for_which_provinces(cast):
    from analysis import services

    assert _ask(cast.university_member).pk  # KKU supports province A
    with pytest.raises(PermissionDenied):
        _ask(cast.university_member, provinces=(PROVINCE_B,))  # led by UP
    for user in (cast.coordinator_a, cast.viewer_a, cast.case_worker_a, cast.no_role):
        with pytest.raises(PermissionDenied):
            _ask(user)
    with pytest.raises(ValidationError):
        services.request_set(user=cast.eef_admin, provinces=[PROVINCE_A], purpose="  ")


def test_pages_and_access(cast, client_for):
    up_member = make_user("up@example.org", role="university_member", university="UP")
    analysis_set = _ask(cast.university_member)
    own = client_for(cast.university_member)
    assert own.get("/analysis/").status_code == 200
    assert own.get(f"/analysis/{analysis_set.pk}/").status_code == 200
    for user in (up_member, cast.eef_admin):
        assert client_for(user).get(f"/analysis/{analysis_set.pk}/").status_code == 404
        assert client_for(user).get(f"/analysis/{analysis_set.pk}/download/").status_code == 404
    assert client_for(cast.coordinator_a).get("/analysis/").status_code == 403
    assert client_for(cast.no_role).get("/analysis/").status_code == 403
    assert client_for(None).get("/analysis/").status_code == 302


def test_request_and_download_once_are_in_the_access_log(cast, client_for, django_capture_on_commit_callbacks):
    from analysis import services
    from analysis.models import AnalysisSetRequest
    from audit.models import AccessLog

    _records(6)
    client = client_for(cast.university_member)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/analysis/", {"provinces": [PROVINCE_A], "purpose": "ศึกษาอัตราการกลับเข้าเรียน"})
    assert response.status_code == 302
    analysis_set = AnalysisSetRequest.objects.get(requested_by=cast.university_member)
    log = AccessLog.objects.filter(user=cast.university_member, object_id=str(analysis_set.pk))
    assert [entry.description for entry in log] == [
        f"analysis set requested: provinces {PROVINCE_A}; purpose: ศึกษาอัตราการกลับเข้าเรียน"
    ]
    assert client.get(f"/analysis/{analysis_set.pk}/download/").status_code == 404  # not built yet
    services.build_set(set_id=analysis_set.pk)
    services.build_set(set_id=analysis_set.pk)  # a second delivery of the task does nothing
    response = client.get(f"/analysis/{analysis_set.pk}/download/")
    assert response.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).testzip() is None
    again = client.get(f"/analysis/{analysis_set.pk}/download/")
    assert again.status_code == 410
    assert "ดาวน์โหลด" in again.content.decode()  # the Thai message
    analysis_set.refresh_from_db()
    assert analysis_set.status == AnalysisSetRequest.Status.DOWNLOADED
    assert analysis_set.downloaded_at
    assert log.all().count() == 2  # a fresh query: `log` was read above
    assert log.order_by("-pk").first().description.startswith("analysis set downloaded: purpose: ศึกษา")


def test_a_failed_build_ends_failed_with_a_reason(cast, monkeypatch):
    from django.db.models.fields.files import FieldFile

    from analysis import services
    from analysis.models import AnalysisSetRequest

    _records(6)

    def broken(self, *args, **kwargs):
        raise OSError("the disk is full")

    monkeypatch.setattr(FieldFile, "save", broken)
    analysis_set = _ask(cast.university_member)
    services.build_set(set_id=analysis_set.pk)
    analysis_set.refresh_from_db()
    assert analysis_set.status == AnalysisSetRequest.Status.FAILED
    assert "OSError" in analysis_set.message
    assert not analysis_set.file


def test_the_list_page_queries(cast, client_for, django_assert_num_queries):
    for _ in range(3):
        _ask(cast.university_member)
    client = client_for(cast.university_member)
    client.get("/analysis/")  # warm the session's user
    # 1 session, 2 user, 3-4 the scope (memberships, the supported provinces), 5 provinces for the form's
    # choices, 6 the user's recent sets
    with django_assert_num_queries(6):
        assert client.get("/analysis/").status_code == 200


def test_the_nightly_pruner_ends_stuck_sets_and_deletes_downloaded_files(cast):
    from analysis import services
    from analysis.models import AnalysisSetRequest
    from core import retention

    assert "analysis" in {pruner.name for pruner in retention.registered()}
    _records(6)
    stuck = _ask(cast.university_member)
    downloaded = _built(cast.university_member)
    assert services.claim_download(downloaded)
    assert not services.claim_download(downloaded)  # once
    name = downloaded.file.name
    later = timezone.now() + datetime.timedelta(hours=7)
    assert services.prune(later) == 2
    stuck.refresh_from_db()
    downloaded.refresh_from_db()
    assert stuck.status == AnalysisSetRequest.Status.FAILED
    assert stuck.message
    assert not downloaded.file
    assert not downloaded.file.storage.exists(name)
    assert services.prune(later) == 0


def test_a_set_of_provinces_without_records_is_ready_and_empty(cast):
    from analysis.models import AnalysisSetRequest

    analysis_set = _built(cast.eef_admin, provinces=(PROVINCE_B,))
    assert analysis_set.status == AnalysisSetRequest.Status.READY, analysis_set.message
    assert (analysis_set.row_count, analysis_set.withheld) == (0, 0)
    tables = _tables(analysis_set)
    assert tables["records"].empty
    assert not tables["dictionary"].empty


def test_the_university_page_links_its_team_to_the_analysis_sets(cast, client_for):
    """A team member finds the sets from their university's page; a coordinator, who may not ask, sees no link."""
    link = 'data-testid="analysis-link"'
    assert link in client_for(cast.university_member).get("/universities/KKU/").content.decode()
    assert link not in client_for(cast.coordinator_a).get("/universities/KKU/").content.decode()


# --- the build's vectorised parts against their plain definitions (bench/analysis.py measures them at scale) ------


def test_pseudonyms_in_bulk_are_the_hmac_of_each_id():
    import hashlib
    import hmac

    import numpy as np

    from analysis.build import pseudonymiser, pseudonyms

    secret = "0f" * 32
    ids = np.array([1, 42, 10**12, 7], dtype="int64")
    expected = [hmac.new(bytes.fromhex(secret), str(i).encode(), hashlib.sha256).hexdigest()[:32] for i in ids]
    assert pseudonyms(secret, ids).tolist() == expected
    assert [pseudonymiser(secret)(int(i)) for i in ids] == expected
    assert pseudonyms("1f" * 32, ids).tolist() != expected


def test_group_sizes_are_groupbys_with_missing_values_as_values():
    from analysis.build import QUASI_IDENTIFIERS, _group_sizes

    records = pd.DataFrame(
        {
            "sex": ["M", "M", "F", "M", "U", "M"],
            "age_band": ["6-11", "6-11", "6-11", "unknown", "6-11", "6-11"],
            "category": ["a", "a", "a", "a", "a", "a"],
            "province": pd.array([40, 40, 40, 40, 40, 40], dtype="Int64"),
            "district": pd.array([4001, 4001, 4001, None, 4001, None], dtype="Int64"),
            "sub_district": pd.array([None, None, 400101, None, None, None], dtype="Int64"),
        }
    )
    expected = records.groupby(QUASI_IDENTIFIERS, dropna=False)["sex"].transform("size").tolist()
    assert _group_sizes(records).tolist() == expected == [2, 2, 1, 1, 1, 1]


def test_the_csv_written_in_batches_is_pandas_to_csv_byte_for_byte(monkeypatch):
    import pyarrow as pa  # type: ignore[import-untyped]

    from analysis import build

    monkeypatch.setattr(build, "CSV_BATCH", 2)  # batches of two rows: some plain, one with text to quote
    table = pd.DataFrame(
        {
            "pid": pd.Series(["ab", "ไทย", "c,d", 'say "hi"', "e", "f"], dtype="object"),
            "n": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
            "code": pd.Series(["x", float("nan"), "y", "z", "", "w"], dtype="object"),
            "day": pd.Series([datetime.date(2026, 1, 2), None, datetime.date(2025, 12, 31)] * 2, dtype="object"),
            "times": [1, 2, 3, 4, 5, 6],
        }
    )
    out = io.BytesIO()
    build._write_csv(table, pa.Table.from_pandas(table, preserve_index=False), out)
    assert out.getvalue() == table.to_csv(index=False).encode("utf-8-sig")
    empty = table.iloc[:0]
    out = io.BytesIO()
    build._write_csv(empty, pa.Table.from_pandas(empty, preserve_index=False), out)
    assert out.getvalue() == empty.to_csv(index=False).encode("utf-8-sig")
