"""Idempotency-Key: a POST retried with the same key and the same body gets the first response again,
and nothing is applied twice (docs/api.md, "Writing records").

The request's row (api.IdempotentRequest, unique per client and key) is inserted in the same
transaction as the write: a concurrent retry waits on the unique index until the first commits, then
finds the stored response; if the first failed, its row went with its writes and the retry runs.
Responses of 5xx are never stored, and a stored one never fails to store (characters jsonb cannot
hold become U+FFFD).
"""

import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.access import Principal
from core import control_characters

from .authentication import is_partner
from .errors import IdempotencyKeyReused
from .models import IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def client_label(user: Principal) -> str:
    return user.label if is_partner(user) else f"user:{user.pk}"


def request_digest(request) -> str:
    """A checksum of what the request asks: its method, path and parsed body (files by content)."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    data = request.data
    if hasattr(data, "lists"):  # a form (multipart): fields, then files by their content
        fields = {k: v for k, v in data.lists() if k not in request.FILES}
        digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(f"\n{name}:{upload.name}:".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def idempotent(view_method):
    """Decorates a POST handler of an APIView: honours the Idempotency-Key header when given."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            with transaction.atomic():
                return view_method(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise ValidationError(
                {HEADER: [_("Give an Idempotency-Key of 1 to 255 printable ASCII characters, e.g. a UUID.")]}
            )
        client = client_label(request.user)
        digest = request_digest(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    row = IdempotentRequest.objects.create(
                        principal=client, key=key, request_hash=digest, method=request.method, path=request.path[:500]
                    )
            except IntegrityError:
                stored = IdempotentRequest.objects.get(principal=client, key=key)
                if stored.request_hash != digest:
                    raise IdempotencyKeyReused from None
                return Response(stored.response_body, status=stored.status_code, headers={REPLAYED_HEADER: "true"})
            response = view_method(self, request, *args, **kwargs)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            row.status_code = response.status_code
            # Stored as the client received it (lazy translations and dates rendered). PostgreSQL's
            # jsonb refuses "\u0000": a response that quotes one (api.parsers refuses them on the way
            # in, so only a bug could) is stored with U+FFFD in its place rather than failing the write.
            rendered = JSONRenderer().render(response.data)
            row.response_body = json.loads(rendered)
            if b"\\u0000" in rendered:
                row.response_body = control_characters.scrub_data(row.response_body)
            row.save(update_fields=["status_code", "response_body"])
            return response

    return wrapper
