"""Who may do what in case follow-up: the cases app's rules, registered with the door (accounts.access).

- A case, its contacts and plan go with the record: whoever reads the record reads them (the province's
  readers, and the record's case worker); whoever may log work on it ("targets.work_on": the province's
  coordinators and the record's case worker) writes them.
- A referral is read by the referring side (as its case) and by the agency it was sent to (agency
  users of that agency). The agency answers it; the province's coordinators may answer for an agency
  that has no users in the portal. An agency user sees the child's full identifier only when the
  referral shares it.
- The agency directory is read by everyone working in the province and kept by its coordinators.
"""

from typing import Any

from django.db.models import Q

from accounts.access import QS, Principal, Scope, register, register_queryset


def _case_rows(scope: Scope, *, prefix: str) -> Q | None:
    """The condition for rows of cases the scope reads (None: none at all)."""
    condition = Q()
    if scope.readable_provinces:
        condition |= Q(**{f"{prefix}province_id__in": scope.readable_provinces})
    if scope.case_provinces and scope.user_id is not None:
        condition |= Q(
            **{f"{prefix}record__case_worker_id": scope.user_id, f"{prefix}province_id__in": scope.case_provinces}
        )
    return condition or None


def _scoped(queryset: QS, scope: Scope, *, prefix: str, agency_path: str | None = None) -> QS:
    if scope.national:
        return queryset
    condition = _case_rows(scope, prefix=prefix)
    if agency_path is not None and scope.agencies:
        agencies = Q(**{f"{agency_path}__in": scope.agencies})
        condition = agencies if condition is None else condition | agencies
    return queryset.filter(condition) if condition is not None else queryset.none()


def _cases(queryset: QS, user: Principal, scope: Scope) -> QS:
    return _scoped(queryset, scope, prefix="")


def _case_parts(queryset: QS, user: Principal, scope: Scope) -> QS:
    return _scoped(queryset, scope, prefix="case__")


def _referrals(queryset: QS, user: Principal, scope: Scope) -> QS:
    return _scoped(queryset, scope, prefix="case__", agency_path="agency_id")


def _agencies(queryset: QS, user: Principal, scope: Scope) -> QS:
    if scope.national:
        return queryset
    codes = scope.readable_provinces | scope.case_provinces | scope.agency_provinces
    return queryset.filter(province_id__in=codes) if codes else queryset.none()


def _coordinated(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Rows of the provinces the user coordinates (all for EEF/IPSR admins): the agency directory they keep,
    the cases of their inbox."""
    if scope.national:
        return queryset
    codes = scope.writable_provinces
    return queryset.filter(province_id__in=codes) if codes else queryset.none()


def _answers(user: Principal | None, scope: Scope, referral: Any) -> bool:
    """The agency's side of a referral: its users, or the province's coordinators on its behalf."""
    return (
        scope.national or referral.agency_id in scope.agencies or scope.can_write_province(referral.agency.province_id)
    )


def _is_agency_side(user: Principal | None, scope: Scope, referral: Any) -> bool:
    return referral.agency_id in scope.agencies


def _reads_referral_identifier(user: Principal | None, scope: Scope, referral: Any) -> bool:
    """The child's full identifier on a referral: those who may read it anyway, and the agency's users
    when the referral shares it."""
    if scope.can_read_identifiers(referral.case.province_id):
        return True
    return referral.share_identifier and referral.agency_id in scope.agencies


def _has_inbox(user: Principal | None, scope: Scope, obj: Any) -> bool:
    """My work: case workers, agency users, coordinators and EEF/IPSR admins."""
    return scope.national or bool(scope.case_provinces or scope.agencies or scope.writable_provinces)


def _code(province: Any) -> int:
    code: int = getattr(province, "pk", province)
    return code


def _agency_referrals(queryset: QS, user: Principal, scope: Scope) -> QS:
    """Referrals sent to the agencies the user acts for (an agency user's side, never the referring side)."""
    return queryset.filter(agency_id__in=scope.agencies) if scope.agencies else queryset.none()


def _reads_case(user: Principal | None, scope: Scope, case: Any) -> bool:
    """One case (its record loaded), as "cases.cases" filters a list: for the daily digest, which asks per item."""
    if scope.national or scope.can_read_province(case.province_id):
        return True
    return (
        scope.user_id is not None
        and case.record.case_worker_id == scope.user_id
        and scope.works_cases_in(case.province_id)
    )


def _reads_referral(user: Principal | None, scope: Scope, referral: Any) -> bool:
    """One referral (its case and record loaded), as "cases.referrals" filters a list."""
    return referral.agency_id in scope.agencies or _reads_case(user, scope, referral.case)


def register_rules() -> None:
    register_queryset("cases.coordinated_cases", _coordinated)
    register_queryset("cases.agency_referrals", _agency_referrals)
    # Whose inbox lists cases: a province's coordinators (and EEF/IPSR), or case workers (their own).
    register("cases.coordinates_cases", lambda user, scope, obj: scope.national or bool(scope.writable_provinces))
    register("cases.works_cases", lambda user, scope, obj: bool(scope.case_provinces))
    register_queryset("cases.cases", _cases)
    register_queryset("cases.contacts", _case_parts)
    register_queryset("cases.plan_steps", _case_parts)
    register_queryset("cases.referrals", _referrals)
    register_queryset("cases.agencies", _agencies)
    register_queryset("cases.agencies_write", _coordinated)
    register("cases.answer_referral", _answers)
    register("cases.is_agency_side", _is_agency_side)
    register("cases.read_referral_identifier", _reads_referral_identifier)
    register("cases.inbox", _has_inbox)
    register("cases.read_case", _reads_case)
    register("cases.read_referral", _reads_referral)
    # The agency directory of a province (obj: the province or its code).
    register("cases.manage_agencies", lambda user, scope, province: scope.can_write_province(_code(province)))
    # Whether the records list has anything for the user (the header's "Records" link): the same provinces
    # as targets.record_provinces, so agency users, who read no record, do not get the link.
    register(
        "cases.reads_records",
        lambda user, scope, obj: scope.national or bool(scope.readable_provinces or scope.case_provinces),
    )
    # Who gets the weekly digest of their provinces (the provinces' coordinators) and the monthly one of the
    # provinces side by side (EEF/IPSR and the university teams): digests/, and the toggles on the
    # notifications page, where EmailPreference is kept.
    register("cases.weekly_digest", lambda user, scope, obj: bool(scope.writable_provinces))
    register("cases.monthly_digest", lambda user, scope, obj: scope.national or bool(scope.universities))
    # Users of any agency (the agency pages: their referrals, the children referred to them).
    register("cases.agency_user", lambda user, scope, obj: bool(scope.agencies))
