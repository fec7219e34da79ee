"""Fixtures shared by unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.storage.logs import LogStore


@pytest.fixture
def log_store(tmp_path: Path) -> Iterator[LogStore]:
    """A LogStore under tmp_path, closed at the end of the test (it holds its journal open)."""
    store = LogStore(tmp_path / "logs")
    yield store
    store.close()
