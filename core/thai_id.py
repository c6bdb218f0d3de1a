"""Identifiers of target-group records: the Thai national ID and the G-code.

A national ID has 13 digits, the last a check digit; a first digit 0 is valid (people without
registration status, a core ABE group) and 9 is never issued. A G-code is "G" + 12 digits, given by
the Ministry of Education to a learner with no civil registration. `parse_identifier` is the one
validation of the upload, the forms and the API; audit/redaction.py finds IDs in free text.
"""

import re
from dataclasses import dataclass
from operator import mul

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
# Separators people type inside IDs: spaces (also non-breaking), dashes of every width, dots.
_SEPARATORS = str.maketrans("", "", " \u00a0\t-‐‑‒–—.")

_THAI_DIGIT = re.compile("[๐-๙]")

NATIONAL_ID = "national_id"
G_CODE = "g_code"


class IdentifierError(ValueError):
    """Why an identifier is refused; `str()` is the message in the active language."""

    def __init__(self, code: str, message: str | Promise) -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class Identifier:
    value: str  # normalised: 13 digits, or "G" + 12 digits
    kind: str  # NATIONAL_ID or G_CODE

    @property
    def masked(self) -> str:
        return mask_identifier(self.value)


_WEIGHTS = tuple(range(13, 1, -1))


def check_digit(first_twelve: str) -> int:
    total: int = sum(map(mul, map(int, first_twelve), _WEIGHTS))
    return (11 - total % 11) % 10


def normalise(raw: object) -> str:
    """Thai digits to Arabic, separators removed, a g prefix upper-cased. Excel may hand over a
    number (1103702071811.0): its integer digits are taken."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = str(raw).strip()
    if _THAI_DIGIT.search(text):
        text = text.translate(THAI_DIGITS)
    if not text.isalnum():
        text = text.translate(_SEPARATORS)
    return text[:1].upper() + text[1:] if text[:1] in "gG" else text


def parse_identifier(raw: object) -> Identifier:
    """The identifier in `raw`, normalised, or IdentifierError saying what is wrong with it."""
    text = normalise(raw)
    if not text:
        raise IdentifierError("required", _("The identifier is missing."))
    if text[0] == "G":
        if len(text) != 13 or not text[1:].isdigit():
            raise IdentifierError("g_code_format", _("A G-code is the letter G followed by 12 digits."))
        return Identifier(text, G_CODE)
    if not text.isdigit():
        raise IdentifierError("characters", _("A national ID has only digits (or a G-code: G and 12 digits)."))
    if len(text) != 13:
        raise IdentifierError(
            "length", _("A national ID has 13 digits; this one has %(count)d.") % {"count": len(text)}
        )
    if text[0] == "9":
        raise IdentifierError("first_digit", _("No national ID starts with 9."))
    if check_digit(text[:12]) != int(text[12]):
        raise IdentifierError("checksum", _("The national ID's check digit does not match: a digit is mistyped."))
    return Identifier(text, NATIONAL_ID)


def mask_identifier(value: str) -> str:
    """x-xxxx-xxxxx-12-1 for a national ID (the last three digits shown, as on Thai forms);
    Gxxxxxxxx0001 for a G-code."""
    if len(value) == 13 and value.isdigit():
        return f"x-xxxx-xxxxx-{value[10:12]}-{value[12]}"
    if len(value) == 13 and value[0] == "G":
        return "Gxxxxxxxx" + value[-4:]
    return "x" * len(value)


def format_identifier(value: str) -> str:
    """1-2345-67890-12-1: a national ID grouped as it is printed on the ID card."""
    if len(value) == 13 and value.isdigit():
        return f"{value[0]}-{value[1:5]}-{value[5:10]}-{value[10:12]}-{value[12]}"
    return value
