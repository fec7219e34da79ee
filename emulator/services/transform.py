"""Batch transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs,
StopTransformJob.

CreateTransformJob returns at once; a worker thread per job unpacks the model (as hosting does),
starts one serving container with the batch environment (docs/sagemaker-facts.md#inference-container),
waits for GET /ping, asks GET /execution-parameters, then streams every input object through POST /invocations and writes
`<S3OutputPath>/<input path relative to the prefix>.out`. One container serves the job whatever
its InstanceCount.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import http.client
import logging
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from emulator.aws import arns
from emulator.aws.errors import ResourceNotFound, ValidationException
from emulator.runtime.base import ContainerRuntime, ContainerSpec, ImageNotFound, ServingHandle
from emulator.runtime.images import algorithm_for_image
from emulator.runtime.instance_types import container_limits
from emulator.runtime.optml import OptMlTree
from emulator.services.batch_records import (
    ByteSource,
    PayloadTooLarge,
    assemble,
    iter_records,
    pack_requests,
)
from emulator.services.environment_policy import check_environment
from emulator.services.jobs import Job, JobEngine, JobEvents, JobKind, JobStopped, Outcome
from emulator.services.listing import list_summaries
from emulator.services.model_data import uses_model_data_source
from emulator.services.ports import LogWriter, ObjectStore
from emulator.services.staging import (
    S3Object,
    StagingError,
    list_source_objects,
    parse_s3_uri,
    unpack_model,
)
from emulator.services.tags import TagService
from emulator.state import lifecycle
from emulator.state.records import (
    ModelRecord,
    TransformJobRecord,
    TransformJobStatus,
    now,
)
from emulator.state.store import RecordStore
from emulator.workloads.container_client import (
    ConnectionPool,
    DeployError,
    wait_for_ping,
)
from emulator.workloads.container_client import execution_parameters as _execution_parameters

log = logging.getLogger(__name__)

STORE_KIND = "transform-job"
LOG_GROUP = "/aws/sagemaker/TransformJobs"
STOP_GRACE_SECONDS = 30.0
"""SIGTERM, then SIGKILL 30 s later (docs/sagemaker-facts.md#inference-container)."""
_LOG_TAIL_LINES = 15

# Defaults when neither the job nor the container's /execution-parameters says (the API docs, see
# docs/sagemaker-facts.md#inference-container; the SDK's local mode uses BatchStrategy MultiRecord
# and MaxPayloadInMB 6).
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_MAX_CONCURRENT = 1
DEFAULT_BATCH_STRATEGY = "MultiRecord"

# The container contract spells the strategy in upper snake case (SAGEMAKER_BATCH_STRATEGY).
_STRATEGY_TO_ENV = {"SingleRecord": "SINGLE_RECORD", "MultiRecord": "MULTI_RECORD"}
_ENV_TO_STRATEGY = {v: k for k, v in _STRATEGY_TO_ENV.items()}

# DataProcessing values that mean "no filtering, no joining" (the API's defaults).
_DEFAULT_DATA_PROCESSING = {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"}

SHUTDOWN_REASON = (
    "InternalServerError: The emulator was shut down while this transform job was running."
)
RESTART_REASON = (
    "InternalServerError: The emulator stopped while this transform job was running; the job "
    "was marked Failed when the emulator started again."
)


class TransformFailed(Exception):
    """The job cannot go on; the message is its FailureReason."""


@dataclass(frozen=True)
class _Parameters:
    """The effective batch settings: job value, then the container's answer, then defaults."""

    batch_strategy: str
    max_payload_mb: int
    max_concurrent: int


_TF = TransformJobStatus
KIND: JobKind[TransformJobStatus] = JobKind(
    store_kind=STORE_KIND,
    noun="transform job",
    statuses=TransformJobStatus,
    transitions=lifecycle.TRANSFORM_TRANSITIONS,
    in_progress=_TF.IN_PROGRESS,
    stopping=_TF.STOPPING,
    stopped=_TF.STOPPED,
    failed=_TF.FAILED,
    completed=_TF.COMPLETED,
    restart_reason=RESTART_REASON,
    shutdown_reason=SHUTDOWN_REASON,
    not_found=lambda name: ValidationException(f"Could not find requested job with name {name}"),
)


def _end(job: TransformJobRecord, outcome: Outcome[TransformJobStatus], at: datetime) -> None:
    if job.transform_start_time is None:
        job.transform_start_time = at
    job.transform_end_time = at


def _interrupted(
    job: TransformJobRecord, outcome: Outcome[TransformJobStatus], at: datetime
) -> None:
    job.transform_end_time = at


class TransformService:
    def __init__(
        self,
        region: str,
        data_dir: Path,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        logs: LogWriter,
        store: RecordStore,
        tags: TagService,
        model: Callable[[str], ModelRecord],
        events: JobEvents | None = None,
    ) -> None:
        self._region = region
        self._jobs_dir = data_dir / "transform-jobs"
        self._runtime = runtime
        self._s3 = s3
        self._logs = logs
        self._tags = tags
        self._model = model
        self.engine: JobEngine[TransformJobRecord, TransformJobStatus] = JobEngine(
            KIND, store, TransformJobRecord, events or JobEvents(), _end
        )

    # --- lifecycle of the service ---------------------------------------------------------------

    def start(self) -> None:
        """Load the stored jobs; a job that was running when the emulator died is now Failed."""
        self.engine.recover(_interrupted)

    def close(self) -> None:
        self.engine.close()

    def exists(self, arn: str) -> bool:
        return self.engine.exists(arn)

    # --- operations -----------------------------------------------------------------------------

    def create_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TransformJobName"]
        check_environment(self._runtime, request)
        model = self._model(request["ModelName"])
        if any(uses_model_data_source(c) for c in model.containers()):
            # The real service's refusal, word for word.
            raise ValidationException(
                "SageMaker Batch currently doesn't support Model entity with container "
                "definitions which use ModelDataSource attribute"
            )
        output_path = request["TransformOutput"]["S3OutputPath"]
        if not output_path.startswith("s3://") or not output_path[len("s3://") :].split("/")[0]:
            raise ValidationException(
                f'S3OutputPath "{output_path}" is not an S3 URI (s3://bucket/prefix).'
            )
        at = now()
        arn = arns.arn(self._region, "transform-job", name)
        job = TransformJobRecord(
            name=name,
            arn=arn,
            request={k: v for k, v in request.items() if k != "Tags"},
            creation_time=at,
            last_modified_time=at,
        )
        self.engine.submit(
            job,
            lambda run: self._work(run, model),
            before_store=lambda: self._tags.set_initial(arn, request.get("Tags", [])),
        )
        return {"TransformJobArn": arn}

    def describe_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.view(request["TransformJobName"], TransformJobRecord.describe)

    def list_transform_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        summaries = self.engine.views(TransformJobRecord.summary)
        page, token = list_summaries(
            summaries, request, name_key="TransformJobName", status_key="TransformJobStatus"
        )
        response: dict[str, Any] = {"TransformJobSummaries": page}
        if token is not None:
            response["NextToken"] = token
        return response

    def stop_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TransformJobName"]
        with self.engine.lock:
            job = self.engine.find(name)
            if job is None:
                raise ResourceNotFound(f"Could not find requested job with name {name}")
            if job.status == TransformJobStatus.STOPPING:
                return {}
            if job.status != TransformJobStatus.IN_PROGRESS:
                raise ValidationException(
                    f"The request was rejected because the transform job is in status {job.status}."
                )
            self.engine.request_stop(name)
        return {}

    # --- the run --------------------------------------------------------------------------------

    def _work(
        self, job: Job[TransformJobRecord], model: ModelRecord
    ) -> Outcome[TransformJobStatus]:
        job_dir = self._jobs_dir / job.name
        try:
            self._run_job(job, model, job_dir)
        except (TransformFailed, StagingError) as exc:
            return Outcome(TransformJobStatus.FAILED, str(exc))
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
        return Outcome(TransformJobStatus.COMPLETED)

    def _run_job(self, job: Job[TransformJobRecord], model: ModelRecord, job_dir: Path) -> None:
        request = job.read(lambda r: r.request)
        _check_supported(request)
        source = request["TransformInput"]["DataSource"]["S3DataSource"]
        objects = list_source_objects(self._s3, source["S3DataType"], source["S3Uri"])
        if not objects:
            raise TransformFailed(
                f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" given in '
                "input data source. Please ensure that the bucket exists in the selected region "
                f"({self._region}) and that objects exist under that S3 prefix."
            )
        out_bucket, out_prefix = parse_s3_uri(request["TransformOutput"]["S3OutputPath"])
        if not self._s3.head_bucket(out_bucket):
            raise TransformFailed(
                f'ClientError: The S3 output bucket "{out_bucket}" of S3OutputPath does not exist.'
            )
        container = model.containers()[0]
        # One serving container per instance, each with its own copy of the model. AWS maps the
        # input objects to instances by key: here instance i takes every N-th object in key
        # order from the i-th, so one object keeps one instance busy and the others idle, as AWS
        # describes it (docs/several-instances.md).
        count = int(request["TransformResources"].get("InstanceCount", 1))
        instances = [f"i-{secrets.token_hex(9)[:17]}" for _ in range(count)]
        trees = [OptMlTree(job_dir / instance / "opt_ml") for instance in instances]
        for tree in trees:
            tree.create()
            if container.get("ModelDataUrl"):
                unpack_model(self._s3, str(container["ModelDataUrl"]), tree.model_dir)
            job.check_stop()
        handles: list[ServingHandle] = []
        try:
            for instance, tree in zip(instances, trees, strict=True):
                handles.append(
                    self._start_container(job, model, container, request, tree, instance)
                )

            def started(record: TransformJobRecord) -> None:
                record.transform_start_time = record.last_modified_time = now()

            job.update(started)
            parameters = _parameters(request, _execution_parameters(handles[0].url))

            def share(index: int) -> None:
                pool = ConnectionPool(handles[index].url)
                try:
                    for obj in objects[index::count]:
                        relative = obj.relative
                        target = f"{out_prefix.rstrip('/')}/{relative}" if out_prefix else relative
                        self._transform_object(
                            pool, obj, f"{target}.out", out_bucket, request, parameters, job
                        )
                finally:
                    pool.close()

            with ThreadPoolExecutor(count, thread_name_prefix=f"transform-{job.name}") as pool:
                shares = [pool.submit(share, index) for index in range(count)]
                try:
                    for done in shares:
                        done.result()
                except BaseException:
                    # The first failure ends the job: the other instances stop at their next
                    # request (the run's stop flag; the job's outcome is this failure).
                    job.stop_requested.set()
                    for other in shares:
                        other.cancel()
                    raise
        finally:
            grace = STOP_GRACE_SECONDS if not job.shutdown else 5.0
            for handle in handles:
                handle.stop(grace)

    def _start_container(
        self,
        job: Job[TransformJobRecord],
        model: ModelRecord,
        container: dict[str, Any],
        request: dict[str, Any],
        tree: OptMlTree,
        instance: str,
    ) -> ServingHandle:
        name = job.name
        image = str(container.get("Image", ""))
        # Real streams are <job>/<instance id>.
        stream = f"{name}/{instance}"
        self._logs.ensure_stream(LOG_GROUP, stream)
        tail: collections.deque[str] = collections.deque(maxlen=_LOG_TAIL_LINES)

        def on_log(line: str) -> None:
            tail.append(line)
            self._logs.put_lines(LOG_GROUP, stream, [line], int(time.time() * 1000))

        environment = {str(k): str(v) for k, v in container.get("Environment", {}).items()}
        environment.update({str(k): str(v) for k, v in request.get("Environment", {}).items()})
        # SAGEMAKER_BATCH always; the other three only when the job set them
        # (docs/sagemaker-facts.md#inference-container).
        environment["SAGEMAKER_BATCH"] = "true"
        if "MaxPayloadInMB" in request:
            environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request["MaxPayloadInMB"])
        if "BatchStrategy" in request:
            environment["SAGEMAKER_BATCH_STRATEGY"] = _STRATEGY_TO_ENV[request["BatchStrategy"]]
        if "MaxConcurrentTransforms" in request:
            environment["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(
                request["MaxConcurrentTransforms"]
            )
        spec = ContainerSpec(
            mode="serve",
            image=image,
            algorithm=algorithm_for_image(image),
            opt_ml=tree.root,
            environment=environment,
            labels={"sagemaker-emulator.transform-job": name},
            name=name,
            on_log=on_log,
            network_isolation=bool(model.request.get("EnableNetworkIsolation", False)),
            # The instance type's vCPUs and memory (the Docker runtime caps them to the host).
            **container_limits(request["TransformResources"]["InstanceType"]),
        )
        try:
            handle = self._runtime.start_serving(spec)
        except ImageNotFound as exc:
            raise TransformFailed(f"ClientError: {exc}") from exc
        failure = (
            "ClientError: The model container did not pass the ping health check. Please check "
            "CloudWatch logs for this transform job."
        )

        def abandoned() -> str | None:
            return "stopped" if job.stop_requested.is_set() else None

        try:
            wait_for_ping(handle, failure, tail, abandoned)
        except DeployError as exc:
            handle.stop(1.0)
            if job.stop_requested.is_set():
                raise JobStopped() from exc
            raise TransformFailed(str(exc)) from exc
        return handle

    def _transform_object(
        self,
        pool: ConnectionPool,
        obj: S3Object,
        out_key: str,
        out_bucket: str,
        request: dict[str, Any],
        parameters: _Parameters,
        job: Job[TransformJobRecord],
    ) -> None:
        """Stream one input object through the container into its .out object.

        Up to MaxConcurrentTransforms requests are in flight; answers are written in input
        order, as the real service assembles them.
        """
        transform_input = request["TransformInput"]
        uri = f"s3://{obj.bucket}/{obj.key}"
        headers = {}
        if transform_input.get("ContentType"):
            headers["Content-Type"] = str(transform_input["ContentType"])
        if request["TransformOutput"].get("Accept"):
            headers["Accept"] = str(request["TransformOutput"]["Accept"])
        assemble_with = request["TransformOutput"].get("AssembleWith", "None")

        def invoke(number: int, body: bytes) -> bytes:
            job.check_stop()
            try:
                status, _, answer = pool.request("POST", "/invocations", body, headers)
            except TimeoutError as exc:
                raise TransformFailed(
                    f"ClientError: The model container did not answer request {number} for "
                    f'"{uri}" within 60 seconds.'
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise TransformFailed(
                    f'ClientError: The model container failed on request {number} for "{uri}": '
                    f"{exc}. See the CloudWatch logs for this transform job."
                ) from exc
            if status != 200:
                message = answer.decode("utf-8", "replace").strip()[:500]
                raise TransformFailed(
                    f"ClientError: The model container answered HTTP {status} to request {number} "
                    f'for "{uri}": {message}'
                )
            return answer

        try:
            raw = self._s3.open_object(obj.bucket, obj.key)
        except Exception as exc:  # NoSuchKey / NoSuchBucket from the S3 store.
            raise TransformFailed(f'ClientError: Could not download "{uri}".') from exc
        # The S3 store hands out real buffered files, which have readinto.
        source: ByteSource = (
            gzip.GzipFile(fileobj=raw)
            if transform_input.get("CompressionType", "None") == "Gzip"
            else cast(ByteSource, raw)
        )
        window = 2 * parameters.max_concurrent
        with (
            raw,
            contextlib.closing(source),
            tempfile.TemporaryFile() as spool,
            ThreadPoolExecutor(parameters.max_concurrent) as executor,
        ):
            pending: collections.deque[Future[bytes]] = collections.deque()
            try:
                records = iter_records(source, transform_input.get("SplitType", "None"), uri)
                bodies = pack_requests(
                    records, parameters.batch_strategy, parameters.max_payload_mb
                )
                for number, body in enumerate(bodies, start=1):
                    pending.append(executor.submit(invoke, number, body))
                    if len(pending) >= window:
                        spool.write(assemble(pending.popleft().result(), assemble_with))
                while pending:
                    spool.write(assemble(pending.popleft().result(), assemble_with))
            except (PayloadTooLarge, ValueError, OSError, EOFError) as exc:
                # ValueError covers a broken RecordIO stream (RecordIOError), OSError/EOFError a
                # broken gzip stream.
                raise TransformFailed(f'ClientError: Cannot split "{uri}": {exc}') from exc
            finally:
                for future in pending:
                    future.cancel()
            spool.seek(0)
            self._s3.put_object(out_bucket, out_key, spool)


def _check_supported(request: dict[str, Any]) -> None:
    """Fail the job (not the call) for what this emulator does not do: the request is valid."""
    processing = request.get("DataProcessing", {})
    for key, default in _DEFAULT_DATA_PROCESSING.items():
        if processing.get(key, default) != default:
            raise TransformFailed(
                f"ClientError: DataProcessing.{key}={processing[key]!r} is not supported by this "
                f"emulator (only the default {default!r})."
            )
    split_type = request["TransformInput"].get("SplitType", "None")
    if split_type not in ("None", "Line", "RecordIO"):
        raise TransformFailed(
            f"ClientError: SplitType {split_type} is not supported by this emulator "
            "(None, Line and RecordIO are)."
        )


def _positive_int(value: Any, default: int, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number >= minimum else default


def _parameters(request: dict[str, Any], container: dict[str, Any]) -> _Parameters:
    """The job's value, then the container's answer, then the defaults.

    That is SageMaker's precedence (docs/sagemaker-facts.md#inference-container).
    """
    strategy = request.get("BatchStrategy") or _ENV_TO_STRATEGY.get(
        str(container.get("BatchStrategy", "")), DEFAULT_BATCH_STRATEGY
    )
    payload = request.get("MaxPayloadInMB")
    if payload is None:
        payload = _positive_int(container.get("MaxPayloadInMB"), DEFAULT_MAX_PAYLOAD_MB, 0)
    concurrent = request.get("MaxConcurrentTransforms")
    if concurrent is None:
        concurrent = _positive_int(
            container.get("MaxConcurrentTransforms"), DEFAULT_MAX_CONCURRENT, 1
        )
    return _Parameters(str(strategy), int(payload), max(1, int(concurrent)))
