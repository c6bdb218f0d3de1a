"""Other identifiers of a record (targets.RecordAlias), kept by identity merges (README.md, "Identity merges").

An identifier is a record's own or an alias, never both. The unique constraints hold each side; the triggers
below hold the pair, on PostgreSQL (SQLite, the embedded default, relies on the services' checks):
- an alias whose identifier is some record's own is refused (a row trigger: aliases are written one merge at
  a time);
- records written with an identifier that is an alias are refused: one statement-level check per INSERT or
  UPDATE statement over its transition table (an upload's COPY of 10,000 rows is one check, a hash join with
  the aliases, and none at all while no alias exists).
The checks see committed rows and the writer's own: writers of aliases take the upload pipeline's national
lock exclusively (targets.upload.pipeline.APPLY_LOCK_KEY, which every upload and API write holds shared), so
no concurrent writer slips between a check and its commit.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
CREATE FUNCTION targets_alias_not_an_identifier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM targets_targetrecord WHERE identifier = NEW.identifier) THEN
        RAISE EXCEPTION 'identifier % is a record''s own identifier: it cannot be an alias', NEW.identifier
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'record_alias_not_an_identifier';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER record_alias_not_an_identifier AFTER INSERT OR UPDATE OF identifier ON targets_recordalias
    FOR EACH ROW EXECUTE FUNCTION targets_alias_not_an_identifier();

CREATE FUNCTION targets_identifier_not_an_alias() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM targets_recordalias) THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM written JOIN targets_recordalias a ON a.identifier = written.identifier) THEN
        RAISE EXCEPTION 'an identifier written is another record''s alias'
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'target_record_identifier_not_an_alias';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER target_record_identifier_not_an_alias_ins AFTER INSERT ON targets_targetrecord
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION targets_identifier_not_an_alias();
CREATE TRIGGER target_record_identifier_not_an_alias_upd AFTER UPDATE ON targets_targetrecord
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION targets_identifier_not_an_alias();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS target_record_identifier_not_an_alias_ins ON targets_targetrecord;
DROP TRIGGER IF EXISTS target_record_identifier_not_an_alias_upd ON targets_targetrecord;
DROP FUNCTION IF EXISTS targets_identifier_not_an_alias();
DROP TRIGGER IF EXISTS record_alias_not_an_identifier ON targets_recordalias;
DROP FUNCTION IF EXISTS targets_alias_not_an_identifier();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no parameters: the % of RAISE stays itself

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("targets", "0010_upload_api_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordAlias",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("identifier", models.CharField(max_length=13, verbose_name="identifier")),
                (
                    "identifier_kind",
                    models.CharField(
                        choices=[("national_id", "national ID"), ("g_code", "G-code")],
                        max_length=12,
                        verbose_name="identifier kind",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("merge_id", models.PositiveBigIntegerField(blank=True, null=True, verbose_name="merge")),
                (
                    "record",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="aliases",
                        to="targets.targetrecord",
                        verbose_name="record",
                    ),
                ),
            ],
            options={
                "verbose_name": "other identifier",
                "verbose_name_plural": "other identifiers",
                "ordering": ["record", "identifier"],
                "constraints": [models.UniqueConstraint(fields=("identifier",), name="record_alias_identifier_unique")],
            },
        ),
        migrations.RunPython(_on_postgres(FORWARD), _on_postgres(BACKWARD)),
    ]
