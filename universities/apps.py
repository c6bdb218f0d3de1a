from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UniversitiesConfig(AppConfig):
    name = "universities"
    verbose_name = _("Universities and support")

    def ready(self) -> None:
        from . import policies

        policies.register_rules()
