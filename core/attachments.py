"""Uploaded attachments (meetings' slides and minutes, support activities' reports): judged by content.

A file is accepted when its first bytes are those of a kind the caller accepts AND its name ends
with an extension of that same kind, so a program or a web page renamed to .pdf is refused. One size
limit for every app (ABE_MAX_ATTACHMENT_BYTES); each app says which kinds it accepts
(meetings/attachments.py, universities/attachments.py) and serves its files only behind its door.
"""

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.translation import gettext as _

# [Content_Types].xml is a few kB; a larger one is not an Office file (or is a ZIP bomb).
_CONTENT_TYPES_MAX = 1024 * 1024


def max_attachment_bytes() -> int:
    limit: int = settings.ABE_MAX_ATTACHMENT_BYTES
    return limit


def max_attachment_megabytes() -> str:
    """The limit as people read it ("20"), for help texts and messages."""
    return f"{max_attachment_bytes() / 1024 / 1024:g}"


@dataclass(frozen=True)
class FileKind:
    label: str
    content_type: str
    extensions: tuple[str, ...]


PDF = FileKind("PDF", "application/pdf", (".pdf",))
PNG = FileKind("PNG", "image/png", (".png",))
JPEG = FileKind("JPEG", "image/jpeg", (".jpg", ".jpeg"))
GIF = FileKind("GIF", "image/gif", (".gif",))
WEBP = FileKind("WebP", "image/webp", (".webp",))
DOCX = FileKind("Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",))
XLSX = FileKind("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
PPTX = FileKind("PowerPoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",))
# An OLE compound file does not say cheaply which application wrote it: the extension picks the
# content type among the three legacy Office formats (and only those).
DOC = FileKind("Word 97–2003", "application/msword", (".doc",))
XLS = FileKind("Excel 97–2003", "application/vnd.ms-excel", (".xls",))
PPT = FileKind("PowerPoint 97–2003", "application/vnd.ms-powerpoint", (".ppt",))
LEGACY_OFFICE = (DOC, XLS, PPT)
ODT = FileKind("OpenDocument", "application/vnd.oasis.opendocument.text", (".odt",))
ODS = FileKind("OpenDocument", "application/vnd.oasis.opendocument.spreadsheet", (".ods",))
ODP = FileKind("OpenDocument", "application/vnd.oasis.opendocument.presentation", (".odp",))

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The content type of the main part, as [Content_Types].xml declares it. Macro-enabled variants
# (docm, xlsm, pptm) declare other types and are refused.
_OOXML_MAIN_PARTS = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
}
# An OpenDocument file starts with a stored member "mimetype" naming what it is.
_ODF_MIMETYPES = {kind.content_type.encode(): kind for kind in (ODT, ODS, ODP)}


def accept_attribute(kinds: Iterable[FileKind]) -> str:
    """The `accept` attribute of a file input that offers these kinds."""
    return ",".join(sorted(ext for kind in kinds for ext in kind.extensions))


def _sniff_zip(file: IO[bytes]) -> FileKind | None:
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                return _ODF_MIMETYPES.get(archive.read("mimetype").strip())
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _CONTENT_TYPES_MAX:
                return None
            content_types = archive.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, EOFError, NotImplementedError):
        return None
    found = {kind for main, kind in _OOXML_MAIN_PARTS.items() if main in content_types}
    return found.pop() if len(found) == 1 else None


def sniff(file: IO[bytes], name: str = "") -> FileKind | None:
    """The kind of `file` judged by its content (and, for legacy Office, its extension), or None."""
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"PK\x03\x04"):
        kind = _sniff_zip(file)
        file.seek(0)
        return kind
    if head.startswith(_OLE_MAGIC):
        extension = PurePath(name).suffix.lower()
        return next((kind for kind in LEGACY_OFFICE if extension in kind.extensions), None)
    return None


def validate_attachment(file: "File[bytes]", *, accepted: Iterable[FileKind], not_accepted: str) -> FileKind:
    """The kind of an uploaded file; ValidationError if it is too large, not accepted, or misnamed.

    `not_accepted` is the caller's message for a file of another kind (it names what it accepts).
    """
    limit = max_attachment_bytes()
    if file.size > limit:
        raise ValidationError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": f"{file.size / 1024 / 1024:.1f}", "limit": max_attachment_megabytes()},
            code="too_large",
        )
    name = file.name or ""
    kind = sniff(file, name)
    if kind is None or kind not in accepted:
        raise ValidationError(not_accepted, code="bad_type")
    if PurePath(name).suffix.lower() not in kind.extensions:
        raise ValidationError(
            _("The file's name does not match its content (%(kind)s): name it with %(extensions)s.")
            % {"kind": kind.label, "extensions": ", ".join(kind.extensions)},
            code="bad_name",
        )
    return kind
