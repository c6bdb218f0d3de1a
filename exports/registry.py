"""The kinds of export, registered by the apps that own their data from their AppConfig.ready, so that this app
(low in the layers) imports none of them:

    exports.registry.register(Kind(name="targets.records", formats=("xlsx", "csv"), title=..., check=..., build=...))

`check(principal, params, file_format)` runs in the request that asks: it raises Http404 for a subject outside
the asker's scope (the same door as the page) and returns the parameters to keep. `build(job)` runs in the
background: it queries with the asker's visible_to again (the scope may have changed since), writes the file to
`job.out` as it goes, calls `job.progress(done, total)`, and says what it wrote (Built).

API keys are principals without a row: the api app registers how a key's prefix becomes its principal again
(register_key_resolver), so a job asked for by a key runs with the key's scope, and stops if it was revoked.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import models


@dataclass
class Job:
    """What a builder is given."""

    principal: Any
    params: dict
    file_format: str
    language: str
    out: IO[bytes]
    progress: Callable[[int, int | None], None] = field(default=lambda done, total: None)


@dataclass
class Built:
    """What a builder made: the download's name and type, the rows it holds, and what each download logs."""

    filename: str
    content_type: str
    rows: int | None = None
    log_model: type[models.Model] | None = None
    log_object_id: str = ""
    log_description: str = ""


@dataclass(frozen=True)
class Kind:
    name: str
    formats: tuple[str, ...]
    title: Callable[[dict, str], str]
    check: Callable[[Any, dict, str], dict]
    build: Callable[[Job], Built]


_kinds: dict[str, Kind] = {}
_key_resolver: list[Callable[[str], Any]] = []


def register(kind: Kind) -> None:
    _kinds[kind.name] = kind


def get(name: str) -> Kind | None:
    return _kinds.get(name)


def kinds() -> dict[str, Kind]:
    return dict(_kinds)


def register_key_resolver(resolver: Callable[[str], Any]) -> None:
    """resolver(prefix) -> the key's principal, or None when the key is gone, revoked or expired."""
    _key_resolver[:] = [resolver]


def principal_for_key(prefix: str) -> Any:
    return _key_resolver[0](prefix) if _key_resolver else None
