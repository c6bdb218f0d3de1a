"""Attachments of support activities: what may be uploaded, and how a file is served back.

A file is accepted by what it is, not by what it is called: its first bytes must be those of a
PDF, an image (PNG, JPEG, GIF, WebP) or an Office document (Word, Excel, PowerPoint, old or new,
or OpenDocument), and its name must end with an extension of that same kind. Files are never
linked through MEDIA_URL: `universities.views.activity_attachment` serves them through the
access door, as a download.
"""

import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# The largest attachment accepted, in bytes (reports and photos of an activity, not videos).
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Kind:
    label: str
    content_type: str
    extensions: tuple[str, ...]


PDF = Kind("PDF", "application/pdf", (".pdf",))
PNG = Kind("PNG", "image/png", (".png",))
JPEG = Kind("JPEG", "image/jpeg", (".jpg", ".jpeg"))
GIF = Kind("GIF", "image/gif", (".gif",))
WEBP = Kind("WebP", "image/webp", (".webp",))
OLE_OFFICE = Kind("Office 97–2003", "application/octet-stream", (".doc", ".xls", ".ppt"))
WORD = Kind("Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",))
EXCEL = Kind("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
POWERPOINT = Kind("PowerPoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",))
OPENDOCUMENT = Kind("OpenDocument", "application/octet-stream", (".odt", ".ods", ".odp"))

ALLOWED_EXTENSIONS = sorted(
    ext
    for kind in (PDF, PNG, JPEG, GIF, WEBP, OLE_OFFICE, WORD, EXCEL, POWERPOINT, OPENDOCUMENT)
    for ext in kind.extensions
)

# Office Open XML files are ZIP archives; the folder of their main part says which application.
_OOXML_PARTS = (("word/", WORD), ("xl/", EXCEL), ("ppt/", POWERPOINT))
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text",
    b"application/vnd.oasis.opendocument.spreadsheet",
    b"application/vnd.oasis.opendocument.presentation",
}


def _sniff_zip(file) -> Kind | None:
    """An Office Open XML or OpenDocument file, judged by the names inside the archive."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if "mimetype" in names and archive.read("mimetype").strip() in _ODF_MIMETYPES:
                return OPENDOCUMENT
            if "[Content_Types].xml" in names:
                for prefix, kind in _OOXML_PARTS:
                    if any(name.startswith(prefix) for name in names):
                        return kind
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError):
        return None
    return None


def sniff(file) -> Kind | None:
    """The kind of an uploaded file from its content (magic bytes), or None if it is not allowed."""
    file.seek(0)
    head = file.read(16)
    kind = None
    if head.startswith(b"%PDF-"):
        kind = PDF
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = PNG
    elif head.startswith(b"\xff\xd8\xff"):
        kind = JPEG
    elif head.startswith((b"GIF87a", b"GIF89a")):
        kind = GIF
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind = WEBP
    elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        kind = OLE_OFFICE
    elif head.startswith(b"PK\x03\x04"):
        kind = _sniff_zip(file)
    file.seek(0)
    return kind


def validate_attachment(file) -> Kind:
    """Refuse a file that is too large, of a type not accepted, or named unlike what it holds."""
    if file.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": round(file.size / 1024 / 1024, 1), "limit": MAX_ATTACHMENT_BYTES // 1024 // 1024},
            code="too_large",
        )
    kind = sniff(file)
    if kind is None:
        raise ValidationError(
            _("This type of file is not accepted. Attach a PDF, an image or an Office document."),
            code="bad_type",
        )
    extension = PurePath(file.name or "").suffix.lower()
    if extension not in kind.extensions:
        raise ValidationError(
            _("The file's name does not match its content (%(kind)s): name it with %(extensions)s.")
            % {"kind": kind.label, "extensions": ", ".join(kind.extensions)},
            code="bad_name",
        )
    return kind


def content_type_for(name: str) -> str:
    """The content type a stored attachment is served with, from its (checked) extension."""
    extension = PurePath(name).suffix.lower()
    for kind in (PDF, PNG, JPEG, GIF, WEBP, WORD, EXCEL, POWERPOINT):
        if extension in kind.extensions:
            return kind.content_type
    return "application/octet-stream"
