"""Who may manage a province's working group and plans: the provinces app's rules, registered with the
door (accounts.access). Reading a province is the door's own rule (Province.objects.visible_to)."""

from accounts.access import Principal, Scope, register


def _may_manage(user: Principal | None, scope: Scope, province) -> bool:
    """obj: the province (or its code). Its coordinators and EEF/IPSR admins."""
    return scope.can_write_province(getattr(province, "pk", province))


def register_rules() -> None:
    register("provinces.manage", _may_manage)
