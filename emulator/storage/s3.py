"""S3 for the services, over moto's in-process backend, persisted write-through in the data dir.

moto keeps S3 in memory; every mutating S3 request (through the edge or through this store) is
followed, before its response is sent, by a sync of the touched bucket to disk (`sync_bucket`),
so that buckets and objects survive a restart, even `kill -9`. s3_disk.py holds the data dir's
copy (its layout, the sync and its undo when the disk refuses a write), s3_load.py what a start
puts back into moto.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, BinaryIO

from emulator.storage.moto_internals import s3 as moto_s3
from emulator.storage.moto_internals import s3_listing, s3_versions
from emulator.storage.moto_internals.s3 import Bucket, Key
from emulator.storage.s3_disk import S3Disk
from emulator.storage.s3_load import load

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024


class NoSuchBucket(KeyError):
    """The bucket does not exist."""


class NoSuchKey(KeyError):
    """The key does not exist in the bucket."""


class S3Store:
    """The services' view of S3, and the persistence of all of S3."""

    def __init__(self, root: Path, region: str = "us-east-1") -> None:
        self.root = root
        self.region = region
        self.lock = threading.RLock()
        """Held around every use of moto's S3 backend (moto itself is not thread-safe)."""
        self._disk = S3Disk(root, region, self.lock)
        load(self._disk)
        # moto's listings read the index: a page costs its keys, not the bucket's.
        s3_listing.serve_listings_from_index()

    def close(self) -> None:
        self._disk.close()

    # --- the services' interface ----------------------------------------------------------------

    def head_bucket(self, bucket: str) -> bool:
        with self.lock:
            return moto_s3.bucket(bucket) is not None

    def create_bucket(self, bucket: str) -> None:
        with self.lock:
            if moto_s3.bucket(bucket) is None:
                moto_s3.create_bucket(bucket, self.region)
            self.sync_bucket(bucket)

    def put_object(
        self,
        bucket: str,
        key: str,
        data_or_file: bytes | IO[bytes],
        content_type: str | None = None,
    ) -> None:
        with self.lock:
            self._bucket(bucket)
            fake = moto_s3.new_key(bucket, key)
            if isinstance(data_or_file, bytes | bytearray | memoryview):
                moto_s3.fill_key(fake, [bytes(data_or_file)])
            else:
                moto_s3.fill_key(fake, _chunks(data_or_file))
            if content_type:
                moto_s3.set_content_type(fake, content_type)
            self.sync_bucket(bucket)

    def seed_tree(self, root: Path) -> int:
        """Upload `root/<bucket>/<key...>` (serve --seed-dir): top-level folders are buckets."""
        if not root.is_dir():
            raise ValueError(f"seed dir {root} is not a folder")
        loose = sorted(p.name for p in root.iterdir() if p.is_file())
        if loose:
            raise ValueError(
                f"seed dir {root} has files at its top level ({', '.join(loose)}); "
                "its top-level folders are buckets: put files in <seed dir>/<bucket>/..."
            )
        count = 0
        for bucket_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            self.create_bucket(bucket_dir.name)
            for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file()):
                content_type, _ = mimetypes.guess_type(path.name)
                with path.open("rb") as stream:
                    key = path.relative_to(bucket_dir).as_posix()
                    self.put_object(bucket_dir.name, key, stream, content_type)
                count += 1
        log.info("S3: seeded %d object(s) from %s", count, root)
        return count

    def get_object(self, bucket: str, key: str) -> bytes:
        with self.open_object(bucket, key) as stream:
            return stream.read()

    def open_object(self, bucket: str, key: str) -> BinaryIO:
        """A read-only file of the object's current body (the persisted copy: no copy in memory)."""
        with self.lock:
            token = s3_versions.version_token(self._key(bucket, key))
            if token is None:
                raise NoSuchKey(f"s3://{bucket}/{key}")  # not stored: only a refused write
            stream: BinaryIO = self._disk.body_path(token).open("rb")
            return stream

    def content_type(self, bucket: str, key: str) -> str | None:
        """The object's Content-Type (NoSuchBucket / NoSuchKey when it does not exist)."""
        with self.lock:
            return moto_s3.content_type(self._key(bucket, key))

    def list_keys(self, bucket: str, prefix: str = "") -> list[tuple[str, int]]:
        """(key, size) of every object under `prefix`, in key order, as ListObjectsV2 gives them."""
        with self.lock:
            self._bucket(bucket)
            # From the index, which equals moto under the lock: no key becomes moto's object.
            return self._disk.index.current_sizes(bucket, prefix)

    # --- persistence --------------------------------------------------------------------------

    def sync_bucket(self, bucket: str) -> None:
        """Write what the last request changed in `bucket` to disk (after every mutating one).

        If the disk refuses, moto's copy of what changed is put back to the disk's (the request
        is undone) and `DiskFull` (or the other error) is raised.
        """
        with self.lock:
            self._disk.sync_bucket(bucket)

    def sync_buckets(self, names: Iterable[str] | None = None) -> None:
        """Sync the named buckets, or every bucket moto or the disk knows when `names` is None."""
        with self.lock:
            targets = set(names) if names is not None else set(moto_s3.bucket_names())
            if names is None:
                targets |= set(self._disk.buckets)
            for name in sorted(targets):
                self.sync_bucket(name)

    def known_bucket(self, name: str) -> bool:
        with self.lock:
            return name in self._disk.buckets or moto_s3.bucket(name) is not None

    def cors_rules(self, bucket: str) -> list[moto_s3.CorsRule]:
        """The bucket's CORS configuration ([] when it has none, or does not exist)."""
        with self.lock:
            return moto_s3.bucket_cors(bucket) if bucket else []

    def _bucket(self, bucket: str) -> Bucket:
        fake_bucket = moto_s3.bucket(bucket)
        if fake_bucket is None:
            raise NoSuchBucket(bucket)
        return fake_bucket

    def _key(self, bucket: str, key: str) -> Key:
        fake = moto_s3.get_key(self._bucket(bucket), key)
        if fake is None:
            raise NoSuchKey(f"s3://{bucket}/{key}")
        return fake


def _chunks(stream: IO[bytes]) -> Iterable[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk
