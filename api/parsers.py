"""The API's parsers (settings REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): DRF's JSON and multipart
parsers that refuse NUL and other control characters anywhere in a body, with 400 and the API's
error shape (details name the field: {"records[0].notes": ["..."]}).

The rule is core.control_characters'. A NUL that reached a view used to answer 500: PostgreSQL
refuses it in a record, and in the Idempotency-Key's stored response (jsonb), so one item key with
"\\u0000" failed a whole bulk write (issue 11).
"""

import io

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from core import control_characters


def refuse(found: tuple[str, str, bool] | None) -> None:
    if found is None:
        return
    where, char, in_key = found
    reason = control_characters.name_message(char) if in_key else control_characters.message(char)
    raise ValidationError({where or "non_field_errors": [reason]})


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
            # JSON refuses raw control characters inside strings ("Invalid control character", a parse
            # error), so in UTF-8 only an escape (\u0000, \ud800) or a raw DEL can bring one: a body
            # without either skips the walk (a bulk write of 1,000 records holds some 20,000 strings).
            encoding = parsers.get_encoding(parser_context or {}).lower().replace("-", "")
            if encoding != "utf8" or b"\\u" in raw or b"\x7f" in raw:
                refuse(control_characters.find_in_data(data))
        except RecursionError:
            # Arrays or objects nested past Python's stack (DRF's parser catches only ValueError): a 400, not a 500.
            raise ParseError(_("The JSON is nested too deeply.")) from None
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        # Files' names need no check: Django's multipart parser drops non-printable characters.
        refuse(control_characters.find_in_querydict(parsed.data))
        return parsed
