"""``serve`` for k-means: load ``model_algo-1`` and answer the closest cluster.

``closest_cluster`` is the zero-based row of the nearest centroid, written as a float (``2.0``);
``distance_to_cluster`` the Euclidean (not squared) distance to it. Responses (spec section 4):
JSON ``{"predictions": [{"distance_to_cluster": ..., "closest_cluster": ...}]}`` (the default;
distance first, as every real sample is), JSON Lines, CSV ``closest_cluster,distance_to_cluster``,
RecordIO with labels ``closest_cluster`` and ``distance_to_cluster``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from algorithms.common import codecs, ndarray_file, serving
from algorithms.common.optml import OptMl, model_file
from algorithms.kmeans.fit import assign
from algorithms.kmeans.train import MODEL_FILE

SHAPE = codecs.ResponseShape(
    "predictions",
    ("distance_to_cluster", "closest_cluster"),
    scalars=frozenset({"distance_to_cluster", "closest_cluster"}),
    csv_columns=("closest_cluster", "distance_to_cluster"),
)


class ModelError(Exception):
    """The model directory does not hold a k-means artifact."""


def load_model(model_dir: Path) -> npt.NDArray[np.float32]:
    path = model_file(model_dir, MODEL_FILE)
    if not path.is_file():
        raise ModelError(f"No k-means model found: {path} does not exist")
    arrays = ndarray_file.load(path)
    found = list(arrays.values()) if isinstance(arrays, dict) else arrays
    first = found[0] if found else None
    if first is None or first.ndim != 2 or first.shape[0] < 1:
        raise ModelError(f"{path} is not a k-means model: expected one (k, feature_dim) array")
    return np.ascontiguousarray(first, dtype=np.float32)


def predict(
    centres: npt.NDArray[np.float32], x: npt.NDArray[np.float32]
) -> dict[str, npt.NDArray[np.float32]]:
    labels, _ = assign(x, centres)
    # The GEMM form |x|^2 - 2x.c + |c|^2 loses digits when x is close to c: the reported
    # distance is recomputed directly from the difference.
    diff = x.astype(np.float64) - centres[labels].astype(np.float64)
    distance = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return {
        "closest_cluster": labels.astype(np.float32),
        "distance_to_cluster": distance.astype(np.float32),
    }


class KMeansPredictor:
    def __init__(self, centres: npt.NDArray[np.float32]) -> None:
        self.centres = centres
        self.feature_dim = int(centres.shape[1])

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> serving.Response:
        codecs.choose_response_type(accept, SHAPE)  # refuse a bad Accept before any work
        x = codecs.decode_request(body, content_type, self.feature_dim)
        # Huge finite inputs may overflow float32 here; encode_response refuses such results.
        with np.errstate(over="ignore", invalid="ignore"):
            columns = predict(self.centres, x)
        return codecs.encode_response(columns, accept, SHAPE)


def serve(optml: OptMl) -> None:
    predictor = KMeansPredictor(load_model(optml.model_dir))
    serving.serve_forever(predictor.invoke)
