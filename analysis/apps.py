from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalysisConfig(AppConfig):
    """De-identified analysis sets for university teams (README.md, "Analysis sets (de-identified)"): the request,
    its build (a Celery task over pandas), its pages and its one download. Above targets and cases, which it reads;
    nothing below imports it."""

    name = "analysis"
    verbose_name = _("Analysis sets")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import retention

        from . import policies
        from .services import prune

        policies.register_rules()
        # The nightly retention job (audit.retention) ends stuck sets and deletes downloaded sets' files.
        retention.register("analysis", _("analysis sets: stuck builds and downloaded files"), prune, atomic=False)
