"""Warm start: the rules a tuning job's parents must meet (at most five, finished, the same
objective, the same number and types of hyperparameters, and for IdenticalDataAndAlgorithm the
same image and input data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from emulator.aws.errors import ValidationException
from emulator.services.tuning.hyperparameters import OBJECTIVE_KEY, range_kinds
from emulator.state.tuning_records import HyperParameterTuningJobRecord

if TYPE_CHECKING:  # the spec module checks its parents here: a runtime import would loop
    from emulator.services.tuning.spec import Definition

MAX_WARM_START_PARENTS = 5


def check_parents(
    parents: tuple[str, ...],
    warm_type: str,
    definition: Definition,
    parent: Callable[[str], HyperParameterTuningJobRecord | None],
    terminal: Callable[[HyperParameterTuningJobRecord], bool],
) -> None:
    if len(parents) > MAX_WARM_START_PARENTS:
        raise ValidationException(
            f"A warm start takes at most {MAX_WARM_START_PARENTS} parent tuning jobs."
        )
    mine = {r.name: r.kind for r in definition.ranges}
    for name in parents:
        record = parent(name)
        if record is None:
            raise ValidationException(
                f"The parent hyperparameter tuning job {name} does not exist."
            )
        if not terminal(record):
            raise ValidationException(
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
            raise ValidationException(
                f"The parent hyperparameter tuning job {name} has another objective "
                f"({objective['Type']} {objective['MetricName']}): a warm start keeps the "
                "objective metric and its type."
            )
        theirs = range_kinds(config.get("ParameterRanges") or shown.get("HyperParameterRanges", {}))
        static = {k for k in shown.get("StaticHyperParameters", {}) if k != OBJECTIVE_KEY}
        if len(static) + len(theirs) != len(definition.static) + len(mine):
            raise ValidationException(
                f"The total number of static and tunable hyperparameters differs from the parent "
                f"hyperparameter tuning job {name}'s: a warm start keeps it."
            )
        changed = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
        if changed:
            raise ValidationException(
                f"Hyperparameters {', '.join(changed)} changed type since the parent "
                f"hyperparameter tuning job {name}."
            )
        if warm_type == "IdenticalDataAndAlgorithm":
            template = definition.template
            if shown["AlgorithmSpecification"].get("TrainingImage") != template[
                "AlgorithmSpecification"
            ]["TrainingImage"] or shown.get("InputDataConfig") != template.get("InputDataConfig"):
                raise ValidationException(
                    "An IdenticalDataAndAlgorithm warm start keeps the parent's training image "
                    f"and input data; they differ from {name}'s."
                )
