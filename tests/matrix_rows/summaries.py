"""Access-matrix rows of the dashboards (summaries/urls.py) and the summaries' admin.

The figures are province B's (พะเยา, led by UP): one summary is computed on first use, over the
matrix's objects (tests.matrix.province_b_work), and kept in ctx. Who sees B's dashboard and its
exports: the EEF admin and coordinator B; KKU's member, coordinator A and viewer A get 404, as for a
province that does not exist. The national dashboard is the EEF admin's; it sends everyone else with
a role to their own dashboard (a redirect) and refuses someone without one (403), as it does A's case
worker and agency user, who have no dashboard (they read no province as a whole). UP's dashboard is
for EEF and UP's team (nobody of the cast); KKU's for EEF and KKU's member.

The admin rows are built here (not through ADMIN_MODELS) because their objects, the run and B's
snapshot, are made on first use: the generated rows look their object up in ctx["objects"].
"""

from tests.matrix import ADMIN_KINDS, REDIRECT, Case, admin, case_members, everyone, signed_in

B = 56


def _summary(ctx: dict):
    """B's snapshot of a summary computed once per matrix run."""
    if "summaries.snapshot" not in ctx:
        from core.buddhist_dates import current_fiscal_year
        from summaries.models import Level, SummaryRun
        from summaries.services import run_summary

        run = SummaryRun.objects.create(fiscal_year=current_fiscal_year(), trigger=SummaryRun.Trigger.COMMAND)
        run = run_summary(run_id=run.pk)
        ctx["summaries.summaryrun"] = run
        ctx["summaries.snapshot"] = run.snapshots.get(level=Level.PROVINCE, province_id=B)
    return ctx["summaries.snapshot"]


def _with_summary(url: str):
    def build(ctx: dict) -> str:
        _summary(ctx)
        return url

    return build


def _admin_rows(label: str, kind: str) -> dict[str, list[Case]]:
    app, model = label.split(".")
    base = f"admin/{app}/{model}/"
    expected = ADMIN_KINDS[kind]

    def obj_url(suffix: str):
        def url(ctx: dict) -> str:
            _summary(ctx)
            return f"/{base}{ctx[label].pk}/{suffix}"

        return url

    return {
        base: [Case(f"/{base}", admin(*expected["changelist"]))],
        f"{base}add/": [Case(f"/{base}add/", admin(*expected["add"]))],
        f"{base}<path:object_id>/change/": [Case(obj_url("change/"), admin(*expected["change"]))],
        f"{base}<path:object_id>/history/": [Case(obj_url("history/"), admin(*expected["history"]))],
        f"{base}<path:object_id>/delete/": [Case(obj_url("delete/"), admin(*expected["delete"]))],
        f"{base}<path:object_id>/": [Case(obj_url(""), admin(REDIRECT, REDIRECT, REDIRECT))],
    }


B_ONLY = signed_in(404, eef_admin=200, coordinator_b=200)
EEF_ONLY = signed_in(404, eef_admin=200)

ROWS = {
    "dashboards/": [
        Case(_with_summary("/dashboards/"), signed_in(REDIRECT, eef_admin=200, no_role=403, **case_members(403))),
    ],
    "dashboards/university/<str:code>/": [
        Case(_with_summary("/dashboards/university/UP/"), EEF_ONLY),
        Case(_with_summary("/dashboards/university/KKU/"), signed_in(404, eef_admin=200, university_member=200)),
        Case("/dashboards/university/NOPE/", signed_in(404)),
    ],
    "dashboards/province/<int:code>/": [
        Case(_with_summary(f"/dashboards/province/{B}/"), B_ONLY),
        Case("/dashboards/province/99/", signed_in(404)),  # no such province
    ],
    # A district's page (drill-down, live figures): whoever sees the province's dashboard; a district of another
    # province under this one's code is 404 for everyone, as one that does not exist.
    "dashboards/province/<int:code>/district/<int:district>/": [
        Case(f"/dashboards/province/{B}/district/5601/", B_ONLY),
        Case(
            "/dashboards/province/40/district/4001/",
            signed_in(404, eef_admin=200, coordinator_a=200, viewer_a=200, university_member=200),
        ),
        Case(f"/dashboards/province/{B}/district/4001/", signed_in(404)),
        Case("/dashboards/province/99/district/9901/", signed_in(404)),  # no such province
    ],
    # EEF admins start a run; a GET is refused before anything else.
    "dashboards/run/": [
        Case("/dashboards/run/", everyone(405)),
        Case("/dashboards/run/", signed_in(403, eef_admin=REDIRECT), method="post"),
    ],
    "dashboards/export.<str:fmt>": [
        Case(_with_summary(f"/dashboards/export.xlsx?level=province&code={B}"), B_ONLY),
        Case(_with_summary(f"/dashboards/export.pdf?level=province&code={B}"), B_ONLY),
        Case(_with_summary("/dashboards/export.xlsx?level=national"), EEF_ONLY),
        Case(_with_summary("/dashboards/export.xlsx?level=university&code=UP"), EEF_ONLY),
        Case(_with_summary(f"/dashboards/export.exe?level=province&code={B}"), signed_in(404)),
        # POST starts an export job (exports/) and goes to its page.
        Case(
            _with_summary(f"/dashboards/export.pdf?level=province&code={B}"),
            signed_in(404, eef_admin=REDIRECT, coordinator_b=REDIRECT),
            method="post",
        ),
    ],
    # Runs: EEF admins read them (and start new ones); nobody edits. Snapshots: read within scope.
    **_admin_rows("summaries.summaryrun", "national_read_only"),
    **_admin_rows("summaries.snapshot", "reference_scoped"),
}
