#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`; start one if none does.
#
# Idempotent: does nothing when an engine already answers. On a fresh Debian machine it installs
# Debian's docker.io (dockerd + client) and debootstrap (needed by containers/build.sh for the
# offline base image), starts dockerd in the background with its log in $DOCKERD_LOG, and waits
# until it answers. Exit 0 when an engine answers, non-zero (with the log tail) when none does.
set -euo pipefail

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
WAIT_SECONDS="${DOCKER_ENGINE_WAIT:-60}"

answers() { docker info >/dev/null 2>&1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# A compose tool for docker-compose.yml and its tests: Debian bookworm has no v2 plugin
# (docker-compose-plugin is Docker Inc.'s package), but it has docker-compose 1.29.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  missing+=(docker-compose)
fi
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  # shellcheck disable=SC2207
  pkgs=($(printf '%s\n' "${missing[@]}" | sort -u))
  echo "docker-engine: installing ${pkgs[*]} from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if answers; then
  echo "docker-engine: an engine already answers ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
  exit 0
fi

# A dockerd that is starting (or stuck) already: wait for it rather than start a second one,
# which would fail on the pid file and the socket.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker-engine: starting dockerd (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  # setsid: the engine must outlive this script and the test process that called it.
  as_root setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 "$((WAIT_SECONDS * 2))"); do
  if answers; then
    echo "docker-engine: engine answers ($(docker info --format '{{.ServerVersion}}'))"
    exit 0
  fi
  sleep 0.5
done
echo "docker-engine: no engine answered within ${WAIT_SECONDS}s; last lines of $DOCKERD_LOG:" >&2
tail -n 30 "$DOCKERD_LOG" >&2 || true
exit 1
