"""One error body for every error of the API, in the request's language (Thai unless ?lang=en):

    {"error": {"code": "not_found", "message": "ไม่พบข้อมูล", "details": null}}

`code` is stable and meant for programs; `message` is for people; `details` holds the field errors
of a 400 ({field: [messages]}) or the wait of a 429 or 503 ({"retry_after": seconds}). Headers follow
the status: WWW-Authenticate on 401, Retry-After on 429 and 503.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger("api")
# Seconds a client is told to wait (Retry-After) before it sends a write refused as busy again.
RETRY_BUSY_AFTER = 5


class IdempotencyKeyReused(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = gettext_lazy(
        "This Idempotency-Key was already used for a different request; use a new key for a new request."
    )


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = gettext_lazy("The request conflicts with the current state of the resource.")


def _messages() -> dict[str, str]:
    """Messages per code: the API's own words, so that every error reads the same way."""
    return {
        "invalid": _("The request has errors; see details."),
        "parse_error": _("The request body is not valid JSON."),
        "not_authenticated": _("Authentication is required: send an API key (Authorization: Api-Key ...)."),
        "authentication_failed": _("The API key is not valid: unknown, revoked or expired."),
        "permission_denied": _("This key or account may not do this."),
        "not_found": _("Not found."),
        "method_not_allowed": _("This method is not allowed here."),
        "not_acceptable": _("The API answers in JSON only."),
        "unsupported_media_type": _("Send the body as JSON (or multipart/form-data for a file)."),
        "throttled": _("Too many requests; try again later."),
        "server_error": _("Something went wrong on our side; the error was logged."),
    }


class ProvinceBusy(exceptions.APIException):
    """503: the records could not be written now, an upload of their province being applied; nothing was
    written (targets.upload.pipeline.write_in_turn). Retry-After says when to try again."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "province_busy"
    default_detail = gettext_lazy(
        "An upload of this province is being applied; nothing was written. Try again in a few seconds."
    )
    wait = RETRY_BUSY_AFTER


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def invalid_response(details: dict) -> Response:
    """The 400 a ValidationError(details) would answer, as a response: for a view whose transaction
    must keep what the request recorded (the access log of targets.id_probes), which an exception
    raised through api.idempotency's transaction would roll back."""
    return Response(error_body("invalid", _messages()["invalid"], details), status=status.HTTP_400_BAD_REQUEST)


def probe_refused_response(refusal: Exception) -> Response:
    """403 for a write refused as a whole by the daily allowance of answers about identifiers of other
    provinces (targets.id_probes.ProbeRefused); a response for the same reason as invalid_response."""
    return Response(error_body("identifier_probe_limit", str(refusal)), status=status.HTTP_403_FORBIDDEN)


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=serializers.as_serializer_error(exc)
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    messages = _messages()
    if response is None:
        # Not an API error: a bug. Logged (national IDs masked by the log filter) and answered as JSON.
        request = context.get("request")
        logger.error("API error on %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"), exc_info=exc)
        set_rollback()
        return Response(error_body("server_error", messages["server_error"]), status=500)
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid", messages["invalid"], response.data)
    else:
        code = _code_of(exc)
        detail = exc.detail if isinstance(exc.detail, str) else ""
        if code in ("permission_denied", "idempotency_key_reused", "conflict", "authentication_failed") and detail:
            message = str(detail)  # the view's own reason
        else:
            message = messages.get(code) or str(detail) or code
        # An exception may carry details of its own (api.preconditions.PreconditionFailed: the version now).
        details = getattr(exc, "error_details", None)
        if isinstance(exc, ProvinceBusy):
            details = {"retry_after": exc.wait}
        elif isinstance(exc, exceptions.Throttled):
            details = {"retry_after": exc.wait}
            if exc.wait is not None:
                message = _("Too many requests; try again in %(seconds)d seconds.") % {"seconds": exc.wait}
        elif details is None and isinstance(exc.detail, dict | list):
            details = exc.detail
        body = error_body(code, message, details)
    response.data = body
    return response


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="not_found, invalid, not_authenticated, throttled, ...")
    message = serializers.CharField(help_text="For people, in the request's language.")
    details = serializers.JSONField(
        allow_null=True,
        help_text="Field errors of a 400 ({field: [messages]}); {retry_after: s} of a 429; "
        "{version, changed: [{field, seen, now}]} of a 412; {retry_after: s} of a 503.",
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    error = ErrorDetailSerializer()
