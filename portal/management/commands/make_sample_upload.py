from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo.records import SAMPLE_PROVINCE, write_sample_upload
from provinces.models import District


class Command(BaseCommand):
    help = (
        "Write the sample upload file (docs/sample-upload.xlsx): about 50 rows for ขอนแก่น that show every "
        "bucket of an upload's check once the demo records are loaded. See docs/README-sample.md."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "docs" / "sample-upload.xlsx"))

    def handle(self, *args, output: str, **options) -> None:
        if not District.objects.filter(province_id=SAMPLE_PROVINCE).exists():
            raise CommandError("Load the reference data first: python manage.py load_reference_data")
        path = write_sample_upload(output)
        self.stdout.write(self.style.SUCCESS(f"Sample upload written to {path}"))
