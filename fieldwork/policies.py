"""Who may use the field app: case workers (a case-worker role in some province). What they download is
only the records assigned to them, read through the door (targets.records, cases.*: fieldwork.selectors)."""

from accounts.access import QS, Principal, Scope, register, register_queryset


def _synced_changes(queryset: QS, user: Principal, scope: Scope) -> QS:
    """The sync's log of changes (admin, read only): EEF/IPSR admins', like the audit trail."""
    return queryset if scope.national else queryset.none()


def register_rules() -> None:
    register("fieldwork.use", lambda user, scope, obj: bool(scope.case_provinces))
    register_queryset("fieldwork.synced_changes", _synced_changes)
