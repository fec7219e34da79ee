"""Emulator start against the size of S3's data: time to health answering and RSS at start.

    .venv/bin/python benchmarks/startup_bench.py [--objects 100000] [--object-bytes 100000]
        [--rounds 3] [--old-code /path/to/an/older/checkout] [--work DIR] [--keep]

Two data dirs are filled by the emulator's own S3 store in a subprocess: a small one (100 objects
of 1 KiB) and a large one (`--objects` of `--object-bytes`: 100,000 x 100 kB = 10 GB by default),
each in one bucket. The fill takes the store's own write path (moto's key filled, then
`S3Store.sync_bucket`: body files, index rows and journal exactly as a PutObject through the edge
leaves them), syncing 500 new keys at a time instead of one, which makes 100,000 puts take
minutes instead of an hour; the layout on disk is the same.

Then, for `--rounds` rounds: the interpreter alone (`python -c pass`), the floor of interpreter
+ imports (`python -c "import uvicorn, emulator.app"`, what every start pays before reading any
data), and a real emulator (`sagemaker-emulator serve`, process runtime) on each data dir (the
starts' order reversed every other round): time from launch to /_emulator/health answering, the
CPU time it used until then (what the start costs whatever the machine's load), its RSS then,
and the first GET of a stored object of the large bucket afterwards. The start is split by the
emulator's log: "imports" (launch to the S3 store starting to load: interpreter, imports,
settings), "S3 load" (the store's own log line), "rest of the app" (the other stores, the
runtime, the app and its routes, the lifespan start) and "bind + health" (the app ready to the
health check answered: the server's bind, the poll's step). `--old-code` starts another
checkout's code on the same data dirs as well (the layout is the same). Medians over the rounds
are printed as a table. The data dirs are removed at the end unless --keep; `--work DIR --keep`
then `--reuse` starts again on the same data.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3_scale_bench import rss_mib

from sdk.launcher import start_emulator

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench"

_FILL = """
import os, sys, time
from pathlib import Path
from emulator.storage.moto_internals import s3 as moto
from emulator.storage.s3 import S3Store
root, count, size, batch = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), 500
store = S3Store(root / "s3")
store.create_bucket("bench")
block = os.urandom(max(size, 8))
started = time.monotonic()
for first in range(0, count, batch):
    with store.lock:
        for i in range(first, min(first + batch, count)):
            key = moto.new_key("bench", f"obj/{i:07d}")
            moto.fill_key(key, [i.to_bytes(8, "big") + block[8:size]])
        store.sync_bucket("bench")
    if first % 10000 == 0:
        print(f"filled {first}", file=sys.stderr, flush=True)
store.close()
print(time.monotonic() - started)
"""


@dataclass
class Starts:
    label: str
    objects: int
    size: int
    start_s: list[float] = field(default_factory=list)
    s3_load_s: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    """CPU time (user + system) the server used up to the health check answering."""
    first_get_ms: list[float] = field(default_factory=list)
    imports_s: list[float] = field(default_factory=list)
    """Launch to the S3 store starting to load (interpreter, imports, settings)."""
    app_s: list[float] = field(default_factory=list)
    """The S3 store loaded to the app ready (other stores, runtime, app, lifespan start)."""
    serve_s: list[float] = field(default_factory=list)
    """App ready to the health check answered (bind, the first request, the poll's step)."""


def fill(data_dir: Path, count: int, size: int, code: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        [sys.executable, "-c", _FILL, str(data_dir), str(count), str(size)],
        env=env,
        cwd=code,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    (data_dir / "filled").write_text(f"{count} {size}\n")
    return float(done.stdout.strip().splitlines()[-1])


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def timed(command: list[str], code: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of the command."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, env=env, cwd=code, check=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def start_once(into: Starts, data_dir: Path, code: Path) -> None:
    log = data_dir.parent / f"{data_dir.name}.{into.label}.log"
    log.unlink(missing_ok=True)
    launched = time.time()
    started = time.monotonic()
    server = start_emulator(
        data_dir, "process", env={"PYTHONPATH": str(code)}, timeout=600, log_path=log
    )
    into.start_s.append(time.monotonic() - started)
    answered = time.time()
    try:
        into.rss_mib.append(rss_mib(server.process.pid))
        into.cpu_s.append(cpu_s(server.process.pid))
        found = re.search(r"S3: loaded .* in ([\d.]+) s", server.log_text())
        into.s3_load_s.append(float(found.group(1)) if found else float("nan"))
        loaded, ready = (
            _logged_at(server.log_text(), "S3: loaded"),
            _logged_at(server.log_text(), "sagemaker-emulator ready"),
        )
        into.imports_s.append(loaded - into.s3_load_s[-1] - launched)
        into.app_s.append(ready - loaded)
        into.serve_s.append(answered - ready)
        s3 = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"total_max_attempts": 1}),
        )
        t = time.perf_counter()
        s3.get_object(Bucket=BUCKET, Key=f"obj/{into.objects // 2:07d}")["Body"].read()
        into.first_get_ms.append((time.perf_counter() - t) * 1000)
    finally:
        server.stop()


def _logged_at(log: str, text: str) -> float:
    """When the emulator logged the line holding `text` (its log's local time, in ms)."""
    for line in log.splitlines():
        if text in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp()
    return float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--object-bytes", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-code", type=Path)
    parser.add_argument("--new-code", type=Path, default=ROOT)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="data dirs of an earlier --keep run")
    parser.add_argument("--fill-only", action="store_true")
    args = parser.parse_args()
    if args.reuse and args.work is None:
        parser.error("--reuse needs --work")
    work = args.work if args.reuse else Path(tempfile.mkdtemp(prefix="startup-", dir=args.work))
    work.mkdir(parents=True, exist_ok=True)
    sets = [("small", 100, 1024), ("large", args.objects, args.object_bytes)]
    codes = [("new", args.new_code)] + ([("old", args.old_code)] if args.old_code else [])
    try:
        for name, count, size in sets:
            data_dir = work / name
            marker = data_dir / "filled"
            if marker.exists() and marker.read_text().split() == [str(count), str(size)]:
                print(f"[{name}] reusing {data_dir}", flush=True)
                continue
            shutil.rmtree(data_dir, ignore_errors=True)
            print(f"[{name}] filling {count} x {size} B ...", flush=True)
            seconds = fill(data_dir, count, size, args.new_code)
            print(f"[{name}] filled in {seconds:.0f} s ({count / seconds:,.0f} puts/s)", flush=True)
        if args.fill_only:
            return
        bare: list[tuple[float, float]] = []
        floor: list[tuple[float, float]] = []
        loads: list[str] = []
        results = {
            (label, name): Starts(label, count, size)
            for label, _ in codes
            for name, count, size in sets
        }
        for round_ in range(args.rounds):
            loads.append(os.getloadavg().__repr__())
            bare.append(timed([sys.executable, "-c", "pass"], args.new_code))
            floor.append(
                timed([sys.executable, "-c", "import uvicorn, emulator.app"], args.new_code)
            )
            # Alternated from one round to the next, so that a burst of load on the shared
            # machine does not always fall on the same row.
            order = [(label, code, name) for label, code in codes for name, _, _ in sets]
            for label, code, name in order if round_ % 2 == 0 else reversed(order):
                start_once(results[label, name], work / name, code)
            print(f"round {round_ + 1}: load {loads[-1]}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"load averages (1, 5, 15 min) at each round: {'; '.join(loads)}")
    print(
        f"interpreter alone: {median([w for w, _ in bare]):.2f} s "
        f"(CPU {median([c for _, c in bare]):.2f} s); interpreter + imports (uvicorn, "
        f"emulator.app): {median([w for w, _ in floor]):.2f} s "
        f"(CPU {median([c for _, c in floor]):.2f} s) (medians of {args.rounds})"
    )
    print()
    print(
        "| code | objects | data | start: median (each round) | CPU | imports | S3 load "
        "| rest of the app | bind + health | RSS at start | first GET |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results.values():
        data = r.objects * r.size
        shown = f"{data / 1e9:.1f} GB" if data >= 1e9 else f"{data / 1e3:.0f} kB"
        print(
            f"| {r.label} | {r.objects:,} | {shown} | {median(r.start_s):.2f} s "
            f"({', '.join(f'{s:.2f}' for s in r.start_s)}) | {median(r.cpu_s):.2f} s "
            f"| {median(r.imports_s):.2f} s "
            f"| {median(r.s3_load_s):.2f} s | {median(r.app_s):.2f} s | {median(r.serve_s):.2f} s "
            f"| {median(r.rss_mib):.0f} MiB | {median(r.first_get_ms):.0f} ms |"
        )


if __name__ == "__main__":
    main()
