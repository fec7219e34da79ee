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
"$VENV/bin/pip" install -q -U pip
"$VENV/bin/pip" install -q "${PINS[@]}"
"$VENV/bin/python" -m ipykernel install --prefix "$VENV" --name python3 >/dev/null
echo "${PINS[*]}" > "$STAMP"
