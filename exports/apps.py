from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExportsConfig(AppConfig):
    """Exports as background jobs (README.md, "Exports"): the job, its task, its pages. Each app registers its
    kinds of export from its own AppConfig.ready (exports.registry), so this app imports none of them."""

    name = "exports"
    verbose_name = _("Exports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import retention

        from .services import prune_expired

        # The nightly retention job (audit.retention) deletes expired exports' files; the rows stay.
        retention.register("exports", _("expired export files"), prune_expired, atomic=False)
