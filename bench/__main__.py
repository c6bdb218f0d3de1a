"""`make bench`: the portal's benchmarks. Each prints rows/s or ms and query counts.

They run against the database DATABASE_URL names (PostgreSQL for figures worth quoting), in a
scratch test database created for the run and dropped after it, so real data is never touched.

`python -m bench scale` is apart: the national dataset in a database kept between runs, and the load test
on it (bench/scale.py; not part of `make bench`).

Usage: python -m bench [--keep] [--records N] [name ...]
--keep: the scratch database is <name>_bench, kept after the run and reused by the next (bench/lists.py
builds its 3,000,000 records once); without it the scratch database is a new one, dropped after the run.
--records N: how many records bench/duplicates.py generates (default BENCH_DUPLICATES_RECORDS, 300,000) and
bench/analysis.py (default BENCH_ANALYSIS_RECORDS, 1,000,000).
"""

import os
import sys

import django


def main(argv: list[str]) -> None:
    if argv[:1] == ["scale"]:  # its own kept database, not a scratch one (bench/scale.py)
        from bench import scale

        scale.main(argv[1:])
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "abe_portal.settings")
    django.setup()
    from django.db import connection

    from bench import (
        analysis,
        api,
        cases,
        cohorts,
        duplicates,
        exports,
        fieldwork,
        hostile,
        lists,
        outage,
        password_reset,
        quality,
        reference_data,
        request_writes,
        retention,
        storage,
        summaries,
        upload,
        upload_locks,
    )

    suites = {
        "reference_data": reference_data.run,
        "upload": upload.run,
        "upload_locks": upload_locks.run,  # two provinces' applies at once, in two processes
        "hostile": hostile.run,  # peak memory of hostile files beside a real one (child processes)
        "api": api.run,
        "outage": outage.run,
        "password_reset": password_reset.run,
        "summaries": summaries.run,  # it switches the connection to autocommit for VACUUM
        "cases": cases.run,  # after summaries: it empties the records' tables for its own 1,000,000
        "requests": request_writes.run,  # writes and ms per page view, before/after issue 15
        "retention": retention.run,  # the access log's prune over 1,000,000 rows
        "storage": storage.run,  # a 50 MB upload to moto's S3 server and back to a local file
        "exports": exports.run,  # a 1,000,000-row records export as a job (csv, xlsx) and the national PDF pack
        "lists": lists.run,  # the records list at 3,000,000 records (its own, after the others')
        "duplicates": duplicates.run,  # probable duplicates over generated records (its own, after lists)
        "quality": quality.run,  # every default data-quality rule over lists' 3,000,000 records (after duplicates)
        "cohorts": cohorts.run,  # the university dashboard's cohort view over 300,000 records (its own records)
        "analysis": analysis.run,  # an analysis set of 1,000,000 records (its own), built in a child process
        "fieldwork": fieldwork.run,  # the field app's sync of 200 queued changes to gunicorn on 127.0.0.1
    }
    if "--records" in argv:  # python -m bench duplicates --records 3000000 (bench/duplicates.py, bench/analysis.py)
        at = argv.index("--records")
        os.environ["BENCH_DUPLICATES_RECORDS"] = os.environ["BENCH_ANALYSIS_RECORDS"] = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
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
    # serialize=False: a kept database holds millions of rows, which the test runner's copy for rollback
    # emulation (no benchmark uses it) would read into memory first (minutes, gigabytes).
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep, serialize=False)
    try:
        for name in chosen:
            print(f"\n## {name}")
            suites[name]()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=keep)


if __name__ == "__main__":
    main(sys.argv[1:])
