"""A sheet import in two steps: the upload shows a preview of what would change (nothing written), and a
confirmation applies exactly what was previewed.

The parsed sheet travels from the first step to the second inside the page, as a token signed for one
purpose, one object and one user, and good for `max_age` seconds:

    preview = SignedPreview("meetings.attendance-import", object_pk=meeting.pk, user_pk=request.user.pk)
    token = preview.sign({"rows": rows})  # the preview step: into the confirmation form's hidden field
    rows = preview.load(token)["rows"]  # the confirmation step; raises PreviewInvalid

A token that was changed, signed for another object, user or purpose, or is older than `max_age` raises
PreviewInvalid, whose `message` tells the user to upload the sheet again. The signature only vouches
that the payload is the one previewed: the confirmation still runs the import's checks again, since who
may write and what the database holds can change in between.
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from django.core import signing
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

# What a signed preview can carry: what JSON can (django.core.signing's serializer). Sequence and Mapping, which
# take a list[int] or a dict[str, str] as they are (list and dict would not: their items may be replaced).
JSON: TypeAlias = bool | int | float | str | Sequence["JSON"] | Mapping[str, "JSON"] | None

PREVIEW_MAX_AGE = 60 * 60  # seconds a preview may wait for its confirmation


class PreviewInvalid(Exception):
    """The confirmation's token was changed, is not this preview's (another purpose, object or user),
    or has expired."""

    message: "StrPromise" = gettext_lazy("The preview has expired or was changed. Upload the sheet again.")


class SignedPreview:
    """Signs a preview's payload for one purpose, object and user, and loads it back at confirmation."""

    def __init__(
        self, purpose: str, *, object_pk: int | str, user_pk: int | str, max_age: int = PREVIEW_MAX_AGE
    ) -> None:
        # The salt keeps the historical form "<purpose>:<object>:<user>", so that tokens signed before
        # this helper existed still load.
        self.salt = f"{purpose}:{object_pk}:{user_pk}"
        self.max_age = max_age

    def sign(self, payload: JSON) -> str:
        return signing.dumps(payload, salt=self.salt, compress=True)

    def load(self, token: str) -> Any:
        """The payload as it was signed (its shape is the caller's: lists where it gave lists or tuples)."""
        try:
            return signing.loads(token, salt=self.salt, max_age=self.max_age)
        except signing.BadSignature as error:  # SignatureExpired is one, too
            raise PreviewInvalid from error
