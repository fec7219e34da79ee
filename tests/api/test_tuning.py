"""Hyperparameter tuning jobs through boto3: children that really train, strategies, limits,
stop, warm start, and the documented validation."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from sdk.launcher import start_emulator
from tests.api.conftest import (
    ROLE,
    Aws,
    blobs,
    channel,
    make_aws,
    unique,
    upload_csv,
    upload_record_set,
    wait_job,
)

TERMINAL = ("Completed", "Failed", "Stopped")


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def _definition(
    aws: Aws,
    channels: list[dict[str, Any]],
    static: dict[str, str],
    algorithm: str = "kmeans",
    **extra: Any,
) -> dict[str, Any]:
    """A training job definition shaped like Terraform's and the SDK's."""
    return {
        "AlgorithmSpecification": {
            "TrainingImage": image_uri(algorithm, aws.region),
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{aws.bucket}/tuning/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "StaticHyperParameters": static,
        **extra,
    }


def _config(
    strategy: str, ranges: dict[str, Any], max_jobs: int | None, parallel: int, **extra: Any
) -> dict[str, Any]:
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:msd"},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
        **extra,
    }


def _wait(
    aws: Aws,
    name: str,
    timeout: float = 300.0,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d: dict[str, Any] = aws.sm.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )
        if (until or (lambda x: x["HyperParameterTuningJobStatus"] in TERMINAL))(d):
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"tuning job {name}: {d['HyperParameterTuningJobStatus']}")
        time.sleep(0.2)


def _long_running_request(
    aws: Aws, data_name: str, max_jobs: int, parallel: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tuning config and definition whose children train until stopped (100,000 epochs)."""
    rng = np.random.default_rng(7)
    data = rng.normal(size=(20000, 20)).astype(np.float32)
    uri = upload_record_set(aws, data, data_name, shards=1)
    config = _config(
        "Random",
        {"IntegerParameterRanges": [{"Name": "k", "MinValue": "90", "MaxValue": "100"}]},
        max_jobs,
        parallel,
    )
    definition = _definition(
        aws,
        [channel(uri, data_type="ManifestFile")],
        {
            "feature_dim": "20",
            "extra_center_factor": "20",
            "epochs": "100000",
            "mini_batch_size": "1000",
        },
    )
    return config, definition


def _children(aws: Aws, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = aws.sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, **kwargs, **token
        )
        out.extend(page["TrainingJobSummaries"])
        if "NextToken" not in page:
            return out
        token = {"NextToken": page["NextToken"]}


@pytest.fixture(scope="module")
def csv_channels(aws: Aws) -> list[dict[str, Any]]:
    data, _ = blobs(n=400, d=4, k=4, seed=3)
    name = unique("tuning-data")
    train = upload_csv(aws, data[:300], f"data/{name}/train")
    test = upload_csv(aws, data[300:], f"data/{name}/test")
    return [
        channel(train, "train", content_type="text/csv;label_size=0"),
        channel(test, "test", content_type="text/csv;label_size=0"),
    ]


# --- the blog's question in one call ---------------------------------------------------------


def test_grid_over_k_trains_every_child_in_parallel(
    aws: Aws, csv_channels: list[dict[str, Any]]
) -> None:
    name = unique("grid-k")[:32]
    ks = [str(k) for k in range(2, 12)]
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=_config(
            "Grid", {"CategoricalParameterRanges": [{"Name": "k", "Values": ks}]}, None, 5
        ),
        TrainingJobDefinition=_definition(
            aws, csv_channels, {"feature_dim": "4", "mini_batch_size": "100"}
        ),
    )
    d = _wait(aws, name)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d.get("FailureReason")
    assert d["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 10
    assert d["TrainingJobStatusCounters"]["Completed"] == 10
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 10, "Pending": 0, "Failed": 0}
    definition = d["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"]["_tuning_objective_metric"] == "test:msd"
    metrics = definition["AlgorithmSpecification"]["MetricDefinitions"]
    assert metrics[-1]["Name"] == "ObjectiveMetric"
    assert "test msd" in metrics[-1]["Regex"]
    assert d["ConsumedResources"]["RuntimeInSeconds"] >= 0

    children = _children(aws, name, SortBy="FinalObjectiveMetricValue")
    assert sorted(c["TunedHyperParameters"]["k"] for c in children) == sorted(ks)
    values = [c["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for c in children]
    assert values == sorted(values)
    assert d["BestTrainingJob"]["TrainingJobName"] == children[0]["TrainingJobName"]
    assert (
        d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"]
        == "test:msd"
    )
    # More centres fit the test data better: the best k is a large one.
    assert int(children[0]["TunedHyperParameters"]["k"]) >= 4

    # Default listing: 10 by name.
    first_page = aws.sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )
    listed = [c["TrainingJobName"] for c in first_page["TrainingJobSummaries"]]
    assert listed == sorted(listed) and len(listed) == 10
    for index, child in enumerate(sorted(listed), start=1):
        prefix, number, suffix = child.rsplit("-", 2)
        assert prefix == name and number == f"{index:03d}" and len(suffix) == 8

    described = aws.sm.describe_training_job(TrainingJobName=children[0]["TrainingJobName"])
    assert described["TuningJobArn"] == d["HyperParameterTuningJobArn"]
    hp = described["HyperParameters"]
    assert hp["_tuning_objective_metric"] == "test:msd"
    assert hp["k"] == children[0]["TunedHyperParameters"]["k"] and hp["feature_dim"] == "4"

    all_jobs = aws.sm.list_training_jobs(NameContains=name, MaxResults=100)["TrainingJobSummaries"]
    assert len(all_jobs) == 10

    # Children really ran side by side (MaxParallelTrainingJobs 5).
    spans = sorted((c["TrainingStartTime"], c["TrainingEndTime"]) for c in children)
    overlapping = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert overlapping >= 2

    listed_jobs = aws.sm.list_hyper_parameter_tuning_jobs(NameContains=name)
    summary = listed_jobs["HyperParameterTuningJobSummaries"][0]
    assert summary["Strategy"] == "Grid" and summary["HyperParameterTuningJobStatus"] == "Completed"


# --- a request shaped like Terraform's aws_sagemaker_hyper_parameter_tuning_job --------------


def test_bayesian_terraform_request_and_warm_start(
    aws: Aws, csv_channels: list[dict[str, Any]]
) -> None:
    name = unique("bayes")
    ranges = {
        "IntegerParameterRanges": [
            {"Name": "epochs", "MinValue": "1", "MaxValue": "3", "ScalingType": "Linear"},
            {
                "Name": "extra_center_factor",
                "MinValue": "4",
                "MaxValue": "10",
                "ScalingType": "Auto",
            },
            {
                "Name": "mini_batch_size",
                "MinValue": "50",
                "MaxValue": "300",
                "ScalingType": "Logarithmic",
            },
        ],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [{"Name": "init_method", "Values": ["kmeans++", "random"]}],
    }
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=_config(
            "Bayesian", ranges, 4, 2, RandomSeed=7, TrainingJobEarlyStoppingType="Auto"
        ),
        TrainingJobDefinition=_definition(aws, csv_channels, {"feature_dim": "4", "k": "4"}),
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    d = _wait(aws, name)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d.get("FailureReason")
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    assert d["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    best = d["BestTrainingJob"]
    tuned = best["TunedHyperParameters"]
    assert set(tuned) == {"epochs", "extra_center_factor", "mini_batch_size", "init_method"}
    assert 1 <= int(tuned["epochs"]) <= 3 and 50 <= int(tuned["mini_batch_size"]) <= 300
    tags = aws.sm.list_tags(ResourceArn=d["HyperParameterTuningJobArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "ml"}]

    # Warm start from it (identical data and algorithm): the overall best covers the parent.
    child_name = unique("warm")
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=child_name,
        HyperParameterTuningJobConfig=_config("Bayesian", ranges, 1, 1, RandomSeed=7),
        TrainingJobDefinition=_definition(aws, csv_channels, {"feature_dim": "4", "k": "4"}),
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": name}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        },
    )
    w = _wait(aws, child_name)
    assert w["HyperParameterTuningJobStatus"] == "Completed", w.get("FailureReason")
    overall = w["OverallBestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert overall <= best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert overall <= w["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert w["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"

    # Another objective than the parent's is refused.
    with pytest.raises(ClientError) as exc:
        aws.sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=unique("warm-bad"),
            HyperParameterTuningJobConfig={
                **_config("Bayesian", ranges, 1, 1),
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:ssd"},
            },
            TrainingJobDefinition=_definition(aws, csv_channels, {"feature_dim": "4", "k": "4"}),
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": name}],
                "WarmStartType": "TransferLearning",
            },
        )
    assert _error(exc)[0] == "ValidationException"

    # Delete forgets the tuning job, not its training jobs.
    aws.sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=child_name)
    with pytest.raises(ClientError) as exc:
        aws.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=child_name)
    assert _error(exc)[0] == "ResourceNotFound"
    kept = aws.sm.describe_training_job(TrainingJobName=w["BestTrainingJob"]["TrainingJobName"])
    assert kept["TrainingJobStatus"] == "Completed"


def test_target_objective_value_ends_the_search_early(
    aws: Aws, csv_channels: list[dict[str, Any]]
) -> None:
    name = unique("target")
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=_config(
            "Random",
            {"IntegerParameterRanges": [{"Name": "k", "MinValue": "2", "MaxValue": "6"}]},
            20,
            1,
            TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 1.0e9},
        ),
        TrainingJobDefinition=_definition(aws, csv_channels, {"feature_dim": "4"}),
    )
    d = _wait(aws, name)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d.get("FailureReason")
    assert sum(d["TrainingJobStatusCounters"].values()) == 1


# --- children without an objective; seeds ---------------------------------------------------


def test_random_seed_reproduces_and_failed_children_count(aws: Aws) -> None:
    """Children whose input is missing fail at once: the tuning job fails, every objective is
    Failed, and the same RandomSeed drew the same values."""
    missing = [channel(f"s3://{aws.bucket}/no-such-prefix/", "train", content_type="text/csv")]
    ranges = {
        "IntegerParameterRanges": [
            {"Name": "k", "MinValue": "2", "MaxValue": "50", "ScalingType": "Logarithmic"}
        ],
        "ContinuousParameterRanges": [
            {
                "Name": "local_lloyd_tol",
                "MinValue": "0.0001",
                "MaxValue": "0.5",
                "ScalingType": "ReverseLogarithmic",
            }
        ],
    }
    drawn = []
    for _ in range(2):
        name = unique("seeded")
        aws.sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            HyperParameterTuningJobConfig=_config("Random", ranges, 3, 1, RandomSeed=42),
            TrainingJobDefinition=_definition(aws, missing, {"feature_dim": "4"}),
        )
        d = _wait(aws, name)
        assert d["HyperParameterTuningJobStatus"] == "Failed"
        assert "objective metric" in d["FailureReason"]
        assert d["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 3}
        assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 3
        assert "BestTrainingJob" not in d
        children = _children(aws, name, SortBy="CreationTime")
        drawn.append([c["TunedHyperParameters"] for c in children])
        assert _children(aws, name, SortBy="FinalObjectiveMetricValue") == []
    assert drawn[0] == drawn[1]
    for tuned in drawn[0]:
        assert 2 <= int(tuned["k"]) <= 50 and 0.0001 <= float(tuned["local_lloyd_tol"]) <= 0.5


# --- stop ---------------------------------------------------------------------------------


def test_stop_stops_every_running_child(aws: Aws) -> None:
    name = unique("stop")
    config, definition = _long_running_request(aws, name, 4, 2)
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=definition,
    )
    d = _wait(aws, name, until=lambda x: x["TrainingJobStatusCounters"]["InProgress"] == 2)
    aws.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert (
        aws.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
            "HyperParameterTuningJobStatus"
        ]
        == "Stopping"
    )
    with pytest.raises(ClientError) as exc:
        aws.sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert _error(exc)[0] == "ResourceInUse"
    d = _wait(aws, name, timeout=180)
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    assert d["TrainingJobStatusCounters"]["Stopped"] == 2
    assert "HyperParameterTuningEndTime" in d
    for child in _children(aws, name):
        assert wait_job(aws, child["TrainingJobName"])["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as exc:
        aws.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert _error(exc)[0] == "ValidationException"


# --- validation ---------------------------------------------------------------------------


def _refused(
    aws: Aws, config: dict[str, Any], definition: dict[str, Any], **extra: Any
) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        aws.sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=unique("bad"),
            HyperParameterTuningJobConfig=config,
            TrainingJobDefinition=definition,
            **extra,
        )
    return _error(exc)


@pytest.mark.runtime_only("process")
def test_documented_rules(aws: Aws) -> None:
    channels = [channel(f"s3://{aws.bucket}/x/", "train")]
    kmeans = _definition(aws, channels, {"feature_dim": "4"})
    k_range = {"IntegerParameterRanges": [{"Name": "k", "MinValue": "2", "MaxValue": "9"}]}

    code, message = _refused(
        aws,
        {
            **_config("Bayesian", k_range, 2, 1),
            "HyperParameterTuningJobObjective": {
                "Type": "Minimize",
                "MetricName": "train:progress",
            },
        },
        _definition(aws, channels, {"feature_dim": "4"}, algorithm="pca"),
    )
    assert code == "ValidationException" and "pca" in message
    code, message = _refused(
        aws,
        {
            **_config("Bayesian", k_range, 2, 1),
            "HyperParameterTuningJobObjective": {
                "Type": "Minimize",
                "MetricName": "validation:accuracy",
            },
        },
        kmeans,
    )
    assert code == "ValidationException" and "test:msd" in message
    code, _ = _refused(aws, _config("Grid", k_range, None, 1), kmeans)
    assert code == "ValidationException"
    grid = {"CategoricalParameterRanges": [{"Name": "k", "Values": ["2", "3"]}]}
    code, message = _refused(aws, _config("Grid", grid, 3, 1), kmeans)
    assert code == "ValidationException" and "2" in message
    code, _ = _refused(aws, _config("Random", k_range, 2, 11), kmeans)
    assert code == "ResourceLimitExceeded"
    code, _ = _refused(aws, _config("Bayesian", k_range, 751, 1), kmeans)
    assert code == "ResourceLimitExceeded"
    many = {
        "IntegerParameterRanges": [
            {"Name": f"p{i}", "MinValue": "1", "MaxValue": "2"} for i in range(20)
        ],
        "ContinuousParameterRanges": [
            {"Name": f"c{i}", "MinValue": "0", "MaxValue": "1"} for i in range(11)
        ],
    }
    code, message = _refused(aws, _config("Random", many, 2, 1), kmeans)
    assert code == "ValidationException" and "30" in message
    static = {f"s{i}": "1" for i in range(99)}
    code, message = _refused(
        aws, _config("Random", k_range, 2, 1), _definition(aws, channels, static)
    )
    assert code == "ValidationException" and "100" in message
    log_zero = {
        "ContinuousParameterRanges": [
            {
                "Name": "local_lloyd_tol",
                "MinValue": "0",
                "MaxValue": "1",
                "ScalingType": "Logarithmic",
            }
        ]
    }
    assert _refused(aws, _config("Random", log_zero, 2, 1), kmeans)[0] == "ValidationException"
    reverse_int = {
        "IntegerParameterRanges": [
            {"Name": "k", "MinValue": "2", "MaxValue": "9", "ScalingType": "ReverseLogarithmic"}
        ]
    }
    assert _refused(aws, _config("Random", reverse_int, 2, 1), kmeans)[0] == "ValidationException"
    code, message = _refused(aws, _config("Hyperband", k_range, 2, 1), kmeans)
    assert code == "ValidationException" and "epochs" in message
    code, _ = _refused(
        aws,
        _config("Hyperband", k_range, 2, 1, TrainingJobEarlyStoppingType="Auto"),
        _definition(aws, channels, {"feature_dim": "4", "epochs": "10"}),
    )
    assert code == "ValidationException"
    code, _ = _refused(
        aws,
        _config("Random", k_range, 2, 1),
        kmeans,
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nope"}],
            "WarmStartType": "TransferLearning",
        },
    )
    assert code == "ValidationException"
    with pytest.raises(ClientError) as exc:
        aws.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="missing-job")
    assert _error(exc)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        aws.sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="missing-job"
        )
    assert _error(exc)[0] == "ResourceNotFound"


@pytest.mark.runtime_only("process")
def test_running_parent_and_duplicate_name(aws: Aws) -> None:
    name = unique("parent")
    config, definition = _long_running_request(aws, name, 1, 1)
    aws.sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=definition,
    )
    try:
        code, message = _refused(
            aws,
            config,
            definition,
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": name}],
                "WarmStartType": "IdenticalDataAndAlgorithm",
            },
        )
        assert code == "ValidationException" and "InProgress" in message
        with pytest.raises(ClientError) as exc:
            aws.sm.create_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name,
                HyperParameterTuningJobConfig=config,
                TrainingJobDefinition=definition,
            )
        assert _error(exc)[0] == "ResourceInUse"
    finally:
        aws.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert _wait(aws, name, timeout=180)["HyperParameterTuningJobStatus"] == "Stopped"


# --- restart --------------------------------------------------------------------------------


@pytest.mark.runtime_only("process")
def test_a_running_tuning_job_is_failed_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_emulator(data_dir, runtime="process")
    try:
        aws = make_aws(first, "process")
        config, definition = _long_running_request(aws, "restart", 2, 1)
        aws.sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="restarted",
            HyperParameterTuningJobConfig=config,
            TrainingJobDefinition=definition,
        )
        _wait(aws, "restarted", until=lambda x: x["TrainingJobStatusCounters"]["InProgress"] == 1)
    finally:
        first.stop()
    second = start_emulator(data_dir, runtime="process")
    try:
        aws = make_aws(second, "process", bucket=aws.bucket)
        d = aws.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="restarted")
        assert d["HyperParameterTuningJobStatus"] == "Failed"
        assert "emulator" in d["FailureReason"]
        child = _children(aws, "restarted")[0]
        assert (
            aws.sm.describe_training_job(TrainingJobName=child["TrainingJobName"])[
                "TrainingJobStatus"
            ]
            == "Failed"
        )
    finally:
        second.stop()
