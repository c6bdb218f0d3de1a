from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    """One record per person (README.md, "One child, one record"): merging a G-code record and a national-ID
    record of the same person, with the G-code kept as an alias, and its undo."""

    name = "identity"
    verbose_name = _("Identity merges")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import notices, policies

        policies.register_rules()
        notices.register()
