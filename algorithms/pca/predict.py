"""``serve`` for PCA: load ``model_algo-1`` and answer projections.

``projection = (x - mean) . v``, num_components values per record in the artifact's ascending
order (the most significant component last). Responses (spec section 3): JSON
``{"projections": [{"projection": [...]}]}`` (the default), JSON Lines ``{"projection": [...]}``,
RecordIO with ``label["projection"]``. A CSV response is not documented for the real PCA; we
answer ``Accept: text/csv`` with one comma-separated projection per line rather than refuse it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from algorithms.common import codecs, ndarray_file, serving
from algorithms.common.optml import OptMl, model_file
from algorithms.pca.fit import PcaModel
from algorithms.pca.train import MODEL_FILE

SHAPE = codecs.ResponseShape("projections", ("projection",), csv_columns=("projection",))


class ModelError(Exception):
    """The model directory does not hold a PCA artifact."""


def load_model(model_dir: Path) -> PcaModel:
    path = model_file(model_dir, MODEL_FILE)
    if not path.is_file():
        raise ModelError(f"No PCA model found: {path} does not exist")
    arrays = ndarray_file.load(path)
    if not isinstance(arrays, dict) or "v" not in arrays or "s" not in arrays:
        raise ModelError(f"{path} is not a PCA model: expected arrays named 's', 'v', 'mean'")
    v = np.asarray(arrays["v"], dtype=np.float32)
    s = np.asarray(arrays["s"], dtype=np.float32).reshape(-1)
    if v.ndim != 2 or v.shape[1] != s.shape[0]:
        raise ModelError(f"{path}: 'v' {v.shape} does not match 's' {s.shape}")
    mean = arrays.get("mean")
    if mean is not None:
        mean = np.asarray(mean, dtype=np.float32).reshape(1, -1)
        if mean.shape[1] != v.shape[0]:
            raise ModelError(f"{path}: 'mean' {mean.shape} does not match 'v' {v.shape}")
    return PcaModel(s=s, v=v, mean=mean)


class PcaPredictor:
    def __init__(self, model: PcaModel) -> None:
        self.model = model
        self.feature_dim = int(model.v.shape[0])

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> serving.Response:
        codecs.choose_response_type(accept, SHAPE)  # refuse a bad Accept before any work
        x = codecs.decode_request(body, content_type, self.feature_dim)
        # Huge finite inputs may overflow float32 here; encode_response refuses such results.
        with np.errstate(over="ignore", invalid="ignore"):
            projection = self.model.project(x)
        return codecs.encode_response({"projection": projection}, accept, SHAPE)


def serve(optml: OptMl) -> None:
    predictor = PcaPredictor(load_model(optml.model_dir))
    serving.serve_forever(predictor.invoke)
