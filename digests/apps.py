from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DigestsConfig(AppConfig):
    """The weekly and monthly digest emails (README.md, "Digests"): a coordinator's week in their provinces, and
    the provinces side by side for EEF and the university teams. Reads quality, cases, meetings, reports and
    summaries through their doors; beside portal and api in the top domain layer, nothing imports it."""

    name = "digests"
    verbose_name = _("Digests")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import retention

        retention.register()
