"""The hyperparameter schema checker and the two algorithms' schemas (real names and messages)."""

from __future__ import annotations

import pytest

from algorithms.common.failures import ClientError
from algorithms.common.hyperparameters import (
    BOOLEAN,
    POSITIVE_INT,
    AutoOr,
    Choice,
    HyperparameterError,
    Integer,
    JsonList,
    Param,
    Real,
    Schema,
)
from algorithms.kmeans.hyperparameters import KMeansHyperparameters
from algorithms.pca.hyperparameters import PcaHyperparameters

PCA_SDK = {"feature_dim": "34", "num_components": "33", "mini_batch_size": "500"}
KMEANS_SDK = {"feature_dim": "7", "k": "8", "force_dense": "True"}


def test_missing_required_names_in_the_real_message() -> None:
    with pytest.raises(HyperparameterError) as info:
        KMeansHyperparameters.from_raw({"force_dense": "True"})
    assert str(info.value) == (
        "No value(s) were specified for 'k', 'feature_dim' which are required "
        "hyperparameter(s) (caused by ValidationError)"
    )
    assert isinstance(info.value, ClientError)


def test_unknown_names_rejected_like_json_schema() -> None:
    with pytest.raises(HyperparameterError, match=r"\('mini_batch_siz' was unexpected\)"):
        PcaHyperparameters.from_raw({**PCA_SDK, "mini_batch_siz": "5"})
    with pytest.raises(HyperparameterError, match=r"\('a', 'b' were unexpected\)"):
        PcaHyperparameters.from_raw({**PCA_SDK, "a": "1", "b": "2"})
    with pytest.raises(HyperparameterError, match=r"^Additional properties are not allowed"):
        KMeansHyperparameters.from_raw({**KMEANS_SDK, "x": "1"})


def test_bad_value_says_which_and_why() -> None:
    with pytest.raises(HyperparameterError) as info:
        PcaHyperparameters.from_raw({**PCA_SDK, "feature_dim": "abc"})
    message = str(info.value)
    assert "'abc' is not valid under any of the given schemas" in message
    assert "'feature_dim' must be a positive integer" in message


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (POSITIVE_INT, [("1", 1), (5, 5), ("+7", 7), (3.0, 3)], ["0", "-1", "1.5", "x", "", True]),
        (Integer(minimum=-1), [("-1", -1), ("0", 0)], ["-2"]),
        (Real(0.0, 1.0), [("0", 0.0), ("1.0", 1.0), ("1e-4", 1e-4)], ["1.01", "-0.1", "nan", "x"]),
        (Choice(("random", "kmeans++")), [("kmeans++", "kmeans++")], ["Random", "kmeans"]),
        (BOOLEAN, [("True", True), ("true", True), ("FALSE", False), (False, False)], ["1", "yes"]),
        (AutoOr(POSITIVE_INT), [("auto", None), ("4", 4)], ["0", "Auto"]),
        (
            JsonList(("msd", "ssd")),
            [('["msd"]', ("msd",)), ('["ssd", "msd"]', ("ssd", "msd"))],
            ['["msd", "msd"]', '["mse"]', "[]", '"msd"'],
        ),
    ],
)
def test_kinds(kind: object, good: list[tuple[object, object]], bad: list[object]) -> None:
    schema = Schema([Param("x", kind)])  # type: ignore[arg-type]
    for raw, expected in good:
        assert schema.validate({"x": raw}).values["x"] == expected
    for raw in bad:
        with pytest.raises(HyperparameterError):
            schema.validate({"x": raw})


def test_non_json_eval_metrics_message() -> None:
    with pytest.raises(HyperparameterError, match="Hyperparameter must be valid json, but found"):
        KMeansHyperparameters.from_raw({**KMEANS_SDK, "eval_metrics": "[msd"})


def test_pca_defaults_and_modes() -> None:
    hp = PcaHyperparameters.from_raw(PCA_SDK)
    assert (hp.randomized, hp.subtract_mean, hp.extra_components) == (False, True, -1)
    # -1 means max(10, num_components); l = num_components + that, at most feature_dim.
    assert hp.sketch_size == 34
    small = PcaHyperparameters.from_raw({**PCA_SDK, "num_components": "3"})
    assert small.sketch_size == 13
    sdk = PcaHyperparameters.from_raw(
        {
            "num_components": "48",
            "algorithm_mode": "randomized",
            "subtract_mean": "False",
            "extra_components": "5",
            "feature_dim": "784",
            "mini_batch_size": "100",
        }
    )
    assert (sdk.randomized, sdk.subtract_mean, sdk.sketch_size) == (True, False, 53)
    stable = PcaHyperparameters.from_raw({**PCA_SDK, "algorithm_mode": "stable"})
    assert not stable.randomized
    hidden = {"force_dense": "true", "epochs": 1, "_log_level": "info", "_kvstore": "dist_sync"}
    PcaHyperparameters.from_raw({**PCA_SDK, **hidden, "_num_kv_servers": "auto", "_num_gpus": "0"})


def test_pca_num_components_above_feature_dim_is_a_client_error() -> None:
    with pytest.raises(ClientError, match=r"num_components \(=35\).*feature_dim \(=34\)"):
        PcaHyperparameters.from_raw({**PCA_SDK, "num_components": "35"})


def test_pca_requires_mini_batch_size() -> None:
    with pytest.raises(HyperparameterError, match="'mini_batch_size'"):
        PcaHyperparameters.from_raw({"feature_dim": "3", "num_components": "1"})


def test_kmeans_defaults_are_the_real_images() -> None:
    hp = KMeansHyperparameters.from_raw(KMEANS_SDK)
    assert hp.k == 8 and hp.feature_dim == 7
    assert (hp.init_method, hp.mini_batch_size, hp.epochs) == ("random", 5000, 1)
    assert (hp.extra_center_factor, hp.extra_center_factor_auto) == (10, True)
    assert (hp.local_lloyd_num_trials, hp.local_lloyd_num_trials_auto) == (10, True)
    assert (hp.local_lloyd_max_iter, hp.local_lloyd_tol) == (300, 0.0001)
    assert hp.local_lloyd_init_method == "kmeans++"
    assert (hp.half_life_time_size, hp.eval_metrics) == (0, ("msd",))


def test_kmeans_sdk_values() -> None:
    hp = KMeansHyperparameters.from_raw(
        {
            **KMEANS_SDK,
            "extra_center_factor": "2",
            "local_lloyd_num_trials": "3",
            "local_lloyd_tol": "1.0",
            "eval_metrics": '["ssd", "msd"]',
            "init_method": "kmeans++",
            "half_life_time_size": "0",
            "_tuning_objective_metric": "",
        }
    )
    assert (hp.extra_center_factor, hp.local_lloyd_num_trials, hp.local_lloyd_tol) == (2, 3, 1.0)
    assert hp.eval_metrics == ("ssd", "msd")
    with pytest.raises(HyperparameterError, match="half_life_time_size"):
        KMeansHyperparameters.from_raw({**KMEANS_SDK, "half_life_time_size": "-1"})
    with pytest.raises(HyperparameterError, match="'k' must be a positive integer"):
        KMeansHyperparameters.from_raw({**KMEANS_SDK, "k": "0"})
