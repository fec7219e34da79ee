"""CreateHyperParameterTuningJob's request, checked once and parsed into a typed spec.

botocore's model has already checked types, lengths and enums; this module applies the rules the
service documents on top (docs/constraints.md lists the AWS pages): the limits of automatic model
tuning (30 tunable hyperparameters, 100 hyperparameters in all with `_tuning_objective_metric`,
10 parallel jobs, 750 jobs), the scaling types' domains, Grid's categorical-only ranges, Hyperband's
configuration, the objectives the built-in algorithms declare, and warm start's rules.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.aws.errors import ResourceLimitExceeded, ValidationException
from emulator.runtime.images import algorithm_for_image
from emulator.services.metrics import BUILTIN_METRIC_DEFINITIONS
from emulator.services.tuning.hyperparameters import OBJECTIVE_KEY, Range, parse_ranges
from emulator.services.tuning.warm_start import check_parents
from emulator.state.tuning_records import HyperParameterTuningJobRecord

MAX_TUNABLE = 30
MAX_HYPERPARAMETERS = 100
MAX_PARALLEL_JOBS = 10
"""The default account quota of parallel training jobs per tuning job."""
MAX_TRAINING_JOBS = 750
MAX_TRAINING_JOBS_RANDOM = 10_000
MAX_HYPERBAND_RESOURCE = 20_000
AUTOTUNE_MAX_JOBS = 10
"""The emulator's choice when Autotune is asked to pick the number of jobs."""
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
"""Static hyperparameters Hyperband reads MaxResource from, in the documented order."""

TUNABLE_OBJECTIVES: dict[str, dict[str, str]] = {
    # The k-means tuning page: both are minimised and need a `test` channel.
    "kmeans": {"test:msd": "Minimize", "test:ssd": "Minimize"},
    # PCA publishes no quality metric: nothing to tune for.
    "pca": {},
}


@dataclass(frozen=True)
class Objective:
    type: str
    metric: str


@dataclass(frozen=True)
class Definition:
    """One training job definition: what its children run, and what is tuned."""

    name: str | None
    objective: Objective
    ranges: tuple[Range, ...]
    static: dict[str, str]
    template: dict[str, Any]
    """CreateTrainingJob's wire parameters, without the job's name and hyperparameters."""

    def grid_size(self) -> int:
        return math.prod(len(r.values) for r in self.ranges)


@dataclass(frozen=True)
class TuningSpec:
    name: str
    strategy: str
    max_jobs: int
    max_parallel: int
    max_runtime: int | None
    seed: int | None
    early_stopping: str
    target: float | None
    not_improving: int | None
    convergence: bool
    """ConvergenceDetected was asked for (the time is reported)."""
    complete_on_convergence: bool
    definitions: tuple[Definition, ...]
    warm_start_type: str | None
    parents: tuple[str, ...]

    @property
    def objective_type(self) -> str:
        return self.definitions[0].objective.type


@dataclass(frozen=True)
class Parsed:
    spec: TuningSpec
    echo: dict[str, Any]
    """What Describe shows (the request plus the service's additions)."""


def _fail(message: str) -> ValidationException:
    return ValidationException(message)


def parse(
    request: Mapping[str, Any],
    parent: Callable[[str], HyperParameterTuningJobRecord | None],
    terminal: Callable[[HyperParameterTuningJobRecord], bool],
) -> Parsed:
    """The spec of a validated request; `parent(name)` finds a warm-start parent."""
    echo = copy.deepcopy({k: v for k, v in request.items() if k != "Tags"})
    config = echo["HyperParameterTuningJobConfig"]
    strategy = config["Strategy"]
    autotune = echo.get("Autotune", {}).get("Mode") == "Enabled"
    config.setdefault("TrainingJobEarlyStoppingType", "Off")
    early_stopping = config["TrainingJobEarlyStoppingType"]

    single: dict[str, Any] | None = echo.get("TrainingJobDefinition")
    several: list[dict[str, Any]] = echo.get("TrainingJobDefinitions") or []
    if (single is None) == (not several):
        raise _fail("Exactly one of TrainingJobDefinition and TrainingJobDefinitions is required.")
    definitions: list[Definition] = []
    if single is not None:
        objective = config.get("HyperParameterTuningJobObjective")
        if objective is None:
            raise _fail(
                "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective is required."
            )
        definitions.append(
            _definition(single, objective, config.get("ParameterRanges", {}), autotune, "")
        )
    else:
        if "ParameterRanges" in config or "HyperParameterTuningJobObjective" in config:
            raise _fail(
                "With TrainingJobDefinitions, each definition carries its TuningObjective and "
                "HyperParameterRanges; HyperParameterTuningJobConfig must not."
            )
        names = [d.get("DefinitionName") for d in several]
        if None in names or len(set(names)) != len(names):
            raise _fail("Each of TrainingJobDefinitions needs a unique DefinitionName.")
        for index, item in enumerate(several):
            objective = item.get("TuningObjective")
            if objective is None:
                raise _fail(f"TrainingJobDefinitions[{index}].TuningObjective is required.")
            definitions.append(
                _definition(
                    item,
                    objective,
                    item.get("HyperParameterRanges", {}),
                    autotune,
                    f"TrainingJobDefinitions[{index}].",
                )
            )
        types = {d.objective.type for d in definitions}
        if len(types) > 1:
            raise _fail("All training job definitions must have the same objective Type.")

    limits = config["ResourceLimits"]
    max_parallel = limits["MaxParallelTrainingJobs"]
    if max_parallel > MAX_PARALLEL_JOBS:
        raise ResourceLimitExceeded(
            f"The account-level service limit 'Number of parallel training jobs per tuning job' "
            f"is {MAX_PARALLEL_JOBS} Jobs, with current utilization of 0 Jobs and a request delta "
            f"of {max_parallel} Jobs. Please use AWS Service Quotas to request an increase for "
            "this quota."
        )
    if strategy == "Grid":
        max_jobs = _grid_jobs(definitions, limits.get("MaxNumberOfTrainingJobs"))
        # The SDK's attach() reads MaxNumberOfTrainingJobs: Describe states the count.
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    else:
        if "MaxNumberOfTrainingJobs" not in limits:
            if not autotune:
                raise _fail(
                    f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} "
                    "strategy."
                )
            limits["MaxNumberOfTrainingJobs"] = AUTOTUNE_MAX_JOBS
        max_jobs = limits["MaxNumberOfTrainingJobs"]
    quota = MAX_TRAINING_JOBS_RANDOM if strategy == "Random" else MAX_TRAINING_JOBS
    if max_jobs > quota:
        raise ResourceLimitExceeded(
            f"The account-level service limit 'Number of training jobs per tuning job' is "
            f"{quota} Jobs, with current utilization of 0 Jobs and a request delta of {max_jobs} "
            "Jobs. Please use AWS Service Quotas to request an increase for this quota."
        )

    _check_strategy_config(config, strategy, early_stopping, definitions)
    criteria = config.get("TuningJobCompletionCriteria", {})
    convergence = criteria.get("ConvergenceDetected")
    warm = echo.get("WarmStartConfig")
    parents: tuple[str, ...] = ()
    warm_type: str | None = None
    if warm is not None:
        warm_type = warm["WarmStartType"]
        parents = tuple(
            p["HyperParameterTuningJobName"]
            for p in warm["ParentHyperParameterTuningJobs"]
            if "HyperParameterTuningJobName" in p
        )
        check_parents(parents, warm_type, definitions[0], parent, terminal)

    # What Describe shows of each definition.
    for definition, shown in zip(definitions, (single and [single]) or several, strict=True):
        _echo_definition(shown, definition)
    spec = TuningSpec(
        name=echo["HyperParameterTuningJobName"],
        strategy=strategy,
        max_jobs=max_jobs,
        max_parallel=max_parallel,
        max_runtime=limits.get("MaxRuntimeInSeconds"),
        seed=config.get("RandomSeed"),
        early_stopping=early_stopping,
        target=criteria.get("TargetObjectiveMetricValue"),
        not_improving=criteria.get("BestObjectiveNotImproving", {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        ),
        convergence=convergence is not None or autotune,
        complete_on_convergence=(
            convergence is not None and convergence.get("CompleteOnConvergence") == "Enabled"
        ),
        definitions=tuple(definitions),
        warm_start_type=warm_type,
        parents=parents,
    )
    return Parsed(spec, echo)


# --- definitions ------------------------------------------------------------------------------


_CHILD_MEMBERS = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


def _definition(
    item: dict[str, Any],
    objective_wire: Mapping[str, Any],
    ranges_wire: Mapping[str, Any],
    autotune: bool,
    where: str,
) -> Definition:
    objective = Objective(objective_wire["Type"], objective_wire["MetricName"])
    algo = item["AlgorithmSpecification"]
    image = algo.get("TrainingImage")
    if not image:
        raise _fail(
            f"{where}AlgorithmSpecification.TrainingImage is required: this emulator does not "
            "support AlgorithmName (marketplace algorithms)."
        )
    algorithm = algorithm_for_image(image)
    if algorithm is not None:
        declared = TUNABLE_OBJECTIVES.get(algorithm, {})
        if objective.metric not in declared:
            names = ", ".join(sorted(declared)) or "none"
            raise _fail(
                f"The objective metric {objective.metric} is not supported by the {algorithm} "
                f"algorithm. Objective metrics it supports: {names}."
            )
        if declared[objective.metric] != objective.type:
            raise _fail(
                f"The objective metric {objective.metric} of the {algorithm} algorithm must be "
                f"of type {declared[objective.metric]}."
            )
    else:
        defined = {d["Name"] for d in algo.get("MetricDefinitions", [])}
        if objective.metric not in defined:
            raise _fail(
                f"The objective metric {objective.metric} has no MetricDefinitions entry in "
                f"{where}AlgorithmSpecification."
            )
    ranges = parse_ranges(ranges_wire, autotune, where)
    if not ranges:
        raise _fail(f"{where}: at least one hyperparameter range is required.")
    static = {k: v for k, v in item.get("StaticHyperParameters", {}).items() if k != OBJECTIVE_KEY}
    if len(ranges) > MAX_TUNABLE:
        raise _fail(
            f"The number of tunable hyperparameters ({len(ranges)}) exceeds the maximum of "
            f"{MAX_TUNABLE}."
        )
    overlap = sorted({r.name for r in ranges} & set(static))
    if overlap:
        raise _fail(
            f"Hyperparameters {', '.join(overlap)} are both static and tunable: a hyperparameter "
            "may be one or the other."
        )
    range_names = [r.name for r in ranges]
    if len(set(range_names)) != len(range_names):
        raise _fail("A hyperparameter appears in more than one parameter range.")
    total = len(static) + len(ranges) + 1
    if total > MAX_HYPERPARAMETERS:
        raise _fail(
            f"The number of hyperparameters ({total}, counting static and tunable ones and "
            f"{OBJECTIVE_KEY}) exceeds the maximum of {MAX_HYPERPARAMETERS}."
        )
    resources = item.get("ResourceConfig") or item.get("HyperParameterTuningResourceConfig")
    if resources is None:
        raise _fail(f"{where}ResourceConfig or HyperParameterTuningResourceConfig is required.")
    resource_config = _resource_config(resources)
    for member in ("InstanceType", "InstanceCount"):
        if member not in resource_config:
            raise _fail(f"{where}ResourceConfig.{member} is required.")
    spec: dict[str, Any] = {
        "TrainingImage": image,
        "TrainingInputMode": algo["TrainingInputMode"],
    }
    if algorithm is None and algo.get("MetricDefinitions"):
        spec["MetricDefinitions"] = algo["MetricDefinitions"]
    template: dict[str, Any] = {
        "AlgorithmSpecification": spec,
        "ResourceConfig": resource_config,
        **{k: item[k] for k in _CHILD_MEMBERS if k in item},
    }
    return Definition(item.get("DefinitionName"), objective, tuple(ranges), static, template)


def _resource_config(resources: Mapping[str, Any]) -> dict[str, Any]:
    """A training job's ResourceConfig from either form (HyperParameterTuningResourceConfig's
    InstanceConfigs: the first, as Prioritized allocation tries it first)."""
    configs = resources.get("InstanceConfigs")
    source = configs[0] if configs else resources
    out = {k: source[k] for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if k in source}
    if "VolumeKmsKeyId" in resources:
        out["VolumeKmsKeyId"] = resources["VolumeKmsKeyId"]
    return out


def _grid_jobs(definitions: list[Definition], requested: int | None) -> int:
    for definition in definitions:
        if not definition.ranges or any(r.kind != "Categorical" for r in definition.ranges):
            raise _fail(
                "The Grid strategy supports only categorical parameter ranges "
                "(CategoricalParameterRanges), and at least one."
            )
    count = sum(d.grid_size() for d in definitions)
    if requested is not None and requested != count:
        raise _fail(
            f"For the Grid strategy, MaxNumberOfTrainingJobs ({requested}) must equal the "
            f"number of distinct hyperparameter combinations ({count}), or be omitted."
        )
    return count


def _check_strategy_config(
    config: Mapping[str, Any], strategy: str, early_stopping: str, definitions: list[Definition]
) -> None:
    hyperband = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig")
    if strategy != "Hyperband":
        if hyperband is not None:
            raise _fail("HyperbandStrategyConfig can be set only with the Hyperband strategy.")
        return
    if early_stopping != "Off":
        raise _fail(
            "The Hyperband strategy has its own early stopping: TrainingJobEarlyStoppingType "
            "must be Off."
        )
    hyperband = hyperband or {}
    low = hyperband.get("MinResource", 1)
    high = hyperband.get("MaxResource")
    if high is None:
        static = definitions[0].static
        key = next((k for k in EPOCH_KEYS if k in static), None)
        if key is None:
            raise _fail(
                "HyperbandStrategyConfig.MaxResource is not set and cannot be inferred: none of "
                f"the static hyperparameters {', '.join(EPOCH_KEYS)} is given."
            )
        try:
            high = int(static[key])
        except ValueError:
            raise _fail(
                f"HyperbandStrategyConfig.MaxResource cannot be inferred from {key}="
                f"'{static[key]}'."
            ) from None
    if high > MAX_HYPERBAND_RESOURCE:
        raise _fail(
            f"HyperbandStrategyConfig.MaxResource ({high}) exceeds the maximum of "
            f"{MAX_HYPERBAND_RESOURCE}."
        )
    if low > high:
        raise _fail("HyperbandStrategyConfig.MinResource must not exceed MaxResource.")


def _echo_definition(shown: dict[str, Any], definition: Definition) -> None:
    """Describe's view of a definition: `_tuning_objective_metric` among the static
    hyperparameters (the SDK's attach() deletes it), the built-ins' metric definitions plus the
    objective's, and ResourceConfig when the request sent HyperParameterTuningResourceConfig."""
    static = dict(shown.get("StaticHyperParameters", {}))
    static[OBJECTIVE_KEY] = definition.objective.metric
    shown["StaticHyperParameters"] = static
    algo = shown["AlgorithmSpecification"]
    algorithm = algorithm_for_image(algo["TrainingImage"])
    if algorithm is not None:
        builtins = [dict(d) for d in BUILTIN_METRIC_DEFINITIONS[algorithm]]
        regex = next(d["Regex"] for d in builtins if d["Name"] == definition.objective.metric)
        algo["MetricDefinitions"] = [*builtins, {"Name": "ObjectiveMetric", "Regex": regex}]
    shown.setdefault("ResourceConfig", dict(definition.template["ResourceConfig"]))
