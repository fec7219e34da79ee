#!/usr/bin/env bash
# The one run command (README "Quickstart"): sets up what running needs, starts the emulator on
# 127.0.0.1:${PORT:-8642} (Docker runtime when an engine can be had, else the process runtime),
# runs the census demo against it, and keeps serving until Ctrl-C.
#
#   bash scripts/run.sh [--demo-only] [demo arguments...]
#
# --demo-only (or DEMO_ONLY=1): stop the emulator and exit once the demo is done (for scripts and
# tests). SAGEMAKER_EMULATOR_SKIP_DOCKER=1: use the process runtime without trying Docker.
# The test tools are not installed here: scripts/test.sh does that.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8642}"
DATA_DIR="${DATA_DIR:-$PWD/.emulator-data}"
DEMO_ONLY="${DEMO_ONLY:-0}"
demo_args=()
for arg in "$@"; do
  case "$arg" in
    --demo-only|--no-serve) DEMO_ONLY=1 ;;
    *) demo_args+=("$arg") ;;
  esac
done
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/sagemaker-emulator-run.XXXXXX")"
T0=$SECONDS

step() { printf '[%3d s] %s\n' "$((SECONDS - T0))" "$*"; }

# long LOG LABEL COMMAND...: run COMMAND with its output in LOG, print a line every 15 s while it
# runs, and the log's tail if it fails.
long() {
  local log="$1" label="$2"; shift 2
  "$@" >"$log" 2>&1 &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if [ $((waited % 15)) = 0 ] && kill -0 "$pid" 2>/dev/null; then
      step "  ... $label, ${waited} s so far"
    fi
  done
  if ! wait "$pid"; then
    tail -n 20 "$log" | sed 's/^/    | /'
    return 1
  fi
}

step "Python environment: .venv with the emulator's own dependencies (the first time about a minute)"
long "$LOGS/venv.log" "installing" bash scripts/dev-venv.sh --run

RUNTIME=process
if [ "${SAGEMAKER_EMULATOR_SKIP_DOCKER:-0}" = "1" ]; then
  step "SAGEMAKER_EMULATOR_SKIP_DOCKER=1: the process runtime (algorithms run as local processes)"
else
  step "Docker engine (installed from Debian the first time, about 30 s)"
  if long "$LOGS/docker-engine.log" "setting up the engine" bash scripts/docker-engine.sh; then
    step "algorithm images sagemaker-emulator/pca and kmeans (the first time about a minute; then cached)"
    if long "$LOGS/images.log" "building images" bash containers/build.sh; then
      RUNTIME=docker
    fi
  fi
  [ "$RUNTIME" = docker ] || step "!!! no Docker engine or images: using the process runtime (logs in $LOGS)"
fi

step "starting the emulator on http://127.0.0.1:$PORT ($RUNTIME runtime; log: $LOGS/server.log)"
.venv/bin/python -m emulator serve --port "$PORT" --data-dir "$DATA_DIR" --runtime "$RUNTIME" \
  >"$LOGS/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
healthy=0
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$PORT/_emulator/health" >/dev/null 2>&1; then healthy=1; break; fi
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.2
done
if [ "$healthy" != 1 ]; then
  step "the emulator did not start; the end of $LOGS/server.log:"
  tail -n 30 "$LOGS/server.log" | sed 's/^/    | /'
  exit 1
fi

step "census demo: PCA, then k-means, trained, deployed and invoked"
.venv/bin/python -m sdk.demo --endpoint-url "http://127.0.0.1:$PORT" ${demo_args[@]+"${demo_args[@]}"}
step "demo done"

if [ "$DEMO_ONLY" = 1 ]; then
  exit 0
fi
cat <<MSG

The emulator keeps serving on http://127.0.0.1:$PORT (data in $DATA_DIR, log in $LOGS/server.log).
Point clients at it:
  export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_DEFAULT_REGION=us-east-1 \\
         AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
Ctrl-C stops it.
MSG
wait $SERVER
