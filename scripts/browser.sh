#!/usr/bin/env bash
# Headless Chromium for tests/browser (a hostile page in a real browser against the emulator).
# Debian's package; installed with apt when missing (root, or sudo without a password).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
