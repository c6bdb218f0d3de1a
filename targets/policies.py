"""Who may read, write and see in full the target-group records: the targets app's rules, registered
with the door (accounts.access). obj is the record's province (or its code) where a rule takes one.

Writing is for the province's coordinators and EEF/IPSR admins. Full national IDs (unmasked) are for
the same people, who enter them; everyone else sees x-xxxx-xxxxx-12-1 (PDPA). Reading a province
also covers answers about identifiers recorded there (targets.id_probes).
"""

from accounts.access import Principal, Scope, register


def _code(province) -> int:
    return getattr(province, "pk", province)


def _creates(user: Principal | None, scope: Scope, obj) -> bool:
    return scope.national or bool(scope.writable_provinces)


def register_rules() -> None:
    register("targets.read", lambda user, scope, province: scope.can_read_province(_code(province)))
    register("targets.write", lambda user, scope, province: scope.can_write_province(_code(province)))
    register("targets.create", _creates)
    register("targets.upload", _creates)
    register("targets.read_identifiers", lambda user, scope, province: scope.can_read_identifiers(_code(province)))
    # The identifier is the person's key across the country: changing it (or the province) is EEF/IPSR's.
    register("targets.move", lambda user, scope, obj: scope.national)
    register("targets.delete", lambda user, scope, obj: scope.national)
    register("targets.read_history", lambda user, scope, obj: scope.national and user is not None and user.is_staff)
