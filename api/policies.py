"""Who manages partners and their API keys: the API app's rule, registered with the door
(accounts.access). A key's own reach is its scope (api.authentication.principal_for)."""

from accounts.access import register


def register_rules() -> None:
    register("api.manage", lambda user, scope, obj: scope.national)
