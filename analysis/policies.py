"""Who may ask for an analysis set, and of which provinces: the analysis app's rules, registered with the door
(accounts.access).

- A university team's members (lead or member) and EEF/IPSR admins ask for sets; coordinators, viewers, case
  workers and agency users do not (their work is named children, not analysis).
- A set covers provinces the asker reads: EEF/IPSR any province, a team member the provinces their university
  supports.
- A set is seen and downloaded by the one who asked for it only (AnalysisSetRequestQuerySet.visible_to).
"""

from accounts.access import register


def _code(province) -> int:
    return getattr(province, "pk", province)


def register_rules() -> None:
    register("analysis.request", lambda user, scope, obj: scope.national or bool(scope.universities))
    # obj: the province (or its code).
    register(
        "analysis.province",
        lambda user, scope, province: (
            scope.national or (bool(scope.universities) and scope.can_read_province(_code(province)))
        ),
    )
