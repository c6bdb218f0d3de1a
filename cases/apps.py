from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Case follow-up")

    def ready(self) -> None:
        from . import policies, receivers  # noqa: F401  (receivers connect on import)

        policies.register_rules()

        from targets.upload import hooks

        from .upload import assign_from_upload

        hooks.register_after_apply(assign_from_upload)
