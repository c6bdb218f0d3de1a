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
        from . import policies

        policies.register_rules()
