from django.core.management.base import BaseCommand, CommandError

from audit.retention import run
from audit.tracking import context


class Command(BaseCommand):
    help = "Prune what is past its retention period now (the same code as the nightly job; README.md, Retention)."

    def handle(self, *args, **options) -> None:
        with context(command="prune"):
            record = run(source="manage.py prune")
        if record is None:
            raise CommandError("Another retention run is under way; nothing was done.")
        for name, result in record.results.items():
            line = f"{name}: {result['count']} removed"
            if result["files"]:
                line += f" (archive: {', '.join(result['files'])})"
            if result["error"]:
                line += f"; FAILED: {result['error']}"
            self.stdout.write(line)
        if record.errors:
            raise CommandError(f"{record.errors} pruner(s) failed; see the run in admin (Audit → retention runs).")
