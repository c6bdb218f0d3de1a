"""Access-matrix rows of the exports (exports/: the pages of export jobs, and the API's export resource).

A job is seen by the one who asked for it and by nobody else: the EEF admin and province B's other readers get
404 for coordinator B's job, as for a job that does not exist. The list of one's exports is everyone's own (an
empty list for those who asked for nothing). The job is coordinator B's records export, made and run through the
services once per matrix run.
"""

from tests.matrix import Case, signed_in

V1 = "/api/v1"
ASKER_ONLY = signed_in(404, coordinator_b=200)
API_ASKER_ONLY = signed_in(404, anonymous=401, no_role=403, coordinator_b=200)


def _b_job(ctx: dict):
    if "exports.job" not in ctx:
        from django.test import TestCase

        from exports import services

        with TestCase.captureOnCommitCallbacks(execute=False):
            job = services.start_export(principal=ctx["cast"].coordinator_b, kind="targets.records", file_format="csv")
        services.run_export(job_id=job.pk)
        ctx["exports.job"] = job
    return ctx["exports.job"]


def _job_url(prefix: str, suffix: str = ""):
    return lambda ctx: f"{prefix}/exports/{_b_job(ctx).pk}/{suffix}"


ROWS = {
    "exports/": [Case("/exports/", signed_in(200))],
    "exports/<int:pk>/": [Case(_job_url(""), ASKER_ONLY)],
    "exports/<int:pk>/progress/": [Case(_job_url("", "progress/"), ASKER_ONLY)],
    "exports/<int:pk>/download/": [Case(_job_url("", "download/"), ASKER_ONLY)],
    "api/v1/exports/": [
        Case(f"{V1}/exports/", signed_in(200, anonymous=401, no_role=403)),
        Case(f"{V1}/exports/", signed_in(400, anonymous=401, no_role=403), method="post"),
    ],
    "api/v1/exports/<int:pk>/": [Case(_job_url(V1), API_ASKER_ONLY)],
    "api/v1/exports/<int:pk>/download/": [Case(_job_url(V1, "download/"), API_ASKER_ONLY)],
}
