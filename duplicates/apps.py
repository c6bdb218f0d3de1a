from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DuplicatesConfig(AppConfig):
    """Probable duplicates among records without matching identifiers (README.md, "One child, one record"):
    the finder (normalised Thai names, pg_trgm similarity with blocking), the nightly job, the review queue."""

    name = "duplicates"
    verbose_name = _("Probable duplicates")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import policies

        policies.register_rules()

        from targets.upload import hooks

        from .upload import warn_about_rows

        hooks.register_row_warnings(warn_about_rows)

        from targets.signals import records_written

        from .receivers import close_pairs_after_a_merge

        records_written.connect(close_pairs_after_a_merge, dispatch_uid="duplicates.close_pairs_after_a_merge")
