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
from pathlib import Path
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ResourceInUse, ResourceNotFound, ValidationException
from emulator.runtime.base import ContainerRuntime, ContainerSpec, ImageNotFound
from emulator.runtime.images import algorithm_for_image
from emulator.runtime.instance_types import container_limits
from emulator.runtime.optml import OptMlTree
from emulator.services.environment_policy import check_environment
from emulator.services.jobs import JobRun, JobTable
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
    TERMINAL_TRAINING_STATUSES,
    SecondaryStatus,
    TrainingJobRecord,
    TrainingJobStatus,
    now,
)
from emulator.state.store import RecordStore

log = logging.getLogger(__name__)

KIND = "training-job"
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


_MAX_RUNTIME = "MaxRuntimeExceeded"
"""Marks a Stopped outcome caused by MaxRuntimeInSeconds (SecondaryStatus MaxRuntimeExceeded)."""


class _JobStopped(Exception):
    """StopTrainingJob arrived before the container started."""


class TrainingService(JobTable[TrainingJobRecord]):
    stopping_status = TrainingJobStatus.STOPPING

    def __init__(
        self,
        region: str,
        data_dir: Path,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        logs: LogWriter,
        store: RecordStore,
        tags: TagService,
    ) -> None:
        super().__init__()
        self._region = region
        self._jobs_dir = data_dir / "training-jobs"
        self._runtime = runtime
        self._s3 = s3
        self._logs = logs
        self._store = store
        self._tags = tags

    # --- lifecycle of the service ---------------------------------------------------------------

    def start(self) -> None:
        """Load the stored jobs; a job that was running when the emulator died is now Failed."""
        for job in self._store.load_all(KIND, TrainingJobRecord):
            if job.status not in TERMINAL_TRAINING_STATUSES:
                at = now()
                if job.status == TrainingJobStatus.STOPPING:
                    # StopTrainingJob had been accepted: the container is gone, so it stopped.
                    job.status = TrainingJobStatus.STOPPED
                    job.set_secondary(SecondaryStatus.STOPPED, MSG_STOPPED, at)
                else:
                    job.status = TrainingJobStatus.FAILED
                    job.failure_reason = RESTART_REASON
                    job.set_secondary(SecondaryStatus.FAILED, MSG_FAILED, at)
                job.transitions[-1].end_time = at
                job.training_end_time = at
                self._store.put(KIND, job.name, job)
            self._jobs[job.name] = job

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
        with self._lock:
            if arns.name_taken(name, self._jobs):
                raise ResourceInUse(
                    "Training job names must be unique within an AWS account and region, and a "
                    f"training job with this name already exists ({arn})"
                )
            if self._closed:
                raise ValidationException("The emulator is shutting down.")
            self._tags.set_initial(arn, request.get("Tags", []))
            self._store.put(KIND, name, job)  # first: a refused write (disk full) keeps nothing
            self._jobs[name] = job
            run = JobRun()
            run.thread = threading.Thread(
                target=self._work, args=(name, run), name=f"train-{name}", daemon=True
            )
            self._runs[name] = run
        run.thread.start()
        return {"TrainingJobArn": arn}

    def describe_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(request["TrainingJobName"])
            if job is None:
                raise ValidationException("Requested resource not found.")
            return job.describe()

    def list_training_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            summaries = [job.summary() for job in self._jobs.values()]
        page, token = list_summaries(
            summaries, request, name_key="TrainingJobName", status_key="TrainingJobStatus"
        )
        response: dict[str, Any] = {"TrainingJobSummaries": page}
        if token is not None:
            response["NextToken"] = token
        return response

    def stop_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TrainingJobName"]
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                raise ResourceNotFound("Requested resource not found.")
            if job.status != TrainingJobStatus.IN_PROGRESS:
                raise ValidationException(
                    f"The request was rejected because the training job is in status {job.status}."
                )
            job.status = TrainingJobStatus.STOPPING
            job.set_secondary(SecondaryStatus.STOPPING, MSG_STOPPING, now())
            self._store.put(KIND, name, job)
            run = self._runs.get(name)
        if run is not None:
            run.stop_requested.set()
        return {}

    def delete_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """Forget a terminal job's record (its S3 artifacts and logs stay), as AWS documents:
        only Completed, Failed or Stopped jobs may be deleted, and the name is free again."""
        name = request["TrainingJobName"]
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                raise ResourceNotFound("Requested resource not found.")
            if job.status not in TERMINAL_TRAINING_STATUSES:
                raise ResourceInUse(
                    f"Training job {name} is in status {job.status} and cannot be deleted: only "
                    "jobs that are Completed, Failed or Stopped can be deleted."
                )
            run = self._runs.get(name)
        # A terminal job's worker may still be freeing its staged input: let it finish first, so
        # a new job of the same name never shares its run or directory.
        if run is not None and run.thread is not None:
            run.thread.join(timeout=30)
        with self._lock:
            if self._jobs.get(name) is not job or name in self._runs:
                raise ResourceInUse(f"Training job {name} is being changed; try again.")
            del self._jobs[name]
            self._store.delete(KIND, name)
            self._tags.forget(job.arn)
            shutil.rmtree(self._jobs_dir / name, ignore_errors=True)
        return {}

    # --- the worker -----------------------------------------------------------------------------

    def _update(self, name: str, **changes: Any) -> TrainingJobRecord:
        with self._lock:
            job = self._jobs[name]
            for key, value in changes.items():
                setattr(job, key, value)
            self._store.put(KIND, name, job)
            return job

    def _secondary(self, name: str, status: SecondaryStatus, message: str) -> None:
        with self._lock:
            job = self._jobs[name]
            if job.status == TrainingJobStatus.STOPPING and status != SecondaryStatus.STOPPING:
                # Keep showing Stopping until the worker has stopped the container.
                return
            job.set_secondary(status, message, now())
            self._store.put(KIND, name, job)

    def _work(self, name: str, run: JobRun) -> None:
        try:
            self._run_job(name, run)
        except Exception as exc:  # A bug must fail the job, never leave it InProgress.
            log.exception("training job %s failed inside the emulator", name)
            self._finish(name, TrainingJobStatus.FAILED, f"InternalServerError: {exc}"[:1024])
        finally:
            # The staged input is a copy of S3 objects: free the disk, keep model and output.
            shutil.rmtree(OptMlTree(self._jobs_dir / name / "opt_ml").input_data_dir, True)
            with self._lock:
                self._runs.pop(name, None)

    def _check_stop(self, run: JobRun) -> None:
        if run.stop_requested.is_set():
            raise _JobStopped()

    def _run_job(self, name: str, run: JobRun) -> None:
        with self._lock:
            request = self._jobs[name].request
            creation = self._jobs[name].creation_time
        tree = OptMlTree(self._jobs_dir / name / "opt_ml")
        try:
            self._secondary(name, SecondaryStatus.STARTING, MSG_LAUNCHING)
            tree.create()
            tree.write_training_config(request)
            self._secondary(name, SecondaryStatus.STARTING, MSG_PREPARING)
            self._check_stop(run)
            self._update(name, training_start_time=now())
            self._secondary(name, SecondaryStatus.DOWNLOADING, MSG_DOWNLOADING)
            volume = request.get("ResourceConfig", {}).get("VolumeSizeInGB")
            budget = VolumeBudget(volume, "ResourceConfig.VolumeSizeInGB")
            for channel in request.get("InputDataConfig", []):
                stage_channel(
                    self._s3,
                    channel,
                    tree.channel_dir(channel["ChannelName"]),
                    self._region,
                    request["RoleArn"],
                    budget,
                )
                self._check_stop(run)
            self._secondary(name, SecondaryStatus.TRAINING, MSG_IMAGE)
            outcome = self._train(name, request, tree, run, creation.timestamp())
        except _JobStopped:
            if run.shutdown:
                self._finish(name, TrainingJobStatus.FAILED, SHUTDOWN_REASON)
            else:
                self._finish(name, TrainingJobStatus.STOPPED, None)
            return
        except StagingError as exc:
            self._finish(name, TrainingJobStatus.FAILED, str(exc)[:1024])
            return
        status, reason = outcome
        stopped_empty = status == TrainingJobStatus.STOPPED and not any(tree.model_dir.iterdir())
        # A stopped job uploads what it saved so far; with nothing saved there is no artifact.
        if status != TrainingJobStatus.FAILED and not stopped_empty:
            try:
                self._secondary(name, SecondaryStatus.UPLOADING, MSG_UPLOADING)
                self._upload(name, request, tree)
            except StagingError as exc:
                status, reason = TrainingJobStatus.FAILED, str(exc)[:1024]
        self._finish(name, status, reason)

    def _train(
        self,
        name: str,
        request: dict[str, Any],
        tree: OptMlTree,
        run: JobRun,
        created: float,
    ) -> tuple[TrainingJobStatus, str | None]:
        """Run the container; (Completed | Stopped | Failed, failure reason)."""
        image = request["AlgorithmSpecification"]["TrainingImage"]
        with self._lock:
            arn = self._jobs[name].arn
            definitions = self._jobs[name].metric_definitions
        stream = f"{name}/algo-1-{int(created)}"
        self._logs.ensure_stream(LOG_GROUP, stream)
        self._update(name, log_stream=stream)
        collector = MetricCollector(definitions)
        tail: collections.deque[str] = collections.deque(maxlen=_LOG_TAIL_LINES)

        def on_log(line: str) -> None:
            tail.append(line)
            self._logs.put_lines(LOG_GROUP, stream, [line], int(time.time() * 1000))
            if collector.feed(line, now()):
                # Describe shows metrics while the job runs; the store gets them at the next
                # status change.
                with self._lock:
                    self._jobs[name].final_metrics = collector.final()

        environment = {
            # What the real built-in containers see (docs/sagemaker-facts.md#training-container);
            # the request's map is added last.
            "TRAINING_JOB_NAME": name,
            "TRAINING_JOB_ARN": arn,
            "AWS_REGION": self._region,
            "SAGEMAKER_HTTP_PORT": "8080",
            "SAGEMAKER_DATA_PATH": "/opt/ml",
            "DMLC_INTERFACE": "eth0",
            **request.get("Environment", {}),
        }
        spec = ContainerSpec(
            mode="train",
            image=image,
            algorithm=algorithm_for_image(image),
            opt_ml=tree.root,
            environment=environment,
            labels={"sagemaker-emulator.training-job": name},
            name=name,
            network_isolation=bool(request.get("EnableNetworkIsolation", False)),
            on_log=on_log,
            # The instance type's vCPUs and memory (the Docker runtime caps them to the host).
            **container_limits(request["ResourceConfig"]["InstanceType"]),
        )
        try:
            handle = self._runtime.start_training(spec)
        except ImageNotFound as exc:
            return TrainingJobStatus.FAILED, f"ClientError: {exc}"[:1024]
        self._secondary(name, SecondaryStatus.TRAINING, MSG_TRAINING)
        max_runtime = float(request["StoppingCondition"].get("MaxRuntimeInSeconds", 86400))
        deadline = time.monotonic() + max_runtime
        timed_out = False
        while True:
            code = handle.wait(timeout=_POLL_SECONDS)
            if code is not None:
                break
            if run.stop_requested.is_set() or time.monotonic() >= deadline:
                timed_out = not run.stop_requested.is_set()
                if timed_out:
                    # The platform stops the job: Stopping, as after StopTrainingJob.
                    with self._lock:
                        job = self._jobs[name]
                        lifecycle.check_training(job.status, TrainingJobStatus.STOPPING)
                        job.status = TrainingJobStatus.STOPPING
                    self._secondary(name, SecondaryStatus.STOPPING, MSG_STOPPING)
                handle.stop(STOP_GRACE_SECONDS if not self._closed else 5.0)
                code = handle.wait(timeout=STOP_GRACE_SECONDS)
                break
        handle.collect()
        self._update(name, final_metrics=collector.final())
        if run.shutdown:
            # Like a restart after a crash: the job did not end by itself or by StopTrainingJob.
            return TrainingJobStatus.FAILED, SHUTDOWN_REASON
        if run.stop_requested.is_set():
            return TrainingJobStatus.STOPPED, None
        if timed_out:
            return TrainingJobStatus.STOPPED, _MAX_RUNTIME
        if code == 0:
            return TrainingJobStatus.COMPLETED, None
        reason = tree.read_failure()
        if reason is None:
            last = " | ".join(line for line in tail if line.strip())[-700:]
            reason = (
                f"AlgorithmError: the training container exited with code {code} and wrote no "
                f"/opt/ml/output/failure. Last log lines: {last}"
            )
        return TrainingJobStatus.FAILED, reason[:1024]

    def _upload(self, name: str, request: dict[str, Any], tree: OptMlTree) -> None:
        """model.tar.gz of /opt/ml/model; output.tar.gz of /opt/ml/output/data when not empty."""
        output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        bucket, _ = parse_s3_uri(output_path)
        if not self._s3.head_bucket(bucket):
            raise StagingError(
                f'ClientError: The S3 output bucket "{bucket}" of S3OutputPath "{output_path}" '
                "does not exist."
            )
        model_uri = f"{output_path}/{name}/output/model.tar.gz"
        self._put_tar(tree.model_dir, model_uri)
        self._update(name, model_artifacts=model_uri)
        if tree.output_data_dir.is_dir() and any(tree.output_data_dir.iterdir()):
            self._put_tar(tree.output_data_dir, f"{output_path}/{name}/output/output.tar.gz")

    def _put_tar(self, directory: Path, uri: str) -> None:
        bucket, key = parse_s3_uri(uri)
        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w:gz") as tar:
                for entry in sorted(directory.iterdir()):
                    # Entries at the tar root, as the real model.tar.gz holds model_algo-1.
                    tar.add(entry, arcname=entry.name)
            spool.seek(0)
            self._s3.put_object(bucket, key, spool)

    def _finish(self, name: str, status: TrainingJobStatus, reason: str | None) -> None:
        at = now()
        with self._lock:
            job = self._jobs[name]
            if job.status in TERMINAL_TRAINING_STATUSES:
                return
            if job.status == TrainingJobStatus.STOPPING and status == TrainingJobStatus.COMPLETED:
                # StopTrainingJob won the race against a container that had just finished.
                status = TrainingJobStatus.STOPPED
            if status == TrainingJobStatus.STOPPED and reason is _MAX_RUNTIME:
                secondary, message, reason = (
                    SecondaryStatus.MAX_RUNTIME_EXCEEDED,
                    MSG_MAX_RUNTIME,
                    None,
                )
            elif status == TrainingJobStatus.STOPPED:
                secondary, message = SecondaryStatus.STOPPED, MSG_STOPPED
            elif status == TrainingJobStatus.FAILED:
                secondary, message = SecondaryStatus.FAILED, MSG_FAILED
            else:
                secondary, message = SecondaryStatus.COMPLETED, MSG_COMPLETED
            lifecycle.check_training(job.status, status)
            job.status = status
            job.failure_reason = reason
            job.set_secondary(secondary, message, at)
            job.transitions[-1].end_time = at
            if job.training_start_time is None:
                job.training_start_time = at
            job.training_end_time = at
            self._store.put(KIND, name, job)
