from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TargetsConfig(AppConfig):
    name = "targets"
    verbose_name = _("Targets")

    def ready(self) -> None:
        from . import checks, name_search, policies  # noqa: F401 - checks registers itself
        from .upload import retention

        policies.register_rules()
        name_search.register_lookups()
        retention.register()

        from .exports import register_export_kind

        # The records export as a background job (exports/, README.md "Exports").
        register_export_kind()
