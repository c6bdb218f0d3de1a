"""The index the records list and changes feed page along: (updated_at, id) of target-group records.

It belongs to the API's keyset pagination (api/pagination.py): with it, a page costs the same at any
depth, even across 100,000 records an upload gave the same updated_at. It is created here, by the
API, on targets' table, because the records' schema (targets/models.py) is another slice's. Every
upload maintains it too: a 100,000-row csv of new records applied at about 23,800 rows/s with it
against 24,900 without (PostgreSQL 15, medians of 3, measured side by side). IF NOT EXISTS: a later
migration of targets may adopt it under the same name.
"""

from django.db import migrations

NAME = "target_record_feed_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("targets", "0003_alter_targetrecord_category_and_more"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON targets_targetrecord (updated_at, id)",
            reverse_sql=f"DROP INDEX IF EXISTS {NAME}",
        ),
    ]
