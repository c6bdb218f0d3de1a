"""Keep national IDs, G-codes and the secrets carried in URLs out of logs and error reports.

The ID patterns live here, once; a future `thai_id` module (validation, display masks) should
import them rather than write its own. `LOGGING` (settings.py) puts `RedactIdsFilter` on the
console handler; `DEFAULT_EXCEPTION_REPORTER_FILTER` and `DEFAULT_EXCEPTION_REPORTER` point at the
two classes at the end of this module; gunicorn's access and error logs go through
audit/gunicorn_logging.py (gunicorn.conf.py).
"""

import logging
import re
from collections.abc import ItemsView
from typing import Any

from django.http import HttpRequest, QueryDict
from django.template.defaultfilters import pprint
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# A Thai national ID (เลขประจำตัวประชาชน): 13 digits, as typed or grouped 1-4-5-2-1 with dashes or
# spaces ("1-1037-02071-81-1", "1 1037 02071 81 1"). The checksum is not checked: a mistyped ID
# is still somebody's personal data. `\d` also matches Thai digits. The lookarounds keep
# the 13 digits from being the middle of a longer number.
NATIONAL_ID_PATTERN = r"(?<!\d)\d[- ]?\d{4}[- ]?\d{5}[- ]?\d{2}[- ]?\d(?!\d)"
# A G-code: the 13-character number (G and 12 digits) that schools give a child without a
# national ID.
G_CODE_PATTERN = r"(?<![A-Za-z0-9])[Gg][- ]?\d{12}(?!\d)"

NATIONAL_ID_RE = re.compile(NATIONAL_ID_PATTERN)
G_CODE_RE = re.compile(G_CODE_PATTERN)

NATIONAL_ID_MASK = "x-xxxx-xxxxx-xx-x"
G_CODE_MASK = "Gxxxxxxxxxxxx"


def redact_ids(text: str) -> str:
    """`text` with every national ID and G-code replaced by a fixed mask."""
    return NATIONAL_ID_RE.sub(NATIONAL_ID_MASK, G_CODE_RE.sub(G_CODE_MASK, text))


def contains_id(text: str) -> bool:
    return bool(NATIONAL_ID_RE.search(text) or G_CODE_RE.search(text))


# Secrets that travel in URL paths, where access logs and error reports see them:
# - a personal calendar feed's token (meetings/urls.py, "feed/<token>.ics"): the link itself is the
#   credential calendar applications poll with;
# - a password-reset or invitation key (allauth's "password/reset/key/<uidb36>-<key>/"); the page
#   it redirects to, ".../<uidb36>-set-password/", holds no key and is left alone.
# tests/test_gunicorn_logging.py builds both URLs with reverse(), so a changed route fails there
# instead of leaking here.
SECRET_MASK = "xxxxxxxx"  # noqa: S105 - the mask, not a secret
URL_SECRETS = (
    (re.compile(r"(/feed/)[^/?#\s\"']+(\.ics)"), rf"\g<1>{SECRET_MASK}\g<2>"),
    (re.compile(r"(/password/reset/key/[0-9A-Za-z]+-)(?!set-password/)[^/?#\s\"']+"), rf"\g<1>{SECRET_MASK}"),
)


def redact_secrets(text: str) -> str:
    """`text` with national IDs and G-codes masked (`redact_ids`), and the secrets of URL paths."""
    text = redact_ids(text)
    for pattern, replacement in URL_SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactIdsFilter(logging.Filter):
    """Masks IDs (and URL secrets, `redact_secrets`) in a log record's message, arguments,
    traceback and stack before it is written.

    The message is formatted here (msg % args) and the arguments dropped, so an ID passed as an
    int or inside an object's str() is caught too. The record is changed in place, for every
    handler after this one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A malformed logging call: keep both parts, masked, rather than let the handler
            # print the raw arguments in its own error report.
            message = f"{record.msg} {record.args!r}"
        record.msg = redact_secrets(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatter.format() reuses a cached exc_text, so the masked traceback is what is written.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return True


class _Redacted:
    """Shows a pre-rendered, masked repr in the error report's variable listings."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_ids(value)
    # Rendered as the report renders it (template pprint never raises); only values that show an
    # ID are replaced, so the rest of the report looks as usual.
    text = pprint(value)
    return _Redacted(redact_ids(text)) if contains_id(text) else value


class IdRedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter (settings, sensitive_variables, sensitive_post_parameters), plus: national
    IDs and G-codes are masked in the request's GET and POST values, its META and cookies, and the
    local variables of every traceback frame, whatever DEBUG is.
    """

    def get_post_parameters(self, request: HttpRequest | None) -> QueryDict | dict:
        return self._redact_querydict(super().get_post_parameters(request))

    def get_get_parameters(self, request: HttpRequest | None) -> QueryDict | dict:
        """The query string's parameters, masked (Django's reporter shows request.GET unfiltered)."""
        return {} if request is None else self._redact_querydict(request.GET)

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        return {key: _redact_value(value) for key, value in super().get_safe_request_meta(request).items()}

    def get_safe_cookies(self, request: HttpRequest) -> dict[str, Any]:
        return {key: _redact_value(value) for key, value in super().get_safe_cookies(request).items()}

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> ItemsView[str, Any]:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return {name: _redact_value(value) for name, value in variables}.items()

    def _redact_querydict(self, params: QueryDict | dict) -> QueryDict | dict:
        if not isinstance(params, QueryDict):
            return {key: _redact_value(value) for key, value in params.items()}
        redacted = QueryDict(mutable=True)
        for key, values in params.lists():
            redacted.setlist(redact_ids(key), [redact_ids(v) if isinstance(v, str) else v for v in values])
        return redacted


class IdRedactingExceptionReporter(ExceptionReporter):
    """Django's error report with its GET listing taken through the filter above, and the whole
    rendered report (URL, exception message, source lines) masked once more before it leaves: in
    the DEBUG error page, and in the email AdminEmailHandler sends when ADMINS is set.
    """

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if self.request is not None and hasattr(self.filter, "get_get_parameters"):
            data["request_GET_items"] = self.filter.get_get_parameters(self.request).items()
        return data

    # Django's rendered report (safe), with identifiers and secrets replaced by masks: safe still.
    def get_traceback_html(self) -> SafeString:
        return mark_safe(redact_secrets(super().get_traceback_html()))  # noqa: S308 - see above

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact_secrets(super().get_traceback_text()))  # noqa: S308 - see above
