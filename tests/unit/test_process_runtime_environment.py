"""ProcessRuntime builds its children's environment: a fixed base, the request's variables, then
its own contract variables; never the server's environment, never a loader/interpreter variable.
Host paths of the job's tree show as /opt/ml in its logs and failure file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from emulator.runtime.base import ContainerSpec, EnvironmentRefused
from emulator.runtime.host_environment import refused_reason
from emulator.runtime.optml import OptMlTree
from emulator.runtime.process_runtime import ProcessRuntime
from tests.unit.test_process_runtime_orphans import _serving, _wait_for_ping


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode().partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def test_child_environment_is_built_not_inherited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_SERVER_SECRET", "do-not-leak")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the operator's tuning passes
    base = _serving(tmp_path, "env")
    spec = ContainerSpec(
        mode=base.mode,
        image=base.image,
        algorithm=base.algorithm,
        opt_ml=base.opt_ml,
        name=base.name,
        environment={
            "MY_SETTING": "42",
            "OPENBLAS_NUM_THREADS": "1",
            # Contract variables the runtime owns: a request cannot move them.
            "SAGEMAKER_BIND_TO_HOST": "0.0.0.0",
            "SAGEMAKER_BASE_DIR": "/elsewhere",
        },
    )
    runtime = ProcessRuntime(scope="env-test")
    try:
        handle = runtime.start_serving(spec)
        _wait_for_ping(handle.url)
        env = _environ(handle._process.popen.pid)
    finally:
        runtime.close()
    assert env["MY_SETTING"] == "42"
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["OMP_NUM_THREADS"] == "2"
    assert "EMULATOR_SERVER_SECRET" not in env
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["SAGEMAKER_BIND_TO_HOST"] == "127.0.0.1"
    assert env["SAGEMAKER_BASE_DIR"] == str(spec.opt_ml)
    assert not [name for name in env if name.startswith("LD_")]


def test_a_steering_variable_is_refused_before_any_child_starts(tmp_path: Path) -> None:
    base = _serving(tmp_path, "refused")
    spec = ContainerSpec(
        mode="train",
        image=base.image,
        algorithm=base.algorithm,
        opt_ml=base.opt_ml,
        environment={"LD_PRELOAD": str(base.opt_ml / "input/data/train/evil.so")},
    )
    runtime = ProcessRuntime()
    with pytest.raises(EnvironmentRefused, match=r"LD_PRELOAD.*Docker runtime"):
        runtime.start_training(spec)
    assert runtime._live == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OMP_NUM_THREADS", "1"),
        ("OPENBLAS_NUM_THREADS", "1"),
        ("MKL_NUM_THREADS", "1"),
        ("MALLOC_ARENA_MAX", "2"),
        ("LC_ALL", "C.UTF-8"),
        ("HOME", "/tmp"),
        ("SAGEMAKER_PROGRAM", "train.py"),
    ],
)
def test_tuning_and_plain_variables_pass(name: str, value: str) -> None:
    assert refused_reason(name, value) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LD_PRELOAD", "x.so"),
        ("ld_preload", "x.so"),
        ("DYLD_LIBRARY_PATH", "x"),
        ("PYTHONPATH", "x"),
        ("PYTHONBREAKPOINT", "evil.hook"),
        ("PATH", "/opt/ml/input/data/train"),
        ("GCONV_PATH", "x"),
        ("GLIBC_TUNABLES", "x"),
        ("BASH_FUNC_ls%%", "() { :; }"),
        ("LANG", "/opt/ml/input/data/train/locale"),
    ],
)
def test_steering_variables_are_refused(name: str, value: str) -> None:
    assert refused_reason(name, value) is not None


def test_logs_and_failure_show_container_paths(tmp_path: Path) -> None:
    tree = OptMlTree(tmp_path / "job")
    tree.create()
    tree.write_training_config(
        {
            "HyperParameters": {"feature_dim": "2", "num_components": "1", "mini_batch_size": "1"},
            "InputDataConfig": [
                {"ChannelName": "train", "ContentType": "text/csv", "DataSource": {}}
            ],
        }
    )
    tree.channel_dir("train").mkdir(parents=True, exist_ok=True)
    (tree.channel_dir("train") / "bad.csv").write_text("1,2\n3\n")
    lines: list[str] = []
    spec = ContainerSpec(
        mode="train", image="pca", algorithm="pca", opt_ml=tree.root, on_log=lines.append
    )
    handle = ProcessRuntime().start_training(spec)
    deadline = time.monotonic() + 60
    code = None
    while code is None:
        assert time.monotonic() < deadline, "the training child never exited"
        code = handle.wait(timeout=1)
    handle.collect()
    assert code != 0
    failure = tree.read_failure()
    assert failure is not None
    assert "/opt/ml/input/data/train/bad.csv" in failure
    assert str(tmp_path) not in failure
    assert not [line for line in lines if str(tmp_path) in line], json.dumps(lines)
