from django.core.management.base import BaseCommand

from audit.tracking import context as audit_context
from core.buddhist_dates import current_fiscal_year
from summaries.models import SummaryRun
from summaries.services import run_summary


class Command(BaseCommand):
    help = "Compute the progress summaries now, without Celery (the same code as the nightly task)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fiscal-year", type=int, default=None, help="B.E. fiscal year (default: the current one)")

    def handle(self, *args, **options) -> None:
        with audit_context(command="summarize"):
            run = SummaryRun.objects.create(
                fiscal_year=options["fiscal_year"] or current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND
            )
            run = run_summary(run_id=run.pk)
        self.stdout.write(
            f"Summary of fiscal year {run.fiscal_year}: {run.snapshots.count()} snapshots in {run.duration_ms} ms, "
            f"{run.query_count} queries."
        )
