"""SageMakerService: the control plane's operations, one method per operation.

Methods are named `xform_name(Operation)`, take the validated request dict (AWS PascalCase keys)
and return the response dict with aware UTC datetimes; the HTTP layer validates and serializes.
The work lives in training.py, hosting.py, transform.py, invocation.py and tags.py; this class wires them to one
record store under the data dir.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from emulator.aws import arns
from emulator.runtime.base import ContainerRuntime
from emulator.services.async_inference import AsyncInferenceService
from emulator.services.context import ServiceContext
from emulator.services.hosting import HostingService
from emulator.services.invocation import InvocationRouter, InvokeResult, ResponseStream
from emulator.services.jobs import JobEvents
from emulator.services.monitoring import MonitoringService
from emulator.services.ports import LogWriter, Notifier, ObjectStore, ServiceSettings
from emulator.services.tags import TagService
from emulator.services.training import TrainingService
from emulator.services.transform import TransformService
from emulator.services.tuning import TuningService
from emulator.services.tuning.run import ChildPort
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
    ) -> None:
        self.region = settings.region
        self._region = settings.region
        data_dir = settings.data_dir.expanduser().resolve()
        self.runtime = runtime
        self._store = RecordStore(data_dir / "state.sqlite3")
        self._tags = TagService(self._store, self._resource_exists)
        self._router = InvocationRouter(settings.region)
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
        )
        """What this region's services are built from."""
        self._training = TrainingService(self.context)
        self._hosting = HostingService(self.context, self._router)
        self._transform = TransformService(self.context, self._hosting.model)
        self._async = AsyncInferenceService(
            settings.region,
            s3,
            self._store,
            self._router,
            self._hosting.endpoint_status,
            self._hosting.async_config,
            notifier or _NoSns(),
        )
        self._monitoring = MonitoringService(settings.region)
        self._started = False
        self.call_operation: Callable[[str, dict[str, Any]], dict[str, Any]] = _unbound
        # Children are created as a client creates training jobs (late-bound: see
        # bind_operations); the tuning job's ARN is the one field it sets on them directly.
        self._tuning = TuningService(
            self.context,
            ChildPort(
                call=lambda op, params: self.call_operation(op, params),
                mark=self._training.mark_tuning_child,
                events=self.events,
            ),
        )

    def bind_operations(self, call: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        """How this region's services call an operation as a client would (validated, wire-form
        parameters and answer): set once by whoever made the service."""
        self.call_operation = call

    def start(self) -> None:
        """Recover the stored state (failed-over jobs, serving endpoints); call once."""
        if self._started:
            return
        self._started = True
        self._training.start()
        self._tuning.start()
        self._hosting.start()
        self._transform.start()
        self._async.start()
        log.info(
            "SageMaker control plane of %s started with the %s runtime",
            self.region,
            self.runtime.name,
        )

    def close(self) -> None:
        """Stop running jobs and serving containers; the records stay in the store.

        The runtime itself is closed by its owner, the composition root.
        """
        # Tuning jobs first: a shutdown ends them without stopping their children one by one;
        # the training engine then ends the children as it ends every running job.
        self._tuning.close()
        self._async.close()
        self._training.close()
        self._transform.close()
        self._hosting.close()
        self._async.join_workers()
        self._store.close()

    def _resource_exists(self, arn: str) -> bool:
        return (
            self._training.exists(arn)
            or self._hosting.exists(arn)
            or self._transform.exists(arn)
            or self._tuning.exists(arn)
        )

    # --- training -------------------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._training.create_training_job(request)

    def describe_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._training.describe_training_job(request)

    def list_training_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._training.list_training_jobs(request)

    def stop_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._training.stop_training_job(request)

    def delete_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._training.delete_training_job(request)

    # --- hyperparameter tuning --------------------------------------------------------------------

    def create_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tuning.create_hyper_parameter_tuning_job(request)

    def describe_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tuning.describe_hyper_parameter_tuning_job(request)

    def list_hyper_parameter_tuning_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tuning.list_hyper_parameter_tuning_jobs(request)

    def stop_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tuning.stop_hyper_parameter_tuning_job(request)

    def delete_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._tuning.delete_hyper_parameter_tuning_job(request)

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self, request: dict[str, Any]
    ) -> dict[str, Any]:
        return self._tuning.list_training_jobs_for_hyper_parameter_tuning_job(request)

    # --- batch transform ------------------------------------------------------------------------

    def create_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._transform.create_transform_job(request)

    def describe_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._transform.describe_transform_job(request)

    def list_transform_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._transform.list_transform_jobs(request)

    def stop_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._transform.stop_transform_job(request)

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
