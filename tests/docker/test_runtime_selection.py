"""`--runtime auto`: Docker where an engine answers and the images exist, else the process
runtime, with the reason; the Docker runtime is scoped to the data directory."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from emulator.config import Settings
from emulator.runtime.docker_runtime import LABEL_SCOPE, DockerRuntime, docker_unavailable_reason
from emulator.runtime.select import runtime_scope, select_runtime


def test_auto_picks_docker_where_an_engine_answers(
    docker_ready: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="emulator.runtime.select")
    runtime = select_runtime(Settings(runtime="auto", data_dir=tmp_path))
    try:
        assert runtime.name == "docker"
        assert isinstance(runtime, DockerRuntime)
        assert runtime.scope == runtime_scope(tmp_path)
        assert "runtime: docker (auto" in caplog.text
    finally:
        runtime.close()


def test_auto_falls_back_to_process_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    reason = docker_unavailable_reason(build=False)
    assert reason is not None and reason.startswith("no Docker engine answers")
    caplog.set_level(logging.INFO, logger="emulator.runtime.select")
    runtime = select_runtime(Settings(runtime="auto", data_dir=tmp_path))
    try:
        assert runtime.name == "process"
        assert "runtime: process (auto: no Docker engine answers" in caplog.text
    finally:
        runtime.close()


def test_scope_is_one_per_data_directory(tmp_path: Path) -> None:
    assert runtime_scope(tmp_path / "a") == runtime_scope(tmp_path / "a" / ".." / "a")
    assert runtime_scope(tmp_path / "a") != runtime_scope(tmp_path / "b")
    assert LABEL_SCOPE == "sagemaker-emulator.scope"
