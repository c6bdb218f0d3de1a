from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Case follow-up")

    def ready(self) -> None:
        from . import policies, receivers  # noqa: F401  (receivers connect on import)

        policies.register_rules()
