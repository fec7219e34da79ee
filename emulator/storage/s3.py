"""S3 for the services, over moto's in-process backend, persisted write-through in the data dir.

moto keeps S3 in memory. So that buckets and objects survive a restart (even `kill -9`), every
mutating S3 request (through the edge or through this store) is followed, before its response is
sent, by a sync of the touched bucket to disk; on start the disk copy is loaded back into moto.

Layout under the store's root::

    buckets.json                       {name: {"region": ..., "created": iso}}
    objects/<bucket>/<h[:2]>/<h>.json  one object's metadata, h = sha256(key)
    objects/<bucket>/<h[:2]>/<h>.<n>   its body (a fresh name per write, so that a crash between
                                       writing the body and the metadata never pairs them wrongly)

Only the latest version of each key is kept, and in-progress multipart uploads are not.

A write the disk refuses (full) is undone in moto as well (`_restore`: moto's copy of the bucket
goes back to the disk copy), its temporary files are removed, and `DiskFull` is raised: what was
acknowledged is on disk, what was refused is nowhere, before and after a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import shutil
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from emulator.storage import moto_internals as moto
from emulator.storage.moto_internals import Bucket, Key, KeySignature
from emulator.storage.space import DiskFull, is_disk_full

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
        self._objects = root / "objects"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._buckets_file = root / "buckets.json"
        self._buckets: dict[str, dict[str, str]] = {}
        self._index: dict[str, dict[str, KeySignature]] = {}
        self._load()

    # --- the services' interface ----------------------------------------------------------------

    def head_bucket(self, bucket: str) -> bool:
        with self.lock:
            return moto.bucket(bucket) is not None

    def create_bucket(self, bucket: str) -> None:
        with self.lock:
            if moto.bucket(bucket) is None:
                moto.create_bucket(bucket, self.region)
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
            fake = moto.new_key(bucket, key)
            if isinstance(data_or_file, bytes | bytearray | memoryview):
                moto.fill_key(fake, [bytes(data_or_file)])
            else:
                moto.fill_key(fake, _chunks(data_or_file))
            if content_type:
                moto.set_content_type(fake, content_type)
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
            self._key(bucket, key)
            meta = self._read_meta(bucket, key)
            stream: BinaryIO = (self._key_dir(bucket, key) / meta["body"]).open("rb")
            return stream

    def content_type(self, bucket: str, key: str) -> str | None:
        """The object's Content-Type (NoSuchBucket / NoSuchKey when it does not exist)."""
        with self.lock:
            return moto.content_type(self._key(bucket, key))

    def list_keys(self, bucket: str, prefix: str = "") -> list[tuple[str, int]]:
        """(key, size) of every object under `prefix`, in key order, as ListObjectsV2 gives them."""
        with self.lock:
            keys = moto.bucket_keys(self._bucket(bucket))
            return sorted(
                (name, moto.key_size(fake))
                for name, fake in keys.items()
                if name.startswith(prefix)
            )

    # --- persistence --------------------------------------------------------------------------

    def sync_bucket(self, bucket: str) -> None:
        """Make the disk copy of `bucket` equal moto's (called after every mutating request).

        If the disk refuses, moto's copy is put back to the disk's (the request is undone) and
        `DiskFull` (or the other error) is raised.
        """
        with self.lock:
            try:
                self._sync_bucket(bucket)
            except Exception as exc:
                try:
                    self._restore(bucket)
                except Exception:
                    log.exception("could not undo a refused write to S3 bucket %s", bucket)
                if is_disk_full(exc):
                    raise DiskFull() from exc
                raise

    def _sync_bucket(self, bucket: str) -> None:
        fake_bucket = moto.bucket(bucket)
        if fake_bucket is None:
            if bucket in self._buckets:
                self._write_buckets({k: v for k, v in self._buckets.items() if k != bucket})
                del self._buckets[bucket]
                self._index.pop(bucket, None)
                shutil.rmtree(self._objects / bucket, ignore_errors=True)
            return
        if bucket not in self._buckets:
            facts = moto.bucket_facts(fake_bucket)
            info = {"region": facts.region, "created": _iso(facts.created)}
            self._write_buckets({**self._buckets, bucket: info})
            self._buckets[bucket] = info
        on_disk = self._index.setdefault(bucket, {})
        current = moto.bucket_keys(fake_bucket)
        for name, fake in current.items():
            signature = moto.key_signature(fake)
            if on_disk.get(name) != signature:
                self._write_object(bucket, name, fake)
                on_disk[name] = signature
        for name in [name for name in on_disk if name not in current]:
            self._remove_object(bucket, name)
            del on_disk[name]

    def _restore(self, bucket: str) -> None:
        """Put moto's copy of `bucket` back to the disk copy (after a refused write)."""
        fake_bucket = moto.bucket(bucket)
        info = self._buckets.get(bucket)
        if info is None:
            if fake_bucket is not None:
                moto.drop_bucket(bucket)  # its creation was refused
            return
        if fake_bucket is None:  # its deletion was refused
            fake_bucket = self._create_bucket(bucket, info)
        on_disk = self._index.setdefault(bucket, {})
        current = moto.bucket_keys(fake_bucket)
        for name, fake in current.items():
            if name not in on_disk:
                moto.drop_key(fake_bucket, name)
            elif moto.key_signature(fake) != on_disk[name]:
                self._load_key(bucket, self._key_dir(bucket, name) / f"{_digest(name)}.json")
        for name in [name for name in on_disk if name not in current]:
            self._load_key(bucket, self._key_dir(bucket, name) / f"{_digest(name)}.json")

    def sync_buckets(self, names: Iterable[str] | None = None) -> None:
        """Sync the named buckets, or every bucket moto or the disk knows when `names` is None."""
        with self.lock:
            targets = set(names) if names is not None else set(moto.bucket_names())
            if names is None:
                targets |= set(self._buckets)
            for name in sorted(targets):
                self.sync_bucket(name)

    def known_bucket(self, name: str) -> bool:
        with self.lock:
            return name in self._buckets or moto.bucket(name) is not None

    def cors_rules(self, bucket: str) -> list[moto.CorsRule]:
        """The bucket's CORS configuration ([] when it has none, or does not exist)."""
        with self.lock:
            return moto.bucket_cors(bucket) if bucket else []

    def _write_object(self, bucket: str, name: str, fake: Key) -> None:
        directory = self._key_dir(bucket, name)
        directory.mkdir(parents=True, exist_ok=True)
        digest = _digest(name)
        body_name = f"{digest}.{uuid.uuid4().hex[:12]}"
        tmp = directory / f".{body_name}.tmp"
        try:
            with tmp.open("wb") as out:
                moto.copy_body(fake, out)
            os.replace(tmp, directory / body_name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        old_body = self._body_name(bucket, name)
        facts = moto.key_facts(fake)
        meta = {
            "key": name,
            "body": body_name,
            "etag": facts.etag,
            "last_modified": _iso(facts.last_modified),
            "size": facts.size,
            "metadata": facts.metadata,
            "storage_class": facts.storage_class,
        }
        try:
            _atomic_write(directory / f"{digest}.json", json.dumps(meta).encode())
        except BaseException:
            (directory / body_name).unlink(missing_ok=True)
            raise
        if old_body and old_body != body_name:
            (directory / old_body).unlink(missing_ok=True)

    def _remove_object(self, bucket: str, name: str) -> None:
        directory = self._key_dir(bucket, name)
        old_body = self._body_name(bucket, name)
        (directory / f"{_digest(name)}.json").unlink(missing_ok=True)
        if old_body:
            (directory / old_body).unlink(missing_ok=True)

    def _body_name(self, bucket: str, name: str) -> str | None:
        try:
            body: str = self._read_meta(bucket, name)["body"]
        except (OSError, ValueError, KeyError):
            return None
        return body

    def _read_meta(self, bucket: str, name: str) -> dict[str, Any]:
        path = self._key_dir(bucket, name) / f"{_digest(name)}.json"
        meta: dict[str, Any] = json.loads(path.read_bytes())
        return meta

    def _key_dir(self, bucket: str, name: str) -> Path:
        return self._objects / bucket / _digest(name)[:2]

    def _write_buckets(self, buckets: dict[str, dict[str, str]]) -> None:
        _atomic_write(self._buckets_file, json.dumps(buckets, indent=1).encode())

    def _load(self) -> None:
        """Put the disk copy back into moto (at start, before any request)."""
        if self._buckets_file.exists():
            self._buckets = json.loads(self._buckets_file.read_bytes())
        for bucket, info in self._buckets.items():
            if moto.bucket(bucket) is None:
                self._create_bucket(bucket, info)
            self._index.setdefault(bucket, {})
            bucket_dir = self._objects / bucket
            if not bucket_dir.is_dir():
                continue
            for meta_path in bucket_dir.glob("*/*.json"):
                self._load_key(bucket, meta_path)
            self._remove_orphans(bucket_dir)
        log.info(
            "S3: loaded %d bucket(s), %d object(s) from %s",
            len(self._buckets),
            sum(len(keys) for keys in self._index.values()),
            self.root,
        )

    def _load_key(self, bucket: str, meta_path: Path) -> None:
        """Put one object's disk copy into moto (at start, or to undo a refused write)."""
        index = self._index.setdefault(bucket, {})
        try:
            meta = json.loads(meta_path.read_bytes())
            body_path = meta_path.parent / meta["body"]
            fake = moto.new_key(bucket, meta["key"])
            with body_path.open("rb") as stream:
                moto.fill_key(fake, _chunks(stream))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("skipping unreadable S3 object record %s: %s", meta_path, exc)
            return
        moto.restore_key(
            fake,
            etag=meta["etag"],
            last_modified=datetime.fromisoformat(meta["last_modified"]).replace(tzinfo=None),
            metadata=dict(meta.get("metadata") or {}),
            storage_class=meta.get("storage_class"),
        )
        index[meta["key"]] = moto.key_signature(fake)

    def _remove_orphans(self, bucket_dir: Path) -> None:
        """Bodies no metadata points to: left by a crash between the two writes of an object."""
        for directory in bucket_dir.iterdir():
            if not directory.is_dir():
                continue
            wanted = set()
            for meta_path in directory.glob("*.json"):
                try:
                    wanted.add(json.loads(meta_path.read_bytes())["body"])
                except (OSError, ValueError, KeyError):
                    continue
            for path in directory.iterdir():
                if path.suffix != ".json" and path.name not in wanted:
                    path.unlink(missing_ok=True)

    def _create_bucket(self, bucket: str, info: dict[str, str]) -> Bucket:
        """Put a bucket of the disk copy into moto (empty), with its stored creation date."""
        created = datetime.fromisoformat(info["created"]) if info.get("created") else None
        return moto.create_bucket(bucket, info.get("region", self.region), created)

    def _bucket(self, bucket: str) -> Bucket:
        fake_bucket = moto.bucket(bucket)
        if fake_bucket is None:
            raise NoSuchBucket(bucket)
        return fake_bucket

    def _key(self, bucket: str, key: str) -> Key:
        fake = moto.get_key(self._bucket(bucket), key)
        if fake is None:
            raise NoSuchKey(f"s3://{bucket}/{key}")
        return fake


def _chunks(stream: IO[bytes]) -> Iterable[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
