"""The portal's files in an S3-compatible object store (README.md, "Files"; settings.py STORAGES).

Chosen by STORAGE_BACKEND=s3 (or by AWS_STORAGE_BUCKET_NAME alone), so that every web and worker machine
sees the file another one received. Imported only then: on local disk nothing loads boto3.
"""

from typing import IO, Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.conf import settings
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# What an S3File keeps in memory while it is read before it spills to a temporary file on disk
# (django-storages' own default, 0, never spills: a 20 MB attachment would sit whole in memory).
SPOOL_BYTES = 2 * 1024 * 1024
# Transfers of a large file in 8 MB parts, four at once: boto3's default of ten holds about twice the memory
# (a 50 MB save peaked 106 MB above the process's size, 42 MB with four) and was no faster here (bench/storage.py).
TRANSFERS = TransferConfig(max_concurrency=4)


class PrivateS3Storage(S3Storage):  # type: ignore[misc]  # django-storages ships no types
    """S3Storage as the portal needs it: private objects, never overwritten, never linked.

    - Objects are written with a private ACL (AWS_DEFAULT_ACL, `private` unless set empty for a store that
      refuses ACL headers) and are read only by the portal's own credentials.
    - Two files with one name get two objects, as on disk (django-storages' default overwrites).
    - url() never gives out a bucket address, signed or not: files are served only by the portal's
      views behind the access door (meetings.views.attachment, universities.views.activity_attachment).
      It answers MEDIA_URL + name, as FileSystemStorage does, a path the portal does not serve.
    - Reading spills to disk past SPOOL_BYTES, so a download streams from a temporary file; large files
      move in parts, TRANSFERS at a time.
    """

    default_acl = "private"
    file_overwrite = False
    querystring_auth = False
    max_memory_size = SPOOL_BYTES
    transfer_config = TRANSFERS

    def url(self, name: str | None, parameters: Any = None, expire: Any = None, http_method: Any = None) -> str:
        return f"{settings.MEDIA_URL}{clean_name(name or '')}"

    def download_to(self, name: str, destination: IO[bytes]) -> None:
        """Write the object `name` into `destination`, in parts (boto3's managed transfer: ranged GETs of
        8 MB, TRANSFERS at once), never whole in memory. core.stored_files.local_copy uses it."""
        key = self._normalize_name(clean_name(name))
        try:
            self.bucket.Object(key).download_fileobj(destination, Config=self.transfer_config)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                raise FileNotFoundError(f"no such object: {name}") from error
            raise
