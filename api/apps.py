from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The partner REST API (/api/v1/): docs/api.md."""

    name = "api"
    verbose_name = _("Partner API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # drf-spectacular finds the API-key scheme of the schema through this import.
        from . import policies, retention, schema  # noqa: F401

        policies.register_rules()
        retention.register()

        from exports.registry import register_key_resolver

        from .authentication import principal_for_prefix

        # An export asked for by a key runs later with the key's scope, or not at all once it is revoked.
        register_key_resolver(principal_for_prefix)
