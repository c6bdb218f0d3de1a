"""Attachments of meetings (slides, minutes): the kinds accepted (core/attachments.py checks them).

PDF, PNG or JPEG images, and Word, Excel or PowerPoint files (Office Open XML or 97–2003). The
size limit is the portal's one setting ABE_MAX_ATTACHMENT_BYTES. Files are served only through
`meetings.views.attachment`, behind the meeting's access door, with the content type found here.
"""

from django.utils.translation import gettext as _

from core import attachments as core
from core.attachments import (
    DOC,
    DOCX,
    JPEG,
    PDF,
    PNG,
    PPT,
    PPTX,
    XLS,
    XLSX,
    FileKind,
    max_attachment_bytes,
    sniff,
)

__all__ = ["ACCEPTED", "ACCEPT_ATTRIBUTE", "max_attachment_bytes", "sniff", "validate_attachment"]

ACCEPTED = (PDF, PNG, JPEG, DOCX, XLSX, PPTX, DOC, XLS, PPT)
ACCEPT_ATTRIBUTE = ",".join(ext for kind in ACCEPTED for ext in kind.extensions)


def validate_attachment(file) -> FileKind:
    """The kind of an uploaded file; ValidationError if it is too large, not accepted, or misnamed."""
    return core.validate_attachment(
        file,
        accepted=ACCEPTED,
        not_accepted=_(
            "This type of file is not accepted. Attach a PDF, a PNG or JPEG image, or a Word, Excel or PowerPoint file."
        ),
    )
