"""The probable-duplicate finder (duplicates/finder.py) on PostgreSQL: precision and recall on a generated set with
known duplicates and look-alikes, twins and common names, "not the same person" remembered, the nightly job."""

import datetime

import pytest
from django.db import connection

from conftest import PROVINCE_A, PROVINCE_B
from duplicates import finder, generated
from duplicates.models import DuplicateCandidate, NameKey, NotSamePerson
from provinces.models import District
from targets.models import TargetRecord

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm: PostgreSQL only")


def _districts(*provinces: int, per_province: int = 6) -> dict[int, list[int]]:
    return {
        p: list(District.objects.filter(province_id=p).order_by("code").values_list("code", flat=True)[:per_province])
        for p in provinces
    }


def _child(identifier: str, given: str, family: str, birth: datetime.date, **extra) -> dict:
    return {
        "identifier": identifier,
        "identifier_kind": "g_code" if identifier.startswith("G") else "national_id",
        "name_prefix": "",
        "first_name": given,
        "last_name": family,
        "sex": "M",
        "birth_date": birth,
        "province_id": PROVINCE_A,
        "district_id": _districts(PROVINCE_A)[PROVINCE_A][0],
        **extra,
    }


@pytest.mark.django_db
def test_precision_and_recall_on_a_generated_set():
    data = generated.generate(3000, _districts(PROVINCE_A, PROVINCE_B))
    generated.save(data.records)
    finder.run()
    found = generated.found_pairs()
    precision, recall = generated.precision_recall(found, data.duplicates)
    assert len(data.duplicates) > 150
    assert precision >= 0.95, (precision, sorted(found - data.duplicates)[:5])
    assert recall >= 0.90, (recall, sorted(data.duplicates - found)[:5])
    # No look-alike is proposed: twins, siblings, common names elsewhere or of another age.
    assert not found & data.look_alikes


@pytest.mark.django_db
def test_twins_do_not_pair_but_a_prefix_and_a_spelling_variant_do():
    born = datetime.date(2015, 3, 15)
    generated.save(
        [
            _child("1000000000011", "ธนากร", "ศรีสุข", born),
            _child("1000000000029", "ธีรภัทร", "ศรีสุข", born),  # the twin
            _child("G644200000001", "ด.ช.ธนากร", "ศรีสุข", born, sex=""),  # the first one again, with a G-code
            _child("1000000000037", "กิตติพงษ์", "ใจดี", born),
            _child("1000000000045", "กิตติพงศ์", "ใจ ดี", datetime.date(2015, 15 - 12, 15)),  # ษ/ศ and a space
        ]
    )
    finder.run()
    pairs = generated.found_pairs()
    assert pairs == {("1000000000011", "G644200000001"), ("1000000000037", "1000000000045")}
    candidate = DuplicateCandidate.objects.get(record_b__identifier="G644200000001")
    assert "identifier_kinds_differ" in candidate.reasons
    assert candidate.province_id == PROVINCE_A


@pytest.mark.django_db
def test_a_common_name_in_another_district_or_of_another_age_does_not_pair():
    born = datetime.date(2014, 6, 1)
    districts = _districts(PROVINCE_A)[PROVINCE_A]
    generated.save(
        [
            _child("1000000000011", "สมชาย", "ใจดี", born, district_id=districts[0]),
            _child("1000000000029", "สมชาย", "ใจดี", born, district_id=districts[1]),
            _child("1000000000037", "สมชาย", "ใจดี", datetime.date(2011, 6, 1), district_id=districts[0]),
            _child("1000000000045", "สมชาย", "ใจดี", datetime.date(2014, 9, 20), district_id=districts[0]),
        ]
    )
    finder.run()
    assert generated.found_pairs() == set()


@pytest.mark.django_db
def test_a_birth_date_typo_pairs_and_a_missing_district_compares_with_the_province():
    generated.save(
        [
            _child("1000000000011", "ศิริพร", "ทองคำ", datetime.date(2012, 4, 7), sex="F"),
            _child("1000000000029", "สิริพร", "ทองคำ", datetime.date(2012, 7, 4), sex="F", district_id=None),
            _child("1000000000037", "ปิ่นมณี", "แก้วมณี", datetime.date(2013, 1, 9), sex="F"),
            _child("1000000000045", "ปิ่นมณี", "แก้วมณี", datetime.date(2014, 1, 9), sex="F"),
        ]
    )
    finder.run()
    assert generated.found_pairs() == {("1000000000011", "1000000000029"), ("1000000000037", "1000000000045")}


@pytest.mark.django_db
def test_not_the_same_person_is_remembered_and_the_run_is_idempotent():
    born = datetime.date(2015, 3, 15)
    generated.save([_child("1000000000011", "ธนากร", "ศรีสุข", born), _child("1000000000029", "ธนากร", "ศรีสุข", born)])
    first = finder.run()
    assert first["candidates"] == 1
    candidate = DuplicateCandidate.objects.get()
    again = finder.run()
    assert again["candidates"] == 1
    assert again["removed"] == 0
    assert DuplicateCandidate.objects.get().pk == candidate.pk
    NotSamePerson.objects.create(record_a_id=candidate.record_a_id, record_b_id=candidate.record_b_id)
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(state=DuplicateCandidate.State.NOT_SAME)
    third = finder.run()
    assert third["candidates"] == 0
    assert DuplicateCandidate.objects.get().state == DuplicateCandidate.State.NOT_SAME


@pytest.mark.django_db
def test_keys_follow_the_records_and_gone_records_close_their_pairs():
    born = datetime.date(2015, 3, 15)
    generated.save([_child("1000000000011", "ธนากร", "ศรีสุข", born), _child("1000000000029", "ธนากร", "ศรีสุข", born)])
    finder.run()
    assert NameKey.objects.count() == 2
    TargetRecord.objects.filter(identifier="1000000000029").delete()
    counts = finder.run()
    assert counts["orphans"] == 1
    assert DuplicateCandidate.objects.get().state == DuplicateCandidate.State.MERGED


@pytest.mark.django_db
def test_the_nightly_task_is_on_the_beat_schedule(settings):
    from duplicates import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["duplicates-nightly"]
    assert entry["task"] == tasks.nightly.name == "duplicates.tasks.nightly"
    assert tasks.nightly() == {"keys": 0, "orphans": 0, "candidates": 0, "removed": 0, "closed": 0}


@pytest.mark.django_db
def test_a_merge_announced_by_identity_closes_its_pairs_at_once(django_capture_on_commit_callbacks):
    from duplicates.receivers import close_pairs_after_a_merge
    from targets.signals import announce_records_written

    born = datetime.date(2015, 3, 15)
    generated.save([_child("1000000000011", "ธนากร", "ศรีสุข", born), _child("1000000000029", "ธนากร", "ศรีสุข", born)])
    finder.run()
    TargetRecord.objects.filter(identifier="1000000000029").delete()

    class MergeProposal:  # stands for identity.MergeProposal, the sender identity announces with
        class _meta:
            label = "identity.MergeProposal"

    with django_capture_on_commit_callbacks(execute=True):
        announce_records_written(sender=MergeProposal)
    assert DuplicateCandidate.objects.get().state == DuplicateCandidate.State.MERGED
    close_pairs_after_a_merge(sender=object())  # anything else: nothing to do


@pytest.mark.django_db
def test_a_night_rewrites_the_changed_keys_and_the_weekly_night_every_key():
    born = datetime.date(2015, 3, 15)
    generated.save([_child("1000000000011", "ธนากร", "ศรีสุข", born), _child("1000000000029", "สมชาย", "ใจดี", born)])
    finder.run(full=False)
    record = TargetRecord.objects.get(identifier="1000000000029")
    record.first_name, record.last_name = "ธนากร", "ศรีสุข"
    record.save()  # a new updated_at: the next night re-keys it
    counts = finder.run(full=False)
    assert counts["keys"] == 1
    assert counts["candidates"] == 1
    # A plain UPDATE that leaves updated_at: only the full refresh sees it.
    TargetRecord.objects.filter(pk=record.pk).update(first_name="สมชาย", last_name="ใจดี")
    assert finder.run(full=False)["candidates"] == 1
    counts = finder.run(full=True)
    assert counts["keys"] == 2
    assert counts["candidates"] == 0


@pytest.mark.django_db
def test_the_finders_planner_settings_are_put_back_after_its_question():
    """find_pairs plans its question without merge joins or JIT (duplicates.finder._PLANNER), for that question
    only: the connection's own settings are the same after it."""
    from django.db import connection

    def current() -> tuple:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_mergejoin'), current_setting('jit')")
            return cursor.fetchone()

    before = current()
    data = generated.generate(300, _districts(PROVINCE_A))
    generated.save(data.records)
    finder.refresh_keys()
    assert finder.find_pairs(PROVINCE_A)
    assert current() == before
    assert before[0] == "on"
