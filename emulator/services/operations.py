"""The SageMaker operations this emulator answers, each declared once, and the one way to call them.

`OPERATIONS` maps the model's operation name to the handler that implements it: a method of the
region's SageMakerService (so the type checker checks every handler's signature), or, for the job
kinds of `job_kinds.py`, the method of the region's service of that kind that
`JobService.operations` names. `Dispatcher.call`
is the one path into the control plane: validate against the botocore model, parse wire values,
pick the region's service from the request context, run the handler, serialize by the output
shape. The HTTP layer calls it; so do internal callers (a tuning job creating its children), so
both get the same validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator.aws.constraints import apply_constraints
from emulator.aws.errors import NotImplementedOperation, UnknownOperationException
from emulator.aws.specs import operation_names
from emulator.aws.validate import validate_input
from emulator.aws.wire import parse_input, serialize_output
from emulator.services.job_kinds import JOB_KINDS
from emulator.services.jobs.service import OperationHandler
from emulator.services.sagemaker import SageMakerService

Handler = Callable[[SageMakerService, dict[str, Any]], dict[str, Any]]


def _job_handler(store_kind: str, method: OperationHandler) -> Handler:
    def handler(service: SageMakerService, request: dict[str, Any]) -> dict[str, Any]:
        return method(service.jobs[store_kind], request)

    return handler


def job_operations() -> dict[str, Handler]:
    """Each job kind's operations (`JobService.operations`), answered by the region's service of
    that kind."""
    return {
        operation: _job_handler(kind.kind.store_kind, method)
        for kind in JOB_KINDS
        for operation, method in kind.operations().items()
    }


S = SageMakerService
OPERATIONS: Mapping[str, Handler] = {
    # the job kinds' operations (Create/Describe/List/Stop[/Delete]...)
    **job_operations(),
    # models, endpoint configs, endpoints
    "CreateModel": S.create_model,
    "DescribeModel": S.describe_model,
    "ListModels": S.list_models,
    "DeleteModel": S.delete_model,
    "CreateEndpointConfig": S.create_endpoint_config,
    "DescribeEndpointConfig": S.describe_endpoint_config,
    "ListEndpointConfigs": S.list_endpoint_configs,
    "DeleteEndpointConfig": S.delete_endpoint_config,
    "CreateEndpoint": S.create_endpoint,
    "DescribeEndpoint": S.describe_endpoint,
    "ListEndpoints": S.list_endpoints,
    "UpdateEndpoint": S.update_endpoint,
    "UpdateEndpointWeightsAndCapacities": S.update_endpoint_weights_and_capacities,
    "DeleteEndpoint": S.delete_endpoint,
    # tags
    "AddTags": S.add_tags,
    "ListTags": S.list_tags,
    "DeleteTags": S.delete_tags,
    # model monitoring: no schedules ever exist here (truthful empty lists, ResourceNotFound)
    "ListMonitoringSchedules": S.list_monitoring_schedules,
    "ListMonitoringExecutions": S.list_monitoring_executions,
    "DescribeMonitoringSchedule": S.describe_monitoring_schedule,
    "DeleteMonitoringSchedule": S.delete_monitoring_schedule,
    "StartMonitoringSchedule": S.start_monitoring_schedule,
    "StopMonitoringSchedule": S.stop_monitoring_schedule,
    # the notebook instance the SDK's get_execution_role() asks about
    "DescribeNotebookInstance": S.describe_notebook_instance,
}


def resolve(operation: str) -> Handler:
    """The handler of a model operation; AWS-shaped errors for unknown or unimplemented ones."""
    if operation not in operation_names():
        raise UnknownOperationException(f"Unknown operation {operation[:100]!r}.")
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise NotImplementedOperation(
            f"The operation {operation} is not implemented by sagemaker-emulator."
        )
    return handler


def invoke(service: SageMakerService, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run `operation` on one region's service with wire-form `params`: the model's validation,
    the documented constraints, the handler, the output shape. HTTP requests and internal callers
    (a tuning job creating its children) both come through here."""
    handler = resolve(operation)
    validate_input(operation, params)
    apply_constraints(operation, params)
    result = handler(service, parse_input(operation, params))
    return serialize_output(operation, result)
