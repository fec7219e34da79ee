"""Docker channel staging: a big File channel through the archive copy vs the bind mount.

One DockerRuntime per staging mode (SAGEMAKER_EMULATOR_DOCKER_STAGING=archive | mount), side by
side in one run, repeats interleaved. Each run is one training container of the built-in PCA
image on an /opt/ml tree whose `train` channel holds one file of --mib MiB: start_training ->
exit -> collect (the model and output back on the host). The same run with an empty channel is
the container's own cost; the difference is what staging the channel costs, and size/difference
its throughput.

Usage: .venv/bin/python benchmarks/channel_staging_bench.py [--mib 2048] [--repeats 2]
           [--write-results]   (appends its section to benchmarks/RESULTS.md)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.runtime.base import ContainerSpec  # noqa: E402
from emulator.runtime.docker_mounts import STAGING_ENV  # noqa: E402
from emulator.runtime.docker_runtime import DockerRuntime  # noqa: E402
from emulator.runtime.images import image_uri  # noqa: E402
from emulator.runtime.optml import OptMlTree  # noqa: E402

MODES = ("archive", "mount")


def make_tree(root: Path, mib: int) -> OptMlTree:
    tree = OptMlTree(root / "opt_ml")
    tree.create()
    channel = tree.channel_dir("train")
    channel.mkdir(parents=True)
    block = os.urandom(1 << 20)
    with open(channel / "big.bin", "wb") as handle:
        for _ in range(mib):
            handle.write(block)
    return tree


def runtime(mode: str) -> DockerRuntime:
    os.environ[STAGING_ENV] = mode
    try:
        return DockerRuntime(scope=f"channel-staging-bench-{mode}")
    finally:
        del os.environ[STAGING_ENV]


def run_once(docker_runtime: DockerRuntime, tree: OptMlTree) -> float:
    spec = ContainerSpec(
        mode="train",
        image=image_uri("pca", "us-east-1"),
        algorithm="pca",
        opt_ml=tree.root,
        name="channel-staging-bench",
    )
    start = time.perf_counter()
    handle = docker_runtime.start_training(spec)
    handle.wait(timeout=None)
    handle.collect()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="channel-staging-bench-"))
    runtimes = {mode: runtime(mode) for mode in MODES}
    times: dict[tuple[str, str], list[float]] = {}
    try:
        trees = {"empty": make_tree(work / "empty", 0), "big": make_tree(work / "big", args.mib)}
        for _ in range(args.repeats):
            for mode in MODES:
                for size, tree in trees.items():
                    elapsed = run_once(runtimes[mode], tree)
                    times.setdefault((mode, size), []).append(elapsed)
                    print(f"{mode:8s} {size:6s} {elapsed:7.2f} s", flush=True)
    finally:
        for docker_runtime in runtimes.values():
            docker_runtime.close()
        shutil.rmtree(work, ignore_errors=True)
    size_mb = args.mib * (1 << 20) / 1e6
    rows = []
    for mode in MODES:
        empty = statistics.median(times[(mode, "empty")])
        big = statistics.median(times[(mode, "big")])
        staging = big - empty
        # A bind mount copies nothing: its difference is the noise of two container runs.
        throughput = (
            f"{size_mb / staging:,.0f} MB/s" if mode == "archive" and staging > 0 else "no copy"
        )
        rows.append(f"| {mode} | {empty:.2f} s | {big:.2f} s | {staging:+.2f} s | {throughput} |")
    section = "\n".join(
        [
            "",
            "## Docker channel staging: archive copy vs bind mount",
            "",
            f"`benchmarks/channel_staging_bench.py --mib {args.mib} --repeats {args.repeats}` on "
            f"{platform.machine()}, {os.cpu_count()} CPUs, {datetime.date.today()}: one PCA "
            f"training container on an /opt/ml tree with a {args.mib} MiB `train` channel, "
            "start_training -> exit -> collect, medians; the empty channel is the container's "
            f"own cost. Load average at the end: {os.getloadavg()[0]:.1f} (a shared machine).",
            "",
            "| staging | empty channel | big channel | staging cost | throughput |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    print(section)
    if args.write_results:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as results:
            results.write(section)


if __name__ == "__main__":
    main()
