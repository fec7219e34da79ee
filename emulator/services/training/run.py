"""What a training run does, from its spec: stage every host's /opt/ml tree, run the cluster
with its output going live to CloudWatch Logs, supervise it (Stop, MaxRuntimeInSeconds, a failing
host), then tar the hosts' /opt/ml/model into <S3OutputPath>/<job>/output/model.tar.gz.

The secondary statuses and messages are the real service's
(docs/sagemaker-facts.md#job-status-and-logs).
"""

from __future__ import annotations

import collections
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from emulator.aws.errors import ValidationException
from emulator.runtime.base import ClusterHandle, ClusterSpec, ContainerSpec, ImageNotFound
from emulator.runtime.instance_types import container_limits
from emulator.runtime.optml import OptMlTree
from emulator.services.context import ServiceContext
from emulator.services.jobs import Job, JobEngine, JobKind, Outcome
from emulator.services.metrics import MetricCollector
from emulator.services.pipe_feed import ChannelPipe
from emulator.services.staging import (
    S3Object,
    StagingError,
    VolumeBudget,
    host_objects,
    parse_s3_uri,
    stage_channel,
)
from emulator.services.training.spec import ChannelSpec, TrainingJobSpec
from emulator.state import lifecycle
from emulator.state.records import SecondaryStatus, TrainingJobRecord, TrainingJobStatus, now

STORE_KIND = "training-job"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
STOP_GRACE_SECONDS = 120.0
"""Real SageMaker stops a job with `docker stop -t 120`."""
_POLL_SECONDS = 0.05
_LOG_TAIL_LINES = 20

SHUTDOWN_REASON = (
    "InternalServerError: The emulator was shut down while this training job was running."
)
RESTART_REASON = (
    "InternalServerError: The emulator stopped while this training job was running; the job was "
    "marked Failed when the emulator started again."
)

# Status messages the real service shows in real job logs (docs/sagemaker-facts.md#job-status-and-logs).
MSG_STARTING = "Starting the training job"
MSG_LAUNCHING = "Launching requested ML instances"
MSG_PREPARING = "Preparing the instances for training"
MSG_DOWNLOADING = "Downloading input data"
MSG_IMAGE = "Downloading the training image"
MSG_TRAINING = "Training image download completed. Training in progress."
MSG_UPLOADING = "Uploading generated training model"
MSG_COMPLETED = "Training job completed"
MSG_FAILED = "Training job failed"
MSG_STOPPING = "Stopping the training job"
MSG_STOPPED = "Training job stopped"
MSG_MAX_RUNTIME = "Training job stopped because it exceeded the maximum allowed runtime"


MAX_RUNTIME = "MaxRuntimeExceeded"
"""Outcome detail of a run the platform stopped at MaxRuntimeInSeconds (SecondaryStatus
MaxRuntimeExceeded)."""

_TJ = TrainingJobStatus
KIND: JobKind[TrainingJobStatus] = JobKind(
    store_kind=STORE_KIND,
    noun="training job",
    statuses=TrainingJobStatus,
    transitions=lifecycle.TRAINING_TRANSITIONS,
    in_progress=_TJ.IN_PROGRESS,
    stopping=_TJ.STOPPING,
    stopped=_TJ.STOPPED,
    failed=_TJ.FAILED,
    completed=_TJ.COMPLETED,
    restart_reason=RESTART_REASON,
    shutdown_reason=SHUTDOWN_REASON,
    not_found=lambda name: ValidationException("Requested resource not found."),
)

_END_SECONDARY = {
    _TJ.COMPLETED: (SecondaryStatus.COMPLETED, MSG_COMPLETED),
    _TJ.FAILED: (SecondaryStatus.FAILED, MSG_FAILED),
    _TJ.STOPPED: (SecondaryStatus.STOPPED, MSG_STOPPED),
}


def end(job: TrainingJobRecord, outcome: Outcome[TrainingJobStatus], at: datetime) -> None:
    """The secondary status and times of a job that ends (or was found cut short at start)."""
    secondary, message = _END_SECONDARY[outcome.status]
    if outcome.detail == MAX_RUNTIME:
        secondary, message = SecondaryStatus.MAX_RUNTIME_EXCEEDED, MSG_MAX_RUNTIME
    job.set_secondary(secondary, message, at)
    job.transitions[-1].end_time = at
    if job.training_start_time is None:
        job.training_start_time = at
    job.training_end_time = at


def interrupted(job: TrainingJobRecord, outcome: Outcome[TrainingJobStatus], at: datetime) -> None:
    """A job found running at start: its secondary status and end time (no start time made up)."""
    secondary, message = _END_SECONDARY[outcome.status]
    job.set_secondary(secondary, message, at)
    job.transitions[-1].end_time = at
    job.training_end_time = at


def show_stopping(job: TrainingJobRecord) -> None:
    job.set_secondary(SecondaryStatus.STOPPING, MSG_STOPPING, now())


def _secondary(job: Job[TrainingJobRecord], status: SecondaryStatus, message: str) -> None:
    def change(record: TrainingJobRecord) -> None:
        if record.status == TrainingJobStatus.STOPPING and status != SecondaryStatus.STOPPING:
            return  # keep showing Stopping until the run has stopped the container
        record.set_secondary(status, message, now())

    job.update(change)


def pipe_for(
    context: ServiceContext, channel: ChannelSpec, objects: list[S3Object], tree: OptMlTree
) -> ChannelPipe:
    """The FIFOs of one Pipe channel on one host."""
    return ChannelPipe(
        context.s3,
        objects,
        tree.input_data_dir,
        channel.name,
        gunzip=channel.compression == "Gzip",
        recordio_wrap=channel.record_wrapper == "RecordIO",
    )


class TrainingRun:
    """One job's run: `work` is what the engine runs on its worker thread."""

    def __init__(
        self,
        context: ServiceContext,
        engine: JobEngine[TrainingJobRecord, TrainingJobStatus],
        spec: TrainingJobSpec,
        job_dir: Path,
    ) -> None:
        self._context = context
        self._engine = engine
        self._spec = spec
        self._trees = {host: OptMlTree(job_dir / host / "opt_ml") for host in spec.layout.hosts}
        self._pipes: list[ChannelPipe] = []

    def work(self, job: Job[TrainingJobRecord]) -> Outcome[TrainingJobStatus]:
        try:
            return self._run(job)
        except StagingError as exc:
            return Outcome(TrainingJobStatus.FAILED, str(exc))
        finally:
            for pipe in self._pipes:
                pipe.close()
            # The staged input is a copy of S3 objects: free the disk, keep model and output.
            for tree in self._trees.values():
                shutil.rmtree(tree.input_data_dir, True)

    def _run(self, job: Job[TrainingJobRecord]) -> Outcome[TrainingJobStatus]:
        spec, trees = self._spec, self._trees
        _secondary(job, SecondaryStatus.STARTING, MSG_LAUNCHING)
        for host, tree in trees.items():
            tree.create()
            tree.write_training_config(spec, host)
        _secondary(job, SecondaryStatus.STARTING, MSG_PREPARING)
        job.check_stop()
        job.update(lambda r: setattr(r, "training_start_time", now()))
        _secondary(job, SecondaryStatus.DOWNLOADING, MSG_DOWNLOADING)
        for index, (host, tree) in enumerate(trees.items()):
            # Each host has its own volume, shared by its channels.
            budget = VolumeBudget(spec.volume_size_in_gb, "ResourceConfig.VolumeSizeInGB")
            group = spec.layout.group_of(host).name
            for channel in spec.channels:
                if not channel.goes_to(group):
                    continue  # the channel goes to the instance groups it names only
                where = (index, len(trees))
                if channel.input_mode == "Pipe" and self._context.runtime.shares_files(tree.root):
                    # Fed as the algorithm reads (pipe_feed); elsewhere Pipe is staged as File.
                    objects = host_objects(
                        self._context.s3, channel, self._context.region, spec.role_arn, where
                    )
                    self._pipes.append(pipe_for(self._context, channel, objects, tree))
                    continue
                stage_channel(
                    self._context.s3,
                    channel,
                    tree.channel_dir(channel.name),
                    self._context.region,
                    spec.role_arn,
                    budget,
                    host=where,
                )
                job.check_stop()
        for pipe in self._pipes:
            pipe.start()
        _secondary(job, SecondaryStatus.TRAINING, MSG_IMAGE)
        outcome = self._train(job)
        saved = any(any(tree.model_dir.iterdir()) for tree in trees.values())
        # A stopped job uploads what it saved so far; with nothing saved there is no artifact.
        if outcome.status != TrainingJobStatus.FAILED and (
            saved or outcome.status != TrainingJobStatus.STOPPED
        ):
            try:
                _secondary(job, SecondaryStatus.UPLOADING, MSG_UPLOADING)
                self._upload(job)
            except StagingError as exc:
                return Outcome(TrainingJobStatus.FAILED, str(exc))
        return outcome

    def _host_spec(
        self, job: Job[TrainingJobRecord], host: str, tree: OptMlTree, on_log: Callable[[str], None]
    ) -> ContainerSpec:
        spec = self._spec
        environment = {
            # What the real built-in containers see (docs/sagemaker-facts.md#training-container);
            # the request's map is added last.
            "TRAINING_JOB_NAME": job.name,
            "TRAINING_JOB_ARN": job.record.arn,
            "AWS_REGION": self._context.region,
            "SAGEMAKER_HTTP_PORT": "8080",
            "SAGEMAKER_DATA_PATH": "/opt/ml",
            "DMLC_INTERFACE": "eth0",
            **spec.environment,
        }
        return ContainerSpec(
            mode="train",
            image=spec.image,
            algorithm=spec.algorithm,
            opt_ml=tree.root,
            environment=environment,
            labels={"sagemaker-emulator.training-job": job.name},
            name=f"{job.name}-{host}",
            network_isolation=spec.network_isolation,
            on_log=on_log,
            hostname=host,
            # The instance type's vCPUs and memory (the Docker runtime caps them to the host).
            **container_limits(spec.layout.group_of(host).instance_type),
        )

    def _train(self, job: Job[TrainingJobRecord]) -> Outcome[TrainingJobStatus]:
        """Run every host until all exit, one fails, the job is stopped, or time runs out."""
        logs, trees, layout = self._context.logs, self._trees, self._spec.layout
        definitions, created = job.read(lambda r: (r.metric_definitions, r.creation_time))
        # One stream per host, as the SDK reads them (docs/sagemaker-facts.md#job-status-and-logs).
        streams = {host: f"{job.name}/{host}-{int(created.timestamp())}" for host in trees}
        for stream in streams.values():
            logs.ensure_stream(LOG_GROUP, stream)
        job.update(lambda r: setattr(r, "log_stream", streams[layout.hosts[0]]))
        # One collector for all hosts: a metric's final value is the last one any host printed.
        collector = MetricCollector(definitions)
        collector_lock = threading.Lock()
        tails: dict[str, collections.deque[str]] = {
            host: collections.deque(maxlen=_LOG_TAIL_LINES) for host in trees
        }

        def sink(host: str) -> Callable[[str], None]:
            stream, tail = streams[host], tails[host]

            def on_log(line: str) -> None:
                tail.append(line)
                logs.put_lines(LOG_GROUP, stream, [line], int(time.time() * 1000))
                with collector_lock:
                    if collector.feed(line, now()):
                        # Describe shows metrics while the job runs; the store gets them at the
                        # next status change.
                        with self._engine.lock:
                            job.record.final_metrics = collector.final()

            return on_log

        cluster = ClusterSpec(
            name=job.name,
            hosts=tuple(
                self._host_spec(job, host, tree, sink(host)) for host, tree in trees.items()
            ),
        )
        try:
            handle = self._context.runtime.start_cluster(cluster)
        except ImageNotFound as exc:
            return Outcome(TrainingJobStatus.FAILED, f"ClientError: {exc}")
        try:
            code, timed_out = self._supervise(job, handle)
        except BaseException:
            # No host is left behind, whatever went wrong here.
            handle.stop(5.0)
            raise
        handle.collect()
        job.update(lambda r: setattr(r, "final_metrics", collector.final()))
        pipe_error = next((p.error for p in self._pipes if p.error), None)
        if pipe_error is not None and not job.stop_requested.is_set():
            return Outcome(TrainingJobStatus.FAILED, pipe_error)
        if job.shutdown:
            # Like a restart after a crash: the job did not end by itself or by StopTrainingJob.
            return Outcome(TrainingJobStatus.FAILED, SHUTDOWN_REASON)
        if job.stop_requested.is_set():
            return Outcome(TrainingJobStatus.STOPPED)
        if timed_out:
            return Outcome(TrainingJobStatus.STOPPED, detail=MAX_RUNTIME)
        if code == 0:
            return Outcome(TrainingJobStatus.COMPLETED)
        failed = handle.failed_host or layout.hosts[0]
        reason = trees[failed].read_failure()
        if reason is None:
            last = " | ".join(line for line in tails[failed] if line.strip())[-700:]
            reason = (
                f"AlgorithmError: the training container exited with code {code} and wrote no "
                f"/opt/ml/output/failure. Last log lines: {last}"
            )
        if len(trees) > 1:
            reason = f"{reason} (host {failed})"
        return Outcome(TrainingJobStatus.FAILED, reason)

    def _supervise(
        self, job: Job[TrainingJobRecord], handle: ClusterHandle
    ) -> tuple[int | None, bool]:
        """Wait for the hosts; stop them all on Stop, MaxRuntimeInSeconds or a failed host.
        (exit code, whether the platform's time limit stopped them)."""
        _secondary(job, SecondaryStatus.TRAINING, MSG_TRAINING)
        deadline = time.monotonic() + self._spec.max_runtime_seconds
        while True:
            code = handle.wait(timeout=_POLL_SECONDS)
            if code is not None:
                if code != 0:
                    # A host that fails fails the job: the others are stopped now.
                    handle.stop(5.0)
                return code, False
            if job.stop_requested.is_set() or time.monotonic() >= deadline:
                timed_out = not job.stop_requested.is_set()
                if timed_out:
                    # The platform stops the job: Stopping, as after StopTrainingJob.
                    job.set_status(TrainingJobStatus.STOPPING, show_stopping)
                handle.stop(STOP_GRACE_SECONDS if not self._engine.closed else 5.0)
                return handle.wait(timeout=STOP_GRACE_SECONDS), timed_out

    def _upload(self, job: Job[TrainingJobRecord]) -> None:
        """model.tar.gz of every host's /opt/ml/model (what the hosts wrote, side by side, as
        the real service aggregates it); output.tar.gz of /opt/ml/output/data when not empty."""
        output_path = self._spec.output_path
        bucket, _ = parse_s3_uri(output_path)
        if not self._context.s3.head_bucket(bucket):
            raise StagingError(
                f'ClientError: The S3 output bucket "{bucket}" of S3OutputPath "{output_path}" '
                "does not exist."
            )
        trees = list(self._trees.values())
        model_uri = f"{output_path}/{job.name}/output/model.tar.gz"
        self._put_tar([tree.model_dir for tree in trees], model_uri)
        job.update(lambda r: setattr(r, "model_artifacts", model_uri))
        outputs = [t.output_data_dir for t in trees if t.output_data_dir.is_dir()]
        if any(any(d.iterdir()) for d in outputs):
            self._put_tar(outputs, f"{output_path}/{job.name}/output/output.tar.gz")

    def _put_tar(self, directories: list[Path], uri: str) -> None:
        bucket, key = parse_s3_uri(uri)
        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w:gz") as tar:
                added: set[str] = set()
                for directory in directories:
                    for entry in sorted(directory.iterdir()):
                        # Entries at the tar root, as the real model.tar.gz holds model_algo-1;
                        # hosts must not write the same name (the first one's is kept).
                        if entry.name not in added:
                            added.add(entry.name)
                            tar.add(entry, arcname=entry.name)
            spool.seek(0)
            self._context.s3.put_object(bucket, key, spool)
