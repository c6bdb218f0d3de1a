from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SummariesConfig(AppConfig):
    name = "summaries"
    verbose_name = _("Progress summaries")

    def ready(self) -> None:
        from . import policies

        policies.register_rules()

        from targets.signals import records_written

        from .services import summary_after_records_written

        # Records written (an applied upload, the API): one summary run a minute later, debounced.
        records_written.connect(summary_after_records_written, dispatch_uid="summaries.after_records_written")
