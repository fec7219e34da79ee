"""ModelTrainer with instance_count=2: train(wait=True, logs=True) waits for both hosts' log
streams and prints both. argv: the k-means training image URI.
"""

from __future__ import annotations

import sys

from tests.sdk3.flows.common import (
    INSTANCE_TYPE,
    blobs,
    csv_body,
    default_bucket,
    finish,
    hyperparameters,
    log_to_stdout,
    put,
)


def main(image: str) -> None:
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData

    log_to_stdout()
    bucket = default_bucket()
    data = blobs()
    uri = put(bucket, "sdk3/two/train/part-0.csv", csv_body(data))
    trainer = ModelTrainer(
        training_image=image,
        base_job_name="sdk3-two-hosts",
        compute=Compute(instance_type=INSTANCE_TYPE, instance_count=2),
        hyperparameters=hyperparameters("kmeans", data.shape[1]),
        input_data_config=[
            InputData(channel_name="train", data_source=uri, content_type="text/csv;label_size=0")
        ],
    )
    trainer.train(wait=True, logs=True)
    job = trainer._latest_training_job
    job.refresh()
    assert job.training_job_status == "Completed", job.failure_reason
    finish({"job": job.training_job_name, "instances": job.resource_config.instance_count})


if __name__ == "__main__":
    main(sys.argv[1])
