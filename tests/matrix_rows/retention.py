"""Access-matrix rows of the retention runs' admin (audit.RetentionRun): read-only, EEF/IPSR admins only.

The run is made on first use and kept in ctx (as tests/matrix_rows/summaries.py does its objects).
"""

from tests.matrix import ADMIN_KINDS, REDIRECT, Case, admin

LABEL = "audit.retentionrun"


def _run(ctx: dict):
    if LABEL not in ctx:
        from django.utils import timezone

        from audit.models import RetentionRun

        now = timezone.now()
        ctx[LABEL] = RetentionRun.objects.create(
            started_at=now,
            finished_at=now,
            source="manage.py prune",
            results={"access_log": {"label": "access log", "count": 3, "files": ["retention/a.csv.gz"], "error": ""}},
            total=3,
        )
    return ctx[LABEL]


def _admin_rows(kind: str) -> dict[str, list[Case]]:
    app, model = LABEL.split(".")
    base = f"admin/{app}/{model}/"
    expected = ADMIN_KINDS[kind]

    def obj_url(suffix: str):
        def url(ctx: dict) -> str:
            return f"/{base}{_run(ctx).pk}/{suffix}"

        return url

    return {
        base: [Case(f"/{base}", admin(*expected["changelist"]))],
        f"{base}add/": [Case(f"/{base}add/", admin(*expected["add"]))],
        f"{base}<path:object_id>/change/": [Case(obj_url("change/"), admin(*expected["change"]))],
        f"{base}<path:object_id>/history/": [Case(obj_url("history/"), admin(*expected["history"]))],
        f"{base}<path:object_id>/delete/": [Case(obj_url("delete/"), admin(*expected["delete"]))],
        f"{base}<path:object_id>/": [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))],
    }


ROWS = _admin_rows("national_read_only")
