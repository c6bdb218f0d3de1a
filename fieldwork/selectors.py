"""What a case worker's device downloads (GET /field/api/my-cases/): their assigned children with the
minimum fields of a home visit, each read through the door (visible_to), in a fixed number of queries
whatever the number of children: the records with their case, areas and status (one query), the last
contacts of every case (one query, a window function), the open plan steps (one) and the open referrals
with their agency (one).

The identifier is masked (core.thai_id.mask_identifier) unless the worker's role may read it in full in
the record's province ("targets.read_identifiers"), as on the records list.
"""

import datetime
from collections import defaultdict
from typing import Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts.access import Principal, can, restrict
from cases.models import Contact, ContactKind, PlanStep, Referral
from core.thai_id import format_identifier, mask_identifier
from provinces.models import District, Province, SubDistrict
from targets.models import AssistanceType, Category, Outcome, TargetRecord

LAST_CONTACTS = 3


def age_on(born: datetime.date | None, today: datetime.date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _name(obj: Any) -> str | None:
    return None if obj is None else str(getattr(obj, "name", obj))


def _when(value: datetime.datetime | datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def assigned_records(user: Principal) -> list[TargetRecord]:
    """The records assigned to the user that the door lets them read (never another worker's)."""
    return list(
        TargetRecord.objects.visible_to(user)
        .filter(case_worker_id=user.pk)
        .select_related("province", "district", "sub_district", "status", "case")
        .order_by("last_name", "first_name", "pk")
    )


def my_cases(user: Principal, *, today: datetime.date | None = None) -> list[dict[str, Any]]:
    today = today or timezone.localdate()
    records = assigned_records(user)
    ids = [record.pk for record in records]
    contacts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    steps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    referrals: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        last = (
            Contact.objects.visible_to(user)
            .filter(case_id__in=ids)
            .annotate(
                rank=Window(
                    RowNumber(), partition_by=[F("case_id")], order_by=[F("happened_at").desc(), F("pk").desc()]
                )
            )
            .filter(rank__lte=LAST_CONTACTS)
            .order_by("case_id", "-happened_at", "-pk")
        )
        for contact in last:
            contacts[contact.case_id].append(
                {
                    "id": contact.pk,
                    "kind": contact.kind,
                    "kind_label": contact.get_kind_display(),
                    "happened_at": _when(contact.happened_at),
                    "reached": contact.reached,
                    "findings": contact.findings,
                    "next_step": contact.next_step,
                    "next_due": _when(contact.next_due),
                }
            )
        open_steps = PlanStep.objects.visible_to(user).filter(case_id__in=ids, done_at__isnull=True)
        for step in open_steps.order_by("case_id", "due_on", "pk"):
            steps[step.case_id].append({"id": step.pk, "text": step.text, "due_on": _when(step.due_on)})
        open_referrals = Referral.objects.visible_to(user).filter(case_id__in=ids).open().select_related("agency")
        for referral in open_referrals.order_by("case_id", "deadline", "pk"):
            referrals[referral.case_id].append(
                {
                    "id": referral.pk,
                    "version": referral.version,
                    "agency": referral.agency.name,
                    "state": referral.state,
                    "state_label": referral.get_state_display(),
                    "deadline": _when(referral.deadline),
                }
            )
    full: dict[int, bool] = {}
    rows = []
    for record in records:
        if record.province_id not in full:
            full[record.province_id] = can(user, "targets.read_identifiers", record.province_id)
        case = getattr(record, "case", None)  # a record nobody has followed up yet has no case
        rows.append(
            {
                "id": record.pk,
                "version": record.version,
                "case_version": case.version if case is not None else None,
                "name": str(record),
                "age": age_on(record.birth_date, today),
                "sex": record.sex,
                "areas": {
                    "province": _name(record.province),
                    "district": _name(record.district),
                    "sub_district": _name(record.sub_district),
                },
                "status": {"code": record.status.code, "name": record.status.name},
                "identifier": (
                    format_identifier(record.identifier)
                    if full[record.province_id]
                    else mask_identifier(record.identifier)
                ),
                "identifier_full": full[record.province_id],
                "case_open": case is not None and case.is_open,
                "last_contact_at": _when(case.last_contact_at) if case is not None else None,
                "next_contact_due": _when(case.next_contact_due) if case is not None else None,
                "contacts": contacts.get(record.pk, []),
                "open_steps": steps.get(record.pk, []),
                "open_referrals": referrals.get(record.pk, []),
            }
        )
    return rows


def _coded(rows: Any) -> list[dict[str, Any]]:
    return [{"code": row.code, "name": row.name} for row in rows]


def choices(user: Principal) -> dict[str, Any]:
    """What the device's forms offer offline, in six queries whatever the numbers: the statuses in use, the types
    of contact, the types of help in use, the categories in use, and the areas where the worker may note a newly
    found child (the door's "targets.found_provinces" and "targets.found_districts": their case-worker provinces,
    only their districts where their role is limited to some), each district with its sub-districts."""
    provinces = list(restrict(Province.objects.all(), user, "targets.found_provinces").order_by("name_th"))
    districts: dict[int, list[District]] = defaultdict(list)
    subs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if provinces:
        found = restrict(District.objects.filter(province__in=provinces), user, "targets.found_districts")
        for district in found.order_by("name_th", "code"):
            districts[district.province_id].append(district)
        for sub in SubDistrict.objects.filter(district__in=found).order_by("name_th", "code"):
            subs[sub.district_id].append({"code": sub.code, "name": sub.name})
    return {
        "statuses": _coded(Outcome.objects.filter(is_active=True)),
        "contact_kinds": [{"code": value, "name": str(label)} for value, label in ContactKind.choices],
        "assistance_types": _coded(AssistanceType.objects.filter(is_active=True)),
        "categories": _coded(Category.objects.filter(is_active=True)),
        "provinces": [
            {
                "code": province.code,
                "name": province.name,
                "districts": [
                    {"code": d.code, "name": d.name, "sub_districts": subs.get(d.code, [])}
                    for d in districts.get(province.code, [])
                ],
            }
            for province in provinces
        ],
    }
