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
