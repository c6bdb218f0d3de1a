"""A stored file (a FileField's, in whichever storage STORAGES names) as a local file, for the few readers
that need a path: the upload's child processes (targets/upload/reading.py) read a file by its path.

Everything else reads files through the storage API (`field_file.open("rb")`, `storage.open(name)`),
never through `.path` or MEDIA_ROOT: with STORAGE_BACKEND=s3 a file received by one web machine lives in
the bucket, and another machine has no copy on its disk (README.md, "Files").
"""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import IO, Protocol

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage

CHUNK_BYTES = 1024 * 1024  # what one read from a storage without download_to copies at a time


class StoredFile(Protocol):
    """A FieldFile, or anything that names a file in a storage."""

    @property
    def name(self) -> str | None: ...

    @property
    def storage(self) -> Storage: ...


@contextlib.contextmanager
def local_copy(file: StoredFile) -> Iterator[Path]:
    """The path of a local file holding `file`'s bytes, for the length of the `with` block.

    On local disk (FileSystemStorage) that is the stored file itself: no copy. Elsewhere the object is
    streamed, in chunks, into a temporary file (FILE_UPLOAD_TEMP_DIR, or the system's), which is removed
    when the block ends, however it ends. Raises FileNotFoundError when the bucket has no such object.
    """
    name = file.name
    if not name:
        raise FileNotFoundError("no file is stored")
    storage = file.storage
    if isinstance(storage, FileSystemStorage):
        yield Path(storage.path(name))  # the readers say what a missing file means, as they always have
        return
    # The stored names carry no extension (targets.models.upload_path); the copy keeps any it has.
    with tempfile.NamedTemporaryFile(
        prefix="abe-stored-", suffix=PurePath(name).suffix, dir=settings.FILE_UPLOAD_TEMP_DIR
    ) as copy:
        copy_into(storage, name, copy)
        copy.flush()
        yield Path(copy.name)


def copy_into(storage: Storage, name: str, destination: IO[bytes]) -> None:
    """Write the stored file `name` into `destination` in chunks: by the storage's own download_to where it
    has one (core.object_storage.PrivateS3Storage: ranged GETs, no second copy), else through open()."""
    download_to = getattr(storage, "download_to", None)
    if callable(download_to):
        download_to(name, destination)
        return
    with storage.open(name, "rb") as source:
        shutil.copyfileobj(source, destination, CHUNK_BYTES)
