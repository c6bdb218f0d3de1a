"""Indexes for the records list at millions of rows (README.md, "The records list at scale").

PostgreSQL only; on SQLite (the embedded default) nothing happens, and the list works the same by scans.
- pg_trgm, and GIN trigram indexes on first_name and last_name: the name search
  (targets/name_search.py) is `first_name LIKE '%...%'` for a Thai word and `ILIKE` for a word with case,
  and one trigram index serves both. pg_trgm keeps a database's letters by its LC_CTYPE: Thai
  letters, vowels and tone marks are kept under C.UTF-8, en_US.UTF-8 or th_TH.UTF-8, and dropped under
  C/POSIX (`python manage.py check --database default` says so: targets.checks).
- The age sort (youngest first) within a province: (province_id, birth_date DESC NULLS LAST, id).
  The name sort and the "updated" sort use target_record_name_idx and target_record_recent_idx.

Built with CREATE INDEX CONCURRENTLY (so the migration does not run in a transaction): on a live table
of millions of rows, reads and writes go on while they build (minutes). If a build fails half-way,
PostgreSQL leaves an INVALID index: drop it (DROP INDEX name) and migrate again.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "target_record_first_name_trgm": "USING gin (first_name gin_trgm_ops)",
    "target_record_last_name_trgm": "USING gin (last_name gin_trgm_ops)",
    "target_record_age_idx": "(province_id, birth_date DESC NULLS LAST, id)",
}


class PostgresIndexes(migrations.operations.base.Operation):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, nothing elsewhere; the model's state is unchanged (the
    indexes are expressions and orderings SQLite has no use for)."""

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, definition in INDEXES.items():
            schema_editor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON targets_targetrecord {definition}"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")

    def describe(self):
        return "Trigram indexes for the name search and the age sort's index (PostgreSQL only)"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("targets", "0008_upload_file_pruned_at"),
    ]

    operations = [
        TrigramExtension(),
        PostgresIndexes(),
    ]
