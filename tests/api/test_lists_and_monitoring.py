"""List* defaults, filters and pages; Model Monitor answers; DeleteTrainingJob; documented
constraints. boto3 against a real server (list behaviour does not depend on the runtime)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from tests.api.conftest import (
    REGION,
    ROLE,
    Aws,
    Trained,
    channel,
    create_job,
    low_rank,
    unique,
    upload_csv,
    wait_job,
)

pytestmark = pytest.mark.runtime_only("process")


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def failing_job(aws: Aws, name: str) -> None:
    """A job whose channel names an empty prefix: it fails fast, without running a container."""
    create_job(
        aws,
        name,
        "pca",
        [channel(f"s3://{aws.bucket}/nothing-here/{name}/")],
        {"feature_dim": "6", "num_components": "2", "mini_batch_size": "10"},
    )


def every_page(call: Any, key: str, **request: Any) -> list[list[str]]:
    pages, name_key = [], {"TrainingJobSummaries": "TrainingJobName"}.get(key)
    response = call(**request)
    while True:
        name_key = name_key or next(k for k in response[key][0] if k.endswith("Name"))
        pages.append([s[name_key] for s in response[key]])
        if "NextToken" not in response:
            return pages
        response = call(NextToken=response["NextToken"], **request)


def test_list_monitoring_schedules_is_empty_and_schedules_are_not_found(aws: Aws) -> None:
    listed = aws.sm.list_monitoring_schedules(
        EndpointName="any-endpoint", SortBy="CreationTime", SortOrder="Descending", MaxResults=100
    )
    assert listed["MonitoringScheduleSummaries"] == [] and "NextToken" not in listed
    assert aws.sm.list_monitoring_executions()["MonitoringExecutionSummaries"] == []
    for call in (aws.sm.describe_monitoring_schedule, aws.sm.delete_monitoring_schedule):
        with pytest.raises(ClientError) as caught:
            call(MonitoringScheduleName="nope")
        code, message, status = error_of(caught)
        assert (code, status) == ("ResourceNotFound", 400)
        assert "monitoring-schedule/nope" in message
    with pytest.raises(ClientError) as caught:
        aws.sm.list_monitoring_schedules(NextToken="forged")
    assert error_of(caught)[0] == "ValidationException"


def test_training_jobs_oldest_first_by_default_and_delete_training_job(aws: Aws) -> None:
    marker = unique("lstasc")
    names = [f"{marker}-{i}" for i in range(3)]
    for name in names:
        failing_job(aws, name)
    for name in names:
        assert wait_job(aws, name)["TrainingJobStatus"] == "Failed"

    listed = aws.sm.list_training_jobs(NameContains=marker)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == names  # documented default: Ascending
    pages = every_page(
        aws.sm.list_training_jobs, "TrainingJobSummaries", NameContains=marker, MaxResults=2
    )
    assert pages == [names[:2], names[2:]]
    newest = aws.sm.list_training_jobs(NameContains=marker, SortOrder="Descending")
    assert [s["TrainingJobName"] for s in newest["TrainingJobSummaries"]] == names[::-1]

    aws.sm.delete_training_job(TrainingJobName=names[1])
    listed = aws.sm.list_training_jobs(NameContains=marker)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == [names[0], names[2]]
    with pytest.raises(ClientError) as caught:
        aws.sm.describe_training_job(TrainingJobName=names[1])
    assert error_of(caught)[0] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        aws.sm.delete_training_job(TrainingJobName=names[1])
    assert error_of(caught)[:3:2] == ("ResourceNotFound", 400)
    # The name is free again.
    failing_job(aws, names[1])
    assert wait_job(aws, names[1])["TrainingJobStatus"] == "Failed"


def test_a_running_training_job_cannot_be_deleted(aws: Aws) -> None:
    data = low_rank(n=40)
    name = unique("lstrun")
    uri = upload_csv(aws, data, f"data/{name}", parts=1)
    create_job(
        aws,
        name,
        "pca",
        [channel(uri, content_type="text/csv;label_size=0")],
        {"feature_dim": "6", "num_components": "2", "mini_batch_size": "10"},
    )
    with pytest.raises(ClientError) as caught:
        aws.sm.delete_training_job(TrainingJobName=name)
    code, message, _ = error_of(caught)
    assert code == "ResourceInUse" and "InProgress" in message
    assert wait_job(aws, name)["TrainingJobStatus"] == "Completed"
    aws.sm.delete_training_job(TrainingJobName=name)


def test_models_and_endpoint_configs_newest_first_ten_a_page(
    aws: Aws, pca_trained: Trained
) -> None:
    marker = unique("lstdesc")
    model = f"{marker}-model"
    aws.sm.create_model(
        ModelName=model,
        PrimaryContainer={
            "Image": image_uri("pca", REGION),
            "ModelDataUrl": pca_trained.model_data,
        },
        ExecutionRoleArn=ROLE,
    )
    configs = [f"{marker}-{i:02d}" for i in range(11)]
    for name in configs:
        aws.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    pages = every_page(aws.sm.list_endpoint_configs, "EndpointConfigs", NameContains=marker)
    assert pages == [configs[::-1][:10], configs[::-1][10:]]
    by_name = aws.sm.list_endpoint_configs(
        NameContains=marker, SortBy="Name", SortOrder="Ascending"
    )
    assert [c["EndpointConfigName"] for c in by_name["EndpointConfigs"]] == configs[:10]
    models = aws.sm.list_models(NameContains=marker)["Models"]
    assert [m["ModelName"] for m in models] == [model]
    # Documented as inclusive ("greater than or equal to") for ListModels.
    created = models[0]["CreationTime"]
    assert aws.sm.list_models(NameContains=marker, CreationTimeAfter=created)["Models"]


def test_transform_jobs_newest_first(aws: Aws, pca_trained: Trained) -> None:
    marker = unique("lstxf")
    model = f"{marker}-model"
    aws.sm.create_model(
        ModelName=model,
        PrimaryContainer={
            "Image": image_uri("pca", REGION),
            "ModelDataUrl": pca_trained.model_data,
        },
        ExecutionRoleArn=ROLE,
    )
    names = [f"{marker}-{i}" for i in range(3)]
    for name in names:
        aws.sm.create_transform_job(
            TransformJobName=name,
            ModelName=model,
            TransformInput={
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{aws.bucket}/nothing-here/{name}/",
                    }
                },
                "ContentType": "text/csv",
            },
            TransformOutput={"S3OutputPath": f"s3://{aws.bucket}/out/{name}"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    pages = every_page(
        aws.sm.list_transform_jobs, "TransformJobSummaries", NameContains=marker, MaxResults=2
    )
    assert pages == [names[::-1][:2], names[::-1][2:]]


def test_documented_constraints_answer_validation_exception(aws: Aws) -> None:
    with pytest.raises(ClientError) as caught:
        aws.sm.create_endpoint_config(
            EndpointConfigName=unique("srvless"),
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "any",
                    "ServerlessConfig": {"MemorySizeInMB": 1111, "MaxConcurrency": 5},
                }
            ],
        )
    code, message, status = error_of(caught)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value '1111' at "
        "'productionVariants.1.member.serverlessConfig.memorySizeInMB' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1024, 2048, 3072, 4096, 5120, 6144]"
    )
    with pytest.raises(ClientError) as caught:
        aws.sm.create_endpoint_config(
            EndpointConfigName=unique("srvless"),
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "any",
                    "ServerlessConfig": {
                        "MemorySizeInMB": 2048,
                        "MaxConcurrency": 5,
                        "ProvisionedConcurrency": 6,
                    },
                }
            ],
        )
    assert error_of(caught)[0] == "ValidationException"
