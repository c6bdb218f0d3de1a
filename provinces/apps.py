from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvincesConfig(AppConfig):
    name = "provinces"
    verbose_name = _("Provinces and areas")

    def ready(self) -> None:
        from . import policies

        policies.register_rules()
