"""DockerRuntime against a real engine with a bring-your-own image: the /opt/ml contract, exit
codes, log streaming, stop, cleanup, limits, network isolation, a missing image."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import docker
import pytest

from emulator.runtime.base import ContainerSpec, ImageNotFound
from emulator.runtime.docker_runtime import (
    LABEL_INSTANCE,
    LABEL_SCOPE,
    DockerRuntime,
    DockerServingHandle,
)


class Lines:
    """A log sink that records lines and lets a test wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: text in self.lines, timeout)


def train_spec(image: str, opt_ml: Path, behaviour: str, **kwargs: object) -> ContainerSpec:
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"behaviour": behaviour})
    )
    return ContainerSpec(
        mode="train",
        image=image,
        algorithm=None,
        opt_ml=opt_ml,
        labels={"sagemaker-emulator.owner": "job/test"},
        name=f"test-{behaviour}",
        **kwargs,  # type: ignore[arg-type]
    )


def containers_of(runtime: DockerRuntime) -> list[str]:
    client = docker.from_env()
    found = client.containers.list(
        all=True, filters={"label": f"{LABEL_INSTANCE}={runtime.instance}"}
    )
    return [c.name for c in found]


def test_train_stages_opt_ml_collects_model_and_removes_container(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path
) -> None:
    channel = opt_ml / "input" / "data" / "train"
    channel.mkdir()
    (channel / "part-0.csv").write_text("1,2\n3,4\n")
    lines = Lines()
    handle = docker_runtime.start_training(train_spec(byo_image, opt_ml, "ok", on_log=lines))
    assert handle.wait(timeout=120) == 0
    handle.collect()
    model = json.loads((opt_ml / "model" / "model.json").read_text())
    assert model == {"hyperparameters": {"behaviour": "ok"}, "channels": {"train": ["part-0.csv"]}}
    assert (opt_ml / "model" / "sub" / "weights.bin").read_bytes() == bytes(range(256)) * 4096
    # Every line, in order, before wait() returned.
    assert lines.lines == ["byo train: behaviour=ok", "line 0", "line 1", "line 2"]
    assert containers_of(docker_runtime) == []


def test_failure_reason_and_exit_code_come_back(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path
) -> None:
    lines = Lines()
    handle = docker_runtime.start_training(train_spec(byo_image, opt_ml, "fail", on_log=lines))
    assert handle.wait(timeout=120) == 1
    handle.collect()
    assert (opt_ml / "output" / "failure").read_text() == (
        "ClientError: the byo container refused its input"
    )
    assert "failing" in lines.lines  # stderr is captured too


def test_logs_stream_while_the_container_runs_and_stop_sends_sigterm(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path
) -> None:
    lines = Lines()
    handle = docker_runtime.start_training(train_spec(byo_image, opt_ml, "sleep", on_log=lines))
    assert lines.wait_for("sleeping"), lines.lines
    assert handle.wait(timeout=0.5) is None  # still running: the line arrived live
    handle.stop(grace_seconds=30)
    # SIGTERM reached the program (through the container's init) and it exited cleanly.
    assert handle.wait(timeout=60) == 0
    assert lines.lines[-1] == "terminated"
    assert containers_of(docker_runtime) == []


def test_stop_kills_after_the_grace_period(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path
) -> None:
    lines = Lines()
    handle = docker_runtime.start_training(train_spec(byo_image, opt_ml, "stubborn", on_log=lines))
    assert lines.wait_for("sleeping")
    handle.stop(grace_seconds=1)
    assert handle.wait(timeout=60) == 137  # SIGKILL
    assert containers_of(docker_runtime) == []


@pytest.mark.parametrize("isolated", [True, False])
def test_network_isolation_leaves_only_loopback(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path, isolated: bool
) -> None:
    lines = Lines()
    spec = train_spec(byo_image, opt_ml, "network", on_log=lines, network_isolation=isolated)
    assert docker_runtime.start_training(spec).wait(timeout=120) == 0
    interfaces = next(line for line in lines.lines if line.startswith("interfaces: "))
    names = interfaces.removeprefix("interfaces: ").split(",")
    if isolated:
        assert names == ["lo"]
    else:
        assert "eth0" in names


def test_limits_follow_the_spec_capped_to_the_host(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path
) -> None:
    client = docker.from_env()
    host_cpus = client.info()["NCPU"]
    spec = train_spec(byo_image, opt_ml, "sleep", cpus=1.0, memory_bytes=512 * 1024**2)
    handle = docker_runtime.start_training(spec)
    config = client.containers.get(handle.container_id).attrs["HostConfig"]
    assert (config["NanoCpus"], config["Memory"]) == (1_000_000_000, 512 * 1024**2)
    handle.stop(grace_seconds=5)

    big = train_spec(byo_image, opt_ml, "sleep", cpus=4096.0, memory_bytes=1 << 50)
    handle = docker_runtime.start_training(big)
    config = client.containers.get(handle.container_id).attrs["HostConfig"]
    assert config["NanoCpus"] == host_cpus * 1_000_000_000
    assert config["Memory"] == client.info()["MemTotal"]
    handle.stop(grace_seconds=5)


def test_missing_image_is_reported_by_name(docker_runtime: DockerRuntime, opt_ml: Path) -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/no-such-image:7"
    with pytest.raises(ImageNotFound, match="no-such-image:7"):
        docker_runtime.start_training(train_spec(image, opt_ml, "ok"))
    spec = ContainerSpec(mode="serve", image=image, algorithm=None, opt_ml=opt_ml, name="ep")
    with pytest.raises(ImageNotFound, match="no-such-image:7"):
        docker_runtime.start_serving(spec)
    assert containers_of(docker_runtime) == []


def wait_for_ping(handle: DockerServingHandle, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(handle.url + "/ping", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.mark.parametrize("isolated", [False, True])
def test_serving_container_answers_on_its_url_and_goes_on_stop(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path, isolated: bool
) -> None:
    (opt_ml / "model" / "model.json").write_text('{"weights": [1, 2]}')
    lines = Lines()
    spec = ContainerSpec(
        mode="serve",
        image=byo_image,
        algorithm=None,
        opt_ml=opt_ml,
        name="endpoint-AllTraffic",
        network_isolation=isolated,
        on_log=lines,
    )
    handle = docker_runtime.start_serving(spec)
    wait_for_ping(handle)
    request = urllib.request.Request(handle.url + "/invocations", data=b"hello", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        served = json.loads(answer.read())
    assert (served["model"], served["echo"]) == ({"weights": [1, 2]}, "hello")
    assert handle.is_running()
    assert lines.wait_for("byo serve: listening on 8080")
    handle.stop(grace_seconds=2)
    assert not handle.is_running()
    assert containers_of(docker_runtime) == []


def test_close_removes_everything_it_started(
    docker_ready: None, byo_image: str, opt_ml: Path, tmp_path: Path
) -> None:
    runtime = DockerRuntime(scope="test-close")
    runtime.start_training(train_spec(byo_image, opt_ml, "stubborn"))
    serving = tmp_path / "serving"
    (serving / "model").mkdir(parents=True)
    (serving / "model" / "model.json").write_text("{}")
    spec = ContainerSpec(mode="serve", image=byo_image, algorithm=None, opt_ml=serving, name="ep")
    runtime.start_serving(spec)
    assert len(containers_of(runtime)) == 2
    runtime.close()
    assert containers_of(runtime) == []


def test_cleanup_orphans_removes_a_dead_emulators_containers_of_the_same_scope(
    docker_ready: None, byo_image: str, opt_ml: Path
) -> None:
    scope = "test-orphans"
    crashed = DockerRuntime(scope=scope)  # never closed: as if the emulator died
    other_scope = DockerRuntime(scope="test-orphans-other")
    try:
        crashed.start_training(train_spec(byo_image, opt_ml, "stubborn"))
        other_scope.start_training(train_spec(byo_image, opt_ml, "stubborn"))
        restarted = DockerRuntime(scope=scope)
        restarted.cleanup_orphans()
        assert containers_of(crashed) == []
        # Another emulator's (another data directory's) containers are not ours to remove.
        assert len(containers_of(other_scope)) == 1
        restarted.close()
    finally:
        other_scope.close()
        crashed.close()
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": f"{LABEL_SCOPE}={scope}"}) == []


_PROBE = """
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        print(target, "reached")
    except OSError as exc:
        print(target, "blocked", type(exc).__name__)
"""


def _probe_from_container(image: str, network: str | None, targets: list[str]) -> dict[str, str]:
    """What another container on `network` (None: the default bridge) gets connecting to each
    of `targets` (host:port)."""
    client = docker.from_env()
    output = client.containers.run(
        image,
        ["python3", "-c", _PROBE, *targets],
        network=network,
        remove=True,
        labels={"sagemaker-emulator-test.probe": "true"},
    )
    results = dict(line.split(" ", 1) for line in output.decode().splitlines())
    return {target: results[target].split()[0] for target in targets}


@pytest.mark.parametrize("isolated", [False, True])
def test_no_other_container_reaches_a_serving_container(
    docker_runtime: DockerRuntime, byo_image: str, opt_ml: Path, isolated: bool
) -> None:
    (opt_ml / "model" / "model.json").write_text("{}")
    spec = ContainerSpec(
        mode="serve",
        image=byo_image,
        algorithm=None,
        opt_ml=opt_ml,
        name="endpoint-private",
        network_isolation=isolated,
    )
    handle = docker_runtime.start_serving(spec)
    try:
        wait_for_ping(handle)  # the emulator (this process, on the host) reaches it
        client = docker.from_env()
        container = client.containers.get(handle.container_id)
        networks = container.attrs["NetworkSettings"]["Networks"]
        assert "bridge" not in networks
        (network, settings), *_ = networks.items()
        targets = [f"{settings['IPAddress']}:8080"]
        bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp") or []
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings)
        # The host's addresses as containers see them: the loopback-only port is not there.
        gateways = {settings.get("Gateway")} | {
            c.get("Gateway") for c in client.networks.get("bridge").attrs["IPAM"]["Config"]
        }
        targets += [f"{g}:{b['HostPort']}" for g in gateways if g for b in bindings]
        # A container on the default bridge, and one that joins the serving network itself.
        for probe_network in (None, network):
            assert set(_probe_from_container(byo_image, probe_network, targets).values()) == {
                "blocked"
            }, (probe_network, targets)
        wait_for_ping(handle)
    finally:
        handle.stop(grace_seconds=2)
