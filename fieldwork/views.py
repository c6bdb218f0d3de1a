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
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.access import can, require
from audit.access_log import record_access
from audit.models import AccessLog
from cases.models import Contact
from targets.models import Assistance, Sex, TargetRecord

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


def _field(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    return capfirst(str(getattr(field, "verbose_name", name)))


def _labels() -> dict[str, str]:
    """The shell's words, translated here (the script has none of its own). Where the server says the same
    thing (a form's field, a rule the device checks too), the same message."""
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
        "signed_out_kept": _(
            "You are signed out: the children's data on this device was cleared. Your %(count)s changes are kept: "
            "sign in again to send them."
        ),
        "not_case_worker": _(
            "You are no longer a case worker: the children's data on this device was cleared. Changes not sent "
            "yet are kept on this device until you sign out."
        ),
        "sign_in_again": _("The portal asks you to sign in again before sending."),
        "other_account": _("The data another account left on this device was cleared."),
        "expired": _("The data on this device was cleared: no download for %(days)s days."),
        "expired_with_changes": _(
            "The data on this device was cleared: no sync for %(days)s days. %(count)s changes not sent were "
            "deleted with it."
        ),
        "no_cases": _("No children are assigned to you."),
        "open_steps": _("Open steps"),
        "open_referrals": _("Open referrals"),
        "closed": _("Case closed"),
        "unsupported": _("This browser cannot keep data offline."),
        # The queue and sync
        "waiting_short": _("waiting to sync"),
        "saved_on_device": _("Saved on this device. It is sent when there is a signal."),
        "sending": _("Sending %(count)s changes…"),
        "sent": _("Sent %(count)s changes. The children's data is up to date."),
        "sent_attention": _("Sent %(count)s changes; %(attention)s need your attention below."),
        "sync_failed": _("Sending failed: the changes stay on this device and are sent later."),
        "offline_waiting": _("Offline: the changes stay on this device until there is a signal."),
        "recorded_at": _("Recorded at %(when)s"),
        "pending_summary": _("%(count)s changes not sent yet"),
        "status_to": _("status to"),
        "help_given": _("help given:"),
        "new_child_label": _("Newly found child"),
        "refused": _("Not accepted by the portal"),
        "seen_remove": _("Seen: remove from this device"),
        "remove_pending": _("Remove: not to be sent"),
        "remove_pending_confirm": _("Remove this change before it is sent? %(what)s"),
        "conflict": _(
            "%(name)s: you changed the status to %(yours)s, but meanwhile it was changed on the portal to %(theirs)s "
            "(it was %(base)s). Which should stay?"
        ),
        "conflict_by": _(
            "%(name)s: you changed the status to %(yours)s, but meanwhile %(who)s changed it on the portal to "
            "%(theirs)s (it was %(base)s). Which should stay?"
        ),
        "keep_mine": _("Keep mine: %(value)s"),
        "keep_theirs": _("Keep the portal's: %(value)s"),
        "choice_saved": _("Your choice is saved."),
        "sign_out_pending": _(
            "%(count)s changes have not been sent. Signing out deletes them from this device. Sign out?"
        ),
        # The forms
        "save": _("Save"),
        "cancel": _("Cancel"),
        "required": _("This field is required."),
        "not_known": _("not known"),
        "log_contact": _("Log a contact"),
        "change_status": _("Change status"),
        "record_help": _("Record help"),
        "contact_title": _("A contact with %(name)s"),
        "contact_kind": _field(Contact, "kind"),
        "happened_at": _field(Contact, "happened_at"),
        "reached": _("Reached the child or family"),
        "with_whom": _field(Contact, "with_whom"),
        "findings": _field(Contact, "findings"),
        "next_step": _field(Contact, "next_step"),
        "next_due": _field(Contact, "next_due"),
        "gps": _("Attach my location (GPS) to this contact"),
        "gps_failed": _("Saved without a location: the device could not find it."),
        "contact_future": _("Record a contact once it has happened: the time is in the future."),
        "next_due_before": _("The next contact cannot be due before this one."),
        "status_title": _("The status of %(name)s"),
        "new_status": _("New status"),
        "same_status": _("Choose a status other than the present one."),
        "help_title": _("Help given to %(name)s"),
        "help_type": _field(Assistance, "type"),
        "help_date": _field(Assistance, "date"),
        "given_by": _field(Assistance, "given_by"),
        "help_outcome": _field(Assistance, "outcome"),
        "help_future": _("Record help once it has been given: the date is in the future."),
        "given_by_missing": _("Say who gave the help."),
        "new_child_title": _("A newly found child"),
        "province": _field(TargetRecord, "province"),
        "district": _field(TargetRecord, "district"),
        "sub_district": _field(TargetRecord, "sub_district"),
        "identifier": _("National ID or G-code"),
        "name_prefix": _field(TargetRecord, "name_prefix"),
        "first_name": _field(TargetRecord, "first_name"),
        "last_name": _field(TargetRecord, "last_name"),
        "sex": _field(TargetRecord, "sex"),
        "birth_date": _field(TargetRecord, "birth_date"),
        "category": _field(TargetRecord, "category"),
        "guardian_name": _field(TargetRecord, "guardian_name"),
        "phone": _field(TargetRecord, "phone"),
        "notes": _field(TargetRecord, "notes"),
        "first_name_missing": _("Give the child's first name."),
        "birth_future": _("The birth date is in the future."),
        "phone_invalid": _("A phone number has 10 digits starting 06, 08 or 09 (or 9 for a landline)."),
        "id_missing": _("The identifier is missing."),
        "id_g_code": _("A G-code is the letter G followed by 12 digits."),
        "id_characters": _("A national ID has only digits (or a G-code: G and 12 digits)."),
        "id_length": _("A national ID has 13 digits; this one has %(count)d."),
        "id_first_digit": _("No national ID starts with 9."),
        "id_checksum": _("The national ID's check digit does not match: a digit is mistyped."),
    }


@require_safe
@login_required
def shell(request: HttpRequest) -> HttpResponse:
    """The app's one page. It holds no child's data: the script lists what the device downloaded."""
    require(request.user, "fieldwork.use")
    user = request.user
    config = {
        "myCasesUrl": reverse("fieldwork:my_cases"),
        "syncUrl": reverse("fieldwork:sync"),
        "csrfToken": get_token(request),
        "csrfCookie": settings.CSRF_COOKIE_NAME,
        "userId": user.pk,
        "workerName": str(user),
        "sexes": [{"code": code, "name": str(name)} for code, name in Sex.choices],
        "workerUrl": reverse("fieldwork:service_worker"),
        "scope": reverse("fieldwork:shell"),
        "loginUrl": reverse("account_login"),
        "deviceDays": device_days(),
        "labels": _labels(),
    }
    response = render(request, SHELL_TEMPLATE, {"config": config})
    # The one page of the portal that may ask for the phone's position: for a contact, when the worker ticks it
    # (the browser asks them too). Everywhere else abe_portal.security refuses it.
    response["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(self), payment=()"
    return response


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
        return JsonResponse({"detail": "not signed in", "code": "signed_out"}, status=401)
    if not can(user, "fieldwork.use"):
        return JsonResponse({"detail": "not a case worker", "code": "not_case_worker"}, status=403)
    cases = selectors.my_cases(user)
    if cases:
        record_access(request=request, action=AccessLog.Action.VIEW, model=TargetRecord,
                      description="field app download", count=len(cases))  # fmt: skip
    return JsonResponse(
        {"downloaded_at": timezone.now().isoformat(), "cases": cases, "choices": selectors.choices(user)}
    )
