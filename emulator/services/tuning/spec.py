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
from emulator.state.records import HyperParameterTuningJobRecord

OBJECTIVE_KEY = "_tuning_objective_metric"
"""The hyperparameter every child receives, naming the objective (the built-ins read it)."""

MAX_TUNABLE = 30
MAX_HYPERPARAMETERS = 100
MAX_PARALLEL_JOBS = 10
"""The default account quota of parallel training jobs per tuning job."""
MAX_TRAINING_JOBS = 750
MAX_TRAINING_JOBS_RANDOM = 10_000
MAX_HYPERBAND_RESOURCE = 20_000
MAX_WARM_START_PARENTS = 5
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
class Range:
    """One tunable hyperparameter."""

    name: str
    kind: str
    """Integer, Continuous or Categorical."""
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()


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
        _check_parents(parents, warm_type, definitions[0], parent, terminal)

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
    ranges = _ranges(ranges_wire, autotune, where)
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


def _number(where: str, value: str, integer: bool) -> float:
    try:
        return float(int(value)) if integer else float(value)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise _fail(f"{where} '{value}' is not {kind}.") from None


def _ranges(wire: Mapping[str, Any], autotune: bool, where: str) -> list[Range]:
    ranges: list[Range] = []
    for kind in ("Integer", "Continuous"):
        for item in wire.get(f"{kind}ParameterRanges", []):
            path = f"{where}{kind}ParameterRanges[{item['Name']}]"
            low = _number(f"{path}.MinValue", item["MinValue"], kind == "Integer")
            high = _number(f"{path}.MaxValue", item["MaxValue"], kind == "Integer")
            scaling = item.get("ScalingType", "Auto")
            if not (math.isfinite(low) and math.isfinite(high)) or low > high:
                raise _fail(f"{path}: MinValue must be less than or equal to MaxValue.")
            if scaling == "Logarithmic" and low <= 0:
                raise _fail(
                    f"{path}: the Logarithmic scaling type applies only to ranges whose values "
                    "are all greater than 0."
                )
            if scaling == "ReverseLogarithmic" and (
                kind == "Integer" or low < 0 or high >= 1 or low >= high
            ):
                raise _fail(
                    f"{path}: the ReverseLogarithmic scaling type applies only to continuous "
                    "ranges within 0 <= value < 1."
                )
            ranges.append(Range(item["Name"], kind, low, high, scaling))
    for item in wire.get("CategoricalParameterRanges", []):
        ranges.append(Range(item["Name"], "Categorical", values=tuple(item["Values"])))
    auto = wire.get("AutoParameters", [])
    if auto and not autotune:
        raise _fail("AutoParameters can be used only when Autotune is enabled.")
    for item in auto:
        ranges.append(_auto_range(item["Name"], item["ValueHint"]))
    return ranges


def _auto_range(name: str, hint: str) -> Range:
    """Autotune's range around a value hint: a decade either side for numbers (an order of
    magnitude either way, on a log scale when the hint is positive), the value for words."""
    try:
        value = int(hint)
    except ValueError:
        try:
            number = float(hint)
        except ValueError:
            return Range(name, "Categorical", values=(hint,))
        if number > 0:
            return Range(name, "Continuous", number / 10, number * 10, "Logarithmic")
        return Range(name, "Continuous", number - 1, number + 1, "Linear")
    if value > 0:
        return Range(name, "Integer", max(1, value // 10), value * 10, "Logarithmic")
    return Range(name, "Integer", value - 10, value + 10, "Linear")


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


def _check_parents(
    parents: tuple[str, ...],
    warm_type: str,
    definition: Definition,
    parent: Callable[[str], HyperParameterTuningJobRecord | None],
    terminal: Callable[[HyperParameterTuningJobRecord], bool],
) -> None:
    if len(parents) > MAX_WARM_START_PARENTS:
        raise _fail(f"A warm start takes at most {MAX_WARM_START_PARENTS} parent tuning jobs.")
    mine = {r.name: r.kind for r in definition.ranges}
    for name in parents:
        record = parent(name)
        if record is None:
            raise _fail(f"The parent hyperparameter tuning job {name} does not exist.")
        if not terminal(record):
            raise _fail(
                f"The parent hyperparameter tuning job {name} is in status {record.status}: "
                "a warm start needs parents that are Completed, Stopped or Failed."
            )
        config = record.request["HyperParameterTuningJobConfig"]
        shown = (
            record.request.get("TrainingJobDefinition")
            or record.request["TrainingJobDefinitions"][0]
        )
        objective = config.get("HyperParameterTuningJobObjective") or shown["TuningObjective"]
        if (objective["MetricName"], objective["Type"]) != (
            definition.objective.metric,
            definition.objective.type,
        ):
            raise _fail(
                f"The parent hyperparameter tuning job {name} has another objective "
                f"({objective['Type']} {objective['MetricName']}): a warm start keeps the "
                "objective metric and its type."
            )
        theirs = _range_kinds(
            config.get("ParameterRanges") or shown.get("HyperParameterRanges", {})
        )
        static = {k for k in shown.get("StaticHyperParameters", {}) if k != OBJECTIVE_KEY}
        if len(static) + len(theirs) != len(definition.static) + len(mine):
            raise _fail(
                f"The total number of static and tunable hyperparameters differs from the parent "
                f"hyperparameter tuning job {name}'s: a warm start keeps it."
            )
        changed = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
        if changed:
            raise _fail(
                f"Hyperparameters {', '.join(changed)} changed type since the parent "
                f"hyperparameter tuning job {name}."
            )
        if warm_type == "IdenticalDataAndAlgorithm":
            template = definition.template
            if shown["AlgorithmSpecification"].get("TrainingImage") != template[
                "AlgorithmSpecification"
            ]["TrainingImage"] or shown.get("InputDataConfig") != template.get("InputDataConfig"):
                raise _fail(
                    "An IdenticalDataAndAlgorithm warm start keeps the parent's training image "
                    f"and input data; they differ from {name}'s."
                )


def _range_kinds(wire: Mapping[str, Any]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for kind in ("Integer", "Continuous", "Categorical"):
        for item in wire.get(f"{kind}ParameterRanges", []):
            kinds[item["Name"]] = kind
    return kinds


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
