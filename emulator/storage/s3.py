"""S3 for the services, over moto's in-process backend, persisted write-through in the data dir.

moto keeps S3 in memory. So that buckets and objects survive a restart (even `kill -9`), every
mutating S3 request (through the edge or through this store) is followed, before its response is
sent, by a sync of the touched bucket to disk. A sync costs what the request changed, not what
the bucket holds: each bucket's key store in moto records the names a request changed
(`moto_internals.track_keys`), and only those are written.

Layout under the store's root::

    buckets.json                  {name: {"region", "created", "versioning"}}
    index.sqlite3 (+ -wal, -shm)  every version of every object (delete markers included), every
                                  multipart upload in progress and its parts: their metadata and
                                  the name of their body (see s3_index.py)
    bodies/<t[:2]>/<t>            one body, t = a fresh random name per version (or part) written
    bodies.journal                names of the bodies being written or removed (body_journal.py)

A body is written once, under a fresh name, before the index row that points to it is
committed: a crash in between leaves a file no row points to (the journal names it, and the
next start removes it), never a row pointing to a partial body. That file is also what moto serves: once it is written, the
key's own buffer is swapped for a `FileBody` of it, so the data dir holds the only copy.

At start only the buckets are put into moto (and the multipart uploads in progress); a key is
looked up in the index when a request first names it, and a version becomes moto's object (its
metadata read from the index, its body left on disk) when a request first reads it
(`moto_key_store.py`). Start time and memory grow with the number of buckets, not with what they
hold.

A write the disk refuses (full) is undone in moto as well (`_restore`: moto's copy of what the
request changed goes back to the disk's), the files it wrote are removed, and `DiskFull` is
raised: what was acknowledged is on disk, what was refused is nowhere, before and after a
restart.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from emulator.storage import moto_internals as moto
from emulator.storage import moto_key_store as key_store
from emulator.storage.body_journal import BodyJournal
from emulator.storage.file_body import FileBody
from emulator.storage.moto_internals import Bucket, Key, Version
from emulator.storage.s3_index import BucketRow, S3Index
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
        self._bodies = root / "bodies"
        for prefix in range(256):  # made once: a write need not check its folder
            (self._bodies / f"{prefix:02x}").mkdir(parents=True, exist_ok=True)
        self._buckets_file = root / "buckets.json"
        self._buckets: dict[str, BucketRow] = {}
        self._uploads: dict[str, dict[str, dict[int, str]]] = {}
        """bucket -> upload id -> part number -> body token, as the disk holds them."""
        self._index = S3Index(root / "index.sqlite3")
        self._journal = BodyJournal(root / "bodies.journal")
        self._load()

    def close(self) -> None:
        self._index.close()

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
            token = moto.version_token(self._key(bucket, key))
            if token is None:
                raise NoSuchKey(f"s3://{bucket}/{key}")  # not stored: only a refused write
            stream: BinaryIO = self._body_path(token).open("rb")
            return stream

    def content_type(self, bucket: str, key: str) -> str | None:
        """The object's Content-Type (NoSuchBucket / NoSuchKey when it does not exist)."""
        with self.lock:
            return moto.content_type(self._key(bucket, key))

    def list_keys(self, bucket: str, prefix: str = "") -> list[tuple[str, int]]:
        """(key, size) of every object under `prefix`, in key order, as ListObjectsV2 gives them."""
        with self.lock:
            self._bucket(bucket)
            # From the index, which equals moto under the lock: no key becomes moto's object.
            return self._index.current_sizes(bucket, prefix)

    # --- persistence --------------------------------------------------------------------------

    def sync_bucket(self, bucket: str) -> None:
        """Write what the last request changed in `bucket` to disk (after every mutating one).

        If the disk refuses, moto's copy of what changed is put back to the disk's (the request
        is undone) and `DiskFull` (or the other error) is raised.
        """
        with self.lock:
            write = _Write()
            try:
                self._sync_bucket(bucket, write)
            except Exception as exc:
                self._index.rollback()
                for path in write.written:
                    path.unlink(missing_ok=True)
                self._journal.settled()
                try:
                    self._restore(bucket, write)
                except Exception:
                    log.exception("could not undo a refused write to S3 bucket %s", bucket)
                if is_disk_full(exc):
                    raise DiskFull() from exc
                raise
            for done in write.after_commit:
                done()
            for token in write.obsolete:
                self._body_path(token).unlink(missing_ok=True)
            self._journal.settled()

    def _sync_bucket(self, bucket: str, write: _Write) -> None:
        found = moto.bucket(bucket)
        if found is None:
            if bucket in self._buckets:
                # buckets.json first: rows of a bucket it does not name are dropped at start.
                self._write_buckets({k: v for k, v in self._buckets.items() if k != bucket})
                del self._buckets[bucket]
                self._uploads.pop(bucket, None)
                self._index.begin()
                write.obsolete += self._index.drop_bucket(bucket)
                self._journal.removing(write.obsolete)
                self._index.commit()
            return
        facts = moto.bucket_facts(found)
        row = BucketRow(facts.region, _iso(facts.created), moto.versioning(found))
        tracked = key_store.track_keys(found, self._stored(bucket, facts.region))
        changed = key_store.take_changed_keys(found)
        if not tracked or changed is None:
            write.keys = set(key_store.all_key_names(found)) | self._index.key_names(bucket)
        else:
            write.keys = changed
        keys = write.keys
        write.after_commit.append(lambda: key_store.settle_keys(found, keys))
        previous = self._buckets.get(bucket)
        if previous != row:
            self._write_buckets({**self._buckets, bucket: row})
            self._buckets[bucket] = row
            write.bucket_row = (previous,)
        self._index.begin()
        for name in sorted(write.keys):
            self._sync_key(bucket, found, name, write)
        self._sync_uploads(bucket, found, write)
        self._journal.removing(write.obsolete)
        self._index.commit()

    def _sync_key(self, bucket: str, found: Bucket, name: str, write: _Write) -> None:
        versions = moto.key_versions(found, name)
        tokens = [moto.version_token(version) for version in versions]
        stored = self._index.versions(bucket, name)
        if tokens == [row.token for row in stored]:
            return
        rows: list[tuple[str, moto.VersionFacts]] = []
        for version, token in zip(versions, tokens, strict=True):
            facts = moto.version_facts(version)
            if token is None:
                token = self._write_body(version, facts, write)
            rows.append((token, facts))
        self._index.put_versions(bucket, name, rows)
        kept = {token for token, _ in rows}
        write.obsolete += [
            row.token for row in stored if not row.facts.is_delete_marker and row.token not in kept
        ]

    def _sync_uploads(self, bucket: str, found: Bucket, write: _Write) -> None:
        on_disk = self._uploads.get(bucket, {})
        current = moto.uploads(found)
        if not current and not on_disk:
            return
        state: dict[str, dict[int, str]] = {}
        for upload_id, parts in on_disk.items():
            if upload_id not in current:
                self._index.drop_upload(bucket, upload_id)
                write.obsolete += parts.values()
        for upload_id, upload in current.items():
            stored = on_disk.get(upload_id)
            if stored is None:
                self._index.put_upload(bucket, upload_id, moto.upload_facts(upload))
                stored = {}
            tokens: dict[int, str] = {}
            parts = moto.upload_parts(upload)
            for number, part in parts.items():
                token = moto.version_token(part)
                if token is None or stored.get(number) != token:
                    facts = moto.version_facts(part)
                    token = self._write_body(part, facts, write)
                    self._index.put_part(bucket, upload_id, number, token, facts)
                    if number in stored:
                        write.obsolete.append(stored[number])
                tokens[number] = token
            for number, token in stored.items():
                if number not in parts:
                    self._index.drop_part(bucket, upload_id, number)
                    write.obsolete.append(token)
            state[upload_id] = tokens
        write.after_commit.append(lambda: self._uploads.__setitem__(bucket, state))

    def _write_body(self, version: Version, facts: moto.VersionFacts, write: _Write) -> str:
        """Write a new version's body (none for a delete marker) under a fresh name; once the
        index points to it, moto serves it from there."""
        token = uuid.uuid4().hex
        if not facts.is_delete_marker:
            path = self._body_path(token)
            self._journal.writing(token)
            write.written.append(path)
            with path.open("wb") as out:
                moto.copy_body(version, out)
            size = facts.size
            write.after_commit.append(lambda: moto.serve_body_from(version, FileBody(path), size))
        write.after_commit.append(lambda: moto.set_version_token(version, token))
        return token

    def _restore(self, bucket: str, write: _Write) -> None:
        """Put moto's copy of what the refused request changed back to the disk's."""
        found = moto.bucket(bucket)
        row = self._buckets.get(bucket)
        if write.bucket_row is not None:
            # The bucket's row was written but the rest was refused: take it back as well.
            (row,) = write.bucket_row
            rows = {k: v for k, v in self._buckets.items() if k != bucket}
            if row is not None:
                rows[bucket] = row
            self._buckets = rows
            self._write_buckets(rows)
        if row is None:
            if found is not None:
                moto.drop_bucket(bucket)  # its creation was refused
            self._uploads.pop(bucket, None)
            return
        if found is None:  # its deletion was refused
            found = self._create_bucket(bucket, row)  # its keys read from the index again
            write.keys = set()
        moto.set_versioning(found, row.versioning)
        for name in write.keys:
            seqs = [stored.seq for stored in self._index.versions(bucket, name)]
            key_store.put_stored_versions(found, name, seqs)
        key_store.take_changed_keys(found)
        self._restore_uploads(bucket, found)

    def _restore_uploads(self, bucket: str, found: Bucket) -> None:
        stored = self._index.uploads(bucket)
        for upload_id in moto.uploads(found):
            moto.drop_upload(found, upload_id)
        region = moto.bucket_facts(found).region
        state: dict[str, dict[int, str]] = {}
        for upload_id, (facts, parts) in stored.items():
            made = {}
            for part in parts:
                key = moto.make_version(
                    bucket, region, part.part, part.facts, FileBody(self._body_path(part.token))
                )
                moto.set_version_token(key, part.token)
                made[part.part] = key
            moto.restore_upload(found, region, upload_id, facts, made)
            state[upload_id] = {part.part: part.token for part in parts}
        if state:
            self._uploads[bucket] = state
        else:
            self._uploads.pop(bucket, None)

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

    def _stored(self, bucket: str, region: str) -> _IndexKeys:
        return _IndexKeys(self, bucket, region)

    def _body_path(self, token: str) -> Path:
        return self._bodies / token[:2] / token

    def _write_buckets(self, buckets: dict[str, BucketRow]) -> None:
        payload = {name: row._asdict() for name, row in buckets.items()}
        _atomic_write(self._buckets_file, json.dumps(payload, indent=1).encode())

    def _load(self) -> None:
        """Put the disk copy back into moto (at start, before any request): buckets, and per key
        the numbers of its stored versions, loaded when first read."""
        started = time.monotonic()
        if self._buckets_file.exists():
            raw = json.loads(self._buckets_file.read_bytes())
            self._buckets = {name: _bucket_row(info, self.region) for name, info in raw.items()}
        if (self.root / "objects").is_dir():
            self._import_old_layout()
        stale = self._index.bucket_names() - set(self._buckets)
        if stale:  # deleted, but a crash came before their rows went
            self._index.begin()
            gone = [token for bucket in stale for token in self._index.drop_bucket(bucket)]
            self._index.commit()
            for token in gone:
                self._body_path(token).unlink(missing_ok=True)
        for bucket, row in self._buckets.items():
            if moto.bucket(bucket) is not None:
                moto.drop_bucket(bucket)
            self._restore_uploads(bucket, self._create_bucket(bucket, row))
        self._remove_unsettled()
        log.info(
            "S3: loaded %d bucket(s) from %s in %.2f s (keys are read when first asked for)",
            len(self._buckets),
            self.root,
            time.monotonic() - started,
        )

    def _import_old_layout(self) -> None:
        """Take over the layout of earlier versions (one metadata file per object, no versions
        kept, under objects/): each body is linked into bodies/ and indexed, then objects/ goes.
        Can be redone from the start after a crash (rows are replaced, extra links are orphans)."""
        old = self.root / "objects"
        rows = 0
        self._index.begin()
        try:
            for bucket in self._buckets:
                for meta_path in sorted((old / bucket).glob("*/*.json")):
                    try:
                        meta = json.loads(meta_path.read_bytes())
                        token = uuid.uuid4().hex
                        self._journal.writing(token)
                        os.link(meta_path.parent / meta["body"], self._body_path(token))
                    except (OSError, ValueError, KeyError) as exc:
                        log.warning("skipping unreadable S3 object record %s: %s", meta_path, exc)
                        continue
                    modified = datetime.fromisoformat(meta["last_modified"])
                    facts = moto.VersionFacts(
                        version_id="null",
                        is_delete_marker=False,
                        last_modified=modified.astimezone(UTC).replace(tzinfo=None),
                        etag=meta["etag"],
                        size=int(meta["size"]),
                        metadata=dict(meta.get("metadata") or {}),
                        storage_class=meta.get("storage_class"),
                        versioned=False,
                    )
                    self._index.put_versions(bucket, meta["key"], [(token, facts)])
                    rows += 1
            self._index.commit()
        except BaseException:
            self._index.rollback()
            raise
        shutil.rmtree(old)
        log.info("S3: took over %d object(s) of the earlier layout (objects/)", rows)

    def _remove_unsettled(self) -> None:
        """Bodies a crash left without a row (written but not committed, or dropped from the
        index but not yet removed): only those the journal names are looked at."""
        unsettled = self._journal.unsettled()
        if unsettled:
            kept = self._index.referenced(unsettled)
            for token in unsettled - kept:
                self._body_path(token).unlink(missing_ok=True)
            log.info("S3: removed %d body file(s) a crash left", len(unsettled - kept))
        self._journal.clear()

    def _create_bucket(self, bucket: str, row: BucketRow) -> Bucket:
        """Put a bucket of the disk copy into moto, its keys to be loaded when first read."""
        created = datetime.fromisoformat(row.created) if row.created else None
        found = moto.create_bucket(bucket, row.region, created)
        moto.set_versioning(found, row.versioning)
        key_store.serve_stored_keys(found, self._stored(bucket, row.region))
        return found

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


class _IndexKeys:
    """A bucket's keys in the index, for moto's key store (`key_store.StoredKeys`), used under the
    store's lock."""

    def __init__(self, store: S3Store, bucket: str, region: str) -> None:
        self.lock = store.lock
        self._store = store
        self._bucket = bucket
        self._region = region

    def seqs(self, name: str) -> list[int]:
        return self._store._index.seqs(self._bucket, name)

    def everything(self) -> Iterable[tuple[str, list[int]]]:
        return self._store._index.key_seqs(self._bucket)

    def counts(self) -> tuple[int, int]:
        return self._store._index.counts(self._bucket)

    def load(self, name: str, seq: int) -> Version:
        """A stored version as moto's object, when a request first reads it."""
        stored = self._store._index.version(self._bucket, name, seq)
        body = (
            None
            if stored.facts.is_delete_marker
            else FileBody(self._store._body_path(stored.token))
        )
        version = moto.make_version(self._bucket, self._region, name, stored.facts, body)
        moto.set_version_token(version, stored.token)
        return version


@dataclass
class _Write:
    """What one sync wrote, to finish it once the index committed, or to undo it."""

    keys: set[str] = field(default_factory=set)
    """The names whose versions it stored."""
    bucket_row: tuple[BucketRow | None] | None = None
    """(the bucket's previous row,) when it rewrote buckets.json."""
    written: list[Path] = field(default_factory=list)
    """Body files it created."""
    obsolete: list[str] = field(default_factory=list)
    """Tokens of the bodies no longer pointed to once it committed."""
    after_commit: list[Callable[[], Any]] = field(default_factory=list)


def _bucket_row(info: dict[str, Any], region: str) -> BucketRow:
    return BucketRow(
        str(info.get("region") or region), str(info.get("created") or ""), info.get("versioning")
    )


def _chunks(stream: IO[bytes]) -> Iterable[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


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
