"""Attachments of support activities: the kinds accepted (core/attachments.py checks them), how served.

PDF, images (PNG, JPEG, GIF, WebP) and Office documents (Word, Excel, PowerPoint, old or new, or
OpenDocument), up to the portal's one size limit ABE_MAX_ATTACHMENT_BYTES. Files are never linked
through MEDIA_URL: `universities.views.activity_attachment` serves them through the access door,
as a download.
"""

from pathlib import PurePath

from django.utils.translation import gettext as _

from core import attachments as core
from core.attachments import (
    DOC,
    DOCX,
    GIF,
    JPEG,
    ODP,
    ODS,
    ODT,
    PDF,
    PNG,
    PPT,
    PPTX,
    WEBP,
    XLS,
    XLSX,
    FileKind,
)

ACCEPTED = (PDF, PNG, JPEG, GIF, WEBP, DOC, XLS, PPT, DOCX, XLSX, PPTX, ODT, ODS, ODP)
ACCEPT_ATTRIBUTE = core.accept_attribute(ACCEPTED)
# Served with their own content type; the others (legacy Office, OpenDocument) as plain bytes, as
# they always have been: they are downloads, opened by whatever the reader has.
_SERVED_AS_TYPED = (PDF, PNG, JPEG, GIF, WEBP, DOCX, XLSX, PPTX)


def validate_attachment(file) -> FileKind:
    """Refuse a file that is too large, of a type not accepted, or named unlike what it holds."""
    return core.validate_attachment(
        file,
        accepted=ACCEPTED,
        not_accepted=_("This type of file is not accepted. Attach a PDF, an image or an Office document."),
    )


def content_type_for(name: str) -> str:
    """The content type a stored attachment is served with, from its (checked) extension."""
    extension = PurePath(name).suffix.lower()
    for kind in _SERVED_AS_TYPED:
        if extension in kind.extensions:
            return kind.content_type
    return "application/octet-stream"
