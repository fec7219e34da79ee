#!/usr/bin/env bash
# Build the algorithm images (and, with --emulator, the emulator's own image) on any engine,
# online or offline.
#
#   containers/build.sh              sagemaker-emulator/pca:1 and sagemaker-emulator/kmeans:1
#                                    (tag: $SAGEMAKER_EMULATOR_IMAGE_TAG when set, as the emulator)
#   containers/build.sh --emulator   also sagemaker-emulator/emulator:latest (docker-compose.yml)
#   containers/build.sh --emulator-only
#
# Base image: $BASE_IMAGE (default python:3.11-slim) when it is present or can be pulled; else an
# offline base, sagemaker-emulator/base:bookworm, made once with debootstrap from the Debian mirror
# this machine's apt uses. Python dependencies come from cp311 wheels downloaded on the host into
# containers/wheels/ (containers cannot reach PyPI). Everything is cached: with nothing changed a
# rebuild takes seconds. SAGEMAKER_EMULATOR_OFFLINE=1 skips the pull attempt.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BASE_IMAGE="${BASE_IMAGE:-python:3.11-slim}"
OFFLINE_BASE="${OFFLINE_BASE:-sagemaker-emulator/base:bookworm}"
ALGORITHMS=(pca kmeans)
TAG="${IMAGE_TAG:-${SAGEMAKER_EMULATOR_IMAGE_TAG:-1}}"
WHEEL_PLATFORMS=(manylinux_2_36_x86_64 manylinux_2_28_x86_64 manylinux2014_x86_64 linux_x86_64)

build_algorithms=1
build_emulator=0
for arg in "$@"; do
  case "$arg" in
    --emulator) build_emulator=1 ;;
    --emulator-only) build_emulator=1; build_algorithms=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { echo "build.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

"$ROOT/scripts/docker-engine.sh" >&2

# The Python on the host that downloads wheels: the dev venv's when there is one.
host_python() {
  if [ -x "$ROOT/.venv/bin/python" ]; then echo "$ROOT/.venv/bin/python"; else echo python3; fi
}

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  # deb822 sources (bookworm's default) first, then one-line sources; skip the security suite.
  uri="$(awk '/^URIs:/{u=$2} /^Suites:/{if ($0 ~ /bookworm( |$)/ && u !~ /security/) {print u; exit}}' \
          /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [ -z "$uri" ]; then
    uri="$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list \
            /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

make_offline_base() {
  if docker image inspect "$OFFLINE_BASE" >/dev/null 2>&1; then return; fi
  command -v debootstrap >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local mirror rootfs
  mirror="$(debian_mirror)"
  rootfs="$(mktemp -d /var/tmp/sagemaker-emulator-rootfs.XXXXXX)"
  log "making $OFFLINE_BASE with debootstrap (bookworm minbase + python3) from $mirror"
  as_root debootstrap --variant=minbase --include=python3 bookworm "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || { tail -n 20 "$rootfs.log" >&2; exit 1; }
  # What a slim image leaves out too: package caches and lists, docs, man pages, translations.
  as_root rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc \
    "$rootfs"/usr/share/man "$rootfs"/usr/share/locale "$rootfs"/usr/share/info
  as_root tar -C "$rootfs" -c . | docker import \
    -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["python3"]' - "$OFFLINE_BASE" >/dev/null
  as_root rm -rf "$rootfs" "$rootfs.log"
}

resolve_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then echo "$BASE_IMAGE"; return; fi
  if [ "${SAGEMAKER_EMULATOR_OFFLINE:-0}" != 1 ] \
     && timeout 300 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "$BASE_IMAGE"; return
  fi
  log "$BASE_IMAGE is not here and cannot be pulled: using the offline base $OFFLINE_BASE"
  make_offline_base
  echo "$OFFLINE_BASE"
}

# download_wheels DIR REQUIREMENTS...: cp311 manylinux wheels (+ pip itself), skipped when the
# requirements did not change since the last download.
download_wheels() {
  local dir="$1"; shift
  local stamp="$dir/.requirements" wanted
  wanted="$(printf '%s\n' "$@" pip)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then return; fi
  log "downloading wheels into ${dir#"$ROOT"/}"
  local platforms=()
  for p in "${WHEEL_PLATFORMS[@]}"; do platforms+=(--platform "$p"); done
  rm -f "$dir"/*.whl
  "$(host_python)" -m pip download -q --disable-pip-version-check --only-binary=:all: \
    --python-version 3.11 --implementation cp "${platforms[@]}" -d "$dir" "$@" pip
  printf '%s' "$wanted" >"$stamp"
}

requirements_of() { grep -v -E '^\s*(#|$)' "$1"; }

# The emulator's own runtime dependencies, pinned to what the dev venv runs (pyproject lists
# them unpinned); written where the emulator image's build reads them.
emulator_requirements() {
  "$(host_python)" - "$ROOT/pyproject.toml" <<'PY'
import re, sys, tomllib
from importlib import metadata
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
for dep in deps:
    name = re.match(r"[A-Za-z0-9_.\-]+(\[[^\]]*\])?", dep).group(0)
    base = name.split("[")[0]
    try:
        print(f"{name}=={metadata.version(base)}")
    except metadata.PackageNotFoundError:
        print(dep)
PY
}

base="$(resolve_base)"
log "base image: $base"
cd "$ROOT"

if [ "$build_algorithms" = 1 ]; then
  mapfile -t reqs < <(requirements_of containers/algorithm-requirements.txt)
  download_wheels "$HERE/wheels/algorithm" "${reqs[@]}"
  for algo in "${ALGORITHMS[@]}"; do
    log "building sagemaker-emulator/$algo:$TAG"
    # The legacy builder: the one every engine/client pair has (Debian's 20.10 has no buildx).
    DOCKER_BUILDKIT=0 docker build -q -f containers/Dockerfile \
      --build-arg "BASE_IMAGE=$base" --build-arg "ALGORITHM=$algo" \
      --label "sagemaker-emulator.image=algorithm" \
      -t "sagemaker-emulator/$algo:$TAG" . >/dev/null
    # docker-compose.yml runs the `1` tag: give it one where there is none yet.
    if [ "$TAG" != 1 ] && ! docker image inspect "sagemaker-emulator/$algo:1" >/dev/null 2>&1; then
      docker tag "sagemaker-emulator/$algo:$TAG" "sagemaker-emulator/$algo:1"
    fi
  done
fi

if [ "$build_emulator" = 1 ]; then
  mapfile -t reqs < <(emulator_requirements)
  printf '%s\n' "${reqs[@]}" >containers/wheels/emulator/requirements.txt
  download_wheels "$HERE/wheels/emulator" "${reqs[@]}"
  log "building sagemaker-emulator/emulator:latest"
  DOCKER_BUILDKIT=0 docker build -q -f containers/emulator.Dockerfile \
    --build-arg "BASE_IMAGE=$base" --label "sagemaker-emulator.image=emulator" \
    -t sagemaker-emulator/emulator:latest . >/dev/null
fi

# Earlier builds of our images, now untagged: each differs from the current one by a code layer.
docker image prune -f --filter "label=sagemaker-emulator.image" >/dev/null 2>&1 || true

docker image ls --filter 'reference=sagemaker-emulator/*' --format '{{.Repository}}:{{.Tag}}  {{.Size}}'
