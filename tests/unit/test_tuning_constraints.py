"""CreateHyperParameterTuningJob's documented rules (docs/constraints.md, "Automatic model
tuning"): each row broken once against the spec parser, and the table kept in step."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from emulator.aws.errors import ResourceLimitExceeded, ValidationException
from emulator.runtime.images import image_uri
from emulator.services.tuning.spec import parse
from emulator.state.records import HyperParameterTuningJobStatus
from emulator.state.tuning_records import HyperParameterTuningJobRecord
from tests.unit.test_constraints import TUNING, table_rows

K_RANGE = {"IntegerParameterRanges": [{"Name": "k", "MinValue": "2", "MaxValue": "9"}]}


def request(
    strategy: str = "Random",
    ranges: dict[str, Any] | None = None,
    max_jobs: int | None = 4,
    parallel: int = 2,
    static: dict[str, str] | None = None,
    **members: Any,
) -> dict[str, Any]:
    limits: dict[str, int] = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    wire: dict[str, Any] = {
        "HyperParameterTuningJobName": "tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "ResourceLimits": limits,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:msd"},
            "ParameterRanges": K_RANGE if ranges is None else ranges,
            **members.pop("config", {}),
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": image_uri(members.pop("algorithm", "kmeans"), "us-east-1"),
                "TrainingInputMode": "File",
            },
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "StaticHyperParameters": {"feature_dim": "4"} if static is None else static,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/train"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }
    wire.update(members)
    return wire


def objective(metric: str, kind: str = "Minimize", **rest: Any) -> dict[str, Any]:
    return request(
        config={"HyperParameterTuningJobObjective": {"Type": kind, "MetricName": metric}}, **rest
    )


def own_image() -> dict[str, Any]:
    wire = objective("validation:loss")
    wire["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "my-image:1"
    return wire


def scaled(kind: str, low: str, high: str, scaling: str) -> dict[str, Any]:
    ranges = {
        f"{kind}ParameterRanges": [
            {"Name": "local_lloyd_tol", "MinValue": low, "MaxValue": high, "ScalingType": scaling}
        ]
    }
    return request(ranges=ranges)


def warm(parent: str, warm_type: str = "TransferLearning", **rest: Any) -> dict[str, Any]:
    return request(
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
            "WarmStartType": warm_type,
        },
        **rest,
    )


def parent_record(
    name: str, status: HyperParameterTuningJobStatus, wire: dict[str, Any]
) -> HyperParameterTuningJobRecord:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    return HyperParameterTuningJobRecord(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{name}",
        request=wire,
        creation_time=at,
        last_modified_time=at,
        status=status,
    )


S = HyperParameterTuningJobStatus
PARENTS = {
    "done": parent_record("done", S.COMPLETED, request()),
    "running": parent_record("running", S.IN_PROGRESS, request()),
    "maximize": parent_record(
        "maximize", S.COMPLETED, objective("test:msd", "Maximize", algorithm="kmeans")
    ),
    "more-static": parent_record(
        "more-static", S.COMPLETED, request(static={"feature_dim": "4", "mini_batch_size": "9"})
    ),
    "other-data": parent_record("other-data", S.COMPLETED, request()),
}
PARENTS["other-data"].request["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"][
    "S3DataSource"
]["S3Uri"] = "s3://b/elsewhere"

many_ranges = {
    "IntegerParameterRanges": [
        {"Name": f"p{i}", "MinValue": "1", "MaxValue": "2"} for i in range(31)
    ]
}
grid = {"CategoricalParameterRanges": [{"Name": "k", "Values": ["2", "3"]}]}

# (rule, a request that breaks it, the error it must raise, a fragment of its message)
BROKEN: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("tuning-parallel-jobs", request(parallel=11), ResourceLimitExceeded, "is 10 Jobs"),
    ("tuning-training-jobs", request("Bayesian", max_jobs=751), ResourceLimitExceeded, "750"),
    ("tuning-training-jobs", request(max_jobs=10_001), ResourceLimitExceeded, "10000 Jobs"),
    ("tuning-max-jobs-required", request(max_jobs=None), ValidationException, "is required"),
    ("tuning-tunable-count", request(ranges=many_ranges), ValidationException, "maximum of 30"),
    (
        "tuning-hyperparameter-count",
        request(static={f"s{i}": "1" for i in range(99)}),
        ValidationException,
        "maximum of 100",
    ),
    (
        "tuning-static-or-tunable",
        request(static={"feature_dim": "4", "k": "3"}),
        ValidationException,
        "both static and tunable",
    ),
    (
        "tuning-logarithmic-domain",
        scaled("Continuous", "0", "1", "Logarithmic"),
        ValidationException,
        "greater than 0",
    ),
    (
        "tuning-reverse-logarithmic-domain",
        scaled("Continuous", "0.5", "1.5", "ReverseLogarithmic"),
        ValidationException,
        "0 <= value < 1",
    ),
    ("tuning-grid-categorical", request("Grid"), ValidationException, "only categorical"),
    (
        "tuning-grid-job-count",
        request("Grid", ranges=grid, max_jobs=3),
        ValidationException,
        "combinations (2)",
    ),
    (
        "tuning-hyperband-only",
        request(config={"StrategyConfig": {"HyperbandStrategyConfig": {"MaxResource": 5}}}),
        ValidationException,
        "only with the Hyperband strategy",
    ),
    (
        "tuning-hyperband-early-stopping",
        request(
            "Hyperband",
            static={"feature_dim": "4", "epochs": "5"},
            config={"TrainingJobEarlyStoppingType": "Auto"},
        ),
        ValidationException,
        "must be Off",
    ),
    ("tuning-hyperband-max-resource", request("Hyperband"), ValidationException, "epochs"),
    (
        "tuning-hyperband-max-resource",
        request("Hyperband", static={"feature_dim": "4", "epochs": "20001"}),
        ValidationException,
        "maximum of 20000",
    ),
    (
        "tuning-builtin-objective",
        objective("validation:accuracy"),
        ValidationException,
        "test:msd, test:ssd",
    ),
    (
        "tuning-builtin-objective",
        objective("test:msd", "Maximize"),
        ValidationException,
        "of type Minimize",
    ),
    ("tuning-own-objective", own_image(), ValidationException, "no MetricDefinitions entry"),
    (
        "tuning-auto-parameters",
        request(ranges={"AutoParameters": [{"Name": "k", "ValueHint": "5"}]}),
        ValidationException,
        "only when Autotune is enabled",
    ),
    ("tuning-warm-start-parents", warm("missing"), ValidationException, "does not exist"),
    ("tuning-warm-start-parents", warm("running"), ValidationException, "status InProgress"),
    (
        "tuning-warm-start-parents",
        request(
            WarmStartConfig={
                "ParentHyperParameterTuningJobs": [
                    {"HyperParameterTuningJobName": "done"} for _ in range(6)
                ],
                "WarmStartType": "TransferLearning",
            }
        ),
        ValidationException,
        "at most 5",
    ),
    (
        "tuning-warm-start-same-objective",
        warm("maximize"),
        ValidationException,
        "another objective",
    ),
    (
        "tuning-warm-start-same-objective",
        warm("more-static"),
        ValidationException,
        "total number of static and tunable",
    ),
    (
        "tuning-warm-start-identical",
        warm("other-data", "IdenticalDataAndAlgorithm"),
        ValidationException,
        "training image and input data",
    ),
]


def finished(record: HyperParameterTuningJobRecord) -> bool:
    return record.status in {S.COMPLETED, S.STOPPED, S.FAILED}


def parse_with_parents(wire: dict[str, Any]) -> None:
    find: Callable[[str], HyperParameterTuningJobRecord | None] = PARENTS.get
    parse(copy.deepcopy(wire), find, finished)


def test_every_tuning_row_is_broken_by_a_case_and_every_case_names_a_row() -> None:
    rows = {name for name, operation in table_rows() if operation == TUNING}
    assert rows == {rule for rule, *_ in BROKEN}


def test_the_unbroken_request_and_a_good_warm_start_parse() -> None:
    parse_with_parents(request())
    parse_with_parents(request("Grid", ranges=grid, max_jobs=2))
    parse_with_parents(warm("done", "IdenticalDataAndAlgorithm"))


@pytest.mark.parametrize(
    ("rule", "wire", "error", "fragment"), BROKEN, ids=[f"{c[0]}-{i}" for i, c in enumerate(BROKEN)]
)
def test_each_rule_refuses_with_its_code(
    rule: str, wire: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as raised:
        parse_with_parents(wire)
    assert type(raised.value) is error
    assert fragment in str(raised.value), (rule, str(raised.value))
