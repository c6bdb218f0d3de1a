"""The figures shown beside each presenting province on a meeting's page.

They are the summaries' (the latest snapshot of each province the user may see), and summaries sits above
meetings: it registers its reader here from its AppConfig.ready, so meetings imports nothing of it. Without
a reader (summaries not installed) the page shows no figures.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

# (user=, codes=) -> {province code: the province's latest figures}
FiguresReader = Callable[..., Mapping[int, Any]]

_reader: FiguresReader | None = None


def register_reader(reader: FiguresReader) -> None:
    global _reader
    _reader = reader


def latest_figures(*, user: Any, codes: Iterable[int]) -> Mapping[int, Any]:
    return _reader(user=user, codes=codes) if _reader is not None else {}
