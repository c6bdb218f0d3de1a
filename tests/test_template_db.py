"""PostgreSQL test databases are copies of one migrated template (tests/template_db.py), which is rebuilt
when what shapes it changes."""

import pytest
from django.db import connection

from provinces.models import SubDistrict
from tests import template_db


def test_the_fingerprint_follows_migrations_and_reference_data_only(tmp_path, monkeypatch):
    monkeypatch.setattr(template_db, "ROOT", tmp_path)
    (tmp_path / "app" / "migrations").mkdir(parents=True)
    (tmp_path / "provinces" / "data" / "thai-admin").mkdir(parents=True)
    migration = tmp_path / "app" / "migrations" / "0001_initial.py"
    migration.write_text("operations = []\n")
    areas = tmp_path / "provinces" / "data" / "thai-admin" / "provinces.csv"
    areas.write_text("id,name\n")
    (tmp_path / "app" / "views.py").write_text("")
    first = template_db.fingerprint()

    (tmp_path / "app" / "views.py").write_text("changed = True\n")
    assert template_db.fingerprint() == first  # code that does not shape the database keeps the template
    migration.write_text("operations = ['AddField']\n")
    second = template_db.fingerprint()
    assert second != first
    (tmp_path / "app" / "migrations" / "0002_more.py").write_text("")
    third = template_db.fingerprint()
    assert third != second
    areas.write_text("id,name\n1,กรุงเทพมหานคร\n")
    assert template_db.fingerprint() != third


@pytest.mark.django_db
def test_the_test_database_is_a_copy_of_the_one_current_template():
    if connection.vendor != "postgresql":
        pytest.skip("templates are PostgreSQL's; SQLite test databases are migrated")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
        (template,) = cursor.fetchone()
        assert template.endswith("_tmpl_" + template_db.fingerprint())
        prefix = template.removesuffix(template_db.fingerprint())
        cursor.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE starts_with(datname, %s)",
            [prefix],
        )
        templates = dict(cursor.fetchall())
    assert list(templates) == [template]  # stale templates were dropped
    assert templates[template]  # the run that built it completed it
    assert SubDistrict.objects.count() > 7000  # the reference data came with the copy
