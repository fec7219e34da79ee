#!/usr/bin/env bash
# Builds .venv-classic: the pins under which the classic SageMaker notebooks (and
# examples/census_segmentation.ipynb) run unchanged: SDK 2.x with the PCA/KMeans estimators, MXNet
# 1.x to read the model files, pandas 1.x. mxnet 1.9.1 needs numpy 1.23.x, so it cannot share .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-classic
STAMP="$VENV/.pins-ok"
PINS=(sagemaker==2.243.2 mxnet==1.9.1 numpy==1.23.5 pandas==1.5.3 seaborn==0.13.2 matplotlib==3.10.9
      scikit-learn==1.7.2 scipy==1.15.3 nbclient==0.11.0 ipykernel==7.4.0 s3fs==2026.9.0 nbformat)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "${PINS[*]}" ]; then
  exit 0
fi
python3 -m venv "$VENV"
# uv when it can be had (parallel downloads: a fraction of pip's time), pip otherwise. pip's lines
# about this machine's configured package folders that do not exist say nothing about the install.
quiet_pip() {
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" "$@" -q --progress-bar off 2>&1 \
    | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
}
if quiet_pip install uv && [ -x "$VENV/bin/uv" ]; then
  "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" "${PINS[@]}"
else
  quiet_pip install "${PINS[@]}"
fi
"$VENV/bin/python" -m ipykernel install --prefix "$VENV" --name python3 >/dev/null
echo "${PINS[*]}" > "$STAMP"
