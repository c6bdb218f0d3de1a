"""Files in an S3-compatible object store: how long a 50 MB upload takes to reach the bucket, and to come
back as the local file the upload's readers need (core.stored_files.local_copy), against moto's S3 server
on 127.0.0.1 (the tests' server, tests/conftest.py). README.md, "Files".

Printed, median of RUNS: MB/s and ms for
- save: the file into the bucket through the storage API (what the upload page does);
- local_copy: the object streamed into a temporary file by PrivateS3Storage.download_to (ranged GETs);
- open + copy: the same through storage.open() and 1 MB reads, as any other storage would be copied
  (django-storages first spools the whole object to a temporary file of its own: two writes);
- local disk: local_copy of the same file on FileSystemStorage (no copy: the stored file itself);
and the process's peak resident memory (ru_maxrss) after each, to show what a transfer holds in memory.
Figures from moto (a Python server on the same 2 cores) are a floor for a real store's throughput on a LAN.
"""

import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from django.core.files.storage import Storage

SIZE = 50 * 1024 * 1024  # TARGETS_UPLOAD_MAX_BYTES
RUNS = 3
CHUNK = 1024 * 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_ms(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _row(label: str, ms: float) -> None:
    speed = SIZE / 1024 / 1024 / (ms / 1000)
    print(f"{label:<34} {ms:>8.0f} ms  {speed:>7.0f} MB/s   peak RSS so far {_peak_mb():>5.0f} MB")


def run() -> None:
    from django.core.files import File
    from django.core.files.storage import FileSystemStorage

    from core.object_storage import PrivateS3Storage
    from core.stored_files import copy_into, local_copy
    from tests.conftest import S3_KEYS, S3_REGION, moto_s3_server

    work = Path(tempfile.mkdtemp(prefix="abe-bench-storage-"))
    try:
        source = work / "upload.bin"
        with open(source, "wb") as out:  # written in chunks: the file is never whole in this process
            for _ in range(SIZE // CHUNK):
                out.write(os.urandom(CHUNK))
        with moto_s3_server(work / "moto.log") as server:
            server.client().create_bucket(Bucket="abe-bench")
            storage = PrivateS3Storage(
                bucket_name="abe-bench",
                endpoint_url=server.endpoint,
                region_name=S3_REGION,
                addressing_style="path",
                access_key=S3_KEYS["AWS_ACCESS_KEY_ID"],
                secret_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
            )
            print(f"a {SIZE // 1024 // 1024} MB file, moto's S3 server on 127.0.0.1, median of {RUNS}")
            print(f"peak resident memory before: {_peak_mb():.0f} MB")
            # The object to read back, put there by one plain PUT that holds little in memory, so that each
            # peak below is the step's own (ru_maxrss only grows): the reads first, the save last.
            name = "uploads/40/bench"
            with open(source, "rb") as handle:
                server.client().put_object(Bucket="abe-bench", Key=name, Body=handle)
            stored = _Stored(name, storage)

            def materialise() -> None:
                with local_copy(stored) as path:
                    assert path.stat().st_size == SIZE

            _row("local_copy (download_to)", _median_ms(materialise))

            def open_and_copy() -> None:
                with tempfile.TemporaryFile() as copy:
                    copy_into(_OpenOnly(storage), name, copy)
                    assert copy.tell() == SIZE

            _row("open + copy (any storage)", _median_ms(open_and_copy))

            def save() -> None:
                with open(source, "rb") as handle:
                    storage.save("uploads/40/saved", File(handle))

            _row("save (storage API, multipart)", _median_ms(save))

        disk = FileSystemStorage(location=work / "media")
        with open(source, "rb") as handle:
            on_disk = _Stored(disk.save("uploads/40/bench", File(handle)), disk)

        def local() -> None:
            with local_copy(on_disk) as path:
                assert path.stat().st_size == SIZE

        print(f"{'local disk (the stored file itself)':<34} {_median_ms(local):>8.2f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Stored:
    def __init__(self, name: str, storage) -> None:
        self.name = name
        self.storage = storage


class _OpenOnly(Storage):
    """The storage without its download_to: copy_into goes through open(), as for any other backend."""

    def __init__(self, storage) -> None:
        self._storage = storage

    def _open(self, name: str, mode: str = "rb"):
        return self._storage.open(name, mode)
