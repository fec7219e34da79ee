"""S3 at scale: PutObject latency against the bucket's size, and start time / memory against the
data's size.

    .venv/bin/python benchmarks/s3_scale_bench.py [--objects 100000] [--large-kib 100]
        [--old-code /path/to/an/older/checkout --old-objects 4000] [--work DIR] [--keep]

Each data dir is filled by the emulator's own S3 store in a subprocess (`S3Store.put_object`,
what a PutObject through the edge ends in, without HTTP), then a real emulator (process runtime)
starts on it: the time from launch to its health check answering, its resident memory then, and
PutObject p50/p99 of 1 KiB objects to new keys of the full bucket through boto3. `--old-code`
runs the same measures with another checkout's code (PYTHONPATH) for comparison. Nothing but
this repository's venv is needed. The data dirs are removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdk.launcher import start_emulator

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench"
PUTS = 300
WARMUP = 30

_SEED = """
import os, sys, time
from pathlib import Path
from emulator.storage.s3 import S3Store
root, count, size = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
store = S3Store(root / "s3")
store.create_bucket("bench")
block = os.urandom(max(size, 8))
started = time.monotonic()
for i in range(count):
    store.put_object("bench", f"obj/{i:07d}", i.to_bytes(8, "big") + block[8:size])
print(time.monotonic() - started)
"""


@dataclass
class Measure:
    label: str
    objects: int
    size: int
    seed_s: float
    start_s: float
    s3_load_s: float
    rss_mib: float
    put_p50_ms: float
    put_p99_ms: float
    get_p50_ms: float


def seed(data_dir: Path, count: int, size: int, code: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        [sys.executable, "-c", _SEED, str(data_dir), str(count), str(size)],
        env=env,
        cwd=code,  # `python -c` puts the working directory first on sys.path
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    label: str, data_dir: Path, count: int, size: int, seed_s: float, code: Path
) -> Measure:
    started = time.monotonic()
    server = start_emulator(data_dir, "process", env={"PYTHONPATH": str(code)}, timeout=600)
    start_s = time.monotonic() - started
    try:
        rss = rss_mib(server.process.pid)
        found = re.search(r"S3: loaded .* in ([\d.]+) s", server.log_text())
        s3_load_s = float(found.group(1)) if found else float("nan")  # older code does not say
        s3 = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"total_max_attempts": 1}),
        )
        gets = []
        for i in range(0, count, max(1, count // 50)):  # first reads of stored objects
            t = time.perf_counter()
            s3.get_object(Bucket=BUCKET, Key=f"obj/{i:07d}")["Body"].read()
            gets.append(time.perf_counter() - t)
        body = os.urandom(1024)
        times = []
        for i in range(WARMUP + PUTS):
            t = time.perf_counter()
            s3.put_object(Bucket=BUCKET, Key=f"new/{i:05d}", Body=body)
            if i >= WARMUP:
                times.append(time.perf_counter() - t)
        times.sort()
    finally:
        server.stop()
    return Measure(
        label,
        count,
        size,
        seed_s,
        start_s,
        s3_load_s,
        rss,
        statistics.median(times) * 1000,
        times[int(len(times) * 0.99) - 1] * 1000,
        statistics.median(gets) * 1000,
    )


def run(label: str, work: Path, count: int, size: int, code: Path, keep: bool) -> Measure:
    data_dir = work / f"{label}-{count}x{size}"
    print(f"[{label}] seeding {count} x {size} B ...", flush=True)
    seed_s = seed(data_dir, count, size, code)
    print(f"[{label}] seeded in {seed_s:.1f} s; starting the emulator", flush=True)
    result = measure(label, data_dir, count, size, seed_s, code)
    print(f"[{label}] {result}", flush=True)
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--large-kib", type=int, default=100, help="0: no large data set")
    parser.add_argument("--old-code", type=Path)
    parser.add_argument("--old-objects", type=int, default=4000)
    parser.add_argument(
        "--new-code", type=Path, default=ROOT, help="a copy of this checkout, to edit it meanwhile"
    )
    parser.add_argument("--work", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="s3-scale-", dir=args.work))
    results: list[Measure] = []
    try:
        plan: list[tuple[str, int, int, Path]] = []
        if args.old_code:
            plan += [
                ("old", 100, 1024, args.old_code),
                ("old", args.old_objects, 1024, args.old_code),
            ]
        plan += [
            ("new", 100, 1024, args.new_code),
            ("new", args.old_objects, 1024, args.new_code),
            ("new", args.objects, 1024, args.new_code),
        ]
        if args.large_kib:
            plan.append(("new", args.objects, args.large_kib * 1024, args.new_code))
        for label, count, size, code in plan:
            results.append(run(label, work, count, size, code, args.keep))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        "| code | objects in the bucket | data | seed (store puts/s) | start (S3's part) | RSS at start "
        "| PutObject p50 / p99 | first GET p50 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        data = r.objects * r.size
        shown = f"{data / 2**30:.1f} GiB" if data >= 2**30 else f"{data / 2**20:.1f} MiB"
        print(
            f"| {r.label} | {r.objects:,} | {shown} | {r.seed_s:.0f} s ({r.objects / r.seed_s:,.0f}/s) "
            f"| {r.start_s:.2f} s ({r.s3_load_s:.2f} s) | {r.rss_mib:.0f} MiB | {r.put_p50_ms:.1f} / {r.put_p99_ms:.1f} ms "
            f"| {r.get_p50_ms:.1f} ms |"
        )


if __name__ == "__main__":
    main()
