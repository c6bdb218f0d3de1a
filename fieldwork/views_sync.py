"""POST /field/api/sync/: a case worker's device sends the changes it queued offline (fieldwork.sync applies them,
exactly once; README.md, "Field app (offline)").

JSON in, JSON out, with the session and its CSRF token (header X-CSRFToken), as the app's other requests. Who is
asking comes before the token: without a session the answer is 401, so the app clears the device's store, as the
download does (fieldwork.views.my_cases); 403 for anyone who is not a case worker, or a missing token.
"""

from django.http import HttpRequest, JsonResponse
from django.http.request import RawPostDataException
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.access import can
from accounts.models import User
from targets import id_probes

from . import sync


def _csrf_refusal(request: HttpRequest) -> JsonResponse | None:
    """The CSRF check Django's middleware would have made (the view is exempt from it only to answer 401 first)."""
    check = CsrfViewMiddleware(lambda request: JsonResponse({}))
    check.process_request(request)
    refused = check.process_view(request, None, (), {})  # type: ignore[arg-type]  # no view: not exempt
    if refused is None:
        return None
    return JsonResponse({"detail": "CSRF check failed", "code": "csrf"}, status=403)


def _body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RawPostDataException:
        return b""  # a multipart form, read by a middleware already: not JSON (400)


@csrf_exempt
@require_POST
@never_cache
def sync_changes(request: HttpRequest) -> JsonResponse:
    user = request.user
    if not isinstance(user, User):
        return JsonResponse({"detail": "not signed in", "code": "signed_out"}, status=401)
    refused = _csrf_refusal(request)
    if refused is not None:
        return refused
    if not can(user, "fieldwork.use"):
        return JsonResponse({"detail": "not a case worker", "code": "not_case_worker"}, status=403)
    try:
        changes = sync.parse_changes(_body(request))
    except sync.Malformed as error:
        return JsonResponse({"detail": str(error)}, status=400)
    results = sync.apply_changes(user=user, changes=changes, asker=id_probes.Asker.of_request(request))
    return JsonResponse({"synced_at": timezone.now().isoformat(), "results": results})
