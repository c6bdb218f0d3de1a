from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SummariesConfig(AppConfig):
    name = "summaries"
    verbose_name = _("Progress summaries")

    def ready(self) -> None:
        from . import policies

        policies.register_rules()
