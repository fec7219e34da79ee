"""A tuning job's children: their tuned values and objective, the best one, and what to plot."""

from __future__ import annotations

from typing import Any

from emulator.console.resources import KINDS, Resources


def children(resources: Resources, name: str) -> dict[str, Any]:
    described = resources.describe(KINDS["tuning-jobs"], name)
    summaries = resources.tuning_children(name)
    config = described.get("HyperParameterTuningJobConfig", {})
    objective = config.get("HyperParameterTuningJobObjective", {})
    ranges = config.get("ParameterRanges", {})
    tuned = sorted(
        r["Name"]
        for group in (
            "IntegerParameterRanges",
            "ContinuousParameterRanges",
            "CategoricalParameterRanges",
        )
        for r in ranges.get(group, [])
    )
    best = described.get("BestTrainingJob", {}).get("TrainingJobName")
    rows = []
    for summary in summaries:
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        rows.append(
            {
                "TrainingJobName": summary["TrainingJobName"],
                "TrainingJobStatus": summary.get("TrainingJobStatus"),
                "ObjectiveStatus": summary.get("ObjectiveStatus"),
                "TunedHyperParameters": summary.get("TunedHyperParameters", {}),
                "ObjectiveValue": final.get("Value"),
                "Best": summary["TrainingJobName"] == best,
            }
        )
    rows.sort(key=lambda r: r["TrainingJobName"])
    return {
        "Objective": objective,
        "TunedParameters": tuned,
        "BestTrainingJob": best,
        "Children": rows,
    }
