"""Hosting: models, endpoint configs and endpoints (Create/Describe/List/Update/Delete).

CreateEndpoint and UpdateEndpoint return at once; a deploy thread downloads each variant's model
from S3, unpacks it into the serving container's /opt/ml/model, starts the container and waits for
GET /ping, then swaps the endpoint's live variants in one step (the old ones drain their in-flight
requests and stop), so invocations never fail across an update. One container serves each
variant whatever its InitialInstanceCount; DescribeEndpoint still reports the requested count.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ValidationException
from emulator.runtime.base import ContainerSpec, ImageNotFound, ServingHandle
from emulator.runtime.images import algorithm_for_image
from emulator.runtime.instance_types import container_limits
from emulator.runtime.optml import OptMlTree
from emulator.services import model_data
from emulator.services.context import ServiceContext
from emulator.services.environment_policy import check_environment
from emulator.services.invocation import ConnectionPool, InvocationRouter, LiveEndpoint, LiveVariant
from emulator.services.listing import list_summaries
from emulator.services.staging import StagingError, VolumeBudget, parse_s3_uri
from emulator.state import lifecycle
from emulator.state.records import (
    EndpointConfigRecord,
    EndpointRecord,
    EndpointStatus,
    ModelRecord,
    VariantState,
    now,
)

log = logging.getLogger(__name__)

MODEL_KIND = "model"
CONFIG_KIND = "endpoint-config"
ENDPOINT_KIND = "endpoint"

PING_TIMEOUT_SECONDS = 240.0
"""A container must pass /ping within 4 minutes of its start (docs/sagemaker-facts.md#inference-container)."""
STOP_GRACE_SECONDS = 30.0
"""SIGTERM, then SIGKILL 30 s later (docs/sagemaker-facts.md#inference-container)."""
_PING_INTERVAL_SECONDS = 0.02
MONITOR_INTERVAL_SECONDS = 1.0
_LOG_TAIL_LINES = 15


def endpoint_log_group(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


class DeployError(Exception):
    """A variant could not be brought up; the message is the endpoint's FailureReason."""


class HostingService:
    def __init__(self, context: ServiceContext, router: InvocationRouter) -> None:
        self._region = context.region
        self._endpoints_dir = context.data_dir / "endpoints"
        self._runtime = context.runtime
        self._s3 = context.s3
        self._logs = context.logs
        self._store = context.store
        self._tags = context.tags
        self._router = router
        self._lock = threading.RLock()
        self._models: dict[str, ModelRecord] = {}
        self._configs: dict[str, EndpointConfigRecord] = {}
        self._endpoints: dict[str, EndpointRecord] = {}
        self._generations: dict[str, int] = {}
        self._next_generation = 0
        self._background: set[threading.Thread] = set()
        self._closed = False
        self._healing: set[str] = set()
        self._stop_monitor = threading.Event()
        self._monitor: threading.Thread | None = None

    # --- lifecycle of the service ---------------------------------------------------------------

    def start(self) -> None:
        """Load the stored records and bring back every endpoint that was serving."""
        self._models = {m.name: m for m in self._store.load_all(MODEL_KIND, ModelRecord)}
        self._configs = {c.name: c for c in self._store.load_all(CONFIG_KIND, EndpointConfigRecord)}
        self._endpoints = {e.name: e for e in self._store.load_all(ENDPOINT_KIND, EndpointRecord)}
        revive = [
            e
            for e in self._endpoints.values()
            if e.status
            in (EndpointStatus.IN_SERVICE, EndpointStatus.CREATING, EndpointStatus.UPDATING)
        ]
        if revive:
            with ThreadPoolExecutor(max_workers=min(8, len(revive))) as pool:
                for endpoint in revive:
                    pool.submit(self._revive, endpoint.name)
        self._monitor = threading.Thread(
            target=self._watch_containers, name="endpoint-monitor", daemon=True
        )
        self._monitor.start()

    def _revive(self, name: str) -> None:
        with self._lock:
            endpoint = self._endpoints[name]
            # An update cut short by the restart is abandoned: the old config serves again.
            endpoint.pending_config_name = None
            endpoint.pending_variants = []
            generation = self._bump(name)
            variants = list(endpoint.variants)
        self._deploy_and_switch(
            name, generation, variants, endpoint.config_name, False, endpoint.async_config
        )

    def close(self) -> None:
        self._stop_monitor.set()
        if self._monitor is not None:
            self._monitor.join(timeout=10)
        with self._lock:
            self._closed = True
            for name in list(self._generations):
                self._bump(name)
            live = self._router.close()
            background = list(self._background)
        threads = [
            threading.Thread(target=variant.drain_and_stop, args=(STOP_GRACE_SECONDS, 5.0))
            for endpoint in live
            for variant in endpoint.variants
        ]
        for thread in threads:
            thread.start()
        for thread in threads + background:
            thread.join(timeout=60)

    def _watch_containers(self) -> None:
        """Replace a serving container that died, as the real service replaces a failed instance.

        The endpoint stays InService; requests that reach the dead container meanwhile fail with
        ServiceUnavailable.
        """
        while not self._stop_monitor.wait(MONITOR_INTERVAL_SECONDS):
            for name, live in self._router.items():
                dead = [v.name for v in live.variants if not v.handle.is_running()]
                with self._lock:
                    if not dead or name in self._healing or self._closed:
                        continue
                    self._healing.add(name)
                log.warning("endpoint %s: container of %s exited; replacing it", name, dead)
                self._spawn(self._heal, name, live)

    def _heal(self, name: str, live: LiveEndpoint) -> None:
        try:
            with self._lock:
                endpoint = self._endpoints.get(name)
                if endpoint is None or endpoint.status != EndpointStatus.IN_SERVICE:
                    return
                generation = self._generations[name]
                states = {v.variant_name: v for v in endpoint.variants}
            replacements: list[LiveVariant] = []
            dead: list[LiveVariant] = []
            for variant in live.variants:
                if variant.handle.is_running() or variant.name not in states:
                    replacements.append(variant)
                    continue
                try:
                    replacements.append(self._start_variant(name, generation, states[variant.name]))
                except DeployError as exc:
                    log.warning("endpoint %s: replacing %s failed: %s", name, variant.name, exc)
                    _stop_variants([v for v in replacements if v not in live.variants])
                    return
                dead.append(variant)
            with self._lock:
                swapped = self._router.get(name) is live and self._current(name, generation)
                if swapped:
                    self._router.swap(name, LiveEndpoint(replacements, live.asynchronous))
            _stop_variants(dead if swapped else [v for v in replacements if v not in live.variants])
        finally:
            with self._lock:
                self._healing.discard(name)

    def exists(self, arn: str) -> bool:
        with self._lock:
            records: list[ModelRecord | EndpointConfigRecord | EndpointRecord] = [
                *self._models.values(),
                *self._configs.values(),
                *self._endpoints.values(),
            ]
            return any(r.arn == arn for r in records)

    def endpoint_status(self, name: str) -> str | None:
        endpoint = self._endpoints.get(name)
        return None if endpoint is None else endpoint.status.value

    def async_config(self, name: str) -> dict[str, Any] | None:
        """The AsyncInferenceConfig the endpoint serves with (None: a real-time endpoint)."""
        endpoint = self._endpoints.get(name)
        return None if endpoint is None else endpoint.async_config

    def _arn(self, resource_type: str, name: str) -> str:
        return arns.arn(self._region, resource_type, name)

    # --- models ---------------------------------------------------------------------------------

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["ModelName"]
        arn = self._arn("model", name)
        check_environment(self._runtime, request)
        containers = (
            [request["PrimaryContainer"]]
            if "PrimaryContainer" in request
            else list(request.get("Containers", []))
        )
        if not containers:
            raise ValidationException("Either PrimaryContainer or Containers must be specified.")
        if len(containers) > 1:
            raise ValidationException(
                "This emulator serves one container per model: inference pipelines (several "
                "Containers) are not supported."
            )
        container = containers[0]
        if not container.get("Image"):
            raise ValidationException("The container definition must name an Image.")
        model_data.check_container(container, self._object_exists)
        with self._lock:
            if arns.name_taken(name, self._models):
                raise ValidationException(f'Cannot create already existing model "{arn}".')
            self._tags.set_initial(arn, request.get("Tags", []))
            record = ModelRecord(
                name=name,
                arn=arn,
                request={k: v for k, v in request.items() if k != "Tags"},
                creation_time=now(),
            )
            self._store.put(MODEL_KIND, name, record)  # first: a refused write keeps nothing
            self._models[name] = record
        return {"ModelArn": arn}

    def _object_exists(self, url: str) -> bool:
        try:
            bucket, key = parse_s3_uri(url)
        except StagingError:
            return False
        return self._s3.head_bucket(bucket) and key in {
            k for k, _ in self._s3.list_keys(bucket, key)
        }

    def _model(self, name: str) -> ModelRecord:
        model = self._models.get(name)
        if model is None:
            raise ValidationException(f'Could not find model "{self._arn("model", name)}".')
        return model

    def model(self, name: str) -> ModelRecord:
        """The model named `name` (batch transform runs its container); ValidationException if
        there is none."""
        with self._lock:
            return self._model(name)

    def describe_model(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._model(request["ModelName"]).describe()

    def list_models(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            summaries = [m.summary() for m in self._models.values()]
        page, token = list_summaries(summaries, request, name_key="ModelName")
        return _with_token({"Models": page}, token)

    def delete_model(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            model = self._model(request["ModelName"])
            del self._models[model.name]
            self._store.delete(MODEL_KIND, model.name)
            self._tags.forget(model.arn)
        return {}

    # --- endpoint configs -----------------------------------------------------------------------

    def create_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointConfigName"]
        arn = self._arn("endpoint-config", name)
        variants = request["ProductionVariants"]
        variant_names = [v["VariantName"] for v in variants]
        if len(set(variant_names)) != len(variant_names):
            raise ValidationException("ProductionVariants must have unique VariantNames.")
        with self._lock:
            if arns.name_taken(name, self._configs):
                raise ValidationException(
                    f'Cannot create already existing endpoint configuration "{arn}".'
                )
            for variant in variants:
                if not variant.get("ModelName"):
                    raise ValidationException(
                        f"Production variant {variant['VariantName']} names no ModelName."
                    )
                self._model(variant["ModelName"])
            self._tags.set_initial(arn, request.get("Tags", []))
            record = EndpointConfigRecord(
                name=name,
                arn=arn,
                request={k: v for k, v in request.items() if k != "Tags"},
                creation_time=now(),
            )
            self._store.put(CONFIG_KIND, name, record)  # first: a refused write keeps nothing
            self._configs[name] = record
        return {"EndpointConfigArn": arn}

    def _config(self, name: str) -> EndpointConfigRecord:
        config = self._configs.get(name)
        if config is None:
            raise ValidationException(
                f'Could not find endpoint configuration "{self._arn("endpoint-config", name)}".'
            )
        return config

    def describe_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._config(request["EndpointConfigName"]).describe()

    def list_endpoint_configs(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            summaries = [c.summary() for c in self._configs.values()]
        page, token = list_summaries(summaries, request, name_key="EndpointConfigName")
        return _with_token({"EndpointConfigs": page}, token)

    def delete_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            config = self._config(request["EndpointConfigName"])
            del self._configs[config.name]
            self._store.delete(CONFIG_KIND, config.name)
            self._tags.forget(config.arn)
        return {}

    # --- endpoints ------------------------------------------------------------------------------

    def _snapshot(self, config: EndpointConfigRecord) -> list[VariantState]:
        """The variants a config asks for, with their models' containers as they are now."""
        snapshot = []
        for variant in config.variants():
            model = self._model(variant["ModelName"])
            if "ServerlessConfig" in variant and model_data.uses_model_data_source(
                model.containers()[0]
            ):
                # AWS documents that ModelDataSource cannot be used with serverless endpoints.
                raise ValidationException(
                    f"Production variant {variant['VariantName']} is serverless, and its model "
                    f"{model.name} uses ModelDataSource: serverless endpoints do not support "
                    "ModelDataSource. Use ModelDataUrl (a tar.gz archive) instead."
                )
            snapshot.append(
                VariantState(
                    variant_name=variant["VariantName"],
                    model_name=model.name,
                    container=dict(model.containers()[0]),
                    weight=float(variant.get("InitialVariantWeight", 1.0)),
                    instance_count=int(variant.get("InitialInstanceCount", 1)),
                    instance_type=str(variant.get("InstanceType", "")),
                    network_isolation=bool(model.request.get("EnableNetworkIsolation", False)),
                    volume_size_in_gb=variant.get("VolumeSizeInGB"),
                )
            )
        return snapshot

    def _endpoint(self, name: str) -> EndpointRecord:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise ValidationException(f'Could not find endpoint "{self._arn("endpoint", name)}".')
        return endpoint

    def _bump(self, name: str) -> int:
        self._next_generation += 1
        self._generations[name] = self._next_generation
        return self._next_generation

    def _spawn(self, target: Any, *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._background.discard(thread)

        thread = threading.Thread(target=run, daemon=True)
        with self._lock:
            self._background.add(thread)
        thread.start()

    def create_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        arn = self._arn("endpoint", name)
        with self._lock:
            if arns.name_taken(name, self._endpoints):
                raise ValidationException(f'Cannot create already existing endpoint "{arn}".')
            if self._closed:
                raise ValidationException("The emulator is shutting down.")
            config = self._config(request["EndpointConfigName"])
            variants = self._snapshot(config)
            self._tags.set_initial(arn, request.get("Tags", []))
            at = now()
            record = EndpointRecord(
                name=name,
                arn=arn,
                config_name=config.name,
                creation_time=at,
                last_modified_time=at,
                status=EndpointStatus.CREATING,
                variants=variants,
                async_config=config.request.get("AsyncInferenceConfig"),
            )
            self._store.put(ENDPOINT_KIND, name, record)  # first: a refused write keeps nothing
            self._endpoints[name] = record
            generation = self._bump(name)
        self._spawn(
            self._deploy_and_switch,
            name,
            generation,
            variants,
            config.name,
            False,
            record.async_config,
        )
        return {"EndpointArn": arn}

    def describe_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._endpoint(request["EndpointName"]).describe()

    def list_endpoints(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            summaries = [e.summary() for e in self._endpoints.values()]
        page, token = list_summaries(
            summaries, request, name_key="EndpointName", status_key="EndpointStatus"
        )
        return _with_token({"Endpoints": page}, token)

    def update_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        with self._lock:
            endpoint = self._endpoint(name)
            if endpoint.status in (EndpointStatus.CREATING, EndpointStatus.UPDATING):
                raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            if endpoint.status != EndpointStatus.IN_SERVICE:
                raise ValidationException(
                    f'Cannot update endpoint "{endpoint.arn}" in status {endpoint.status}: '
                    "delete it and create it again."
                )
            config = self._config(request["EndpointConfigName"])
            variants = self._snapshot(config)
            lifecycle.check_endpoint(endpoint.status, EndpointStatus.UPDATING)
            endpoint.status = EndpointStatus.UPDATING
            endpoint.pending_config_name = config.name
            endpoint.pending_variants = variants
            endpoint.failure_reason = None
            endpoint.last_modified_time = now()
            self._store.put(ENDPOINT_KIND, name, endpoint)
            generation = self._bump(name)
        self._spawn(
            self._deploy_and_switch,
            name,
            generation,
            variants,
            config.name,
            True,
            config.request.get("AsyncInferenceConfig"),
        )
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        with self._lock:
            endpoint = self._endpoint(name)
            del self._endpoints[name]
            self._generations.pop(name, None)
            self._store.delete(ENDPOINT_KIND, name)
            self._tags.forget(endpoint.arn)
            old = self._router.swap(name, None)
        if old is not None:
            self._spawn(_stop_variants, list(old.variants))
        return {}

    # --- deployment -----------------------------------------------------------------------------

    def _current(self, name: str, generation: int) -> bool:
        return self._generations.get(name) == generation and name in self._endpoints

    def _deploy_and_switch(
        self,
        name: str,
        generation: int,
        variants: list[VariantState],
        config_name: str,
        update: bool,
        async_config: dict[str, Any] | None,
    ) -> None:
        try:
            live = self._deploy(name, generation, variants)
        except DeployError as exc:
            self._deploy_failed(name, generation, str(exc), update)
            return
        except Exception as exc:  # A bug must fail the endpoint, never leave it Creating.
            log.exception("deploying endpoint %s failed inside the emulator", name)
            self._deploy_failed(name, generation, f"InternalServerError: {exc}", update)
            return
        with self._lock:
            if not self._current(name, generation):
                stale: list[LiveVariant] | None = live
                old = None
            else:
                stale = None
                old = self._router.swap(name, LiveEndpoint(live, async_config is not None))
                endpoint = self._endpoints[name]
                endpoint.async_config = async_config
                lifecycle.check_endpoint(endpoint.status, EndpointStatus.IN_SERVICE)
                endpoint.status = EndpointStatus.IN_SERVICE
                endpoint.config_name = config_name
                endpoint.variants = variants
                endpoint.pending_config_name = None
                endpoint.pending_variants = []
                endpoint.failure_reason = None
                endpoint.last_modified_time = now()
                self._store.put(ENDPOINT_KIND, name, endpoint)
        if stale is not None:
            _stop_variants(stale)
        if old is not None:
            _stop_variants(list(old.variants))

    def _deploy_failed(self, name: str, generation: int, reason: str, update: bool) -> None:
        with self._lock:
            if not self._current(name, generation):
                return
            endpoint = self._endpoints[name]
            if update:
                # The real service rolls a failed update back: the old variants keep serving.
                endpoint.status = EndpointStatus.IN_SERVICE
                endpoint.failure_reason = f"Update failed: {reason}"[:1024]
                endpoint.pending_config_name = None
                endpoint.pending_variants = []
            else:
                endpoint.status = EndpointStatus.FAILED
                endpoint.failure_reason = reason[:1024]
            endpoint.last_modified_time = now()
            self._store.put(ENDPOINT_KIND, name, endpoint)

    def _deploy(
        self, name: str, generation: int, variants: list[VariantState]
    ) -> list[LiveVariant]:
        """Start every variant's container in parallel; all must pass /ping."""
        started: list[LiveVariant] = []
        errors: list[str] = []
        lock = threading.Lock()

        def bring_up(variant: VariantState) -> None:
            try:
                live = self._start_variant(name, generation, variant)
            except DeployError as exc:
                with lock:
                    errors.append(str(exc))
                return
            except Exception as exc:  # A bug or a dead engine: it must fail the deploy, not vanish.
                log.exception(
                    "starting variant %s of endpoint %s failed", variant.variant_name, name
                )
                with lock:
                    errors.append(f"InternalServerError: {exc}")
                return
            with lock:
                started.append(live)

        threads = [threading.Thread(target=bring_up, args=(v,), daemon=True) for v in variants]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors or len(started) != len(variants):
            _stop_variants(started)
            raise DeployError(
                errors[0] if errors else "InternalServerError: a variant did not start."
            )
        order = {v.variant_name: i for i, v in enumerate(variants)}
        return sorted(started, key=lambda live: order[live.name])

    def _start_variant(self, name: str, generation: int, variant: VariantState) -> LiveVariant:
        # A fresh tree per container: a replaced container's tree is removed when it stops.
        tree = OptMlTree(
            self._endpoints_dir
            / name
            / f"{variant.variant_name}-{generation}-{secrets.token_hex(3)}"
        )
        tree.create()
        try:
            handle, group = self._bring_up(name, generation, variant, tree)
        except BaseException:
            # Nothing of a variant that did not start may stay: its container, its tree, its model.
            shutil.rmtree(tree.root, ignore_errors=True)
            raise
        return LiveVariant(
            name=variant.variant_name,
            weight=variant.weight,
            handle=handle,
            pool=ConnectionPool(handle.url),
            log_group=group,
            root=tree.root,
        )

    def _bring_up(
        self, name: str, generation: int, variant: VariantState, tree: OptMlTree
    ) -> tuple[ServingHandle, str]:
        """Unpack the model into the tree, start the container, wait for /ping; returns the
        running container and its log group. On any failure the container is stopped."""
        container = variant.container
        image = str(container.get("Image", ""))
        try:
            volume = VolumeBudget(variant.volume_size_in_gb, "VolumeSizeInGB")
            model_data.stage_model(self._s3, container, tree.model_dir, volume)
        except StagingError as exc:
            raise DeployError(str(exc)) from exc
        group = endpoint_log_group(name)
        # Real streams are <variant>/<instance id>.
        stream = f"{variant.variant_name}/i-{secrets.token_hex(9)[:17]}"
        self._logs.ensure_stream(group, stream)
        tail: collections.deque[str] = collections.deque(maxlen=_LOG_TAIL_LINES)

        def on_log(line: str) -> None:
            tail.append(line)
            self._logs.put_lines(group, stream, [line], int(time.time() * 1000))

        spec = ContainerSpec(
            mode="serve",
            image=image,
            algorithm=algorithm_for_image(image),
            opt_ml=tree.root,
            environment={str(k): str(v) for k, v in container.get("Environment", {}).items()},
            labels={
                "sagemaker-emulator.endpoint": name,
                "sagemaker-emulator.variant": variant.variant_name,
            },
            name=f"{name}-{variant.variant_name}",
            on_log=on_log,
            network_isolation=variant.network_isolation,
            # The instance type's vCPUs and memory (the Docker runtime caps them to the host).
            **container_limits(variant.instance_type),
        )
        try:
            handle = self._runtime.start_serving(spec)
        except ImageNotFound as exc:
            raise DeployError(f"ClientError: {exc}") from exc
        try:
            self._wait_for_ping(handle, variant.variant_name, name, generation, tail)
        except BaseException:
            handle.stop(1.0)
            raise
        return handle, group

    def _wait_for_ping(
        self,
        handle: ServingHandle,
        variant: str,
        name: str,
        generation: int,
        tail: collections.deque[str],
    ) -> None:
        failure = (
            f"The primary container for production variant {variant} did not pass the ping "
            "health check. Please check CloudWatch logs for this endpoint."
        )

        def abandoned() -> str | None:
            with self._lock:
                if not self._current(name, generation) or self._closed:
                    return "The endpoint was deleted while it was being created."
            return None

        wait_for_ping(handle, failure, tail, abandoned)


def wait_for_ping(
    handle: ServingHandle,
    failure: str,
    tail: collections.deque[str],
    abandoned: Callable[[], str | None],
) -> None:
    """Poll GET /ping until it answers 200 (within 4 minutes of the start on SageMaker:
    docs/sagemaker-facts.md#inference-container).

    Raises DeployError with `failure` (plus the last log lines if the container exited), or with
    what `abandoned` returns once the caller no longer wants the container.
    """
    pool = ConnectionPool(handle.url, timeout=2.0)
    deadline = time.monotonic() + PING_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            if not handle.is_running():
                time.sleep(0.1)  # let the last log lines arrive
                last = " | ".join(tail)[-600:]
                raise DeployError(f"{failure} The container exited. Last log lines: {last}")
            reason = abandoned()
            if reason is not None:
                raise DeployError(reason)
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _, _ = pool.request("GET", "/ping", None, {})
                if status == 200:
                    return
            time.sleep(_PING_INTERVAL_SECONDS)
    finally:
        pool.close()
    raise DeployError(failure)


def _stop_variants(variants: list[LiveVariant]) -> None:
    threads = [
        threading.Thread(target=v.drain_and_stop, args=(STOP_GRACE_SECONDS,), daemon=True)
        for v in variants
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _with_token(response: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        response["NextToken"] = token
    return response
