"""A write refused because the data dir's disk is full, as one typed, AWS-shaped error.

The stores raise `DiskFull` instead of a bare `OSError`/`sqlite3.OperationalError`, after undoing
what the refused write had changed in memory, so a client gets a retryable 503 (the code every
AWS protocol uses for a service that cannot take the request now) and nothing half-stored.
"""

from __future__ import annotations

import errno
import sqlite3

from emulator.aws.errors import AwsError

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
MESSAGE = (
    "The emulator's data directory is full (no space left on device); the request was not "
    "applied. Free some space and retry."
)


class DiskFull(AwsError):
    status = 503
    code = "ServiceUnavailable"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


def is_disk_full(exc: BaseException) -> bool:
    """True for the errors a full disk (or an exhausted quota) gives a file write or SQLite."""
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        return "full" in str(exc).lower()  # "database or disk is full"
    return False
