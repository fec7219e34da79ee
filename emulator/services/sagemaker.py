"""SageMakerService: the control plane's operations, one method per operation.

Methods are named `xform_name(Operation)`, take the validated request dict (AWS PascalCase keys)
and return the response dict with aware UTC datetimes; the HTTP layer validates and serializes.
The work lives in the job kinds (`job_kinds.py`: training, transform, tuning), hosting,
invocation and tags; this class wires them to one record store under the data dir. The job kinds'
operations are not methods here: the operation registry reaches them through `jobs`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from emulator.aws import arns
from emulator.runtime.base import ContainerRuntime
from emulator.services.async_inference import AsyncInferenceService
from emulator.services.context import ServiceContext
from emulator.services.endpoint_metrics import PERIOD_SECONDS, InvocationMetrics
from emulator.services.hosting import HostingService
from emulator.services.hosting.instance_metrics import InstanceMetrics
from emulator.services.invocation import InvocationRouter, InvokeResult, ResponseStream
from emulator.services.job_kinds import JOB_KINDS
from emulator.services.jobs import JobEvents, JobService
from emulator.services.monitoring import MonitoringService
from emulator.services.ports import (
    LogWriter,
    MetricWriter,
    NoMetrics,
    Notifier,
    ObjectStore,
    ServiceSettings,
)
from emulator.services.tags import TagService
from emulator.state.hosting_records import ModelRecord
from emulator.state.records import NotebookInstanceStatus, now
from emulator.state.store import RecordStore

log = logging.getLogger(__name__)

NOTEBOOK_ROLE_ARN = f"arn:aws:iam::{arns.ACCOUNT_ID}:role/SageMakerRole"
"""The role DescribeNotebookInstance reports, so the SDK's get_execution_role() works offline."""


class _NoSns:
    def publish(self, region: str, topic_arn: str, message: str) -> str | None:
        return "this emulator was started without SNS"


def _unbound(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError(f"{operation}: this service was not bound to the operation registry")


class SageMakerService:
    def __init__(
        self,
        settings: ServiceSettings,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        logs: LogWriter,
        notifier: Notifier | None = None,
        metrics: MetricWriter | None = None,
        metrics_flush_seconds: float = float(PERIOD_SECONDS),
    ) -> None:
        self.region = settings.region
        self._region = settings.region
        data_dir = settings.data_dir.expanduser().resolve()
        self.runtime = runtime
        self._store = RecordStore(data_dir / "state.sqlite3")
        self._tags = TagService(self._store, self._resource_exists)
        metrics = metrics or NoMetrics()
        self._invocation_metrics = InvocationMetrics(metrics, metrics_flush_seconds)
        self._router = InvocationRouter(settings.region, self._invocation_metrics)
        self._invocation_metrics.also(InstanceMetrics(metrics, self._router).sample)
        self.events = JobEvents()
        """Status changes of this region's jobs (a tuning job follows its children here)."""
        self.context = ServiceContext(
            region=settings.region,
            data_dir=data_dir,
            runtime=runtime,
            s3=s3,
            logs=logs,
            store=self._store,
            tags=self._tags,
            events=self.events,
            metrics=metrics,
        )
        """What this region's services are built from."""
        self._hosting = HostingService(self.context, self._router)
        self._async = AsyncInferenceService(
            self.context,
            self._router,
            self._hosting.endpoint_status,
            self._hosting.async_config,
            notifier or _NoSns(),
        )
        self._monitoring = MonitoringService(self.context)
        self._started = False
        self.call_operation: Callable[[str, dict[str, Any]], dict[str, Any]] = _unbound
        self.jobs: dict[str, JobService[Any, Any]] = {}
        """This region's service of each job kind, by store kind (`training-job`)."""
        for kind_service in JOB_KINDS:
            built = kind_service(self.context, self)
            self.jobs[built.kind.store_kind] = built

    def bind_operations(self, call: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        """How this region's services call an operation as a client would (validated, wire-form
        parameters and answer): set once by whoever made the service."""
        self.call_operation = call

    def start(self) -> None:
        """Recover the stored state (failed-over jobs, serving endpoints); call once."""
        if self._started:
            return
        self._started = True
        for jobs in self.jobs.values():
            jobs.start()
        self._hosting.start()
        self._async.start()
        self._invocation_metrics.start()
        log.info(
            "SageMaker control plane of %s started with the %s runtime",
            self.region,
            self.runtime.name,
        )

    def close(self) -> None:
        """Stop running jobs and serving containers; the records stay in the store.

        The runtime itself is closed by its owner, the composition root.
        """
        # Kinds built on others first (tuning jobs: a shutdown ends them without stopping their
        # children one by one; the training engine then ends the children as it ends every
        # running job).
        self._async.close()
        for jobs in reversed(self.jobs.values()):
            jobs.close()
        self._hosting.close()
        self._async.join_workers()
        self._invocation_metrics.close()  # what the last minute counted is published too
        self._store.close()

    def flush_metrics(self) -> None:
        """Publish the endpoint metrics counted so far (before a CloudWatch request reads them)."""
        self._invocation_metrics.flush()

    def _resource_exists(self, arn: str) -> bool:
        return self._hosting.exists(arn) or any(jobs.exists(arn) for jobs in self.jobs.values())

    # --- what job kinds may need from the rest of the region (jobs.Peers) -----------------------

    def model(self, name: str) -> ModelRecord:
        return self._hosting.model(name)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.call_operation(operation, params)

    def job_service(self, store_kind: str) -> JobService[Any, Any]:
        return self.jobs[store_kind]

    # --- models, endpoint configs, endpoints ----------------------------------------------------

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.create_model(request)

    def describe_model(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.describe_model(request)

    def list_models(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.list_models(request)

    def delete_model(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.delete_model(request)

    def create_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.create_endpoint_config(request)

    def describe_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.describe_endpoint_config(request)

    def list_endpoint_configs(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.list_endpoint_configs(request)

    def delete_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.delete_endpoint_config(request)

    def create_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.create_endpoint(request)

    def describe_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.describe_endpoint(request)

    def list_endpoints(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.list_endpoints(request)

    def update_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.update_endpoint(request)

    def delete_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.delete_endpoint(request)

    def update_endpoint_weights_and_capacities(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._hosting.update_endpoint_weights_and_capacities(request)

    # --- model monitoring (no schedules ever exist here) ----------------------------------------

    def list_monitoring_schedules(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring.list_monitoring_schedules(request)

    def list_monitoring_executions(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring.list_monitoring_executions(request)

    def describe_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring.describe_monitoring_schedule(request)

    def delete_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring.delete_monitoring_schedule(request)

    def start_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring.start_monitoring_schedule(request)

    def stop_monitoring_schedule(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._monitoring.stop_monitoring_schedule(request)

    # --- runtime --------------------------------------------------------------------------------

    def invoke_endpoint(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
        target_variant: str | None,
    ) -> InvokeResult:
        return self._router.invoke(
            endpoint_name,
            body,
            content_type,
            accept,
            custom_attributes,
            target_variant,
            self._hosting.endpoint_status,
        )

    def invoke_endpoint_with_response_stream(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
        target_variant: str | None,
    ) -> ResponseStream:
        return self._router.open_stream(
            endpoint_name,
            body,
            content_type,
            accept,
            custom_attributes,
            target_variant,
            self._hosting.endpoint_status,
        )

    def invoke_endpoint_async(self, endpoint_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """InvokeEndpointAsync: `params` are the validated request members (Body as bytes)."""
        return self._async.invoke(endpoint_name, params)

    # --- tags -----------------------------------------------------------------------------------

    def add_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tags.add_tags(request)

    def list_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tags.list_tags(request)

    def delete_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tags.delete_tags(request)

    # --- notebook instance ----------------------------------------------------------------------

    def describe_notebook_instance(self, request: dict[str, Any]) -> dict[str, Any]:
        """Any name answers InService with a role: the SDK's get_execution_role() reads RoleArn
        from the notebook instance named in /opt/ml/metadata/resource-metadata.json."""
        name = request["NotebookInstanceName"]
        at = now()
        return {
            "NotebookInstanceArn": arns.arn(self._region, "notebook-instance", name),
            "NotebookInstanceName": name,
            "NotebookInstanceStatus": NotebookInstanceStatus.IN_SERVICE.value,
            "Url": f"{name}.notebook.{self._region}.sagemaker.aws",
            "InstanceType": "ml.t3.medium",
            "RoleArn": NOTEBOOK_ROLE_ARN,
            "DirectInternetAccess": "Disabled",
            "VolumeSizeInGB": 5,
            "RootAccess": "Enabled",
            "CreationTime": at,
            "LastModifiedTime": at,
        }
