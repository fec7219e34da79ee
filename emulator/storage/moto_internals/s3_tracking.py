"""moto's S3 key stores, made to serve the data dir's copy: a bucket's store of keys records the
names whose versions a request changed (so a sync writes only those), and holds the versions not
yet read as their number in the data dir's index, made into moto's objects on first read (so a
start does not load every object). See the package's notes (`__init__.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

from emulator.storage.moto_internals.s3 import Bucket, Version, s3_backend


class _TrackedKeyStore(_VersionedKeyStore):
    """moto's store of a bucket's keys (name -> versions), which also records the names whose
    versions a request changed (`dirty`), and holds versions the data dir has not yet given to
    moto as their number (`StoredVersions.seq`), made into moto objects by `loader` when a request
    first reads them.

    A bucket's store becomes one by changing its class (`track_keys`): no copy, and moto's own
    methods (which call the ones overridden here) stay as they are.
    """

    dirty: set[str]
    everything_dirty: bool
    loader: Callable[[str, int], Any]

    def __sgetitem__(self, key: str) -> list[Any]:
        versions: list[Any] = dict.__getitem__(self, key)
        for index, version in enumerate(versions):
            if type(version) is int:
                versions[index] = self.loader(key, version)
        return versions

    def __setitem__(self, key: str, value: Any) -> Any:
        self.dirty.add(key)
        return super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.dirty.add(key)
        super().__delitem__(key)

    def pop(self, key: str) -> None:  # type: ignore[override]
        self.dirty.add(key)
        self.__sgetitem__(key)  # so that moto disposes of real objects
        return super().pop(key)

    def setlist(self, key: Any, list_: Any) -> Any:
        self.dirty.add(key)
        if dict.__contains__(self, key):
            self.__sgetitem__(key)
        return super().setlist(key, list_)

    def clear(self) -> None:
        self.everything_dirty = True
        super().clear()


def track_keys(found: Bucket, loader: Callable[[str, int], Version]) -> bool:
    """Make the bucket's key store record changed names and load stored versions on demand.
    False when it was not tracking yet (then every key it holds counts as changed)."""
    keys = found.keys
    if isinstance(keys, _TrackedKeyStore):
        return True
    keys.__class__ = _TrackedKeyStore
    keys.dirty = set(dict.keys(keys))
    keys.everything_dirty = False
    keys.loader = loader
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


def all_key_names(found: Bucket) -> list[str]:
    return list(dict.keys(found.keys))


def put_stored_versions(found: Bucket, name: str, seqs: list[int]) -> None:
    """Give the key the versions stored under these numbers (loaded when first read), or drop
    it when there are none; records no change."""
    keys = found.keys
    if dict.__contains__(keys, name):
        for version in dict.__getitem__(keys, name):
            if type(version) is not int and version not in seqs:
                _dispose(version)
    if seqs:
        dict.__setitem__(keys, name, list(seqs))
    elif dict.__contains__(keys, name):
        dict.__delitem__(keys, name)


def reset_s3() -> None:
    """Forget every bucket (what a fresh process starts with)."""
    forget_unloaded_keys()
    s3_backend().reset()


def forget_unloaded_keys() -> None:
    """Take the versions not yet loaded out of every bucket: moto's reset goes through every key
    to close its buffer, which would load each one first."""
    for found in s3_backend().buckets.values():
        keys = found.keys
        if not isinstance(keys, _TrackedKeyStore):
            continue
        for name, versions in list(dict.items(keys)):
            loaded = [version for version in versions if type(version) is not int]
            if not loaded:
                dict.__delitem__(keys, name)
            elif len(loaded) != len(versions):
                dict.__setitem__(keys, name, loaded)


def _dispose(version: Any) -> None:
    if isinstance(version, FakeKey):
        version.dispose()
