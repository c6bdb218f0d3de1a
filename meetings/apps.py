from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeetingsConfig(AppConfig):
    name = "meetings"
    verbose_name = _("Meetings")

    def ready(self) -> None:
        from . import policies

        policies.register_rules()

        from .export_jobs import register_export_kind

        # The minutes as background jobs (exports/, README.md "Exports").
        register_export_kind()
