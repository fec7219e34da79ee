"""The shared fixtures themselves: one server per runtime, clients pointed at it."""

from __future__ import annotations

from typing import Any

from sdk.launcher import EmulatorServer


def test_clients_reach_the_session_emulator(
    emulator: EmulatorServer, boto_sagemaker: Any, boto_s3: Any, boto_sts: Any
) -> None:
    assert boto_sagemaker.meta.endpoint_url == emulator.url
    assert boto_s3.meta.endpoint_url == emulator.url
    assert boto_sts.get_caller_identity()["Account"] == "123456789012"
    assert boto_sagemaker.list_training_jobs()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_factory_servers_are_separate_and_stopped(emulator_factory: Any, tmp_path: Any) -> None:
    first = emulator_factory(data_dir=tmp_path / "a")
    second = emulator_factory(data_dir=tmp_path / "b")
    assert first.port != second.port
    assert first.health["data_dir"] != second.health["data_dir"]
    assert first.is_running() and second.is_running()
