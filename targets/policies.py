"""Who may read, write and see in full the target-group records: the targets app's rules, registered
with the door (accounts.access). obj is the record's province (or its code) where a rule takes one,
the record itself for the rules about one child ("targets.work_on").

Writing is for the province's coordinators and EEF/IPSR admins. Full national IDs (unmasked) are for
the same people, who enter them; everyone else sees x-xxxx-xxxxx-12-1 (PDPA). Reading a province
also covers answers about identifiers recorded there (targets.id_probes).

A case worker (ผู้ดูแลรายกรณี) reads no province: only the records assigned to them in the provinces
where they hold the role, and on those they log the work (status, help given, contacts: "targets.work_on").
A province may also let its case workers read (never change) every record of their area (provinces.CaseSettings).
"""

from typing import Any

from django.db.models import Q

from accounts.access import QS, Principal, Scope, register, register_queryset
from accounts.models import CASE_ROLES


def _code(province) -> int:
    return getattr(province, "pk", province)


def _creates(user: Principal | None, scope: Scope, obj) -> bool:
    return scope.national or bool(scope.writable_provinces)


def _rows(queryset: QS, scope: Scope, *, prefix: str) -> QS:
    """Rows of records the scope reads: its provinces', and a case worker's assigned ones."""
    if scope.national:
        return queryset
    condition = Q()
    if scope.readable_provinces:
        condition |= Q(**{f"{prefix}province_id__in": scope.readable_provinces})
    if scope.case_provinces and scope.user_id is not None:
        condition |= Q(**{f"{prefix}case_worker_id": scope.user_id, f"{prefix}province_id__in": scope.case_provinces})
        # What the province allows (provinces.CaseSettings): reading, never changing, the worker's whole area.
        allows = Q(**{f"{prefix}province__case_settings__case_workers_read_area": True})
        if scope.case_whole_provinces:
            condition |= allows & Q(**{f"{prefix}province_id__in": scope.case_whole_provinces})
        if scope.case_districts:
            condition |= allows & Q(
                **{f"{prefix}province_id__in": scope.case_provinces, f"{prefix}district_id__in": scope.case_districts}
            )
    return queryset.filter(condition) if condition else queryset.none()


def _records(queryset: QS, user: Principal, scope: Scope) -> QS:
    return _rows(queryset, scope, prefix="")


def _record_parts(queryset: QS, user: Principal, scope: Scope) -> QS:
    return _rows(queryset, scope, prefix="record__")


def _record_provinces(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Provinces whose records (some or all) the user reads: the records list's choice of province."""
    if scope.national:
        return queryset
    codes = scope.readable_provinces | scope.case_provinces
    return queryset.filter(pk__in=codes) if codes else queryset.none()


def _is_assigned_worker(user: Principal | None, scope: Scope, record: Any) -> bool:
    """The record's own case worker, while they hold the role in its province."""
    return (
        scope.user_id is not None
        and record.case_worker_id == scope.user_id
        and scope.works_cases_in(record.province_id)
    )


def _works_on(user: Principal | None, scope: Scope, record: Any) -> bool:
    """Log the work on one child: status, help given, contacts. The province's coordinators, and the
    case worker the record is assigned to."""
    return scope.can_write_province(record.province_id) or _is_assigned_worker(user, scope, record)


def _may_take(user: Principal | None, scope: Scope, pair: Any) -> bool:
    """Whether the case worker whose scope this is may be given a record at (province, district)."""
    province, district = pair
    return scope.works_in_district(province, district)


def _reports_found(user: Principal | None, scope: Scope, pair: Any) -> bool:
    """A case worker notes a child they found: a new record of (province code, district code or None), in a
    province where they hold the role and, when their role is limited to districts, in one of those."""
    province, district = pair
    return scope.works_in_district(_code(province), getattr(district, "pk", district))


def _found_provinces(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Provinces where the user may note a newly found child (targets.report_found): their case-worker provinces."""
    return queryset.filter(pk__in=scope.case_provinces) if scope.case_provinces else queryset.none()


def _found_districts(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Districts where the user may note a newly found child: every district of a province where their role is not
    limited, and the districts it is limited to elsewhere."""
    condition = Q()
    if scope.case_whole_provinces:
        condition |= Q(province_id__in=scope.case_whole_provinces)
    if scope.case_districts:
        condition |= Q(province_id__in=scope.case_provinces, pk__in=scope.case_districts)
    return queryset.filter(condition) if condition else queryset.none()


def register_rules() -> None:
    register("targets.read", lambda user, scope, province: scope.can_read_province(_code(province)))
    register("targets.write", lambda user, scope, province: scope.can_write_province(_code(province)))
    register("targets.create", _creates)
    register("targets.upload", _creates)
    # The blank upload template: anyone with a role but case workers and agency users, who upload nothing.
    register("targets.upload_template", lambda user, scope, obj: scope.national or bool(scope.roles - CASE_ROLES))
    register("targets.read_identifiers", lambda user, scope, province: scope.can_read_identifiers(_code(province)))
    # The identifier is the person's key across the country: changing it (or the province) is EEF/IPSR's.
    register("targets.move", lambda user, scope, obj: scope.national)
    register("targets.delete", lambda user, scope, obj: scope.national)
    register("targets.read_history", lambda user, scope, obj: scope.national and user is not None and user.is_staff)
    register("targets.work_on", _works_on)
    # The record's own case worker (their inbox and pages say "mine").
    register("targets.is_assigned_worker", _is_assigned_worker)
    # Asked of the case worker's own scope: may they be given a record at (province code, district code)?
    register("targets.may_take_case", _may_take)
    # A case worker's newly found child (the field app): a new record assigned to them, where they work.
    register("targets.report_found", _reports_found)
    # Assigning records to case workers: the province's coordinators and EEF/IPSR admins.
    register("targets.assign", lambda user, scope, province: scope.can_write_province(_code(province)))
    register("targets.assign_any", _creates)
    register_queryset("targets.records", _records)
    register_queryset("targets.record_parts", _record_parts)
    register_queryset("targets.record_provinces", _record_provinces)
    register_queryset("targets.found_provinces", _found_provinces)
    register_queryset("targets.found_districts", _found_districts)
