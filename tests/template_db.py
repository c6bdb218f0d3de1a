"""PostgreSQL test databases copied from one migrated template instead of each migrated anew.

Running every migration costs each xdist worker 25-40 s of Python (pgtrigger's triggers a third of
it), and then the reference data has to be loaded. Instead the first process to need it (under a
PostgreSQL advisory lock, so workers starting together build it once) migrates and loads the
reference data into a template database, and every test database is a `CREATE DATABASE ... TEMPLATE`
copy of it, which takes a second or two. The template's name ends in a hash of what shapes it (the
migrations, the reference data and its loaders, Django's version), so a change to any of them builds
a new template and the old ones are dropped; a template kept between runs is the point.

`--reuse-db` keeps a worker's database and takes it again if it was copied from the current template
(its COMMENT names it); `--create-db` rebuilds the template too, once per run.
"""

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Everything the template's content depends on: the schema and the reference data with its loaders.
SOURCES = ("*/migrations/*.py", "*/reference_data.py", "provinces/data/**/*")


def fingerprint() -> str:
    import django

    digest = hashlib.sha256(django.get_version().encode())
    paths = sorted({path for pattern in SOURCES for path in ROOT.glob(pattern) if path.is_file()})
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def template_prefix(name: str) -> str:
    return f"test_{name}_tmpl_"


def create_test_database(*, run_id: str, keepdb: bool, rebuild: bool, verbosity: int, load) -> str:
    """Point the default connection at a fresh copy of the template (built first if missing).

    `load()` fills the template once it is migrated (the reference data). `run_id` is the same in
    every xdist worker of one run, so `rebuild` (--create-db) rebuilds the template only once.
    Returns the name the connection had before (for destroy_test_db).
    """
    from django.conf import settings
    from django.db import connection

    quote = connection.ops.quote_name
    old_name = connection.settings_dict["NAME"]
    test_name = connection.creation._get_test_db_name()  # type: ignore[attr-defined]  # private, not in the stubs
    prefix = template_prefix(old_name)
    template = prefix + fingerprint()
    with connection._nodb_cursor() as cursor:
        # Held on this connection (to the 'postgres' database) until the copy is made, so another worker
        # waits for the template to be complete rather than copying or rebuilding it halfway.
        # Keyed by the templates' prefix: runs against other databases of the same server do not wait.
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [prefix])
        try:
            comments = _database_comments(cursor, prefix)
            built_by = comments.get(template)  # the run that built it; empty if that run failed halfway
            if not built_by or (rebuild and built_by != run_id):
                _build_template(connection, template, verbosity=verbosity, load=load)
                cursor.execute(f"COMMENT ON DATABASE {quote(template)} IS %s", [run_id])
            for stale in comments.keys() - {template}:
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(stale)}")
            if not (keepdb and _database_comments(cursor, test_name).get(test_name) == template):
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(test_name)}")
                cursor.execute(f"CREATE DATABASE {quote(test_name)} TEMPLATE {quote(template)}")
                cursor.execute(f"COMMENT ON DATABASE {quote(test_name)} IS %s", [template])
        finally:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [prefix])
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = test_name
    connection.settings_dict["NAME"] = test_name
    return old_name


def _database_comments(cursor, prefix: str) -> dict[str, str]:
    """{name: comment} of the databases whose name starts with `prefix`."""
    cursor.execute(
        "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database"
        " WHERE starts_with(datname, %s)",
        [prefix],
    )
    return dict(cursor.fetchall())


def _build_template(connection, template: str, *, verbosity: int, load) -> None:
    """Migrate a new database named `template` and load() into it; Django's own test database creation
    does the migrating (and drops an unfinished template a failed run left)."""
    from django.conf import settings

    old_name = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict["TEST"]
    test_name = test_settings.get("NAME")
    test_settings["NAME"] = template
    try:
        connection.creation.create_test_db(verbosity=verbosity, autoclobber=True, serialize=False)
        load()
    finally:
        connection.close()  # nobody may be connected to a template that is copied
        test_settings["NAME"] = test_name
        settings.DATABASES[connection.alias]["NAME"] = old_name
        connection.settings_dict["NAME"] = old_name
