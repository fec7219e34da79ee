"""moto's S3 key stores, made to serve the data dir's copy: a bucket's store of keys reads the
data dir's keys on demand and records the names a request changed (so a sync writes only those).
See the package's notes (`__init__.py`).

moto keeps a bucket's keys in a dict subclass (name -> versions, oldest first). At start a
bucket's store is empty and knows where its keys are stored (`StoredKeys`: the index): a name
is looked up there the first time a request asks for it, and its stored versions become moto
objects when first read. Only what needs every key reads all the names, once: moto's own
listings, which answer only where the index cannot (`s3_listing.py` walks the index, and reads
a page's versions for its response without keeping them: `latest_version`, `key_versions`). So a
start costs what the buckets cost, not what they hold, and a request costs what it touches,
whatever the bucket's size.

A name whose versions a request changed is recorded (`dirty`) for the store to persist; a name
a request removed is `hidden` from the index until the write that removes its rows is
committed (`settle_keys`). A store that holds every key itself (`complete`: made by a request,
read whole, or cleared) no longer asks the index.

The store becomes one of these by changing its class: no copy, and moto's own methods (which
call the ones overridden here) stay as they are.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from moto.core.model_instances import model_data
from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

from emulator.storage.moto_internals.s3 import Bucket, s3_backend


class StoredKeys(Protocol):
    """Where a bucket's keys are stored (the S3 store's index)."""

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """The S3 store's lock (moto's CloudWatch counts a bucket's keys without holding it)."""

    def seqs(self, name: str) -> list[int]:
        """The numbers of the key's stored versions, oldest first ([] when none)."""

    def everything(self) -> Iterable[tuple[str, list[int]]]:
        """(name, numbers of its stored versions) of every stored key."""

    def load(self, name: str, seq: int) -> Any:
        """The stored version as moto's object."""

    def counts(self) -> tuple[int, int]:
        """How many keys are stored, and how many versions they have in all."""

    def names_from(self, start: str, inclusive: bool, limit: int) -> list[str]:
        """Up to `limit` stored names from `start` on (itself too when `inclusive`), in key
        order (that of Python's strings)."""


_POINTER = sys.getsizeof([None]) - sys.getsizeof([])


class _TrackedKeyStore(_VersionedKeyStore):
    dirty: set[str]
    everything_dirty: bool
    hidden: set[str]
    complete: bool
    stored: StoredKeys

    def _find(self, name: str) -> bool:
        """Whether the key exists; its stored version numbers are taken into the store the
        first time it is asked for (not the versions themselves: see __sgetitem__)."""
        if dict.__contains__(self, name):
            return True
        if self.complete or name in self.hidden or not isinstance(name, str):
            return False
        seqs = self.stored.seqs(name)
        if not seqs:
            return False
        dict.__setitem__(self, name, seqs)
        return True

    def _read_all(self) -> None:
        """Take every stored name in: what follows needs them all (moto's listings)."""
        with self.stored.lock:
            if self.complete:
                return
            for name, seqs in self.stored.everything():
                if not dict.__contains__(self, name) and name not in self.hidden:
                    dict.__setitem__(self, name, seqs)
            self.complete = True
            self.hidden = set()

    def _stored_counts(self) -> tuple[int, int] | None:
        """(keys, versions) from the index when it holds what moto holds (no request is under
        way: what the last one changed is committed), else None."""
        with self.stored.lock:
            if self.complete or self.dirty or self.hidden or self.everything_dirty:
                return None
            return self.stored.counts()

    def __sgetitem__(self, key: str) -> list[Any]:
        self._find(key)
        versions: list[Any] = dict.__getitem__(self, key)
        for index, version in enumerate(versions):
            if type(version) is int:
                versions[index] = self.stored.load(key, version)
        return versions

    def __contains__(self, key: object) -> bool:
        return self._find(key) if isinstance(key, str) else dict.__contains__(self, key)

    def __len__(self) -> int:
        # moto's CloudWatch metrics count every bucket's keys: from the index, not by reading
        # every name in.
        counts = self._stored_counts()
        if counts is not None:
            return counts[0]
        self._read_all()
        return dict.__len__(self)

    def item_size(self) -> int:
        counts = self._stored_counts()
        if counts is not None:
            keys, versions = counts  # moto's own measure: the size of each key's list
            return keys * sys.getsizeof([]) + versions * _POINTER
        self._read_all()
        return int(super().item_size())

    def __iter__(self) -> Iterator[str]:
        self._read_all()
        return dict.__iter__(self)

    def keys(self) -> Any:
        self._read_all()
        return dict.keys(self)

    def _self_iterable(self) -> dict[str, Any]:
        # moto's items/values/lists/item_size go through this; dict(self) would call __iter__
        # and __getitem__ (the latest version, not the list).
        self._read_all()
        return dict(dict.items(self))

    def __setitem__(self, key: str, value: Any) -> Any:
        self.dirty.add(key)
        return super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.dirty.add(key)
        self._find(key)
        self.hidden.add(key)
        dict.__delitem__(self, key)

    def pop(self, key: str) -> None:  # type: ignore[override]
        self.dirty.add(key)
        self.__sgetitem__(key)  # so that moto disposes of real objects
        self.hidden.add(key)
        return super().pop(key)

    def setlist(self, key: Any, list_: Any) -> Any:
        self.dirty.add(key)
        if self._find(key):
            self.__sgetitem__(key)
        return super().setlist(key, list_)

    def clear(self) -> None:
        self.everything_dirty = True
        self.complete = True
        self.hidden = set()
        super().clear()


class _NothingStored:
    """What a bucket reset out of moto reads: nothing."""

    lock: AbstractContextManager[Any] = contextlib.nullcontext()

    def seqs(self, name: str) -> list[int]:
        return []

    def everything(self) -> Iterable[tuple[str, list[int]]]:
        return ()

    def load(self, name: str, seq: int) -> Any:
        raise KeyError((name, seq))

    def counts(self) -> tuple[int, int]:
        return (0, 0)

    def names_from(self, start: str, inclusive: bool, limit: int) -> list[str]:
        return []


def _tracked(keys: Any, stored: StoredKeys, complete: bool) -> _TrackedKeyStore:
    keys.__class__ = _TrackedKeyStore
    keys.dirty = set(dict.keys(keys))
    keys.everything_dirty = False
    keys.hidden = set()
    keys.complete = complete
    keys.stored = stored
    tracked: _TrackedKeyStore = keys
    return tracked


def serve_stored_keys(found: Bucket, stored: StoredKeys) -> None:
    """Give a new, empty bucket the stored keys, read when first asked for (at start)."""
    _tracked(found.keys, stored, complete=False).dirty = set()


def track_keys(found: Bucket, stored: StoredKeys) -> bool:
    """Make the bucket's key store record changed names. False when it was not tracking yet (a
    bucket a request made): then every key it holds counts as changed, and it holds them all
    (what the index may still have of an earlier bucket of that name is gone)."""
    keys = found.keys
    if isinstance(keys, _TrackedKeyStore):
        return True
    _tracked(keys, stored, complete=True)
    return False


def take_changed_keys(found: Bucket) -> set[str] | None:
    """The names whose versions changed since the last call (None: any may have)."""
    keys = found.keys
    if not isinstance(keys, _TrackedKeyStore) or keys.everything_dirty:
        if isinstance(keys, _TrackedKeyStore):
            keys.everything_dirty = False
            keys.dirty = set()
        return None
    changed, keys.dirty = keys.dirty, set()
    return changed


def settle_keys(found: Bucket, names: Iterable[str]) -> None:
    """The index now holds these names as moto does: a removed one need not be hidden."""
    keys = found.keys
    if isinstance(keys, _TrackedKeyStore):
        keys.hidden.difference_update(names)


def all_key_names(found: Bucket) -> list[str]:
    keys = found.keys
    if isinstance(keys, _TrackedKeyStore):
        keys._read_all()
    return list(dict.keys(keys))


def listing_source(found: Bucket) -> StoredKeys | None:
    """Where the bucket's keys can be listed from without reading them all into moto: the
    index, when it holds what moto holds (the store reads the index, and no change is waiting
    for its sync); else None."""
    keys = found.keys
    if not isinstance(keys, _TrackedKeyStore) or isinstance(keys.stored, _NothingStored):
        return None
    if keys.dirty or keys.hidden or keys.everything_dirty:
        return None
    return keys.stored


def listing_lock(found: Bucket) -> AbstractContextManager[Any]:
    """The lock the bucket's index is read under (the S3 store's: moto's S3 requests hold it
    already; another service's use of moto's S3, DynamoDB's import from S3, does not)."""
    keys = found.keys
    if isinstance(keys, _TrackedKeyStore):
        return keys.stored.lock
    return contextlib.nullcontext()


def latest_version(found: Bucket, name: str) -> Any:
    """The key's latest version (object or delete marker), None when it has none. For a
    listing: what the store does not hold yet is read for this response only (`_passing`),
    so that paging through a bucket does not leave every key of it in memory."""
    keys = found.keys
    if not isinstance(keys, _TrackedKeyStore):
        return keys.get(name)
    versions = _held_or_stored(keys, name)
    if not versions:
        return None
    latest = versions[-1]
    return _passing(keys, name, latest) if type(latest) is int else latest


def key_versions(found: Bucket, name: str) -> list[Any]:
    """The key's versions, oldest first ([] when it has none); for a listing, as
    `latest_version`."""
    keys = found.keys
    if not isinstance(keys, _TrackedKeyStore):
        held: list[Any] = keys.getlist(name, [])
        return held
    return [
        _passing(keys, name, version) if type(version) is int else version
        for version in _held_or_stored(keys, name)
    ]


def _held_or_stored(keys: _TrackedKeyStore, name: str) -> list[Any]:
    """The key's versions as the store holds them (objects, or the numbers of stored ones
    not read yet), else the numbers of its stored versions; the store is left as it was."""
    if dict.__contains__(keys, name):
        versions: list[Any] = dict.__getitem__(keys, name)
        return versions
    if keys.complete or name in keys.hidden:
        return []
    return keys.stored.seqs(name)


def _passing(keys: _TrackedKeyStore, name: str, seq: int) -> Any:
    """A stored version read for one response, kept nowhere. moto keeps every model object it
    makes in its class's list (for its dashboard, and its reset); the ones this read made are
    taken out again, or each listing would leave its page in memory until the process ends.
    moto also warns when it collects a key whose body was not disposed of: this one's body (a
    `FileBody`, opened only while read) needs nothing more than collecting."""
    tracked: list[list[Any]] = [
        getattr(model, "instances_tracked", []) for model in model_data["s3"].values()
    ]
    sizes = [len(instances) for instances in tracked]
    version = keys.stored.load(name, seq)
    for instances, size in zip(tracked, sizes, strict=True):
        del instances[size:]
    if isinstance(version, FakeKey):
        version.disposed = True
    return version


def held_key_names(found: Bucket) -> set[str]:
    """The names the bucket's store holds now (a stored key is taken in when first asked for)."""
    return set(dict.keys(found.keys))


def put_stored_versions(found: Bucket, name: str, seqs: list[int]) -> None:
    """Give the key the versions stored under these numbers (loaded when first read), or drop
    it when there are none; records no change."""
    keys = found.keys
    if dict.__contains__(keys, name):
        for version in dict.__getitem__(keys, name):
            if type(version) is not int and version not in seqs:
                _dispose(version)
    if isinstance(keys, _TrackedKeyStore):
        keys.hidden.discard(name)
    if seqs:
        dict.__setitem__(keys, name, list(seqs))
    elif dict.__contains__(keys, name):
        dict.__delitem__(keys, name)


def reset_s3() -> None:
    """Forget every bucket (what a fresh process starts with)."""
    forget_unloaded_keys()
    s3_backend().reset()


def forget_unloaded_keys() -> None:
    """Take what was never read out of every bucket, and stop them reading the index: moto's
    reset goes through every key to close its buffer, which would load each one first."""
    for found in s3_backend().buckets.values():
        keys = found.keys
        if not isinstance(keys, _TrackedKeyStore):
            continue
        keys.complete = True
        keys.hidden = set()
        keys.stored = _NothingStored()
        for name, versions in list(dict.items(keys)):
            loaded = [version for version in versions if type(version) is not int]
            if not loaded:
                dict.__delitem__(keys, name)
            elif len(loaded) != len(versions):
                dict.__setitem__(keys, name, loaded)


def _dispose(version: Any) -> None:
    if isinstance(version, FakeKey):
        version.dispose()
