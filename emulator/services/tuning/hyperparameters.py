"""The tuned hyperparameters: their ranges, parsed from a request's ParameterRanges (Autotune's
AutoParameters included), and the hyperparameter that names the objective."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.aws.errors import ValidationException

OBJECTIVE_KEY = "_tuning_objective_metric"
"""The hyperparameter every child receives, naming the objective (the built-ins read it)."""


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


def _number(where: str, value: str, integer: bool) -> float:
    try:
        return float(int(value)) if integer else float(value)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValidationException(f"{where} '{value}' is not {kind}.") from None


def parse_ranges(wire: Mapping[str, Any], autotune: bool, where: str) -> list[Range]:
    ranges: list[Range] = []
    for kind in ("Integer", "Continuous"):
        for item in wire.get(f"{kind}ParameterRanges", []):
            path = f"{where}{kind}ParameterRanges[{item['Name']}]"
            low = _number(f"{path}.MinValue", item["MinValue"], kind == "Integer")
            high = _number(f"{path}.MaxValue", item["MaxValue"], kind == "Integer")
            scaling = item.get("ScalingType", "Auto")
            if not (math.isfinite(low) and math.isfinite(high)) or low > high:
                raise ValidationException(
                    f"{path}: MinValue must be less than or equal to MaxValue."
                )
            if scaling == "Logarithmic" and low <= 0:
                raise ValidationException(
                    f"{path}: the Logarithmic scaling type applies only to ranges whose values "
                    "are all greater than 0."
                )
            if scaling == "ReverseLogarithmic" and (
                kind == "Integer" or low < 0 or high >= 1 or low >= high
            ):
                raise ValidationException(
                    f"{path}: the ReverseLogarithmic scaling type applies only to continuous "
                    "ranges within 0 <= value < 1."
                )
            ranges.append(Range(item["Name"], kind, low, high, scaling))
    for item in wire.get("CategoricalParameterRanges", []):
        ranges.append(Range(item["Name"], "Categorical", values=tuple(item["Values"])))
    auto = wire.get("AutoParameters", [])
    if auto and not autotune:
        raise ValidationException("AutoParameters can be used only when Autotune is enabled.")
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


def range_kinds(wire: Mapping[str, Any]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for kind in ("Integer", "Continuous", "Categorical"):
        for item in wire.get(f"{kind}ParameterRanges", []):
            kinds[item["Name"]] = kind
    return kinds
