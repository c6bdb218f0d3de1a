from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransfersConfig(AppConfig):
    """Moving a child's record to another province with both sides agreeing (README.md, "One child, one
    record"): the request, the holding province's answer, the move with its whole history, EEF's direct move."""

    name = "transfers"
    verbose_name = _("Transfers between provinces")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import notices, policies

        policies.register_rules()
        notices.register()
