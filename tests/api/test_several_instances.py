"""Endpoints with several instances through boto3: one container per instance, each with its own
log stream; counts that follow what really runs; a dead instance replaced while the others
serve; UpdateEndpointWeightsAndCapacities under load without a failed request."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import ROLE, Aws, Trained, deploy, unique, wait_endpoint

BODY = b"1,2,3,4"


def _containers(runtime: str, endpoint: str) -> list[str]:
    """The serving containers (Docker ids, or process ids) of an endpoint that run now."""
    if runtime == "docker":
        return subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=sagemaker-emulator.endpoint={endpoint}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    marker = f"/endpoints/{endpoint}/".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{pid}/stat") as stat:
                zombie = stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if marker in environ and b"SAGEMAKER_BIND_TO_PORT" in environ and not zombie:
            found.append(pid)
    return found


def _kill(runtime: str, container: str) -> None:
    if runtime == "docker":
        subprocess.run(["docker", "kill", container], capture_output=True, check=True)
    else:
        os.kill(int(container), signal.SIGKILL)


def _until(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)


def _counts(aws: Aws, name: str) -> dict[str, tuple[int, int]]:
    described = aws.sm.describe_endpoint(EndpointName=name)
    return {
        v["VariantName"]: (v["CurrentInstanceCount"], v["DesiredInstanceCount"])
        for v in described.get("ProductionVariants", [])
    }


def _invoke(aws: Aws, name: str) -> bytes:
    body: bytes = aws.rt.invoke_endpoint(EndpointName=name, Body=BODY, ContentType="text/csv")[
        "Body"
    ].read()
    return body


def test_each_instance_runs_its_own_container_and_log_stream(
    aws: Aws, kmeans_trained: Trained
) -> None:
    name = deploy(aws, kmeans_trained.model_data, "kmeans", InitialInstanceCount=3)
    assert _counts(aws, name) == {"AllTraffic": (3, 3)}
    assert len(_containers(aws.runtime, name)) == 3
    answers = {_invoke(aws, name) for _ in range(6)}
    assert len(answers) == 1  # the same model everywhere
    streams = aws.logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{name}")[
        "logStreams"
    ]
    names = [s["logStreamName"] for s in streams]
    assert len(names) == 3 and all(n.startswith("AllTraffic/i-") for n in names), names
    config = aws.sm.describe_endpoint_config(EndpointConfigName=name)
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 3
    aws.sm.delete_endpoint(EndpointName=name)
    _until(lambda: not _containers(aws.runtime, name), "the instances stop after DeleteEndpoint")


class _Load:
    """Client threads invoking an endpoint at about `rate` requests per second (a target: a busy
    machine may reach less), recording every failure."""

    def __init__(self, aws: Aws, name: str, rate: float = 100.0, threads: int = 8) -> None:
        self._aws, self._name = aws, name
        self._interval = threads / rate
        self._threads = threads
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=threads)
        self.ok = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> _Load:
        for _ in range(self._threads):
            self._pool.submit(self._run)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                _invoke(self._aws, self._name)
                with self._lock:
                    self.ok += 1
            except Exception as exc:
                with self._lock:
                    self.failures.append(repr(exc))
            # Pace to the target rate (the wait ends at once when the load stops).
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))

    def done(self) -> int:
        with self._lock:
            return self.ok + len(self.failures)


def _change_under_load(aws: Aws, name: str, load: _Load, count: int) -> None:
    aws.sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": count}],
    )
    described = aws.sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] in ("Updating", "InService")
    assert described["ProductionVariants"][0]["DesiredInstanceCount"] == count
    before = load.done()
    final = wait_endpoint(aws, name)
    assert final["EndpointStatus"] == "InService", final.get("FailureReason")
    assert "FailureReason" not in final
    # Requests kept flowing while the change was made.
    assert load.done() > before
    assert _counts(aws, name) == {"AllTraffic": (count, count)}
    _until(lambda: len(_containers(aws.runtime, name)) == count, f"{count} containers run")


def test_capacity_changes_under_load_fail_no_request(aws: Aws, kmeans_trained: Trained) -> None:
    name = deploy(aws, kmeans_trained.model_data, "kmeans")
    with _Load(aws, name) as load:
        _until(lambda: load.done() >= 50, "the load is flowing")
        _change_under_load(aws, name, load, 3)
        _change_under_load(aws, name, load, 2)
        settled = load.done()
        _until(lambda: load.done() >= settled + 50, "the load flows after the change")
    assert load.failures == []
    aws.sm.delete_endpoint(EndpointName=name)


def test_a_dead_instance_is_replaced_while_the_others_serve(
    aws: Aws, kmeans_trained: Trained
) -> None:
    name = deploy(aws, kmeans_trained.model_data, "kmeans", InitialInstanceCount=2)
    expected = _invoke(aws, name)
    first, second = _containers(aws.runtime, name)
    _kill(aws.runtime, first)
    # Every request succeeds: the dead instance leaves rotation, or a request that cannot reach
    # it goes to the other one.
    for _ in range(20):
        assert _invoke(aws, name) == expected

    def replaced() -> bool:
        running = _containers(aws.runtime, name)
        assert _invoke(aws, name) == expected
        return len(running) == 2 and first not in running and second in running

    _until(replaced, "a new instance replaced the dead one")
    _until(lambda: _counts(aws, name) == {"AllTraffic": (2, 2)}, "two instances in service")
    assert aws.sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    aws.sm.delete_endpoint(EndpointName=name)


def _two_variant_endpoint(aws: Aws, trained: Trained, count: int = 1) -> str:
    from emulator.runtime.images import image_uri

    name = unique("weights")
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image_uri("kmeans", aws.region),
            "ModelDataUrl": trained.model_data,
        },
        ExecutionRoleArn=ROLE,
    )
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": name,
                "InitialInstanceCount": count,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
                "RoutingConfig": {"RoutingStrategy": "RANDOM"},
            }
            for variant in ("A", "B")
        ],
    )
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_endpoint(aws, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


def test_weights_change_live(aws: Aws, kmeans_trained: Trained) -> None:
    name = _two_variant_endpoint(aws, kmeans_trained)
    described = aws.sm.describe_endpoint(EndpointName=name)
    assert [v["RoutingConfig"] for v in described["ProductionVariants"]] == [
        {"RoutingStrategy": "RANDOM"}
    ] * 2
    aws.sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "B", "DesiredWeight": 0.0}],
    )
    described = wait_endpoint(aws, name)
    assert described["EndpointStatus"] == "InService"
    weights = {
        v["VariantName"]: (v["CurrentWeight"], v["DesiredWeight"])
        for v in described["ProductionVariants"]
    }
    assert weights == {"A": (1.0, 1.0), "B": (0.0, 0.0)}
    seen = {
        aws.rt.invoke_endpoint(EndpointName=name, Body=BODY, ContentType="text/csv")[
            "InvokedProductionVariant"
        ]
        for _ in range(20)
    }
    assert seen == {"A"}
    # TargetVariant still reaches a variant whose weight is 0.
    answer = aws.rt.invoke_endpoint(
        EndpointName=name, Body=BODY, ContentType="text/csv", TargetVariant="B"
    )
    assert answer["InvokedProductionVariant"] == "B"
    aws.sm.delete_endpoint(EndpointName=name)


def _error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_weights_and_capacities_errors(aws: Aws, kmeans_trained: Trained) -> None:
    name = deploy(aws, kmeans_trained.model_data, "kmeans")

    def update(*desired: dict[str, Any], endpoint: str = name) -> Callable[[], Any]:
        return lambda: aws.sm.update_endpoint_weights_and_capacities(
            EndpointName=endpoint, DesiredWeightsAndCapacities=list(desired)
        )

    code, message = _error(update({"VariantName": "Nope", "DesiredWeight": 1.0}))
    assert code == "ValidationException" and "Nope" in message
    code, _ = _error(update({"VariantName": "AllTraffic", "DesiredWeight": 1.0}, endpoint="none"))
    assert code == "ValidationException"
    code, _ = _error(update({"VariantName": "AllTraffic", "DesiredInstanceCount": 0}))
    assert code == "ValidationException"
    code, _ = _error(update({"VariantName": "AllTraffic"}))
    assert code == "ValidationException"
    aws.sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    code, message = _error(update({"VariantName": "AllTraffic", "DesiredInstanceCount": 1}))
    assert code == "ValidationException" and "in-progress" in message
    assert wait_endpoint(aws, name)["EndpointStatus"] == "InService"
    aws.sm.delete_endpoint(EndpointName=name)


def test_update_endpoint_changes_the_instance_count(aws: Aws, kmeans_trained: Trained) -> None:
    name = deploy(aws, kmeans_trained.model_data, "kmeans")
    aws.sm.create_endpoint_config(
        EndpointConfigName=name + "-2",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    aws.sm.update_endpoint(EndpointName=name, EndpointConfigName=name + "-2")
    assert wait_endpoint(aws, name)["EndpointStatus"] == "InService"
    assert _counts(aws, name) == {"AllTraffic": (2, 2)}
    _until(lambda: len(_containers(aws.runtime, name)) == 2, "the old instance stopped")
    assert _invoke(aws, name)
    aws.sm.delete_endpoint(EndpointName=name)
