#!/usr/bin/env bash
# The one run command (README "Quickstart"): sets up the environment, starts the emulator on
# 127.0.0.1:${PORT:-8642} (Docker runtime when an engine can be had, else the process runtime),
# runs the census demo against it, and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8642}"
DATA_DIR="${DATA_DIR:-$PWD/.emulator-data}"

bash scripts/dev-venv.sh
RUNTIME=process
if [ "${SAGEMAKER_EMULATOR_SKIP_DOCKER:-0}" != "1" ] && bash scripts/docker-engine.sh && bash containers/build.sh; then
  RUNTIME=docker
else
  echo "!!! no Docker engine could be started: using the process runtime"
fi

.venv/bin/sagemaker-emulator serve --port "$PORT" --data-dir "$DATA_DIR" --runtime "$RUNTIME" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/_emulator/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/_emulator/health"; echo

.venv/bin/python -m sdk.demo --endpoint-url "http://127.0.0.1:$PORT" "$@"

cat <<MSG

The emulator keeps serving on http://127.0.0.1:$PORT (data in $DATA_DIR). Point clients at it:
  export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_DEFAULT_REGION=us-east-1 \\
         AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
Ctrl-C stops it.
MSG
wait $SERVER
