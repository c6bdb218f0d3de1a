from django.db import migrations, models


class CoveringKeyIndex(migrations.operations.base.Operation):
    """PostgreSQL only: the finder's covering index (a province's keys by sex and birth year, with every column
    its blocks compare, read without the table), in place of the unused GIN trigram index (the blocks compare
    names with similarity(), no index search by name) and the two plain block indexes. The model's state is
    unchanged: INCLUDE columns SQLite has no use for (the finder finds nothing there)."""

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("DROP INDEX IF EXISTS dup_key_name_trgm")
            schema_editor.execute(
                "CREATE INDEX IF NOT EXISTS dup_key_cover_idx ON duplicates_namekey (province_id, sex, birth_year) "
                "INCLUDE (record_id, district_id, birth_md, given_initial, family_initial, name)"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("DROP INDEX IF EXISTS dup_key_cover_idx")
            schema_editor.execute(
                "CREATE INDEX IF NOT EXISTS dup_key_name_trgm ON duplicates_namekey USING gin (name gin_trgm_ops)"
            )

    def describe(self):
        return "Covering index of the finder's blocks in place of the GIN trigram index (PostgreSQL only)"


class Migration(migrations.Migration):
    dependencies = [
        ("duplicates", "0002_duplicates_and_merges_tracked"),
    ]

    operations = [
        migrations.AddField(
            model_name="namekey",
            name="given_initial",
            field=models.CharField(blank=True, default="", max_length=1),
        ),
        migrations.AddField(
            model_name="namekey",
            name="family_initial",
            field=models.CharField(blank=True, default="", max_length=1),
        ),
        # The keys already written: the first letters of their normalised names (substr: PostgreSQL and SQLite).
        migrations.RunSQL(
            "UPDATE duplicates_namekey SET given_initial = substr(given, 1, 1), family_initial = substr(family, 1, 1)",
            migrations.RunSQL.noop,
        ),
        migrations.RemoveIndex(model_name="namekey", name="dup_key_year_idx"),
        migrations.RemoveIndex(model_name="namekey", name="dup_key_day_idx"),
        CoveringKeyIndex(),
    ]
