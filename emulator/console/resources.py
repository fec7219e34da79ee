"""The SageMaker resources the console lists, each read through the validated operations.

Every read is `operations.invoke` on the region's service: the same validation, constraints and
output shapes as an API call, so the console shows exactly what DescribeX/ListX answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from emulator.aws.constraints import apply_constraints
from emulator.aws.validate import validate_input
from emulator.aws.wire import parse_input, serialize_output
from emulator.services.operations import invoke, resolve
from emulator.services.regions import RegionalServices
from emulator.services.sagemaker import SageMakerService

PAGE_SIZE = 100
MAX_LISTED = 10_000
"""A list page stops there (the filter narrows it)."""


@dataclass(frozen=True)
class Kind:
    slug: str
    title: str
    list_operation: str
    list_key: str
    name_key: str
    describe_operation: str
    arn_key: str
    status_key: str | None = None
    stop_operation: str | None = None
    delete_operation: str | None = None

    def name_param(self) -> str:
        return self.name_key


KINDS: dict[str, Kind] = {
    k.slug: k
    for k in (
        Kind(
            "training-jobs",
            "Training jobs",
            "ListTrainingJobs",
            "TrainingJobSummaries",
            "TrainingJobName",
            "DescribeTrainingJob",
            "TrainingJobArn",
            "TrainingJobStatus",
            "StopTrainingJob",
            "DeleteTrainingJob",
        ),
        Kind(
            "tuning-jobs",
            "Tuning jobs",
            "ListHyperParameterTuningJobs",
            "HyperParameterTuningJobSummaries",
            "HyperParameterTuningJobName",
            "DescribeHyperParameterTuningJob",
            "HyperParameterTuningJobArn",
            "HyperParameterTuningJobStatus",
            "StopHyperParameterTuningJob",
            "DeleteHyperParameterTuningJob",
        ),
        Kind(
            "transform-jobs",
            "Transform jobs",
            "ListTransformJobs",
            "TransformJobSummaries",
            "TransformJobName",
            "DescribeTransformJob",
            "TransformJobArn",
            "TransformJobStatus",
            "StopTransformJob",
        ),
        Kind(
            "models",
            "Models",
            "ListModels",
            "Models",
            "ModelName",
            "DescribeModel",
            "ModelArn",
            delete_operation="DeleteModel",
        ),
        Kind(
            "endpoint-configs",
            "Endpoint configs",
            "ListEndpointConfigs",
            "EndpointConfigs",
            "EndpointConfigName",
            "DescribeEndpointConfig",
            "EndpointConfigArn",
            delete_operation="DeleteEndpointConfig",
        ),
        Kind(
            "endpoints",
            "Endpoints",
            "ListEndpoints",
            "Endpoints",
            "EndpointName",
            "DescribeEndpoint",
            "EndpointArn",
            "EndpointStatus",
            delete_operation="DeleteEndpoint",
        ),
    )
}


def _list_params(contains: str) -> dict[str, Any]:
    params: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
    if contains:
        params["NameContains"] = contains
    return params


class Resources:
    """Reads (and the few actions) of one region's control plane."""

    def __init__(self, regions: RegionalServices, region: str) -> None:
        self.region = region
        self._service: Callable[[], SageMakerService] = lambda: regions.get(region)
        self._call: Callable[[str, dict[str, Any]], dict[str, Any]] = lambda operation, params: (
            invoke(regions.get(region), operation, params)
        )

    def pages(self, operation: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated List operation (NextToken), up to MAX_LISTED."""
        count = 0
        token: str | None = None
        while True:
            request = {**params, "MaxResults": PAGE_SIZE}
            if token:
                request["NextToken"] = token
            answer = self._call(operation, request)
            for item in answer.get(key, []):
                yield item
                count += 1
                if count >= MAX_LISTED:
                    return
            token = answer.get("NextToken")
            if not token:
                return

    def listed(self, kind: Kind, contains: str = "") -> list[dict[str, Any]]:
        """Every item (newest first), up to MAX_LISTED, from one run of the List operation.

        Its request is validated as the API validates a page of PAGE_SIZE, then its handler is
        asked for every item at once: paging costs a whole list per page (each page filters and
        sorts every record again), ten times the work for 1,000 items."""
        operation = kind.list_operation
        request = {**_list_params(contains), "MaxResults": PAGE_SIZE}
        validate_input(operation, request)
        apply_constraints(operation, request)
        parsed = {**parse_input(operation, request), "MaxResults": MAX_LISTED}
        answer = serialize_output(operation, resolve(operation)(self._service(), parsed))
        items: list[dict[str, Any]] = answer.get(kind.list_key, [])
        return items[:MAX_LISTED]

    def page(
        self, kind: Kind, contains: str = "", token: str = ""
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of PAGE_SIZE items (newest first) and the NextToken of the next one."""
        params = {**_list_params(contains), "MaxResults": PAGE_SIZE}
        if token:
            params["NextToken"] = token
        answer = self._call(kind.list_operation, params)
        return answer.get(kind.list_key, []), answer.get("NextToken")

    def describe(self, kind: Kind, name: str) -> dict[str, Any]:
        return self._call(kind.describe_operation, {kind.name_key: name})

    def tags(self, arn: str) -> list[dict[str, str]]:
        return list(self.pages("ListTags", "Tags", {"ResourceArn": arn}))

    def tuning_children(self, tuning_job: str) -> list[dict[str, Any]]:
        return list(
            self.pages(
                "ListTrainingJobsForHyperParameterTuningJob",
                "TrainingJobSummaries",
                {"HyperParameterTuningJobName": tuning_job},
            )
        )
