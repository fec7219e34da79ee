#!/usr/bin/env bash
# Builds .venv-v3: the SageMaker Python SDK 3.x (ModelTrainer, ModelBuilder, sagemaker-core), for
# the tests in tests/sdk3. SDK 3 replaces the 2.x `sagemaker` package the dev venv pins, so the two
# cannot share a venv. The emulator server keeps running from .venv; this venv holds only the
# client side: the SDK, boto3, pytest, and this repository's client package `sdk` (installed
# without the server's dependencies; it needs only boto3, PyYAML and numpy, which the SDK brings).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-v3
STAMP="$VENV/.pins-ok"
PINS=(sagemaker==3.27.0 sagemaker-core==2.27.0 pytest pyyaml numpy boto3)
# The stamp also names this repository's pyproject.toml: the client package is installed from it.
want="${PINS[*]} $(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
# uv when it can be had (parallel downloads: a fraction of pip's time), pip otherwise. pip's lines
# about this machine's configured package folders that do not exist say nothing about the install.
quiet_pip() {
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" "$@" -q --progress-bar off 2>&1 \
    | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
}
if quiet_pip install uv && [ -x "$VENV/bin/uv" ]; then
  install() { "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" "$@"; }
else
  install() { quiet_pip install "$@"; }
fi
install "${PINS[@]}"
# The client package, without the server's dependencies (moto, FastAPI, Docker, MPI...).
install --no-deps -e .
echo "$want" > "$STAMP"
