from django.core.management.base import BaseCommand
from django.db import transaction

from audit.tracking import context as audit_context
from provinces.reference_data import load_admin_areas
from universities.reference_data import load_universities


class Command(BaseCommand):
    help = "Load Thailand's regions, provinces, districts, sub-districts and the 8 universities (idempotent)."

    def handle(self, *args, **options) -> None:
        with audit_context(command="load_reference_data"):
            self._handle()

    def _handle(self) -> None:
        with transaction.atomic():
            results = load_admin_areas()
            results["universities"] = load_universities()
        for name, r in results.items():
            self.stdout.write(f"{name:14} created {r.created:5}  updated {r.updated:5}  unchanged {r.unchanged:5}")
        self.stdout.write(self.style.SUCCESS("Reference data is up to date."))
