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
        from targets.upload.hooks import register_key_account

        from .authentication import principal_for_prefix
        from .imports import upload_account

        # An export asked for by a key runs later with the key's scope, or not at all once it is revoked;
        # so does an upload's apply confirmed by a key (as the partner's service account carrying the scope).
        register_key_resolver(principal_for_prefix)
        register_key_account(upload_account)
