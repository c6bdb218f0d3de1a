"""Conditional writes (docs/api.md, "Changing a record: If-Match"): an object's ETag is its version
(core.versioning), and a change names the version it was made from (If-Match, or "version" in the
body), so that a change made from an older read is refused (412) instead of silently undoing someone
else's; naming none answers 428 while API_REQUIRE_IF_MATCH is on.

ETags are strong and name the version of the object's own fields (a record's history and help given
are not part of it). `If-Match: *` asks only that the object exists.
"""

import logging

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.exceptions import ValidationError

from core.versioning import UNKNOWN_VERSION

logger = logging.getLogger("api")

HEADER = "If-Match"


class PreconditionFailed(exceptions.APIException):
    """412 in the API's error body (api.errors); `details` says what the object is now."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = _("This changed after you read it; nothing was written. Read it again, then send your change.")
    # The record whose values `details` shows (api.views.records.stale_record), for the access log.
    record_id: int | None = None

    def __init__(self, detail=None, *, details: dict | None = None) -> None:
        super().__init__(detail)
        self.error_details = details


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_code = "precondition_required"
    default_detail = _(
        'Say which version you are changing: send the ETag of your last read in If-Match (or its "version").'
    )


def etag(version: int) -> str:
    return f'"{version}"'


def version_of_body(value) -> int | None:
    """A write's "version" field: None when absent; a whole number, or a 400."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValidationError({"version": [_("Give the version you read: a whole number, as the record shows it.")]})
    return value


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _version_of_tag(tag: str) -> int | None:
    """The version a strong ETag of ours names ("3"); None for anything else (W/"3", "abc", "๓")."""
    digits = tag[1:-1] if len(tag) > 2 and tag[0] == tag[-1] == '"' else ""
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 10 else None


def expected_version(request, *, body_version: int | None, current: int) -> int | None:
    """The version a write must find (None: any), from If-Match and the body's "version", with the
    object's `current` version read under a lock. A tag that names no version of ours (a weak or
    foreign ETag) matches nothing, so the write is refused as stale; with several tags, the current
    version if it is one of them. Neither given: 428, unless settings.API_REQUIRE_IF_MATCH is off."""
    header = request.headers.get(HEADER)
    expected: int | None = None
    if header is not None:
        tags = _tags(header)
        if tags != ["*"]:
            versions = {version for version in map(_version_of_tag, tags) if version is not None}
            # The current version if named; else the latest named (what the client read, for the 412).
            expected = current if current in versions else max(versions, default=UNKNOWN_VERSION)
    if body_version is not None:
        if expected is not None and expected != body_version:
            return UNKNOWN_VERSION  # If-Match and "version" disagree: at most one can be current
        expected = body_version
    if header is None and body_version is None:
        if settings.API_REQUIRE_IF_MATCH:
            raise PreconditionRequired
        # Allowed while partners update their clients (docs/api.md): logged, so admins see who still does it.
        logger.warning("API %s %s without If-Match, applied unconditionally", request.method, request.path)
    return expected
