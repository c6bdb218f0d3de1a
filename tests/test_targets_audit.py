"""Target-group records keep their audit trail even when written in bulk (statement-level triggers)."""

import pytest
from django.db import connection

from audit.models import TargetRecordEvent  # type: ignore[attr-defined]  # noqa: F401 - the event model is created by @track
from conftest import PROVINCE_A
from core.thai_id import check_digit
from targets.models import Category, Outcome, TargetRecord

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the audit trail is written by PostgreSQL triggers"),
]


def _record(n: int) -> TargetRecord:
    first = f"1{n:011d}"
    return TargetRecord(
        identifier=first + str(check_digit(first)),
        identifier_kind="national_id",
        first_name=f"ทดสอบ{n}",
        province_id=PROVINCE_A,
        category=Category.objects.get(code="out-of-school"),
        status=Outcome.objects.get(code="in-follow-up"),
    )


def test_bulk_insert_and_bulk_update_each_leave_one_event_per_changed_row():
    from django.apps import apps

    events = apps.get_model("audit", "TargetRecordEvent").objects
    TargetRecord.objects.bulk_create([_record(n) for n in range(50)])
    assert events.filter(pgh_label="insert").count() == 50

    # One statement changes 10 rows and leaves 40 as they were: 10 update events, with the new values.
    TargetRecord.objects.filter(first_name__in=[f"ทดสอบ{n}" for n in range(10)]).update(school="โรงเรียนบ้านหนองบัว")
    TargetRecord.objects.filter(first_name__in=[f"ทดสอบ{n}" for n in range(10, 50)]).update(school="")
    updates = events.filter(pgh_label="update")
    assert updates.count() == 10
    assert set(updates.values_list("school", flat=True)) == {"โรงเรียนบ้านหนองบัว"}

    TargetRecord.objects.filter(first_name="ทดสอบ0").delete()
    assert events.filter(pgh_label="delete").count() == 1
