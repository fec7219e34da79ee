"""How a tuning job picks the next hyperparameters: Bayesian, Random, Grid, Hyperband.

A strategy is asked for a configuration whenever a parallel slot frees, and told each finished
job's objective (None: the job failed or emitted none). All four honour the ranges' scaling types:
Linear (and Auto, which this emulator takes as Linear) draws uniformly, Logarithmic uniformly in
log space, ReverseLogarithmic uniformly in log(1 - x).

- Bayesian: Optuna's TPE sampler, a sequential model-based optimizer, seeded by RandomSeed; its
  first few configurations are random (the model needs observations), the rest follow the model.
  Jobs running in parallel are handled by the "constant liar" (a running trial counts as a poor
  result, so parallel asks spread out).
- Random: independent draws from a generator seeded by RandomSeed (reproducible).
- Grid: every combination of the categorical values, in order.
- Hyperband: configurations drawn as Random draws them. Hyperband's brackets stop the weaker jobs
  early on their intermediate objective values; the built-in algorithms emit the objective once,
  at the end, so nothing is ever stopped early and every job runs to the end.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from emulator.services.tuning.hyperparameters import Range
from emulator.services.tuning.spec import Definition, TuningSpec

if TYPE_CHECKING:
    # Imported where used: numpy and Optuna take a good part of the emulator's start, and only
    # a tuning job needs them.
    import optuna
    from optuna.distributions import BaseDistribution


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").propagate = True
    return optuna


@dataclass(frozen=True)
class Suggestion:
    key: int
    definition: int
    """Index of the training job definition the configuration is for."""
    values: dict[str, str]
    """TunedHyperParameters, as the child receives them."""


@dataclass(frozen=True)
class Observation:
    """A finished job of a warm-start parent: its configuration and objective."""

    values: dict[str, str]
    objective: float


class Strategy(Protocol):
    def ask(self) -> Suggestion | None:
        """The next configuration; None when there is none left (Grid)."""

    def tell(self, key: int, objective: float | None) -> None: ...


def _format(r: Range, value: float) -> str:
    if r.kind == "Integer":
        return str(round(value))
    return repr(float(value))


class _RandomDraws:
    def __init__(self, definition: int, ranges: Sequence[Range], seed: int | None) -> None:
        self._definition = definition
        self._ranges = ranges
        import numpy as np

        self._rng = np.random.default_rng(seed)
        self._next = 0

    def _draw(self, r: Range) -> str:
        rng = self._rng
        if r.kind == "Categorical":
            return r.values[int(rng.integers(len(r.values)))]
        if r.scaling == "Logarithmic":
            if r.kind == "Integer":
                value = math.exp(rng.uniform(math.log(r.low), math.log(r.high + 1)))
                return str(min(int(r.high), math.floor(value)))
            return _format(r, math.exp(rng.uniform(math.log(r.low), math.log(r.high))))
        if r.scaling == "ReverseLogarithmic":
            y = math.exp(rng.uniform(math.log(1 - r.high), math.log(1 - r.low)))
            return _format(r, 1 - y)
        if r.kind == "Integer":
            return str(int(rng.integers(int(r.low), int(r.high) + 1)))
        return _format(r, rng.uniform(r.low, r.high))

    def ask(self) -> Suggestion | None:
        self._next += 1
        return Suggestion(
            self._next, self._definition, {r.name: self._draw(r) for r in self._ranges}
        )

    def tell(self, key: int, objective: float | None) -> None:
        """Random draws learn nothing."""


class _Grid:
    def __init__(self, definition: int, ranges: Sequence[Range]) -> None:
        self._definition = definition
        self._names = [r.name for r in ranges]
        self._combinations: Iterator[tuple[str, ...]] = itertools.product(
            *(r.values for r in ranges)
        )
        self._next = 0

    def ask(self) -> Suggestion | None:
        combination = next(self._combinations, None)
        if combination is None:
            return None
        self._next += 1
        return Suggestion(
            self._next, self._definition, dict(zip(self._names, combination, strict=True))
        )

    def tell(self, key: int, objective: float | None) -> None:
        """The grid is fixed."""


def _distribution(r: Range) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if r.kind == "Categorical":
        return CategoricalDistribution(list(r.values))
    if r.kind == "Integer":
        return IntDistribution(int(r.low), int(r.high), log=r.scaling == "Logarithmic")
    if r.scaling == "ReverseLogarithmic":
        # Searched as y = 1 - x on a log scale, so values close to 1 are tried densely.
        return FloatDistribution(1 - r.high, 1 - r.low, log=True)
    return FloatDistribution(r.low, r.high, log=r.scaling == "Logarithmic")


class _Bayesian:
    def __init__(
        self,
        definition: int,
        ranges: Sequence[Range],
        direction: str,
        seed: int | None,
        max_jobs: int,
        history: Sequence[Observation],
    ) -> None:
        self._definition = definition
        self._ranges = list(ranges)
        self._distributions = {r.name: _distribution(r) for r in ranges}
        startup = max(1, min(10, max_jobs // 3))
        tuner = _optuna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler = tuner.samplers.TPESampler(seed=seed, n_startup_trials=startup)
        self._study = tuner.create_study(
            direction="minimize" if direction == "Minimize" else "maximize", sampler=sampler
        )
        self._trials: dict[int, optuna.trial.Trial] = {}
        for observation in history:
            self._seed_with(observation)

    def _internal(self, r: Range, value: str) -> Any:
        if r.kind == "Categorical":
            return value if value in r.values else None
        number = float(value)
        if r.kind == "Integer":
            number = int(number)
        if not r.low <= number <= r.high:
            return None
        return 1 - number if r.scaling == "ReverseLogarithmic" else number

    def _seed_with(self, observation: Observation) -> None:
        """A parent's job as a finished trial (warm start); values outside today's ranges are
        left out, and a job with none inside adds nothing."""
        params: dict[str, Any] = {}
        for r in self._ranges:
            if r.name in observation.values:
                try:
                    value = self._internal(r, observation.values[r.name])
                except ValueError:
                    value = None
                if value is not None:
                    params[r.name] = value
        if not params:
            return
        self._study.add_trial(
            _optuna().trial.create_trial(
                params=params,
                distributions={k: self._distributions[k] for k in params},
                value=observation.objective,
            )
        )

    def ask(self) -> Suggestion | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self._study.ask(self._distributions)
        self._trials[trial.number] = trial
        values = {}
        for r in self._ranges:
            value = trial.params[r.name]
            if r.kind == "Categorical":
                values[r.name] = str(value)
            elif r.scaling == "ReverseLogarithmic":
                values[r.name] = _format(r, 1 - value)
            else:
                values[r.name] = _format(r, value)
        return Suggestion(trial.number, self._definition, values)

    def tell(self, key: int, objective: float | None) -> None:
        trial = self._trials.pop(key, None)
        if trial is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if objective is None or not math.isfinite(objective):
                self._study.tell(trial, state=_optuna().trial.TrialState.FAIL)
            else:
                self._study.tell(trial, objective)


class _RoundRobin:
    """Several training job definitions: each has its own strategy, asked in turn."""

    def __init__(self, parts: Sequence[Strategy]) -> None:
        self._parts = list(parts)
        self._turn = 0
        self._keys: dict[int, tuple[int, int]] = {}
        self._exhausted: set[int] = set()

    def ask(self) -> Suggestion | None:
        for _ in range(len(self._parts)):
            index = self._turn % len(self._parts)
            self._turn += 1
            if index in self._exhausted:
                continue
            suggestion = self._parts[index].ask()
            if suggestion is None:
                self._exhausted.add(index)
                continue
            key = len(self._keys) + 1
            self._keys[key] = (index, suggestion.key)
            return Suggestion(key, index, suggestion.values)
        return None

    def tell(self, key: int, objective: float | None) -> None:
        index, inner = self._keys[key]
        self._parts[index].tell(inner, objective)


def make_strategy(spec: TuningSpec, history: Sequence[Observation] = ()) -> Strategy:
    """The spec's strategy; `history` (warm start) informs the Bayesian one."""

    def one(index: int, definition: Definition) -> Strategy:
        seed = None if spec.seed is None else spec.seed + index
        if spec.strategy == "Grid":
            return _Grid(index, definition.ranges)
        if spec.strategy == "Bayesian":
            return _Bayesian(
                index,
                definition.ranges,
                definition.objective.type,
                seed,
                spec.max_jobs,
                history if index == 0 else (),
            )
        return _RandomDraws(index, definition.ranges, seed)

    parts = [one(i, d) for i, d in enumerate(spec.definitions)]
    return parts[0] if len(parts) == 1 else _RoundRobin(parts)
