#!/usr/bin/env bash
# Builds .venv-moto-oldest: the oldest moto that pyproject.toml allows (the lower bound of its
# `moto[s3]>=X` dependency), for tests/unit/test_moto_oldest.py, which runs
# tests/unit/test_moto_internals.py there. The stores use moto's internals only through the
# emulator/storage/moto_internals/ package; passing on both ends of the allowed range is what the
# bound claims. Nothing to build when .venv already has that version (the suite's own run covers it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-moto-oldest
floor=$(python3 - <<'PY'
import re
import tomllib

with open("pyproject.toml", "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
(bound,) = [m.group(1) for d in deps if (m := re.fullmatch(r"moto(?:\[[^]]*\])?>=([\d.]+)", d))]
print(bound)
PY
)
installed=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("moto"))')
if [ "$installed" = "$floor" ]; then
  echo "moto $floor, the oldest pyproject.toml allows, is the one in .venv: nothing to build"
  exit 0
fi
PINS=("moto[s3]==$floor" flask flask-cors pytest pytest-timeout)
STAMP="$VENV/.pins-ok"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "${PINS[*]}" ]; then
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q --progress-bar off "${PINS[@]}" 2>&1 \
  | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
echo "${PINS[*]}" > "$STAMP"
