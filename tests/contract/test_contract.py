"""Contract tests: what the emulator says matches botocore's service models.

- Every error class's code is one the models (or the JSON protocol itself) define, with the
  model's HTTP status.
- Every status enum of the records holds only values of the model enum of the same name.
- Against a live server in strict wire mode (a member outside the output shape or a value outside
  an enum becomes a 500), every operation of the registry (emulator.services.operations) is
  called through boto3, so botocore parses each response; each parsed response is then checked
  against its output shape (required members present, enum values valid), and the error codes
  each operation answers are ValidationException or the operation's declared errors.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import numpy as np
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

import emulator.services
import emulator.state
from emulator.aws import errors
from emulator.aws.specs import (
    SAGEMAKER,
    SAGEMAKER_RUNTIME,
    error_codes,
    operation_model,
    runtime_model,
    sagemaker_model,
    service_model,
)
from emulator.aws.wire import STRICT_ENV
from emulator.runtime.images import image_uri
from emulator.services.operations import OPERATIONS
from sdk.launcher import EmulatorServer, start_emulator
from tests.conftest import boto_kwargs

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

PROTOCOL_ERRORS = {
    # Codes any AWS JSON service answers without declaring them in its model (AWS "Common
    # Errors" and the JSON protocol's own), plus NotImplemented for operations we lack.
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "IncompleteSignatureException",
    "InternalFailure",
    "ServiceUnavailable",
    "ThrottlingException",
    "AccessDeniedException",
    "NotImplemented",
}


def implemented_operations() -> list[str]:
    return sorted(name for name in sagemaker_model().operation_names if name in OPERATIONS)


def all_error_classes() -> list[type[errors.AwsError]]:
    _import_all(emulator.services)
    _import_all(emulator.state)
    found: list[type[errors.AwsError]] = []
    pending = [errors.AwsError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def _import_all(package: Any) -> None:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)


# --- static checks ------------------------------------------------------------------------------


def test_the_service_implements_the_operations_of_the_issue() -> None:
    assert set(implemented_operations()) >= {
        "CreateTrainingJob",
        "DescribeTrainingJob",
        "ListTrainingJobs",
        "StopTrainingJob",
        "CreateModel",
        "DescribeModel",
        "ListModels",
        "DeleteModel",
        "CreateEndpointConfig",
        "DescribeEndpointConfig",
        "ListEndpointConfigs",
        "DeleteEndpointConfig",
        "CreateEndpoint",
        "DescribeEndpoint",
        "ListEndpoints",
        "UpdateEndpoint",
        "DeleteEndpoint",
        "AddTags",
        "ListTags",
        "DeleteTags",
        "DescribeNotebookInstance",
        "CreateTransformJob",
        "DescribeTransformJob",
        "ListTransformJobs",
        "StopTransformJob",
    }


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda cls: cls.__name__)
def test_error_codes_and_statuses_are_the_models(cls: type[errors.AwsError]) -> None:
    modeled = error_codes(SAGEMAKER) | error_codes(SAGEMAKER_RUNTIME)
    assert cls.code in modeled | PROTOCOL_ERRORS
    for service in (SAGEMAKER, SAGEMAKER_RUNTIME):
        model = service_model(service)
        if cls.code in model.shape_names:
            declared = model.shape_for(cls.code).metadata.get("error", {}).get("httpStatusCode")
            if declared is not None:
                assert cls.status == declared, f"{cls.code}: model says {declared}"


def status_enums() -> list[type[enum.Enum]]:
    _import_all(emulator.state)
    _import_all(emulator.services)
    found: list[type[enum.Enum]] = []
    for name, module in list(__import__("sys").modules.items()):
        if not name.startswith(("emulator.state", "emulator.services")) or module is None:
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, enum.StrEnum)
                and value.__module__ == name
                and value not in found
            ):
                found.append(value)
    return found


def test_there_are_status_enums_to_check() -> None:
    names = {cls.__name__ for cls in status_enums()}
    assert {"TrainingJobStatus", "EndpointStatus"} <= names


@pytest.mark.parametrize("cls", status_enums(), ids=lambda cls: cls.__name__)
def test_status_enums_hold_only_model_values(cls: type[enum.Enum]) -> None:
    model = sagemaker_model()
    assert cls.__name__ in model.shape_names, f"{cls.__name__} is not named after a model shape"
    allowed = set(model.shape_for(cls.__name__).enum)
    assert {member.value for member in cls} <= allowed


# --- live checks ----------------------------------------------------------------------------------


REQUIRED_BUT_ABSENT = {
    # Output members the model marks required that the emulator leaves out on purpose, and why.
    ("DescribeTrainingJobResponse", "ModelArtifacts"): "only once model.tar.gz is uploaded",
}


def shape_problems(shape: Shape, value: Any, where: str) -> Iterator[str]:
    """Required members missing and enum values outside the model, in a parsed response."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name in shape.required_members:
            if name not in value and (shape.name, name) not in REQUIRED_BUT_ABSENT:
                yield f"{where}.{name} is required by {shape.name} but missing"
        for name, item in value.items():
            if name in shape.members:
                yield from shape_problems(shape.members[name], item, f"{where}.{name}")
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from shape_problems(shape.member, item, f"{where}[{index}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            yield from shape_problems(shape.value, item, f"{where}[{key!r}]")
    elif shape.type_name == "string" and value not in shape.metadata.get("enum", [value]):
        yield f"{where}={value!r} is not in the {shape.name} enum"


@dataclass
class Recorder:
    """Every SageMaker response boto3 parsed: (operation, HTTP status, parsed body)."""

    calls: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)

    def __call__(
        self, http_response: Any, parsed: dict[str, Any], model: OperationModel, **_: Any
    ) -> None:
        self.calls.append((model.name, http_response.status_code, parsed))

    def succeeded(self) -> set[str]:
        return {name for name, status, _ in self.calls if status < 300}


@dataclass
class Live:
    server: EmulatorServer
    sm: Any
    rt: Any
    s3: Any
    recorder: Recorder
    bucket: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = start_emulator(tmp_path_factory.mktemp("contract"), "process", env={STRICT_ENV: "1"})
    recorder = Recorder()
    try:
        kwargs = boto_kwargs(server.url)
        kwargs["config"] = Config(retries={"total_max_attempts": 1}, parameter_validation=False)
        sm = boto3.client("sagemaker", **kwargs)
        sm.meta.events.register("after-call.sagemaker", recorder)
        s3 = boto3.client("s3", **boto_kwargs(server.url))
        bucket = f"contract-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        yield Live(server, sm, boto3.client("sagemaker-runtime", **kwargs), s3, recorder, bucket)
    finally:
        server.stop()
        if any(status >= 500 for _, status, _ in recorder.calls):
            # Strict wire errors are logged server-side only: show them with the failure.
            print("--- emulator log ---\n" + "\n".join(server.log_text().splitlines()[-80:]))


def wait_for(read: Callable[[], dict[str, Any]], key: str, waiting: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        described = read()
        if described[key] not in waiting or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def training_request(live: Live, name: str, max_runtime: int = 600) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    data = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    body = "\n".join(f"{a:.4f},{b:.4f}" for a, b in data).encode() + b"\n"
    live.s3.put_object(Bucket=live.bucket, Key=f"data/{name}/train.csv", Body=body)
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri("kmeans", REGION),
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                # Unsupervised built-ins read CSV as label-first unless told label_size=0.
                "ContentType": "text/csv;label_size=0",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{live.bucket}/data/{name}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{live.bucket}/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "HyperParameters": {"k": "2", "feature_dim": "2", "mini_batch_size": "10"},
        "Tags": [{"Key": "suite", "Value": "contract"}],
    }


def transform_request(live: Live, name: str, job: str, model: str) -> dict[str, Any]:
    """A batch transform of the training job's CSV (written by training_request)."""
    return {
        "TransformJobName": name,
        "ModelName": model,
        "MaxConcurrentTransforms": 2,
        "MaxPayloadInMB": 1,
        "BatchStrategy": "MultiRecord",
        "Environment": {"SUITE": "contract"},
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{live.bucket}/data/{job}/train.csv",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{live.bucket}/transform/{name}",
            "Accept": "application/jsonlines",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"},
        "Tags": [{"Key": "suite", "Value": "contract"}],
    }


def tuning_request(live: Live, name: str, job: str) -> dict[str, Any]:
    """A k-means tuning job on the training job's CSV (train and test channels), two children."""
    data = {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{live.bucket}/data/{job}/",
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ContentType": "text/csv;label_size=0",
    }
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 1,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:msd"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "IntegerParameterRanges": [
                    {"Name": "k", "MinValue": "2", "MaxValue": "3", "ScalingType": "Linear"}
                ]
            },
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"feature_dim": "2", "mini_batch_size": "10"},
            "AlgorithmSpecification": {
                "TrainingImage": image_uri("kmeans", REGION),
                "TrainingInputMode": "File",
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {"ChannelName": "train", **data},
                {"ChannelName": "test", **data},
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{live.bucket}/tuning/"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
        "Tags": [{"Key": "suite", "Value": "contract"}],
    }


@pytest.fixture(scope="module")
def scenario(live: Live) -> Live:
    """Train, deploy, invoke, update, transform, tag, stop and delete: every implemented
    operation."""
    sm = live.sm
    job = f"contract-{uuid.uuid4().hex[:8]}"
    sm.create_training_job(**training_request(live, job))
    sm.list_training_jobs(SortBy="CreationTime", SortOrder="Descending", MaxResults=5)
    described = wait_for(
        lambda: sm.describe_training_job(TrainingJobName=job), "TrainingJobStatus", {"InProgress"}
    )
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    model_data = described["ModelArtifacts"]["S3ModelArtifacts"]

    slow = f"contract-stop-{uuid.uuid4().hex[:6]}"
    sm.create_training_job(**training_request(live, slow))
    sm.stop_training_job(TrainingJobName=slow)
    wait_for(
        lambda: sm.describe_training_job(TrainingJobName=slow),
        "TrainingJobStatus",
        {"InProgress", "Stopping"},
    )

    model = f"{job}-model"
    sm.create_model(
        ModelName=model,
        PrimaryContainer={"Image": image_uri("kmeans", REGION), "ModelDataUrl": model_data},
        ExecutionRoleArn=ROLE,
    )
    sm.describe_model(ModelName=model)
    sm.list_models()
    configs = [f"{job}-config-{i}" for i in (1, 2)]
    for config in configs:
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    sm.describe_endpoint_config(EndpointConfigName=configs[0])
    sm.list_endpoint_configs()
    endpoint = f"{job}-endpoint"
    arn = sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=configs[0])["EndpointArn"]
    ready = wait_for(
        lambda: sm.describe_endpoint(EndpointName=endpoint), "EndpointStatus", {"Creating"}
    )
    assert ready["EndpointStatus"] == "InService", ready.get("FailureReason")
    sm.list_endpoints()
    answer = live.rt.invoke_endpoint(
        EndpointName=endpoint, Body=b"0,0\n5,5\n", ContentType="text/csv", Accept="application/json"
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=configs[1])
    wait_for(lambda: sm.describe_endpoint(EndpointName=endpoint), "EndpointStatus", {"Updating"})

    sm.update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 1.0}],
    )
    wait_for(lambda: sm.describe_endpoint(EndpointName=endpoint), "EndpointStatus", {"Updating"})
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}])
    sm.list_tags(ResourceArn=arn)
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    sm.describe_notebook_instance(NotebookInstanceName="contract-notebook")

    transform = f"{job}-transform"
    for transform_name in (transform, f"{transform}-stop"):
        sm.create_transform_job(**transform_request(live, transform_name, job, model))
    sm.stop_transform_job(TransformJobName=f"{transform}-stop")
    sm.list_transform_jobs(SortBy="Status", SortOrder="Ascending", MaxResults=5)
    transformed = wait_for(
        lambda: sm.describe_transform_job(TransformJobName=transform),
        "TransformJobStatus",
        {"InProgress"},
    )
    assert transformed["TransformJobStatus"] == "Completed", transformed.get("FailureReason")
    wait_for(
        lambda: sm.describe_transform_job(TransformJobName=f"{transform}-stop"),
        "TransformJobStatus",
        {"InProgress", "Stopping"},
    )
    sm.list_transform_jobs()

    tuning = f"ct-{uuid.uuid4().hex[:8]}"
    for name in (tuning, f"{tuning}-stop"):
        sm.create_hyper_parameter_tuning_job(**tuning_request(live, name, job))
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=f"{tuning}-stop")
    tuned = wait_for(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning),
        "HyperParameterTuningJobStatus",
        {"InProgress"},
    )
    assert tuned["HyperParameterTuningJobStatus"] == "Completed", tuned.get("FailureReason")
    sm.list_hyper_parameter_tuning_jobs(NameContains="ct-")
    sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)
    wait_for(
        lambda: sm.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=f"{tuning}-stop"
        ),
        "HyperParameterTuningJobStatus",
        {"InProgress", "Stopping"},
    )
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning)

    sm.list_monitoring_schedules(EndpointName=endpoint)
    sm.list_monitoring_executions(EndpointName=endpoint)
    sm.delete_endpoint(EndpointName=endpoint)
    sm.delete_training_job(TrainingJobName=job)
    for config in configs:
        sm.delete_endpoint_config(EndpointConfigName=config)
    sm.delete_model(ModelName=model)
    return live


NO_SUCH_RESOURCE_EVER = {
    # No monitoring schedule can exist here (CreateMonitoringSchedule is not implemented): these
    # only ever answer ResourceNotFound, which test_errors_each_operation_answers_are_declared checks.
    "DescribeMonitoringSchedule",
    "DeleteMonitoringSchedule",
    "StartMonitoringSchedule",
    "StopMonitoringSchedule",
}


def test_every_implemented_operation_answered_and_parsed(scenario: Live) -> None:
    failed = [(name, status) for name, status, _ in scenario.recorder.calls if status >= 300]
    assert failed == [], f"operations that failed in the scenario: {failed}"
    missing = set(implemented_operations()) - scenario.recorder.succeeded() - NO_SUCH_RESOURCE_EVER
    assert missing == set(), f"implemented but not exercised by this test: {sorted(missing)}"


def test_parsed_responses_fit_their_output_shapes(scenario: Live) -> None:
    problems: list[str] = []
    for name, status, parsed in scenario.recorder.calls:
        output = operation_model(name).output_shape
        if status < 300 and output is not None:
            body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            problems.extend(shape_problems(output, body, name))
    assert problems == [], "\n".join(problems)


def probe_request(model: OperationModel) -> dict[str, Any]:
    """The operation's required members filled with names of resources that do not exist."""
    params: dict[str, Any] = {}
    for name in model.input_shape.required_members:
        member = model.input_shape.members[name]
        if member.type_name == "string":
            enum_values = member.metadata.get("enum")
            if enum_values:
                params[name] = enum_values[0]
            elif name.endswith("Arn"):
                params[name] = "arn:aws:sagemaker:us-east-1:123456789012:model/contract-missing"
            else:
                params[name] = "contract-missing"
        elif member.type_name == "list":
            params[name] = []
        elif member.type_name == "structure":
            params[name] = {}
    return params


@pytest.mark.parametrize("operation", implemented_operations())
def test_errors_each_operation_answers_are_declared(live: Live, operation: str) -> None:
    """Called about resources that do not exist: success, or a declared (or protocol) error."""
    model = operation_model(operation)
    try:
        getattr(live.sm, xform_name(operation))(**probe_request(model))
    except ClientError as error:
        code = error.response["Error"]["Code"]
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status < 500, f"{operation}: {code} {error.response['Error'].get('Message')}"
        declared = {shape.name for shape in model.error_shapes}
        assert code in declared | {"ValidationException"}, f"{operation} answered {code}"


def test_runtime_errors_are_the_runtime_models(live: Live) -> None:
    declared = {
        shape.name for shape in runtime_model().operation_model("InvokeEndpoint").error_shapes
    }
    with pytest.raises(ClientError) as info:
        live.rt.invoke_endpoint(EndpointName="contract-missing", Body=b"1")
    assert info.value.response["Error"]["Code"] in declared
