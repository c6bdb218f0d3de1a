"""Values in PostgreSQL COPY's text format (tab-separated, `\\N` for NULL): the upload pipeline's writer, the duplicate
finder's keys and the benchmarks' loads write their rows with it."""

import re

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def copy_value(value: object) -> str:
    """A value in COPY's text format (dates and times as str() writes them, which PostgreSQL reads). translate() is
    slow on Thai text: only when there is something to escape."""
    if value.__class__ is str:
        return value.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(value) else value
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)
