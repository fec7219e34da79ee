"""One emulator per data directory: a second server on it refuses to start, naming the holder;
after the holder dies (even by kill -9) the directory is free again."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk.launcher import EmulatorStartError, get_health
from tests.conftest import StartEmulator
from tests.unit.test_process_runtime_orphans import _alive


def test_second_server_on_the_same_data_dir_refuses_to_start(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    with pytest.raises(EmulatorStartError) as refused:
        emulator_factory(data_dir=data_dir, timeout=30)
    message = str(refused.value)
    assert "exited with code 1" in message
    assert f"is in use by another sagemaker-emulator (pid {first.pid})" in message
    # The first one goes on serving, untouched.
    assert first.is_running()
    assert get_health(first.url)["runtime"] == "process"


def test_a_killed_holder_frees_the_data_dir(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    first.kill()  # SIGKILL: no cleanup, the kernel drops the lock
    assert not _alive(first.pid)
    second = emulator_factory(data_dir=data_dir)
    assert second.is_running()
    assert (data_dir / "emulator.lock").read_text().strip() == str(second.pid)


def test_another_data_dir_is_not_blocked(emulator_factory: StartEmulator, tmp_path: Path) -> None:
    emulator_factory(data_dir=tmp_path / "one")
    assert emulator_factory(data_dir=tmp_path / "two").is_running()
