"""Access-matrix rows of the field app (fieldwork/urls.py, /field/).

The shell and the download are for case workers (the cast's case worker of province A); without a session the
shell sends to sign in and the download answers 401 (the app then clears the device's store). The manifest and
the service worker hold no personal data: everyone gets them (a browser checks its worker with or without a session).
The sync takes POST only (405 to a GET, whoever asks): 401 without a session, 403 to anyone but a case worker, and
the case worker's empty form post is no JSON (400, nothing written). Its log of changes is read in admin by EEF/IPSR
admins only, and changed by nobody.
"""

from tests.matrix import Case, everyone, lazy_admin_rows, signed_in


def _synced_change(ctx):
    """A change the cast's case worker synced (made once per matrix part): a refusal, about no record."""
    objects = ctx["objects"]
    if "fieldwork.syncedchange" not in objects:
        import uuid

        from fieldwork.models import SyncedChange

        key = uuid.uuid4()
        answer = {"key": str(key), "result": "refused", "replayed": False, "record": None, "reason": "", "errors": {}}
        objects["fieldwork.syncedchange"] = SyncedChange.objects.create(
            key=key, user=ctx["cast"].case_worker_a, kind="contact", result="refused", response=answer,
            body_sha256="0" * 64,
        )  # fmt: skip
    return objects["fieldwork.syncedchange"]


ROWS = {
    "field/": [Case("/field/", signed_in(403, case_worker_a=200))],
    "field/manifest.webmanifest": [Case("/field/manifest.webmanifest", everyone(200))],
    "field/sw.js": [Case("/field/sw.js", everyone(200))],
    "field/api/my-cases/": [Case("/field/api/my-cases/", signed_in(403, anonymous=401, case_worker_a=200))],
    "field/api/sync/": [
        Case("/field/api/sync/", everyone(405)),
        Case("/field/api/sync/", signed_in(403, anonymous=401, case_worker_a=400), method="post"),
    ],
    **lazy_admin_rows("fieldwork.syncedchange", "national_read_only", _synced_change),
}
