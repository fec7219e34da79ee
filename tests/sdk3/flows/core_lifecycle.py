"""The sagemaker-core resource classes' lifecycle: create, wait, refresh, get_all, tags, stop,
update, delete, for TrainingJob, Model, EndpointConfig, Endpoint and TransformJob.

argv: the k-means training image URI. The role comes from `get_execution_role()`.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import numpy as np

from tests.sdk3.flows.common import (
    INSTANCE_TYPE,
    blobs,
    csv_body,
    default_bucket,
    finish,
    get,
    log_to_stdout,
    put,
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def main(image: str) -> None:
    from sagemaker.core import shapes
    from sagemaker.core.helper.session_helper import get_execution_role
    from sagemaker.core.resources import (
        Endpoint,
        EndpointConfig,
        Model,
        Tag,
        TrainingJob,
        TransformJob,
    )

    log_to_stdout()
    role = get_execution_role()
    bucket = default_bucket()
    result: dict[str, Any] = {}

    def channel(uri: str) -> Any:
        return shapes.Channel(
            channel_name="train",
            content_type="text/csv;label_size=0",
            data_source=shapes.DataSource(
                s3_data_source=shapes.S3DataSource(
                    s3_data_type="S3Prefix", s3_uri=uri, s3_data_distribution_type="FullyReplicated"
                )
            ),
        )

    def training(name: str, uri: str, hyper_parameters: dict[str, str]) -> Any:
        return TrainingJob.create(
            training_job_name=name,
            role_arn=role,
            algorithm_specification=shapes.AlgorithmSpecification(
                training_image=image, training_input_mode="File"
            ),
            input_data_config=[channel(uri)],
            output_data_config=shapes.OutputDataConfig(s3_output_path=f"s3://{bucket}/sdk3/core"),
            resource_config=shapes.ResourceConfig(
                instance_type=INSTANCE_TYPE, instance_count=1, volume_size_in_gb=1
            ),
            stopping_condition=shapes.StoppingCondition(max_runtime_in_seconds=600),
            hyper_parameters=hyper_parameters,
            # A dict: `Tag` means the resource class in create()'s signature and the shape in
            # add_tags()'s (the resource module's Tag shadows the shape's); a dict passes both.
            tags=[{"key": "flow", "value": "core"}],
        )

    # TrainingJob: create, wait, refresh, get_all, tags.
    data = blobs()
    uri = put(bucket, "sdk3/core/train/part-0.csv", csv_body(data))
    name = unique("core-kmeans")
    job = training(name, uri.rsplit("/", 1)[0] + "/", {"k": "3", "feature_dim": "4"})
    job.wait(poll=1, timeout=300)
    job.refresh()
    assert job.training_job_status == "Completed", job.failure_reason
    listed = [j.training_job_name for j in TrainingJob.get_all(name_contains="core-kmeans")]
    assert name in listed, listed
    Tag.add_tags(resource_arn=job.training_job_arn, tags=[{"key": "stage", "value": "test"}])
    tags = {t.key: t.value for t in Tag.get_all(resource_arn=job.training_job_arn)}
    assert tags == {"flow": "core", "stage": "test"}, tags
    result["training_job"] = name

    # TrainingJob.stop: a job that would run for minutes.
    rng = np.random.default_rng(7)
    slow_uri = put(
        bucket,
        "sdk3/core/slow/part-0.csv",
        csv_body(rng.normal(size=(20000, 20)).astype(np.float32)),
    )
    slow = training(
        unique("core-stop"),
        slow_uri.rsplit("/", 1)[0] + "/",
        {
            "k": "100",
            "feature_dim": "20",
            "extra_center_factor": "20",
            "epochs": "100000",
            "mini_batch_size": "1000",
        },
    )
    slow.stop()
    slow.refresh()
    assert slow.training_job_status in ("Stopping", "Stopped"), slow.training_job_status
    # wait() returns on Stopped (it raises only on Failed).
    slow.wait(poll=1, timeout=120)
    assert slow.training_job_status == "Stopped", slow.training_job_status
    result["stopped_job"] = slow.training_job_status

    # Model, EndpointConfig, Endpoint: create, wait, invoke, update, delete.
    model = Model.create(
        model_name=unique("core-model"),
        execution_role_arn=role,
        primary_container=shapes.ContainerDefinition(
            image=image, model_data_url=job.model_artifacts.s3_model_artifacts
        ),
    )
    assert model.model_name in [m.model_name for m in Model.get_all(name_contains="core-model")]

    def endpoint_config(prefix: str) -> Any:
        return EndpointConfig.create(
            endpoint_config_name=unique(prefix),
            production_variants=[
                shapes.ProductionVariant(
                    variant_name="AllTraffic",
                    model_name=model.model_name,
                    initial_instance_count=1,
                    instance_type=INSTANCE_TYPE,
                )
            ],
        )

    first, second = endpoint_config("core-config-a"), endpoint_config("core-config-b")
    endpoint = Endpoint.create(
        endpoint_name=unique("core-endpoint"), endpoint_config_name=first.endpoint_config_name
    )
    endpoint.wait_for_status("InService", poll=1, timeout=300)
    answer = endpoint.invoke(body=csv_body(data[:2]), content_type="text/csv")
    result["predictions"] = json.loads(answer.body.read())["predictions"]
    # sagemaker-core's update() sends the resource's own attributes: set, then update.
    endpoint.endpoint_config_name = second.endpoint_config_name
    endpoint.update()
    endpoint.wait_for_status("InService", poll=1, timeout=300)
    endpoint.refresh()
    assert endpoint.endpoint_config_name == second.endpoint_config_name
    names = [e.endpoint_name for e in Endpoint.get_all(name_contains="core-endpoint")]
    assert endpoint.endpoint_name in names, names

    # TransformJob: create, wait, refresh, get_all.
    put(bucket, "sdk3/core/batch/in.csv", csv_body(data[:4]))
    transform = TransformJob.create(
        transform_job_name=unique("core-transform"),
        model_name=model.model_name,
        transform_input=shapes.TransformInput(
            data_source=shapes.TransformDataSource(
                s3_data_source=shapes.TransformS3DataSource(
                    s3_data_type="S3Prefix", s3_uri=f"s3://{bucket}/sdk3/core/batch/in.csv"
                )
            ),
            content_type="text/csv",
            split_type="Line",
        ),
        transform_output=shapes.TransformOutput(
            s3_output_path=f"s3://{bucket}/sdk3/core/batch/out", assemble_with="Line"
        ),
        transform_resources=shapes.TransformResources(
            instance_type=INSTANCE_TYPE, instance_count=1
        ),
    )
    transform.wait(poll=1, timeout=300)
    transform.refresh()
    assert transform.transform_job_status == "Completed", transform.failure_reason
    listed = [t.transform_job_name for t in TransformJob.get_all(name_contains="core-transform")]
    assert transform.transform_job_name in listed
    output = get(f"s3://{bucket}/sdk3/core/batch/out/in.csv.out").decode()
    # One JSON answer per batch of records (the service's default strategy batches them).
    result["batch"] = [
        p for line in output.splitlines() if line.strip() for p in json.loads(line)["predictions"]
    ]

    # Delete, newest first.
    endpoint.delete()
    endpoint.wait_for_delete(poll=1, timeout=120)
    first.delete()
    second.delete()
    model.delete()
    remaining = [m.model_name for m in Model.get_all(name_contains="core-model")]
    assert model.model_name not in remaining
    finish(result)


if __name__ == "__main__":
    main(sys.argv[1])
