"""Starting the instances of a variant: each its own /opt/ml tree with the model, its own log
stream `<variant>/<instance id>`, its container, and GET /ping passed before it counts as up."""

from __future__ import annotations

import collections
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from emulator.runtime.base import ContainerRuntime, ContainerSpec, ImageNotFound
from emulator.runtime.images import algorithm_for_image
from emulator.runtime.instance_types import container_limits
from emulator.runtime.optml import OptMlTree
from emulator.services import model_data
from emulator.services.live import LiveInstance, stop_instances
from emulator.services.ports import LogWriter, ObjectStore
from emulator.services.staging import StagingError, VolumeBudget
from emulator.state.hosting_records import VariantState
from emulator.workloads.container_client import ConnectionPool, DeployError, wait_for_ping

log = logging.getLogger(__name__)

_LOG_TAIL_LINES = 15


def endpoint_log_group(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


class InstanceLauncher:
    def __init__(
        self, endpoints_dir: Path, runtime: ContainerRuntime, s3: ObjectStore, logs: LogWriter
    ) -> None:
        self._endpoints_dir = endpoints_dir
        self._runtime = runtime
        self._s3 = s3
        self._logs = logs

    def start_many(
        self,
        name: str,
        wanted: list[tuple[VariantState, int]],
        abandoned: Callable[[], str | None],
    ) -> dict[str, list[LiveInstance]]:
        """Start `count` instances of each variant in parallel; all must pass /ping, else the
        ones that did are stopped and DeployError says why."""
        started: dict[str, list[LiveInstance]] = {state.variant_name: [] for state, _ in wanted}
        errors: list[str] = []
        lock = threading.Lock()

        def bring_up(state: VariantState) -> None:
            try:
                instance = self.start(name, state, abandoned)
            except DeployError as exc:
                with lock:
                    errors.append(str(exc))
                return
            except Exception as exc:  # A bug or a dead engine: it must fail the deploy, not vanish.
                log.exception("starting variant %s of endpoint %s failed", state.variant_name, name)
                with lock:
                    errors.append(f"InternalServerError: {exc}")
                return
            with lock:
                started[state.variant_name].append(instance)

        threads = [
            threading.Thread(target=bring_up, args=(state,), daemon=True)
            for state, count in wanted
            for _ in range(count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = sum(len(instances) for instances in started.values())
        if errors or total != len(threads):
            stop_instances([i for instances in started.values() for i in instances], 1.0)
            raise DeployError(
                errors[0] if errors else "InternalServerError: an instance did not start."
            )
        return started

    def start(
        self, name: str, state: VariantState, abandoned: Callable[[], str | None]
    ) -> LiveInstance:
        instance_id = f"i-{secrets.token_hex(9)[:17]}"
        # A fresh tree per instance: it is removed when the instance stops.
        tree = OptMlTree(self._endpoints_dir / name / f"{state.variant_name}-{instance_id}")
        tree.create()
        try:
            container = state.container
            try:
                volume = VolumeBudget(state.volume_size_in_gb, "VolumeSizeInGB")
                model_data.stage_model(self._s3, container, tree.model_dir, volume)
            except StagingError as exc:
                raise DeployError(str(exc)) from exc
            group = endpoint_log_group(name)
            stream = f"{state.variant_name}/{instance_id}"  # real streams: <variant>/<instance id>
            self._logs.ensure_stream(group, stream)
            tail: collections.deque[str] = collections.deque(maxlen=_LOG_TAIL_LINES)

            def on_log(line: str) -> None:
                tail.append(line)
                self._logs.put_lines(group, stream, [line], int(time.time() * 1000))

            spec = _container_spec(name, state, tree, on_log)
            try:
                handle = self._runtime.start_serving(spec)
            except ImageNotFound as exc:
                raise DeployError(f"ClientError: {exc}") from exc
            failure = (
                f"The primary container for production variant {state.variant_name} did not "
                "pass the ping health check. Please check CloudWatch logs for this endpoint."
            )
            try:
                wait_for_ping(handle, failure, tail, abandoned)
            except BaseException:
                handle.stop(1.0)
                raise
        except BaseException:
            # Nothing of an instance that did not start may stay: its container, tree and model.
            shutil.rmtree(tree.root, ignore_errors=True)
            raise
        return LiveInstance(instance_id, handle, ConnectionPool(handle.url), stream, tree.root)


def _container_spec(
    name: str, state: VariantState, tree: OptMlTree, on_log: Callable[[str], None]
) -> ContainerSpec:
    image = state.image
    return ContainerSpec(
        mode="serve",
        image=image,
        algorithm=algorithm_for_image(image),
        opt_ml=tree.root,
        environment={str(k): str(v) for k, v in state.container.get("Environment", {}).items()},
        labels={
            "sagemaker-emulator.endpoint": name,
            "sagemaker-emulator.variant": state.variant_name,
        },
        name=f"{name}-{state.variant_name}",
        on_log=on_log,
        network_isolation=state.network_isolation,
        # The instance type's vCPUs and memory (the Docker runtime caps them to the host).
        **container_limits(state.instance_type),
    )
