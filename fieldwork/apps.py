from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FieldworkConfig(AppConfig):
    """The field app (/field/): an installable web app for case workers' home visits, offline (README.md)."""

    name = "fieldwork"
    verbose_name = _("Field app")

    def ready(self) -> None:
        from . import policies

        policies.register_rules()
