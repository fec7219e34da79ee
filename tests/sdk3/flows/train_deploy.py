"""ModelTrainer -> ModelBuilder -> Endpoint.invoke -> batch transform, with one built-in algorithm.

Unchanged SDK 3 user code: no role, session or endpoint is passed; the environment (notebook-env)
supplies them. argv: algorithm (kmeans | pca), its training image URI.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from sdk.recordio import (
    CONTENT_TYPE,
    RecordDeserializer,
    RecordSerializer,
    write_numpy_to_dense_tensor,
)
from tests.sdk3.flows.common import (
    INSTANCE_TYPE,
    blobs,
    csv_body,
    default_bucket,
    finish,
    get,
    hyperparameters,
    log_to_stdout,
    put,
)


def main(algorithm: str, image: str) -> None:
    from sagemaker.core.helper.session_helper import get_execution_role
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model, TransformJob
    from sagemaker.core.transformer import Transformer
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData

    log_to_stdout()
    bucket = default_bucket()
    data = blobs()
    train_uri = put(bucket, f"sdk3/{algorithm}/train/part-0.csv", csv_body(data))
    result: dict[str, Any] = {"bucket": bucket}

    # File mode with CSV, Pipe mode with RecordIO-protobuf (written by this repository's `sdk`
    # client package: SDK 3 has no RecordIO writer).
    records = io.BytesIO()
    write_numpy_to_dense_tensor(records, data)
    record_uri = put(bucket, f"sdk3/{algorithm}/records/part-0.pbr", records.getvalue())
    inputs = {
        "File": (train_uri, "text/csv;label_size=0"),
        "Pipe": (record_uri, CONTENT_TYPE),
    }
    jobs = {}
    for mode, (uri, content_type) in inputs.items():
        trainer = ModelTrainer(
            training_image=image,
            training_input_mode=mode,
            base_job_name=f"sdk3-{algorithm}-{mode.lower()}",
            compute=Compute(instance_type=INSTANCE_TYPE, instance_count=1),
            hyperparameters=hyperparameters(algorithm, data.shape[1]),
            input_data_config=[
                InputData(
                    channel_name="train",
                    data_source=uri.rsplit("/", 1)[0] + "/",
                    content_type=content_type,
                )
            ],
        )
        print(f"=== train {mode}", flush=True)
        trainer.train(wait=True, logs=True)
        job = trainer._latest_training_job
        job.refresh()
        assert job.training_job_status == "Completed", job.training_job_status
        assert job.algorithm_specification.training_input_mode == mode
        jobs[mode] = job
    job = jobs["File"]
    result["role"] = job.role_arn
    result["model_artifacts"] = job.model_artifacts.s3_model_artifacts
    result["jobs"] = [j.training_job_name for j in jobs.values()]

    builder = ModelBuilder(
        image_uri=image,
        s3_model_data_url=job.model_artifacts.s3_model_artifacts,
        role_arn=get_execution_role(),
        instance_type=INSTANCE_TYPE,
    )
    model = builder.build()
    endpoint = builder.deploy(initial_instance_count=1, instance_type=INSTANCE_TYPE)
    assert isinstance(endpoint, Endpoint)
    endpoint.refresh()
    assert endpoint.endpoint_status == "InService", endpoint.endpoint_status
    rows = data[:5]
    csv_answer = json.loads(
        endpoint.invoke(body=csv_body(rows), content_type="text/csv", accept="application/json")
        .body.read()
        .decode()
    )
    json_answer = json.loads(
        endpoint.invoke(
            body=json.dumps({"instances": [{"features": [float(x) for x in r]} for r in rows]}),
            content_type="application/json",
            accept="application/json",
        )
        .body.read()
        .decode()
    )
    serializer, deserializer = RecordSerializer(), RecordDeserializer()
    answer = endpoint.invoke(
        body=serializer.serialize(rows),
        content_type=serializer.CONTENT_TYPE,
        accept=deserializer.ACCEPT[0],
    )
    label = "closest_cluster" if algorithm == "kmeans" else "projection"
    result["recordio_predictions"] = [
        list(r.label[label].float32_tensor.values)
        for r in deserializer.deserialize(answer.body, answer.content_type)
    ]
    # The built-ins answer {"predictions": [...]} (k-means) or {"projections": [...]} (PCA).
    key = "predictions" if algorithm == "kmeans" else "projections"
    result["csv_predictions"] = csv_answer[key]
    result["json_predictions"] = json_answer[key]

    # Batch transform of the same rows, with the model ModelBuilder made.
    put(bucket, f"sdk3/{algorithm}/batch/in.csv", csv_body(rows))
    transformer = Transformer(
        model_name=model.model_name,
        instance_count=1,
        instance_type=INSTANCE_TYPE,
        output_path=f"s3://{bucket}/sdk3/{algorithm}/batch/out",
        accept="application/jsonlines",
        assemble_with="Line",
        strategy="MultiRecord",
    )
    transformer.transform(
        data=f"s3://{bucket}/sdk3/{algorithm}/batch/in.csv",
        content_type="text/csv",
        split_type="Line",
        wait=True,
        logs=False,
    )
    transform = TransformJob.get(transform_job_name=transformer._current_job_name)
    assert transform.transform_job_status == "Completed", transform.transform_job_status
    out = get(f"s3://{bucket}/sdk3/{algorithm}/batch/out/in.csv.out").decode()
    result["batch_lines"] = [json.loads(line) for line in out.splitlines() if line.strip()]

    config_name = endpoint.endpoint_config_name
    endpoint.delete()
    endpoint.wait_for_delete(timeout=120)
    EndpointConfig.get(endpoint_config_name=config_name).delete()
    Model.get(model_name=model.model_name).delete()
    result["endpoint"] = endpoint.endpoint_name
    finish(result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
