#!/usr/bin/env bash
# Creates or refreshes .venv.
#
#   scripts/dev-venv.sh          everything: the emulator, its tests and benchmarks ('.[dev,bench]')
#   scripts/dev-venv.sh --run    only what running the emulator and the demo needs ('.'); what
#                                scripts/run.sh uses, so a first run does not wait for test tools
#
# Re-installs only when pyproject.toml changed since the last install of that kind (a full
# install also serves --run). The packages are installed by uv when it can be had (pip installs
# uv itself), else by pip. pip's warnings about this machine's configured package folders that
# do not exist are filtered out; everything else pip says comes through.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=dev
case "${1:-}" in
  --run) mode=run ;;
  "") ;;
  *) echo "usage: scripts/dev-venv.sh [--run]" >&2; exit 2 ;;
esac
DEV_STAMP=.venv/.pyproject.sha256
RUN_STAMP=.venv/.pyproject-run.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$want" ]; }
if [ -x .venv/bin/python ]; then
  stamp_ok "$DEV_STAMP" && exit 0
  [ "$mode" = run ] && stamp_ok "$RUN_STAMP" && exit 0
fi

# A find-links or index folder named in a pip config but absent on this machine makes pip warn
# once per package; those lines say nothing about our install.
quiet_pip() {
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/python -m pip "$@" -q --progress-bar off 2>&1 \
    | { grep -v -e 'is ignored: it is neither a file nor a directory' \
                -e 'Location .* is ignored' || true; }
}

# uv (a fast, well-kept installer: parallel downloads) installs the dependencies in a fraction of
# pip's time; pip is the fallback when uv cannot be had.
install() {
  if [ -x .venv/bin/uv ] || quiet_pip install uv; then
    .venv/bin/uv pip install --quiet --python .venv/bin/python "$@"
  else
    quiet_pip install "$@"
  fi
}

[ -x .venv/bin/python ] || python3 -m venv .venv
if [ "$mode" = run ]; then
  install -e .
  echo "$want" > "$RUN_STAMP"
else
  install -e '.[dev,bench]'
  echo "$want" > "$DEV_STAMP"
fi
