"""Spreadsheet cells that cannot run: formula injection (CSV/Excel injection) is neutralised on export.

A text cell starting with =, +, -, @, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula (openpyxl even writes such a string as one). Every export of the portal
passes its text values through `neutralise_formula`, which puts an apostrophe in front, as OWASP
recommends, so the cell shows the text as typed and never evaluates it.
"""

from typing import TypeVar

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_Value = TypeVar("_Value")


def neutralise_formula(value: _Value) -> _Value | str:
    """The value with a leading apostrophe if it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
