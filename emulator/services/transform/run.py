"""What a batch transform run does, from its spec: unpack the model (as hosting does), start one
serving container per instance with the batch environment
(docs/sagemaker-facts.md#inference-container), wait for GET /ping, ask GET /execution-parameters,
then stream every input object through POST /invocations and write
`<S3OutputPath>/<input path relative to the prefix>.out`.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import http.client
import secrets
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import cast

from emulator.aws.errors import ResourceNotFound, ValidationException
from emulator.runtime.base import ContainerSpec, ImageNotFound, ServingHandle
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
from emulator.services.context import ServiceContext
from emulator.services.jobs import Job, JobKind, JobStopped, Outcome, declare
from emulator.services.staging import (
    S3Object,
    StagingError,
    list_source_objects,
    parse_s3_uri,
    unpack_model,
)
from emulator.services.transform.spec import STRATEGY_TO_ENV, EffectiveBatch, TransformJobSpec
from emulator.state import lifecycle
from emulator.state.records import TransformJobRecord, TransformJobStatus, now
from emulator.workloads.container_client import (
    ConnectionPool,
    DeployError,
    wait_for_ping,
)
from emulator.workloads.container_client import execution_parameters as _execution_parameters

LOG_GROUP = "/aws/sagemaker/TransformJobs"
STOP_GRACE_SECONDS = 30.0
"""SIGTERM, then SIGKILL 30 s later (docs/sagemaker-facts.md#inference-container)."""
_LOG_TAIL_LINES = 15


class TransformFailed(Exception):
    """The job cannot go on; the message is its FailureReason."""


KIND: JobKind[TransformJobStatus] = declare(
    "TransformJob",
    "transform job",
    TransformJobStatus,
    lifecycle.TRANSFORM_TRANSITIONS,
    not_found=lambda name: ValidationException(f"Could not find requested job with name {name}"),
    stop_not_found=lambda name: ResourceNotFound(f"Could not find requested job with name {name}"),
    stop_while_stopping_is_accepted=True,
)
STORE_KIND = KIND.store_kind
SHUTDOWN_REASON = KIND.shutdown_reason
RESTART_REASON = KIND.restart_reason


def end(job: TransformJobRecord, outcome: Outcome[TransformJobStatus], at: datetime) -> None:
    if job.transform_start_time is None:
        job.transform_start_time = at
    job.transform_end_time = at


def interrupted(
    job: TransformJobRecord, outcome: Outcome[TransformJobStatus], at: datetime
) -> None:
    job.transform_end_time = at


class TransformRun:
    """One job's run: `work` is what the engine runs on its worker thread."""

    def __init__(self, context: ServiceContext, spec: TransformJobSpec, job_dir: Path) -> None:
        self._context = context
        self._spec = spec
        self._job_dir = job_dir

    def work(self, job: Job[TransformJobRecord]) -> Outcome[TransformJobStatus]:
        try:
            self._run(job)
        except (TransformFailed, StagingError) as exc:
            return Outcome(TransformJobStatus.FAILED, str(exc))
        finally:
            shutil.rmtree(self._job_dir, ignore_errors=True)
        return Outcome(TransformJobStatus.COMPLETED)

    def _run(self, job: Job[TransformJobRecord]) -> None:
        spec, s3 = self._spec, self._context.s3
        _check_supported(spec)
        objects = list_source_objects(s3, spec.input.data_type, spec.input.uri)
        if not objects:
            raise TransformFailed(
                f'ClientError: No S3 objects found under S3 URL "{spec.input.uri}" given in '
                "input data source. Please ensure that the bucket exists in the selected region "
                f"({self._context.region}) and that objects exist under that S3 prefix."
            )
        out_bucket, out_prefix = parse_s3_uri(spec.output.path)
        if not s3.head_bucket(out_bucket):
            raise TransformFailed(
                f'ClientError: The S3 output bucket "{out_bucket}" of S3OutputPath does not exist.'
            )
        # One serving container per instance, each with its own copy of the model. AWS maps the
        # input objects to instances by key: here instance i takes every N-th object in key
        # order from the i-th, so one object keeps one instance busy and the others idle, as AWS
        # describes it (docs/several-instances.md).
        count = spec.resources.instance_count
        instances = [f"i-{secrets.token_hex(9)[:17]}" for _ in range(count)]
        trees = [OptMlTree(self._job_dir / instance / "opt_ml") for instance in instances]
        for tree in trees:
            tree.create()
            if spec.model.model_data_url is not None:
                unpack_model(s3, spec.model.model_data_url, tree.model_dir)
            job.check_stop()
        handles: list[ServingHandle] = []
        try:
            for instance, tree in zip(instances, trees, strict=True):
                handles.append(self._start_container(job, tree, instance))

            def started(record: TransformJobRecord) -> None:
                record.transform_start_time = record.last_modified_time = now()

            job.update(started)
            parameters = spec.batch.effective(_execution_parameters(handles[0].url))

            def share(index: int) -> None:
                pool = ConnectionPool(handles[index].url)
                try:
                    for obj in objects[index::count]:
                        relative = obj.relative
                        target = f"{out_prefix.rstrip('/')}/{relative}" if out_prefix else relative
                        self._transform_object(
                            pool, obj, f"{target}.out", out_bucket, parameters, job
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
        tree: OptMlTree,
        instance: str,
    ) -> ServingHandle:
        name, spec, logs = job.name, self._spec, self._context.logs
        image = spec.model.image
        # Real streams are <job>/<instance id>.
        stream = f"{name}/{instance}"
        logs.ensure_stream(LOG_GROUP, stream)
        tail: collections.deque[str] = collections.deque(maxlen=_LOG_TAIL_LINES)

        def on_log(line: str) -> None:
            tail.append(line)
            logs.put_lines(LOG_GROUP, stream, [line], int(time.time() * 1000))

        environment = {**spec.model.environment, **spec.environment}
        # SAGEMAKER_BATCH always; the other three only when the job set them
        # (docs/sagemaker-facts.md#inference-container).
        environment["SAGEMAKER_BATCH"] = "true"
        if spec.batch.max_payload_mb is not None:
            environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(spec.batch.max_payload_mb)
        if spec.batch.strategy is not None:
            environment["SAGEMAKER_BATCH_STRATEGY"] = STRATEGY_TO_ENV[spec.batch.strategy]
        if spec.batch.max_concurrent is not None:
            environment["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(spec.batch.max_concurrent)
        container_spec = ContainerSpec(
            mode="serve",
            image=image,
            algorithm=algorithm_for_image(image),
            opt_ml=tree.root,
            environment=environment,
            labels={"sagemaker-emulator.transform-job": name},
            name=name,
            on_log=on_log,
            network_isolation=spec.model.network_isolation,
            # The instance type's vCPUs and memory (the Docker runtime caps them to the host).
            **container_limits(spec.resources.instance_type),
        )
        try:
            handle = self._context.runtime.start_serving(container_spec)
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
        parameters: EffectiveBatch,
        job: Job[TransformJobRecord],
    ) -> None:
        """Stream one input object through the container into its .out object.

        Up to MaxConcurrentTransforms requests are in flight; answers are written in input
        order, as the real service assembles them.
        """
        spec = self._spec
        uri = f"s3://{obj.bucket}/{obj.key}"
        headers = {}
        if spec.input.content_type is not None:
            headers["Content-Type"] = spec.input.content_type
        if spec.output.accept is not None:
            headers["Accept"] = spec.output.accept
        assemble_with = spec.output.assemble_with

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
            raw = self._context.s3.open_object(obj.bucket, obj.key)
        except Exception as exc:  # NoSuchKey / NoSuchBucket from the S3 store.
            raise TransformFailed(f'ClientError: Could not download "{uri}".') from exc
        # The S3 store hands out real buffered files, which have readinto.
        source: ByteSource = (
            gzip.GzipFile(fileobj=raw)
            if spec.input.compression == "Gzip"
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
                records = iter_records(source, spec.input.split_type, uri)
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
            self._context.s3.put_object(out_bucket, out_key, spool)


def _check_supported(spec: TransformJobSpec) -> None:
    """Fail the job (not the call) for what this emulator does not do: the request is valid."""
    reason = spec.unsupported()
    if reason is not None:
        raise TransformFailed(f"ClientError: {reason}")
