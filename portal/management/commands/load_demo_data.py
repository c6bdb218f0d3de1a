from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.tracking import context as audit_context
from core.buddhist_dates import current_fiscal_year
from portal.demo.provinces import (
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_PASSWORD,
    ensure_demo_admin,
    ensure_demo_users,
    load_demo_assignments,
)
from provinces.models import Province


class Command(BaseCommand):
    help = "Load the demo data set (idempotent). Everything it creates is marked as demo."

    def handle(self, *args, **options) -> None:
        with audit_context(command="load_demo_data"):
            self._handle()

    def _handle(self) -> None:
        if not Province.objects.exists():
            raise CommandError("Load the reference data first: python manage.py load_reference_data")
        created = load_demo_assignments()
        self.stdout.write(f"demo support assignments: {created} created")
        if settings.DEBUG:
            status = ensure_demo_admin()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo admin ({status}): {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}"
                    if status != "password changed"
                    else f"Demo admin: {DEMO_ADMIN_EMAIL} (its password was changed since it was created)"
                )
            )
            emails = ", ".join(ensure_demo_users())
            self.stdout.write(f"Demo users, one per role, same password: {emails}")
        else:
            self.stdout.write("DEBUG is off: no demo accounts are created (use createsuperuser).")
        # Each part of the programme adds its own demo rows (all idempotent, all marked is_demo).
        from portal.demo.meetings import load_demo_meetings
        from portal.demo.provincial_work import load_demo_provincial_work
        from portal.demo.reports import load_demo_reports
        from portal.demo.support import load_demo_support

        self.stdout.write(f"working groups and plans: {load_demo_provincial_work()}")
        self.stdout.write(f"support activities and capacity requests: {load_demo_support()}")
        self.stdout.write(f"progress reports: {load_demo_reports()} created")
        self.stdout.write(f"meetings: {load_demo_meetings()}")
        from portal.demo.records import load_demo_records

        self.stdout.write(f"target-group records: {load_demo_records()} created")
        from portal.demo.cases import load_demo_cases

        self.stdout.write(f"case follow-up: {load_demo_cases()} created")
        # Last: a progress summary over all of it, so that the dashboards have figures at once.
        from summaries.models import SummaryRun
        from summaries.services import run_summary

        run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
        run = run_summary(run_id=run.pk)
        self.stdout.write(f"progress summary: {run.snapshots.count()} snapshots in {run.duration_ms} ms")
        # And its history: earlier runs, so that a past meeting and a dashboard "as of" a day have their figures.
        from portal.demo.summaries import load_demo_summary_history

        self.stdout.write(f"earlier progress summaries: {load_demo_summary_history()} runs created")
