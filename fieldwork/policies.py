"""Who may use the field app: case workers (a case-worker role in some province). What they download is
only the records assigned to them, read through the door (targets.records, cases.*: fieldwork.selectors)."""

from accounts.access import register


def register_rules() -> None:
    register("fieldwork.use", lambda user, scope, obj: bool(scope.case_provinces))
