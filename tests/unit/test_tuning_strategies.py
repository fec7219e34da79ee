"""Tuning strategies and the tuning record, without a server: seeds, scaling, grid order, and a
stored record read back."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from emulator.services.tuning.hyperparameters import Range
from emulator.services.tuning.spec import Definition, Objective, TuningSpec
from emulator.services.tuning.strategies import Observation, make_strategy
from emulator.state.records import TrainingJobStatus
from emulator.state.store import RecordStore
from emulator.state.tuning_records import HyperParameterTuningJobRecord, TuningChild

RANGES = (
    Range("k", "Integer", 2, 1000, "Logarithmic"),
    Range("tol", "Continuous", 0.5, 0.999, "ReverseLogarithmic"),
    Range("init", "Categorical", values=("random", "kmeans++")),
)


def _spec(strategy: str, ranges: tuple[Range, ...] = RANGES, seed: int | None = 3) -> TuningSpec:
    definition = Definition(None, Objective("Minimize", "test:msd"), ranges, {}, {})
    return TuningSpec(
        name="t",
        strategy=strategy,
        max_jobs=30,
        max_parallel=1,
        max_runtime=None,
        seed=seed,
        early_stopping="Off",
        target=None,
        not_improving=None,
        convergence=False,
        complete_on_convergence=False,
        definitions=(definition,),
        warm_start_type=None,
        parents=(),
    )


def _draws(strategy: str, n: int = 30) -> list[dict[str, str]]:
    s = make_strategy(_spec(strategy))
    out = []
    for _ in range(n):
        suggestion = s.ask()
        assert suggestion is not None
        out.append(suggestion.values)
        # A bowl around k = 20: the model has something to learn from.
        s.tell(suggestion.key, (math.log(int(suggestion.values["k"])) - math.log(20)) ** 2)
    return out


def test_random_is_seeded_and_log_scaled() -> None:
    first, second = _draws("Random"), _draws("Random")
    assert first == second
    ks = [int(d["k"]) for d in first]
    assert all(2 <= k <= 1000 for k in ks)
    # Log-uniform over [2, 1000]: about half the draws fall under sqrt(2000) ~ 45.
    assert sum(k < 45 for k in ks) >= 8
    assert all(0.5 <= float(d["tol"]) <= 0.999 for d in first)


def test_bayesian_is_seeded_and_learns() -> None:
    first, second = _draws("Bayesian"), _draws("Bayesian")
    assert first == second
    late = [abs(math.log(int(d["k"])) - math.log(20)) for d in first[20:]]
    early = [abs(math.log(int(d["k"])) - math.log(20)) for d in first[:10]]
    assert sum(late) / len(late) < sum(early) / len(early)


def test_bayesian_takes_a_warm_start_history() -> None:
    history = [Observation({"k": "20", "tol": "0.9", "init": "random"}, 0.0)]
    s = make_strategy(_spec("Bayesian"), history)
    assert s.ask() is not None


def test_grid_walks_every_combination_in_order() -> None:
    ranges = (
        Range("k", "Categorical", values=("2", "3")),
        Range("init", "Categorical", values=("random", "kmeans++")),
    )
    s = make_strategy(_spec("Grid", ranges))
    seen = []
    while (suggestion := s.ask()) is not None:
        seen.append(suggestion.values)
    assert seen == [
        {"k": "2", "init": "random"},
        {"k": "2", "init": "kmeans++"},
        {"k": "3", "init": "random"},
        {"k": "3", "init": "kmeans++"},
    ]


def test_tuning_record_round_trips_through_the_store(tmp_path: Path) -> None:
    at = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    record = HyperParameterTuningJobRecord(
        name="t",
        arn="arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/t",
        request={"HyperParameterTuningJobConfig": {"Strategy": "Grid", "ResourceLimits": {}}},
        creation_time=at,
        last_modified_time=at,
        children=[
            TuningChild(
                "t-001-0123abcd",
                "arn",
                at,
                {"k": "3"},
                status=TrainingJobStatus.COMPLETED,
                objective=0.5,
            )
        ],
        best="t-001-0123abcd",
    )
    store = RecordStore(tmp_path / "s.sqlite3")
    store.put("hyper-parameter-tuning-job", "t", record)
    loaded = store.get("hyper-parameter-tuning-job", "t", HyperParameterTuningJobRecord)
    store.close()
    assert loaded == record
    assert loaded.describe()["BestTrainingJob"]["TunedHyperParameters"] == {"k": "3"}
