"""`make bench`: the portal's benchmarks. Each prints rows/s or ms and query counts.

They run against the database DATABASE_URL names (PostgreSQL for figures worth quoting), in a
scratch test database created for the run and dropped after it, so real data is never touched.
Usage: python -m bench [--keep] [name ...]
--keep: the scratch database is <name>_bench, kept after the run and reused by the next (bench/lists.py
builds its 3,000,000 records once); without it the scratch database is a new one, dropped after the run.
"""

import os
import sys

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "abe_portal.settings")
    django.setup()
    from django.db import connection

    from bench import api, cases, hostile, lists, outage, password_reset, reference_data, summaries, upload

    suites = {
        "reference_data": reference_data.run,
        "upload": upload.run,
        "hostile": hostile.run,  # peak memory of hostile files beside a real one (child processes)
        "api": api.run,
        "outage": outage.run,
        "password_reset": password_reset.run,
        "summaries": summaries.run,  # it switches the connection to autocommit for VACUUM
        "cases": cases.run,  # after summaries: it empties the records' tables for its own 1,000,000
        "lists": lists.run,  # the records list at 3,000,000 records (its own, after the others')
    }
    keep = "--keep" in argv
    argv = [a for a in argv if a != "--keep"]
    chosen = argv or list(suites)
    vendor = connection.vendor
    print(f"database: {vendor} ({connection.settings_dict['NAME']} -> scratch test database)")
    if vendor != "postgresql":
        print("note: figures on SQLite are for a quick look only; set DATABASE_URL to PostgreSQL to quote them")
    if keep:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{connection.settings_dict['NAME']}_bench"
        print(f"--keep: the scratch database {connection.settings_dict['TEST']['NAME']} is kept")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep)
    try:
        for name in chosen:
            print(f"\n## {name}")
            suites[name]()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=keep)


if __name__ == "__main__":
    main(sys.argv[1:])
