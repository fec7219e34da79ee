#!/usr/bin/env bash
# The one test command (README "Test"): sets up everything a fresh machine lacks and runs every
# tier, the Docker one included. It never skips Docker silently: only
# SAGEMAKER_EMULATOR_SKIP_DOCKER=1 skips it, and says so loudly. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "dev environment (.venv)"
bash scripts/dev-venv.sh

step "classic notebook environment (.venv-classic: mxnet 1.9.1, sagemaker 2.243.2)"
bash scripts/classic-venv.sh

step "SageMaker SDK 3.x environment (.venv-v3: sagemaker 3.27.0, sagemaker-core 2.27.0) for tests/sdk3"
bash scripts/v3-venv.sh

step "the oldest moto pyproject.toml allows (.venv-moto-oldest, when .venv has a newer one)"
bash scripts/moto-oldest-venv.sh

if [ "${SAGEMAKER_EMULATOR_SKIP_DOCKER:-0}" = "1" ]; then
  printf '\n!!! SAGEMAKER_EMULATOR_SKIP_DOCKER=1: the Docker tier is SKIPPED (engine and images not checked) !!!\n\n'
else
  step "Docker engine"
  bash scripts/docker-engine.sh
  step "algorithm images"
  # Tagged by the hash of what goes into them, so that test sessions of different checkouts
  # sharing one engine each run their own algorithms (the emulator reads the same variable).
  if [ -z "${SAGEMAKER_EMULATOR_IMAGE_TAG:-}" ]; then
    SAGEMAKER_EMULATOR_IMAGE_TAG="src-$(find algorithms containers -type f \
      \( -name '*.py' -o -name '*.txt' -o -name 'Dockerfile' -o -name '*.sh' \) \
      -not -path '*/wheels/*' -not -path '*/__pycache__/*' -print0 | sort -z \
      | xargs -0 sha256sum | sha256sum | cut -c1-12)"
    export SAGEMAKER_EMULATOR_IMAGE_TAG
  fi
  echo "algorithm image tag: $SAGEMAKER_EMULATOR_IMAGE_TAG"
  bash containers/build.sh
fi

bash scripts/browser.sh  # headless Chromium for tests/browser

step "lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports

step "tests"
exec .venv/bin/python -m pytest "$@"
