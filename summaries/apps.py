from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SummariesConfig(AppConfig):
    name = "summaries"
    verbose_name = _("Progress summaries")

    def ready(self) -> None:
        from . import policies

        policies.register_rules()

        from .export_jobs import register_export_kind

        # Workbooks and PDF meeting packs as background jobs (exports/, README.md "Exports").
        register_export_kind()

        from meetings import figures as meeting_figures
        from targets.signals import records_written

        from .figures import province_snapshots_on
        from .services import summary_after_records_written

        # A meeting's page shows each presenting province's figures as of its day (the latest for today's).
        meeting_figures.register_reader(province_snapshots_on)
        # Records written (an applied upload, the API): one summary run a minute later, debounced.
        records_written.connect(summary_after_records_written, dispatch_uid="summaries.after_records_written")
