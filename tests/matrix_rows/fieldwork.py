"""Access-matrix rows of the field app (fieldwork/urls.py, /field/).

The shell and the download are for case workers (the cast's case worker of province A); without a session the
shell sends to sign in and the download answers 401 (the app then clears the device's store). The manifest and
the service worker hold no personal data: everyone gets them (a browser checks its worker with or without a session).
"""

from tests.matrix import Case, everyone, signed_in

ROWS = {
    "field/": [Case("/field/", signed_in(403, case_worker_a=200))],
    "field/manifest.webmanifest": [Case("/field/manifest.webmanifest", everyone(200))],
    "field/sw.js": [Case("/field/sw.js", everyone(200))],
    "field/api/my-cases/": [Case("/field/api/my-cases/", signed_in(403, anonymous=401, case_worker_a=200))],
}
