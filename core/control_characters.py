"""Control characters in incoming text: one rule for the forms, uploads, the API and query strings
(README.md, "Control characters", says where each applies it).

Refused, naming the field (or column) and the character: NUL, which PostgreSQL cannot store in text
or jsonb; the other C0 controls and DEL, which nobody types and which break the xlsx exports
(openpyxl refuses them); lone surrogates (a JSON "\\ud800"), which UTF-8 cannot encode. Tab, line
feed and carriage return stay: multi-line fields keep them, one-line fields make them spaces
(targets.upload.validation.cell_text).
"""

import re
from collections.abc import Callable, Iterable, Sequence

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _

FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
REPLACEMENT = "\ufffd"  # what a stored copy shows in place of a refused character


def first_forbidden(text: str) -> str | None:
    """The first refused character of `text`, or None."""
    found = FORBIDDEN.search(text)
    return found.group() if found else None


def code_point(char: str) -> str:
    """ "U+0000": how messages name a character that cannot be shown."""
    return f"U+{ord(char):04X}"


def message(char: str) -> str:
    """The reason, for a message placed on the field itself (a form field, a column, an API detail)."""
    return _("The text holds a control character (%(code)s), which cannot be saved. Remove it and try again.") % {
        "code": code_point(char)
    }


def name_message(char: str) -> str:
    """The reason when the field's *name* holds the character (an API key, a query parameter)."""
    return _("A field name holds a control character (%(code)s), which is not allowed.") % {"code": code_point(char)}


def scrub(text: str) -> str:
    """`text` with every refused character replaced by U+FFFD, for a stored copy of what was refused
    (an upload's rejected row, a replayed API response) that must still be storable and shown."""
    return FORBIDDEN.sub(REPLACEMENT, text)


def scrub_data(data: object) -> object:
    """scrub() applied to every string, keys included, of JSON-like data."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, dict):
        return {scrub_data(k): scrub_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [scrub_data(v) for v in data]
    return data


def find_in_data(data: object, path: str = "") -> tuple[str, str, bool] | None:
    """The first refused character in JSON-like data, as (where, character, in a key?), or None.

    `where` names the value as the API's error details name fields: "notes", "records[0].notes";
    for a key that holds one, its parent ("records[0]"; "" at the top).
    """
    if isinstance(data, str):
        char = first_forbidden(data)
        return (path, char, False) if char else None
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and (char := first_forbidden(key)):
                return (path, char, True)
            found = find_in_data(value, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = find_in_data(value, f"{path}[{index}]")
            if found:
                return found
    return None


def find_in_pairs(pairs: Iterable[tuple[str, Sequence[object]]]) -> tuple[str, str, bool] | None:
    """The first refused character in (name, values) pairs (QueryDict.lists()), as (name, character,
    in the name?). A name that holds one is given scrubbed, so that it can be shown."""
    for name, values in pairs:
        if char := first_forbidden(name):
            return (scrub(name), char, True)
        for value in values:
            if isinstance(value, str) and (char := first_forbidden(value)):
                return (name, char, False)
    return None


def find_in_querydict(query: QueryDict) -> tuple[str, str, bool] | None:
    return find_in_pairs(query.lists())


# --- the pages ---------------------------------------------------------------------------------------

# The API refuses in its own error shape (api.parsers for bodies, api.views.base for query strings).
API_PREFIX = "/api/"


def find_in_request(request: HttpRequest) -> tuple[str, str, bool] | None:
    """The first refused character in what a page request brings: its path, query string and form
    fields (names and values)."""
    if char := first_forbidden(request.path_info):
        return (_("page address"), char, False)
    found = find_in_querydict(request.GET)
    if found or request.method != "POST":
        return found
    # request.POST is empty for anything but a form (urlencoded or multipart); a malformed
    # multipart body raises here as it would in the view, and Django answers 400.
    # (Uploaded files' names need no check: Django's multipart parser drops non-printable characters.)
    return find_in_querydict(request.POST)


class RefuseControlCharactersMiddleware:
    """Answers 400, in the user's language, to a page request that brings a refused character, before
    any view (and so any query, form or file write) sees it. After LocaleMiddleware (the language)
    and AuthenticationMiddleware (the page's header shows who is signed in)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX):
            found = find_in_request(request)
            if found:
                return refusal_page(request, *found)
        return self.get_response(request)


def refusal_page(request: HttpRequest, field: str, char: str, in_name: bool) -> HttpResponse:
    if in_name:
        reason = _("A field name of the request holds a control character (%(code)s), which is not allowed.") % {
            "code": code_point(char)
        }
    else:
        reason = _(
            "The field “%(field)s” holds a control character (%(code)s), which cannot be saved. Go back, "
            "remove it and send again."
        ) % {"field": field, "code": code_point(char)}
    return render(request, "control_characters.html", {"reason": reason}, status=400)
