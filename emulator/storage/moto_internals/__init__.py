"""Every use of moto's internals, in one place: this package is the only part of the emulator that
imports moto (tests/unit/test_imports.py and the import-linter contracts of pyproject.toml check
it). One module per moto service: `s3` (buckets and objects), `s3_tracking` (a bucket's key store
that records changes and loads stored versions on demand), `s3_listing` (its listings answered
from the index, at the cost of their page), `s3_versions` (versions, delete markers, bodies
served from files), `s3_uploads` (multipart uploads), `logs` (CloudWatch Logs), `cloudwatch`
(metrics), `sns`, `iam`; here, what concerns moto as a whole: its server app and the reset of
every backend.

The stores persist what moto holds and put it back at start, so they read and write moto's model
objects (S3's FakeBucket/FakeKey and its body buffer, Logs' LogGroup/LogStream/LogEvent,
CloudWatch's data points), which moto does not document and may change in any release;
asynchronous inference publishes to its SNS backend. Each such use is one small function, and
tests/unit/test_moto_internals.py exercises every one of them, so an upgrade that breaks one
fails there, by name, instead of silently losing data at a restart.

Checked against moto 5.2.5, the newest release when this was written and the oldest that
pyproject.toml allows: older releases lack `moto.core.request`'s preserved header names (without
them an x-amz-meta-* name's underscores become dashes), and 5.0 kept Logs' creation times as epoch
milliseconds, not datetimes. When the dev venv gets a newer moto than that lower bound,
`scripts/moto-oldest-venv.sh` builds `.venv-moto-oldest` with the bound, and
tests/unit/test_moto_oldest.py runs tests/unit/test_moto_internals.py there as well. On a moto
upgrade, run that test file first.

moto's objects are passed around as opaque handles (`Bucket`, `Key`; Logs' `Group`, `Stream`):
callers hand them back to functions of this package and never touch their attributes. None of
these functions lock: moto is not thread-safe, and the callers hold their store's lock around
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    should_preserve_original_header_name,
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def reset_all() -> None:
    """Forget everything moto holds (S3, Logs, IAM, STS... in every region), as its
    `/moto-api/reset` route does."""
    # Imported here: only a reset needs moto's admin backend (the stores' tests never load it).
    from moto.moto_api._internal.models import moto_api_backend

    from emulator.storage.moto_internals.s3_tracking import forget_unloaded_keys

    forget_unloaded_keys()
    moto_api_backend.reset()


def server_app() -> WsgiApp:
    """moto's server app: one Flask app per service, chosen by the request (as `moto_server`)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return app


PRESERVED_HEADER_NAMES_KEY: str = PRESERVED_HEADER_NAMES_ENVIRON_KEY
"""The WSGI environ key under which moto looks up the original spelling of some header names."""


def preserves_header_name(name: str) -> bool:
    """Whether moto wants the original spelling of this header's name (x-amz-meta-*)."""
    return bool(should_preserve_original_header_name(name))
