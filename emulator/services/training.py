"""Training jobs: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs, StopTrainingJob.

CreateTrainingJob returns at once; a worker thread per job walks the real service's secondary
statuses (docs/sagemaker-facts.md#job-status-and-logs): stage the /opt/ml tree, run `train` in the
runtime with its output going live to CloudWatch Logs, then tar /opt/ml/model into <S3OutputPath>/<job>/output/model.tar.gz.
"""

from __future__ import annotations

import collections
import logging
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ResourceNotFound, ValidationException
from emulator.runtime.base import (
    ClusterHandle,
    ClusterSpec,
    ContainerRuntime,
    ContainerSpec,
    ImageNotFound,
)
from emulator.runtime.images import algorithm_for_image
from emulator.runtime.instance_types import container_limits
from emulator.runtime.optml import HostLayout, OptMlTree, host_layout
from emulator.services.environment_policy import check_environment
from emulator.services.jobs import Job, JobEngine, JobEvents, JobKind, Outcome
from emulator.services.listing import list_summaries
from emulator.services.metrics import BUILTIN_METRIC_DEFINITIONS, MetricCollector
from emulator.services.ports import LogWriter, ObjectStore
from emulator.services.staging import (
    StagingError,
    VolumeBudget,
    parse_s3_uri,
    stage_channel,
)
from emulator.services.tags import TagService
from emulator.state import lifecycle
from emulator.state.records import (
    SecondaryStatus,
    TrainingJobRecord,
    TrainingJobStatus,
    now,
)
from emulator.state.store import RecordStore

log = logging.getLogger(__name__)

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


def _end(job: TrainingJobRecord, outcome: Outcome[TrainingJobStatus], at: datetime) -> None:
    """The secondary status and times of a job that ends (or was found cut short at start)."""
    secondary, message = _END_SECONDARY[outcome.status]
    if outcome.detail == MAX_RUNTIME:
        secondary, message = SecondaryStatus.MAX_RUNTIME_EXCEEDED, MSG_MAX_RUNTIME
    job.set_secondary(secondary, message, at)
    job.transitions[-1].end_time = at
    if job.training_start_time is None:
        job.training_start_time = at
    job.training_end_time = at


def _interrupted(job: TrainingJobRecord, outcome: Outcome[TrainingJobStatus], at: datetime) -> None:
    """A job found running at start: its secondary status and end time (no start time made up)."""
    secondary, message = _END_SECONDARY[outcome.status]
    job.set_secondary(secondary, message, at)
    job.transitions[-1].end_time = at
    job.training_end_time = at


class TrainingService:
    def __init__(
        self,
        region: str,
        data_dir: Path,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        logs: LogWriter,
        store: RecordStore,
        tags: TagService,
        events: JobEvents | None = None,
    ) -> None:
        self._region = region
        self._jobs_dir = data_dir / "training-jobs"
        self._runtime = runtime
        self._s3 = s3
        self._logs = logs
        self._tags = tags
        self.engine: JobEngine[TrainingJobRecord, TrainingJobStatus] = JobEngine(
            KIND, store, TrainingJobRecord, events or JobEvents(), _end
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

    def create_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TrainingJobName"]
        check_environment(self._runtime, request)
        # The model leaves these optional (other shapes of job use other members); a job of the
        # kind this emulator runs cannot do without them, and the real service refuses it too.
        spec = request.get("AlgorithmSpecification")
        if spec is None:
            raise ValidationException("AlgorithmSpecification is required.")
        resources = request.get("ResourceConfig", {})
        for member in ("InstanceType", "InstanceCount"):
            if member not in resources:
                raise ValidationException(f"ResourceConfig.{member} is required.")
        image = spec.get("TrainingImage")
        if not image:
            raise ValidationException(
                "AlgorithmSpecification.TrainingImage is required: this emulator does not "
                "support AlgorithmName (marketplace algorithms)."
            )
        channels = request.get("InputDataConfig", [])
        names = [c["ChannelName"] for c in channels]
        if len(set(names)) != len(names):
            raise ValidationException("Channel names must be unique within InputDataConfig.")
        output_path = request["OutputDataConfig"]["S3OutputPath"]
        if not output_path.startswith("s3://") or not output_path[len("s3://") :].split("/")[0]:
            raise ValidationException(
                f'S3OutputPath "{output_path}" is not an S3 URI (s3://bucket/prefix).'
            )
        algorithm = algorithm_for_image(image)
        definitions = (
            BUILTIN_METRIC_DEFINITIONS[algorithm]
            if algorithm is not None
            else list(spec.get("MetricDefinitions", []))
        )
        stored_request = {k: v for k, v in request.items() if k != "Tags"}
        # The real default: one day.
        stored_request.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        at = now()
        arn = arns.arn(self._region, "training-job", name)
        job = TrainingJobRecord(
            name=name,
            arn=arn,
            request=stored_request,
            creation_time=at,
            last_modified_time=at,
            metric_definitions=[dict(d) for d in definitions],
        )
        job.set_secondary(SecondaryStatus.STARTING, MSG_STARTING, at)
        self.engine.submit(
            job,
            self._work,
            before_store=lambda: self._tags.set_initial(arn, request.get("Tags", [])),
        )
        return {"TrainingJobArn": arn}

    def mark_tuning_child(self, name: str, tuning_job_arn: str) -> None:
        """Record that a tuning job launched this job (its Describe then carries TuningJobArn);
        the tuning job creates the job through CreateTrainingJob, whose request has no such
        member."""
        with self.engine.lock:
            record = self.engine.get(name)
            record.tuning_job_arn = tuning_job_arn
            self.engine.persist(record)

    def describe_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.view(request["TrainingJobName"], TrainingJobRecord.describe)

    def list_training_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        summaries = self.engine.views(TrainingJobRecord.summary)
        page, token = list_summaries(
            summaries, request, name_key="TrainingJobName", status_key="TrainingJobStatus"
        )
        response: dict[str, Any] = {"TrainingJobSummaries": page}
        if token is not None:
            response["NextToken"] = token
        return response

    def stop_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TrainingJobName"]
        with self.engine.lock:
            job = self.engine.find(name)
            if job is None:
                raise ResourceNotFound("Requested resource not found.")
            if job.status != TrainingJobStatus.IN_PROGRESS:
                raise ValidationException(
                    f"The request was rejected because the training job is in status {job.status}."
                )
            self.engine.request_stop(name, _show_stopping)
        return {}

    def delete_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """Forget a terminal job's record (its S3 artifacts and logs stay), as AWS documents:
        only Completed, Failed or Stopped jobs may be deleted, and the name is free again."""
        name = request["TrainingJobName"]
        if self.engine.find(name) is None:
            raise ResourceNotFound("Requested resource not found.")
        job = self.engine.delete(name)
        self._tags.forget(job.arn)
        shutil.rmtree(self._jobs_dir / name, ignore_errors=True)
        return {}

    # --- the run ------------------------------------------------------------------------------

    def _work(self, job: Job[TrainingJobRecord]) -> Outcome[TrainingJobStatus]:
        request = job.read(lambda r: r.request)
        layout = host_layout(request)
        trees = {
            host: OptMlTree(self._jobs_dir / job.name / host / "opt_ml") for host in layout.hosts
        }
        try:
            return self._run(job, request, layout, trees)
        except StagingError as exc:
            return Outcome(TrainingJobStatus.FAILED, str(exc))
        finally:
            # The staged input is a copy of S3 objects: free the disk, keep model and output.
            for tree in trees.values():
                shutil.rmtree(tree.input_data_dir, True)

    def _run(
        self,
        job: Job[TrainingJobRecord],
        request: dict[str, Any],
        layout: HostLayout,
        trees: dict[str, OptMlTree],
    ) -> Outcome[TrainingJobStatus]:
        _secondary(job, SecondaryStatus.STARTING, MSG_LAUNCHING)
        for host, tree in trees.items():
            tree.create()
            tree.write_training_config(request, layout, host)
        _secondary(job, SecondaryStatus.STARTING, MSG_PREPARING)
        job.check_stop()
        job.update(lambda r: setattr(r, "training_start_time", now()))
        _secondary(job, SecondaryStatus.DOWNLOADING, MSG_DOWNLOADING)
        volume = request.get("ResourceConfig", {}).get("VolumeSizeInGB")
        for index, (host, tree) in enumerate(trees.items()):
            # Each host has its own volume, shared by its channels.
            budget = VolumeBudget(volume, "ResourceConfig.VolumeSizeInGB")
            group = layout.group_of(host).name
            for channel in request.get("InputDataConfig", []):
                groups = channel["DataSource"].get("S3DataSource", {}).get("InstanceGroupNames")
                if groups and group not in groups:
                    continue  # the channel goes to the instance groups it names only
                stage_channel(
                    self._s3,
                    channel,
                    tree.channel_dir(channel["ChannelName"]),
                    self._region,
                    request["RoleArn"],
                    budget,
                    host=(index, len(trees)),
                )
                job.check_stop()
        _secondary(job, SecondaryStatus.TRAINING, MSG_IMAGE)
        outcome = self._train(job, request, layout, trees)
        saved = any(any(tree.model_dir.iterdir()) for tree in trees.values())
        # A stopped job uploads what it saved so far; with nothing saved there is no artifact.
        if outcome.status != TrainingJobStatus.FAILED and (
            saved or outcome.status != TrainingJobStatus.STOPPED
        ):
            try:
                _secondary(job, SecondaryStatus.UPLOADING, MSG_UPLOADING)
                self._upload(job, request, list(trees.values()))
            except StagingError as exc:
                return Outcome(TrainingJobStatus.FAILED, str(exc))
        return outcome

    def _host_spec(
        self,
        job: Job[TrainingJobRecord],
        request: dict[str, Any],
        layout: HostLayout,
        host: str,
        tree: OptMlTree,
        on_log: Callable[[str], None],
    ) -> ContainerSpec:
        image = request["AlgorithmSpecification"]["TrainingImage"]
        environment = {
            # What the real built-in containers see (docs/sagemaker-facts.md#training-container);
            # the request's map is added last.
            "TRAINING_JOB_NAME": job.name,
            "TRAINING_JOB_ARN": job.record.arn,
            "AWS_REGION": self._region,
            "SAGEMAKER_HTTP_PORT": "8080",
            "SAGEMAKER_DATA_PATH": "/opt/ml",
            "DMLC_INTERFACE": "eth0",
            **request.get("Environment", {}),
        }
        return ContainerSpec(
            mode="train",
            image=image,
            algorithm=algorithm_for_image(image),
            opt_ml=tree.root,
            environment=environment,
            labels={"sagemaker-emulator.training-job": job.name},
            name=f"{job.name}-{host}",
            network_isolation=bool(request.get("EnableNetworkIsolation", False)),
            on_log=on_log,
            hostname=host,
            # The instance type's vCPUs and memory (the Docker runtime caps them to the host).
            **container_limits(layout.group_of(host).instance_type),
        )

    def _train(
        self,
        job: Job[TrainingJobRecord],
        request: dict[str, Any],
        layout: HostLayout,
        trees: dict[str, OptMlTree],
    ) -> Outcome[TrainingJobStatus]:
        """Run every host until all exit, one fails, the job is stopped, or time runs out."""
        definitions, created = job.read(lambda r: (r.metric_definitions, r.creation_time))
        # One stream per host, as the SDK reads them (docs/sagemaker-facts.md#job-status-and-logs).
        streams = {host: f"{job.name}/{host}-{int(created.timestamp())}" for host in trees}
        for stream in streams.values():
            self._logs.ensure_stream(LOG_GROUP, stream)
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
                self._logs.put_lines(LOG_GROUP, stream, [line], int(time.time() * 1000))
                with collector_lock:
                    if collector.feed(line, now()):
                        # Describe shows metrics while the job runs; the store gets them at the
                        # next status change.
                        with self.engine.lock:
                            job.record.final_metrics = collector.final()

            return on_log

        cluster = ClusterSpec(
            name=job.name,
            hosts=tuple(
                self._host_spec(job, request, layout, host, tree, sink(host))
                for host, tree in trees.items()
            ),
        )
        try:
            handle = self._runtime.start_cluster(cluster)
        except ImageNotFound as exc:
            return Outcome(TrainingJobStatus.FAILED, f"ClientError: {exc}")
        try:
            code, timed_out = self._supervise(job, request, handle)
        except BaseException:
            # No host is left behind, whatever went wrong here.
            handle.stop(5.0)
            raise
        handle.collect()
        job.update(lambda r: setattr(r, "final_metrics", collector.final()))
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
        self, job: Job[TrainingJobRecord], request: dict[str, Any], handle: ClusterHandle
    ) -> tuple[int | None, bool]:
        """Wait for the hosts; stop them all on Stop, MaxRuntimeInSeconds or a failed host.
        (exit code, whether the platform's time limit stopped them)."""
        _secondary(job, SecondaryStatus.TRAINING, MSG_TRAINING)
        max_runtime = float(request["StoppingCondition"].get("MaxRuntimeInSeconds", 86400))
        deadline = time.monotonic() + max_runtime
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
                    job.set_status(TrainingJobStatus.STOPPING, _show_stopping)
                handle.stop(STOP_GRACE_SECONDS if not self.engine.closed else 5.0)
                return handle.wait(timeout=STOP_GRACE_SECONDS), timed_out

    def _upload(
        self, job: Job[TrainingJobRecord], request: dict[str, Any], trees: list[OptMlTree]
    ) -> None:
        """model.tar.gz of every host's /opt/ml/model (what the hosts wrote, side by side, as
        the real service aggregates it); output.tar.gz of /opt/ml/output/data when not empty."""
        output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        bucket, _ = parse_s3_uri(output_path)
        if not self._s3.head_bucket(bucket):
            raise StagingError(
                f'ClientError: The S3 output bucket "{bucket}" of S3OutputPath "{output_path}" '
                "does not exist."
            )
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
            self._s3.put_object(bucket, key, spool)


def _show_stopping(job: TrainingJobRecord) -> None:
    job.set_secondary(SecondaryStatus.STOPPING, MSG_STOPPING, now())


def _secondary(job: Job[TrainingJobRecord], status: SecondaryStatus, message: str) -> None:
    def change(record: TrainingJobRecord) -> None:
        if record.status == TrainingJobStatus.STOPPING and status != SecondaryStatus.STOPPING:
            return  # keep showing Stopping until the run has stopped the container
        record.set_secondary(status, message, now())

    job.update(change)
