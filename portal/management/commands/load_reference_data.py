from django.core.management.base import BaseCommand
from django.db import transaction

from audit.tracking import context as audit_context
from cases.reference_data import load_agency_types
from provinces.reference_data import load_admin_areas
from targets.reference_data import load_target_reference_data
from universities.reference_data import load_universities


class Command(BaseCommand):
    help = (
        "Load Thailand's regions, provinces, districts, sub-districts, the 8 universities and the default "
        "target-group categories and outcomes, and the agency types of case referrals (idempotent)."
    )

    def handle(self, *args, **options) -> None:
        with audit_context(command="load_reference_data"):
            self._handle()

    def _handle(self) -> None:
        with transaction.atomic():
            results = load_admin_areas()
            results["universities"] = load_universities()
            targets = load_target_reference_data()
            agency_types = load_agency_types()
        for name, r in results.items():
            self.stdout.write(f"{name:14} created {r.created:5}  updated {r.updated:5}  unchanged {r.unchanged:5}")
        self.stdout.write(
            f"target-group categories created {targets['categories']}, outcomes created {targets['outcomes']}, "
            f"agency types created {agency_types}"
        )
        self.stdout.write(self.style.SUCCESS("Reference data is up to date."))
