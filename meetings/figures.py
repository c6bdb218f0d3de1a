"""The figures shown beside each presenting province on a meeting's page.

They are the summaries' (each province's snapshot as of the meeting's day, for the provinces the user may
see), and summaries sits above meetings: it registers its reader here from its AppConfig.ready, so meetings
imports nothing of it. Without a reader (summaries not installed) the page shows no figures.
"""

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# (user=, codes=, on=) -> {province code: the province's figures as of the day `on` (None: the latest)}
FiguresReader = Callable[..., Mapping[int, Any]]

_reader: FiguresReader | None = None


def register_reader(reader: FiguresReader) -> None:
    global _reader
    _reader = reader


def figures_on(*, user: Any, codes: Iterable[int], on: datetime.date | None = None) -> Mapping[int, Any]:
    """The last figures stored on or before `on` (a past meeting's day); today, a later day or None: the latest."""
    return _reader(user=user, codes=codes, on=on) if _reader is not None else {}


def latest_figures(*, user: Any, codes: Iterable[int]) -> Mapping[int, Any]:
    return figures_on(user=user, codes=codes)
