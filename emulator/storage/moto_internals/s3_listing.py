"""moto's S3 listings (ListObjects, ListObjectsV2, ListObjectVersions) answered from the index, at
the cost of their page, not of the bucket. See the package's notes (`__init__.py`).

moto lists a bucket by making every key of it a moto object, sorting them all and cutting the
page out (ListObjectVersions also deep-copies every version, body included): after a start with
100,000 stored objects, a first page of 1,000 keys took 22 s and 400 MiB. Here moto's three
backend methods walk the key names of the index instead, in key order (SQLite compares text by
its UTF-8 bytes: the order of Python's strings, and S3's), skipping the whole range of a common
prefix in one seek, and make moto objects of the page's keys only, for that response (the key
store keeps none it did not hold: paging through a bucket leaves it as it was). moto's
responses around them are unchanged, so the XML is moto's, byte for byte, and so are moto's own
rules: which entries a page holds, its truncation, its markers and tokens (kept in moto's table
of tokens, so that either path continues the other's pages), including where moto differs from
AWS.

A bucket is listed from the index only when the index holds what moto holds
(`s3_tracking.listing_source`); otherwise, and for what is not worth a second implementation (a
negative MaxKeys), moto's own method answers. Each runs under the S3 store's lock, which moto's
S3 requests hold already and DynamoDB's import from S3 (it calls ListObjects) does not. One
difference from moto: a continuation token it never gave is S3's InvalidArgument, not moto's
failure (a 500).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from moto.core.utils import unix_time_millis
from moto.s3.exceptions import InvalidContinuationToken
from moto.s3.models import FakeKey, S3Backend

from emulator.storage.moto_internals import s3_tracking
from emulator.storage.moto_internals.s3_tracking import StoredKeys

_BATCH = 1024
"""Names read from the index per query (a page of 1,000 and the one that says it is truncated)."""

_ORIGINALS: dict[str, Callable[..., Any]] = {}


def serve_listings_from_index(enabled: bool = True) -> None:
    """Install (or, `enabled` False, take back: tests compare both) the index-backed listings,
    on moto's class, once."""
    if not _ORIGINALS:
        for name in ("list_objects", "list_objects_v2", "list_object_versions"):
            _ORIGINALS[name] = getattr(S3Backend, name)
    replacements = {
        "list_objects": _list_objects,
        "list_objects_v2": _list_objects_v2,
        "list_object_versions": _list_object_versions,
    }
    for name, original in _ORIGINALS.items():
        setattr(S3Backend, name, replacements[name] if enabled else original)


# --- the walk over the index's names --------------------------------------------------------


class _Names:
    """The index's key names in order from a position, read a batch at a time; `seek` moves on."""

    def __init__(self, stored: StoredKeys, start: str, inclusive: bool) -> None:
        self._stored = stored
        self._batch: deque[str] = deque()
        self.seek(start, inclusive)

    def seek(self, start: str, inclusive: bool = True) -> None:
        self._start, self._inclusive = start, inclusive
        self._batch.clear()
        self._done = False

    def stop(self) -> None:
        self._done = True
        self._batch.clear()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if not self._batch:
            if self._done:
                raise StopIteration
            found = self._stored.names_from(self._start, self._inclusive, _BATCH)
            if not found:
                self._done = True
                raise StopIteration
            self._batch.extend(found)
            self._start, self._inclusive = found[-1], False
        return self._batch.popleft()


def _past(prefix: str) -> str | None:
    """The least string after every string that starts with `prefix` (None: there is none)."""
    for index in range(len(prefix) - 1, -1, -1):
        point = ord(prefix[index]) + 1
        if point <= 0x10FFFF:
            if 0xD800 <= point <= 0xDFFF:  # no surrogate is stored (UTF-8 cannot hold one)
                point = 0xE000
            return prefix[:index] + chr(point)
    return None


def _folder(name: str, prefix: str, delimiter: str | None) -> str | None:
    """The common prefix `name` rolls up into, as moto cuts it (None: none)."""
    rest = name[len(prefix) :]
    if delimiter and delimiter in rest:
        return prefix + rest[: rest.index(delimiter)] + delimiter
    return None


def _skip_folder(names: _Names, folder: str) -> None:
    end = _past(folder)
    if end is None:
        names.stop()
    else:
        names.seek(end)


def _entries(
    found: Any,
    stored: StoredKeys,
    prefix: str,
    delimiter: str | None,
    after: str | None,
    objects: bool = True,
) -> Iterator[Any]:
    """What moto's ListObjects finds under `prefix`, in key order, after `after` (None: from
    the start): each common prefix once (a str; as in moto, a key whose latest version is a
    delete marker still makes its common prefix), and, when `objects`, each key whose latest
    version is no delete marker (moto's FakeKey)."""
    if after is not None and after >= prefix:
        names = _Names(stored, after, inclusive=False)
    else:
        names = _Names(stored, prefix, inclusive=True)
    for name in names:
        if not name.startswith(prefix):
            return  # the names are past the prefix's range
        folder = _folder(name, prefix, delimiter)
        if folder is not None:
            if after is None or folder > after:
                yield folder
            _skip_folder(names, folder)
            continue
        if objects:
            latest = s3_tracking.latest_version(found, name)
            if isinstance(latest, FakeKey):
                yield latest


def _take(entries: Iterator[Any], count: int | None) -> list[Any]:
    return list(itertools.islice(entries, count))


# --- moto's three methods ---------------------------------------------------------------------


def _list_objects(
    backend: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    marker: str | None,
    max_keys: int | None,
) -> Any:
    with s3_tracking.listing_lock(bucket):
        return _list_objects_locked(backend, bucket, prefix, delimiter, marker, max_keys)


def _list_objects_locked(
    backend: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    marker: str | None,
    max_keys: int | None,
) -> Any:
    stored = s3_tracking.listing_source(bucket)
    if stored is None or (max_keys is not None and max_keys < 0):
        return _ORIGINALS["list_objects"](backend, bucket, prefix, delimiter, marker, max_keys)
    prefix = prefix or ""
    # moto gives every common prefix of the listing on every page, whatever the marker.
    folders = [
        entry
        for entry in _entries(bucket, stored, prefix, delimiter, None, objects=False)
        if isinstance(entry, str)
    ]
    after = (backend._pagination_tokens.get(marker) or marker) if marker else None
    keys = (
        entry
        for entry in _entries(bucket, stored, prefix, delimiter, after)
        if not isinstance(entry, str)
    )
    if max_keys is None:
        return _take(keys, None), folders, False, None
    page, is_truncated, next_marker = backend._truncate_result(_take(keys, max_keys + 1), max_keys)
    return page, folders, is_truncated, next_marker


def _list_objects_v2(
    backend: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> Any:
    with s3_tracking.listing_lock(bucket):
        return _list_objects_v2_locked(
            backend, bucket, prefix, delimiter, continuation_token, start_after, max_keys
        )


def _list_objects_v2_locked(
    backend: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> Any:
    stored = s3_tracking.listing_source(bucket)
    after = start_after
    if continuation_token:
        after = backend._pagination_tokens.get(continuation_token)
        if after is None:
            # moto fails on a token it did not give (a TypeError: a 500); S3 says this. Its
            # tokens live in memory: one given before a restart is unknown after it.
            raise InvalidContinuationToken()
    if stored is None or max_keys < 0:
        return _ORIGINALS["list_objects_v2"](
            backend, bucket, prefix, delimiter, continuation_token, start_after, max_keys
        )
    entries = _entries(bucket, stored, prefix or "", delimiter, after or None)
    return backend._truncate_result(_take(entries, max_keys + 1), max_keys)


class _Listed:
    """A version as ListObjectVersions shows it: moto's object, and whether it is the latest
    (moto sets that on a deep copy of every version, body included)."""

    def __init__(self, version: Any, is_latest: bool) -> None:
        self._version = version
        self.is_latest = is_latest

    def __getattr__(self, name: str) -> Any:
        return getattr(self._version, name)


def _list_object_versions(
    backend: Any,
    bucket_name: str,
    delimiter: str | None = None,
    key_marker: str | None = None,
    max_keys: int | None = 1000,
    prefix: str = "",
    version_id_marker: str | None = None,
) -> Any:
    bucket = backend.get_bucket(bucket_name)
    with s3_tracking.listing_lock(bucket):
        return _list_object_versions_locked(
            backend, bucket, bucket_name, delimiter, key_marker, max_keys, prefix, version_id_marker
        )


def _list_object_versions_locked(
    backend: Any,
    bucket: Any,
    bucket_name: str,
    delimiter: str | None,
    key_marker: str | None,
    max_keys: int | None,
    prefix: str,
    version_id_marker: str | None,
) -> Any:
    stored = s3_tracking.listing_source(bucket)
    if stored is None or prefix is None:
        return _ORIGINALS["list_object_versions"](
            backend, bucket_name, delimiter, key_marker, max_keys, prefix, version_id_marker
        )
    # moto's loop, step for step (its quirks included), over the versions of the names the
    # walk reaches: a common prefix's range is skipped once it is counted, and the walk stops
    # where no later version can be listed.
    common_prefixes: set[str] = set()
    requested_versions: list[Any] = []
    delete_markers: list[Any] = []
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None
    skip_versions = key_marker is not None
    last_item_added: Any = None
    names = _Names(stored, key_marker if key_marker is not None else prefix, inclusive=True)
    for key_name in names:
        if not skip_versions and not key_name.startswith(prefix):
            if key_name > prefix:
                break
            names.seek(prefix)
            continue
        versions = sorted(
            s3_tracking.key_versions(bucket, key_name),
            key=lambda version: -unix_time_millis(version.last_modified),
        )
        full = False
        skip_rest_of = None
        for position, version in enumerate(versions):
            name = key_name
            if skip_versions:
                if not version_id_marker:
                    # moto drops the first version at or after KeyMarker as well.
                    skip_versions = False
                    continue
                if name == key_marker and version.version_id == version_id_marker:
                    skip_versions = False
                continue
            if not name.startswith(prefix):
                continue
            is_common_prefix = False
            folder = _folder(name, prefix, delimiter)
            if folder is not None:
                if folder == key_marker:
                    skip_rest_of = folder
                    break
                common_prefixes.add(folder)
                name = folder
                is_common_prefix = True
            elif last_item_added is not None:
                name = last_item_added.name
            if (
                max_keys is not None
                and len(requested_versions) + len(delete_markers) + len(common_prefixes) >= max_keys
            ):
                next_key_marker = name
                if is_common_prefix or last_item_added is None:
                    next_version_id_marker = None
                else:
                    next_version_id_marker = last_item_added.version_id
                full = True
                break
            if is_common_prefix:
                # The rest of the common prefix's range adds nothing (it is counted once).
                skip_rest_of = folder
                break
            last_item_added = version
            listed = _Listed(version, is_latest=position == 0)
            if isinstance(version, FakeKey):
                requested_versions.append(listed)
            else:
                delete_markers.append(listed)
        if full:
            break
        if skip_versions and version_id_marker:
            break  # the marked version was not among KeyMarker's: moto skips all that follows
        if skip_rest_of is not None:
            _skip_folder(names, skip_rest_of)
    return (
        requested_versions,
        sorted(common_prefixes),
        delete_markers,
        next_key_marker,
        next_version_id_marker,
    )
