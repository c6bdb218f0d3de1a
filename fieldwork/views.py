"""The field app's pages (README.md, "Field app (offline)"): the shell, its manifest, its service worker, and the
download of the worker's assigned children.

The shell and the service worker are plain JavaScript served by the portal itself (static/js/field.js, the
worker rendered from templates/fieldwork/sw.js so that its scope and its cache's version are the server's).
The manifest and the worker hold no personal data and are served to anyone: a browser checks the worker for
updates with or without a session. The shell is for case workers; the download answers JSON, 401 without a
session (the shell then clears the device's store) and 403 to anyone who is not a case worker.
"""

import hashlib
import json
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.access import can, require
from audit.access_log import record_access
from audit.models import AccessLog
from targets.models import TargetRecord

from . import selectors

# The shell's assets, cached by the service worker when it installs (with the shell page itself).
SHELL_ASSETS = (
    "fonts/sarabun/sarabun.css",
    "fonts/sarabun/sarabun-thai-400-normal.woff2",
    "fonts/sarabun/sarabun-thai-600-normal.woff2",
    "fonts/sarabun/sarabun-thai-700-normal.woff2",
    "fonts/sarabun/sarabun-latin-400-normal.woff2",
    "fonts/sarabun/sarabun-latin-600-normal.woff2",
    "fonts/sarabun/sarabun-latin-700-normal.woff2",
    "css/portal.css",
    "css/field.css",
    "js/field.js",
    "img/field/icon-192.png",
    "img/favicon.svg",
)
SHELL_TEMPLATE = "fieldwork/shell.html"
WORKER_TEMPLATE = "fieldwork/sw.js"


def device_days() -> int:
    days: int = settings.FIELDWORK_DEVICE_DAYS
    return days


@lru_cache(maxsize=1)
def cache_version() -> str:
    """A digest of everything the worker caches and of the worker itself: a new version of any of them names a new
    cache, so the browser installs the new worker and drops the old cache (read once per process)."""
    digest = hashlib.sha256()
    for name in SHELL_ASSETS:
        digest.update(static(name).encode())
        found = finders.find(name)
        if isinstance(found, str):
            with open(found, "rb") as file:
                digest.update(file.read())
    for template in (SHELL_TEMPLATE, WORKER_TEMPLATE):
        origin = get_template(template).origin.name  # type: ignore[attr-defined]
        with open(origin, "rb") as file:
            digest.update(file.read())
    return digest.hexdigest()[:12]


def _labels() -> dict[str, str]:
    """The shell's words, translated here (the script has none of its own)."""
    return {
        "years": _("%(age)s years"),
        "age_unknown": _("age not recorded"),
        "last_contact": _("Last contact"),
        "no_contact": _("No contact yet"),
        "downloaded_at": _("Last downloaded at %(when)s"),
        "never_downloaded": _("Not downloaded yet"),
        "downloading": _("Downloading…"),
        "downloaded": _("Downloaded %(count)s children."),
        "offline": _("Offline: showing what was downloaded."),
        "failed": _("The download failed. Showing what was downloaded before."),
        "signed_out": _("You are signed out: the data on this device was cleared. Sign in again to download."),
        "expired": _("The data on this device was cleared: no download for %(days)s days."),
        "no_cases": _("No children are assigned to you."),
        "open_steps": _("Open steps"),
        "open_referrals": _("Open referrals"),
        "closed": _("Case closed"),
        "unsupported": _("This browser cannot keep data offline."),
    }


@require_safe
@login_required
def shell(request: HttpRequest) -> HttpResponse:
    """The app's one page. It holds no child's data: the script lists what the device downloaded."""
    require(request.user, "fieldwork.use")
    config = {
        "myCasesUrl": reverse("fieldwork:my_cases"),
        "workerUrl": reverse("fieldwork:service_worker"),
        "scope": reverse("fieldwork:shell"),
        "loginUrl": reverse("account_login"),
        "deviceDays": device_days(),
        "labels": _labels(),
    }
    return render(request, SHELL_TEMPLATE, {"config": config})


@require_safe
def manifest(request: HttpRequest) -> HttpResponse:
    scope = reverse("fieldwork:shell")
    data = {
        "name": _("ABE Portal: field app"),
        "short_name": _("ABE field"),
        "description": _("Case workers' home visits, with or without a signal."),
        "lang": "th",
        "start_url": scope,
        "scope": scope,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f5f7fa",
        "theme_color": "#0b6e4f",
        "icons": [
            {"src": static("img/field/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("img/field/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json")


@require_safe
@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    scope = reverse("fieldwork:shell")
    context: dict[str, Any] = {
        "cache_name": f"abe-field-{cache_version()}",
        "shell_url": scope,
        "assets": [scope, *(static(name) for name in SHELL_ASSETS)],
        "api_prefix": scope + "api/",
    }
    body = render_to_string(WORKER_TEMPLATE, {"config": json.dumps(context)})
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = scope
    return response


@require_safe
@never_cache
def my_cases(request: HttpRequest) -> JsonResponse:
    """The signed-in case worker's assigned children (fieldwork.selectors); every download is in the access log."""
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"detail": "not signed in"}, status=401)
    if not can(user, "fieldwork.use"):
        return JsonResponse({"detail": "not a case worker"}, status=403)
    cases = selectors.my_cases(user)
    if cases:
        record_access(request=request, action=AccessLog.Action.VIEW, model=TargetRecord,
                      description="field app download", count=len(cases))  # fmt: skip
    return JsonResponse(
        {"downloaded_at": timezone.now().isoformat(), "cases": cases, "choices": selectors.choices(user)}
    )
