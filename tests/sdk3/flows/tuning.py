"""SDK 3's HyperparameterTuner over a k-means ModelTrainer.

It sends no metric definitions and no `_tuning_objective_metric`: the built-in algorithm's own
metric definitions must apply. argv: the k-means training image URI.
"""

from __future__ import annotations

import sys
from typing import Any

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
    from sagemaker.core.parameter import IntegerParameter
    from sagemaker.core.resources import HyperParameterTuningJob
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData
    from sagemaker.train.tuner import HyperparameterTuner

    log_to_stdout()
    bucket = default_bucket()
    data = blobs()
    train = put(bucket, "sdk3/tuning/train/part-0.csv", csv_body(data))
    test = put(bucket, "sdk3/tuning/test/part-0.csv", csv_body(data[:100]))
    trainer = ModelTrainer(
        training_image=image,
        base_job_name="sdk3-tuning",
        compute=Compute(instance_type=INSTANCE_TYPE, instance_count=1),
        hyperparameters=hyperparameters("kmeans", data.shape[1]),
    )
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="test:msd",
        objective_type="Minimize",
        hyperparameter_ranges={"k": IntegerParameter(2, 4)},
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=2,
    )
    tuner.tune(
        inputs=[
            InputData(
                channel_name="train", data_source=train, content_type="text/csv;label_size=0"
            ),
            InputData(channel_name="test", data_source=test, content_type="text/csv;label_size=0"),
        ],
        wait=True,
    )
    job = HyperParameterTuningJob.get(
        hyper_parameter_tuning_job_name=tuner.latest_tuning_job.hyper_parameter_tuning_job_name
    )
    result: dict[str, Any] = {
        "status": job.hyper_parameter_tuning_job_status,
        "completed": job.training_job_status_counters.completed,
        "best": job.best_training_job.training_job_name,
        "best_metric": job.best_training_job.final_hyper_parameter_tuning_job_objective_metric.value,
        "objective": job.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective.metric_name,
    }
    finish(result)


if __name__ == "__main__":
    main(sys.argv[1])
