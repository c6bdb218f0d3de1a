"""The OpenAPI 3 schema (drf-spectacular) at /api/schema/: every operation documents the errors it
can answer with the one error body (api.errors), the `lang` parameter, and the API-key scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from .errors import ErrorSerializer, error_body

_ERRORS = {
    "400": ("Invalid request: field errors in error.details", "invalid", "คำขอมีข้อผิดพลาด ดูรายละเอียด"),
    "401": ("No API key, or a key that is unknown, revoked or expired", "not_authenticated", "ต้องยืนยันตัวตน"),
    "403": ("The key or account may not do this", "permission_denied", "ไม่มีสิทธิ์"),
    "404": ("Not found, or outside the caller's scope (the same answer)", "not_found", "ไม่พบข้อมูล"),
    "409": ("Conflicts with the resource's state", "conflict", "ขัดแย้งกับสถานะปัจจุบัน"),
    "412": (
        "Changed since the version the write names (If-Match or version): nothing written; error.details "
        "holds the version now and what changed",
        "precondition_failed",
        "ข้อมูลถูกแก้ไขหลังจากที่คุณอ่าน",
    ),
    "428": ("The write names no version: send If-Match (or version)", "precondition_required", "กรุณาระบุ If-Match"),
    "422": ("Idempotency-Key already used for another request", "idempotency_key_reused", "ใช้คีย์ซ้ำ"),
    "429": ("Too many requests: see the Retry-After header", "throttled", "คำขอมากเกินไป"),
}


def _error(code: str) -> OpenApiResponse:
    description, error_code, thai = _ERRORS[code]
    details = {
        "400": {"first_name": ["ไม่มีชื่อ"]},
        "429": {"retry_after": 30},
        "412": {"version": 4, "changed": [{"field": "school", "seen": "โรงเรียนบ้านเก่า", "now": "โรงเรียนบ้านใหม่"}]},
    }.get(code)
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(error_code, value=error_body(error_code, thai, details), status_codes=[code])],
    )


class PortalAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        # 400 everywhere: any request may carry a query string with a control character (api.views.base).
        codes = ["400", "401", "403", "429"]
        if "{" in self.path or self.method != "GET":
            codes.append("404")
        if self.method == "POST":
            codes += ["409", "422"]
        if self.method in ("PUT", "PATCH", "DELETE"):
            codes += ["412", "428"]  # conditional writes (api.preconditions)
        elif self.method == "POST" and getattr(self.view, "requires_version", False):
            codes += ["412", "428"]  # a state change from the version read (api.views.cases)
        elif self.method == "POST" and getattr(self.view, "conditional_writes", False):
            codes.append("412")  # a body's "version" that is no longer current
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(_error(code), code, direction=direction)
        return responses

    def get_filter_backends(self):
        # Views that are not ListAPIViews (records, their feed) still document their filters.
        if getattr(self.view, "documents_filters", False) and self.method == "GET":
            return getattr(self.view, "filter_backends", [])
        return super().get_filter_backends()

    def get_override_parameters(self):
        return [
            *super().get_override_parameters(),
            OpenApiParameter("lang", str, enum=["th", "en"], description="Language of messages (default Thai)"),
        ]


class PartnerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.PartnerKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <prefix>.<secret>`: a partner key, made by EEF/IPSR in Django admin.",
        }
