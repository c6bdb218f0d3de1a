"""Who reads the data-quality pages: the quality app's rules, registered with the door (accounts.access).

A province's quality page lists its records with issues, so it is for those who read the province's records
(targets.read: the province's coordinators and viewers, the university teams that support it, EEF/IPSR); case
workers and agency users read no province as a whole. The rule settings are EEF/IPSR's (quality.admin)."""

from accounts.access import register, register_queryset


def _code(province) -> int:
    return getattr(province, "pk", province)


def register_rules() -> None:
    # One province's quality page, its lists of records and its xlsx (obj: the province or its code).
    register("quality.read", lambda user, scope, province: scope.can_read_province(_code(province)))
    # The rule settings in admin.
    register("quality.configure", lambda user, scope, obj: scope.national)
    register_queryset("quality.settings", lambda qs, user, scope: qs if scope.national else qs.none())
