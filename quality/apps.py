from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    """Data-quality rules (README.md, "Data quality rules"): a registry of set-based checks over the records
    (quality.rules), switched on and off and given thresholds by EEF/IPSR admins (quality.models.RuleSetting), shown
    on each record's page and on each province's quality page. Reads targets, cases and duplicates; nothing below
    imports it (the record page loads its template tag, as it loads the case section's)."""

    name = "quality"
    verbose_name = _("Data quality")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import policies

        policies.register_rules()
