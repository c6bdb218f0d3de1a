"""A GIN trigram index on the school, for the records list's school filter at millions of rows (README.md, "The
records list at scale"): `school LIKE '%...%'` (ILIKE for a word with case, targets/name_search.text_contains), as
the name search. Built CONCURRENTLY, as 0009's: reads and writes go on while it builds. PostgreSQL only."""

from django.db import migrations

NAME = "target_record_school_trgm"


class SchoolIndex(migrations.operations.base.Operation):
    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON targets_targetrecord USING gin (school gin_trgm_ops)"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")

    def describe(self):
        return "Trigram index for the school filter (PostgreSQL only)"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("targets", "0011_record_alias"),
    ]

    operations = [SchoolIndex()]
