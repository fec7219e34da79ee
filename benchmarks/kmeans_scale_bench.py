"""k-means at the blog's scale, a tenth of it: 2.3 M x 400 float32 RecordIO (~3.7 GB), k=500.

The SageMaker k-means blog trains on 23 M rows x 400 features with k=500. This runs the same
shape at a tenth of the rows, side by side in one run:

1. numpy's float32 GEMM on this machine (a square 4096 GEMM and the streaming pass's own shape),
   the peak the assignment step is measured against;
2. the polish choices (in-process, one streaming pass and shrinking shared by all): the centres
   after shrinking alone (what the algorithm gave above 1 GiB before), then Lloyd's over a
   uniform sample of 64 / 256 MiB followed by 0 or 1 Lloyd steps over every row, each
   with its time and the MSD over every row;
3. the real job through the API (a real server, boto3 CreateTrainingJob, SDK defaults: only
   ``feature_dim`` and ``k``), once per entry of ``--runtimes`` (``process``, ``docker``, and
   either with ``/Pipe`` for the Pipe input mode: ``--runtimes process,docker,docker/Pipe``; an
   empty list runs none): wall time CreateTrainingJob -> Completed and the algorithm's peak RSS
   (the largest VmHWM of its processes, polled in /proc);
4. scikit-learn ``MiniBatchKMeans`` over every row (``partial_fit`` per batch read, one pass:
   the same rows in bounded memory), and on a 200,000-row sample, and ``KMeans`` on a 50,000-row
   sample (k-means++, n_init=1); the samples timed on rows already in memory;
5. the MSD of every model over all rows (one read of the channel, one GEMM per chunk).

Data (reproducible, seed 12345): 500 gaussian blobs, centres from N(0, 2^2), per-blob standard
deviation uniform in [0.5, 1.5] and unequal sizes (Dirichlet(2) weights); the oracle MSD (every
row to its own blob's centre) is printed. Written with the project's RecordIO writer in 10 files.

Usage: .venv/bin/python benchmarks/kmeans_scale_bench.py [--rows N] [--work DIR]
           [--runtimes process[,docker][,process/Pipe]...] [--skip-polish] [--sklearn LIST]
           [--write-results]

The parts are independent: the MSDs and the polish table do not depend on the machine's load,
the times do, so a loaded machine can run the quality parts (``--runtimes ""``) and a quiet one
the jobs (``--skip-polish --sklearn ""``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

THREADS = "2"
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, THREADS)

import numpy as np  # noqa: E402  (after the thread settings, which numpy reads at import)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from results_md import replace_block  # noqa: E402

from algorithms.common import ndarray_file, recordio  # noqa: E402
from algorithms.common.collective import Solo  # noqa: E402
from algorithms.kmeans import polish  # noqa: E402
from algorithms.kmeans.fit import BLOCK_ENTRIES, RANDOM_SEED, StreamingKMeans, assign, shrink  # noqa: E402
from algorithms.kmeans.hyperparameters import KMeansHyperparameters  # noqa: E402
from algorithms.kmeans.train import SAMPLE_SEED  # noqa: E402

BEGIN = "<!-- kmeans_scale_bench:begin -->"
END = "<!-- kmeans_scale_bench:end -->"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
K = 500  # --k changes it (a quick check of the script)
DIM = 400
FILES = 10
SAMPLES_MIB = (64, 256)
STEPS = 2
READ_ROWS = 8192


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- 1. GEMM peak -------------------------------------------------------------------------------


def gemm_gflops(m: int, k: int, n: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * m * k * n / best / 1e9


# --- 2. data ------------------------------------------------------------------------------------


def prepare(rows: int, work: Path) -> tuple[Path, float]:
    """The channel folder (10 RecordIO files) and the oracle MSD."""
    folder = work / f"kmeans-scale-{rows}-k{K}"
    channel = folder / "train"
    done = folder / "ready.json"
    if done.exists():
        return channel, float(json.loads(done.read_text())["oracle_msd"])
    channel.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12345)
    centres = rng.normal(scale=2.0, size=(K, DIM)).astype(np.float32)
    scales = rng.uniform(0.5, 1.5, size=K).astype(np.float32)
    weights = rng.dirichlet(np.full(K, 2.0))
    squared = 0.0
    per_file = -(-rows // FILES)
    for index in range(FILES):
        count = max(min(per_file, rows - index * per_file), 0)
        with open(channel / f"part-{index:02d}.pbr", "wb") as handle:
            for start in range(0, count, 100_000):
                n = min(100_000, count - start)
                labels = rng.choice(K, size=n, p=weights)
                noise = rng.standard_normal((n, DIM), dtype=np.float32) * scales[labels, None]
                squared += float(np.einsum("ij,ij->", noise, noise, dtype=np.float64))
                recordio.write_dense(handle, centres[labels] + noise)
    oracle = squared / rows
    done.write_text(json.dumps({"oracle_msd": oracle}))
    return channel, oracle


def read(channel: Path, rows: int = READ_ROWS, files: int = FILES) -> Iterator[np.ndarray]:
    return recordio.iter_dense_batches(sorted(channel.iterdir())[:files], rows, DIM)


def msd_over(channel: Path, models: dict[str, np.ndarray]) -> dict[str, float]:
    """Every model's MSD over every row, in one read."""
    totals = dict.fromkeys(models, 0.0)
    n = 0
    for batch in read(channel):
        for name, centres in models.items():
            totals[name] += float(assign(batch, centres)[1].sum())
        n += batch.shape[0]
    return {name: total / n for name, total in totals.items()}


def sample_rows(channel: Path, rows: int, count: int, seed: int) -> np.ndarray:
    """A uniform sample of ``count`` rows (for scikit-learn)."""
    keep = np.sort(np.random.default_rng(seed).choice(rows, size=count, replace=False))
    out = np.empty((count, DIM), dtype=np.float32)
    at = 0
    start = 0
    for batch in read(channel):
        stop = start + batch.shape[0]
        lo, hi = np.searchsorted(keep, [start, stop])
        out[at : at + hi - lo] = batch[keep[lo:hi] - start]
        at += hi - lo
        start = stop
    return out


# --- 3. polish choices (in-process) -------------------------------------------------------------


def polish_choices(channel: Path, files: int) -> tuple[list[str], dict[str, Any]]:
    """On the first ``files`` of the channel's files."""
    hp = KMeansHyperparameters.from_raw({"k": str(K), "feature_dim": str(DIM)})
    rng = np.random.default_rng(RANDOM_SEED)
    stream = StreamingKMeans(
        hp.k * hp.extra_center_factor, DIM, hp.init_method, hp.half_life_time_size, rng
    )
    samples = {
        mib: polish.RowSample(mib << 20, DIM, np.random.default_rng(SAMPLE_SEED))
        for mib in SAMPLES_MIB
    }
    start = time.perf_counter()
    rows = 0
    files_read = sorted(channel.iterdir())[:files]
    for batch in recordio.iter_dense_batches(files_read, hp.mini_batch_size, DIM):
        if not stream.initialised:
            stream.initialise(batch)
        stream.update(batch)
        rows += batch.shape[0]
    stream_s = time.perf_counter() - start
    # Filled apart, so that the streaming pass above is timed alone.
    for batch in read(channel, files=files):
        for sample in samples.values():
            sample.add(batch)
    start = time.perf_counter()
    best = shrink(
        stream.centres,
        stream.weights,
        hp.k,
        hp.local_lloyd_init_method,
        hp.local_lloyd_max_iter,
        hp.local_lloyd_tol,
        hp.local_lloyd_num_trials,
        rng,
    )
    shrink_s = time.perf_counter() - start
    solo = Solo("algo-1")
    flops = 2.0 * rows * DIM * stream.n_centres
    facts = {
        "rows": rows,
        "stream_s": stream_s,
        "stream_gflops": flops / stream_s / 1e9,
        "shrink_s": shrink_s,
    }
    print(
        f"stream {stream_s:.1f} s ({facts['stream_gflops']:.0f} GFLOP/s), shrink {shrink_s:.1f} s"
    )

    def steps(
        centres: np.ndarray, first_s: float, label: str, count: int = STEPS
    ) -> list[tuple[str, float, float]]:
        """(label, seconds, MSD over all rows) after 0..STEPS-1 full Lloyd steps."""
        out = []
        spent = first_s
        for passes in range(count):
            t = time.perf_counter()
            step = polish.lloyd_step(centres, read(channel, files=files), 1.0, solo)
            out.append((f"{label}, {passes} full pass(es)", spent, step.msd))
            print(out[-1], flush=True)
            spent += time.perf_counter() - t
            centres = step.following
        return out

    table = steps(best.centres, 0.0, "no sample")
    for mib, sample in samples.items():
        t = time.perf_counter()
        sampled = polish.polish(
            best.centres,
            sample,
            hp.local_lloyd_max_iter,
            hp.local_lloyd_tol,
            0,
            lambda _n: iter(()),
            solo,
        )
        table += steps(sampled.centres, time.perf_counter() - t, f"{mib} MiB sample")
        sample.release()
    lines = [
        "| polish | extra time (s) | MSD over all rows |",
        "|---|---:|---:|",
        *(f"| {label} | {seconds:.1f} | {msd:.3f} |" for label, seconds, msd in table),
    ]
    return lines, facts


# --- 4. the job through the API -----------------------------------------------------------------


def watch_peak(job: str, stop: threading.Event, found: dict[str, int]) -> None:
    """The largest VmHWM (KiB) of the job's algorithm processes, polled in /proc."""
    needle = job.encode()
    while not stop.wait(0.2):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"algorithms.kmeans" not in cmdline and b"kmeans" not in cmdline:
                    continue
                if needle not in Path(f"/proc/{pid}/environ").read_bytes():
                    continue
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    found[pid] = max(found.get(pid, 0), int(line.split()[1]))


def stage(s3: Any, channel: Path) -> tuple[float | None, str]:
    """The channel's files in a bucket of the server (its folder is kept per runtime): uploaded,
    with the seconds it took, or found there from an earlier run (None)."""
    bucket = f"kscale-{channel.parent.name}"
    paths = sorted(channel.iterdir())
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="train/").get("Contents", [])
    except s3.exceptions.NoSuchBucket:
        s3.create_bucket(Bucket=bucket)
        listed = []
    if {(o["Key"], o["Size"]) for o in listed} == {
        (f"train/{p.name}", p.stat().st_size) for p in paths
    }:
        return None, bucket
    start = time.perf_counter()
    for path in paths:
        s3.upload_file(str(path), bucket, f"train/{path.name}")
    return time.perf_counter() - start, bucket


def api_job(runtime: str, mode: str, channel: Path, work: Path) -> dict[str, Any]:
    from emulator.runtime.images import image_uri
    from sdk.launcher import start_emulator
    from sdk.session import boto_session

    with start_emulator(work / f"server-{runtime}", runtime=runtime, timeout=120.0) as server:
        session = boto_session(server.url, REGION)
        s3, sm = session.client("s3"), session.client("sagemaker")
        upload_s, bucket = stage(s3, channel)
        job = f"kscale-{runtime}-{mode.lower()}-{uuid.uuid4().hex[:6]}"
        stop, found = threading.Event(), dict[str, int]()
        watcher = threading.Thread(target=watch_peak, args=(job, stop, found), daemon=True)
        watcher.start()
        start = time.perf_counter()
        sm.create_training_job(
            TrainingJobName=job,
            AlgorithmSpecification={
                "TrainingImage": image_uri("kmeans", REGION),
                "TrainingInputMode": mode,
            },
            RoleArn=ROLE,
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{bucket}/train/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out/"},
            ResourceConfig={
                "InstanceType": "ml.c5.4xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 50,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 7200},
            HyperParameters={"feature_dim": str(DIM), "k": str(K), "force_dense": "True"},
        )
        while True:
            d = sm.describe_training_job(TrainingJobName=job)
            if d["TrainingJobStatus"] not in ("InProgress", "Stopping"):
                break
            time.sleep(0.5)
        wall = time.perf_counter() - start
        stop.set()
        watcher.join()
        if d["TrainingJobStatus"] != "Completed":
            raise RuntimeError(f"{job}: {d.get('FailureReason')}")
        model_uri = d["ModelArtifacts"]["S3ModelArtifacts"]
        key = model_uri.split(f"s3://{bucket}/", 1)[1]
        tarball = work / f"model-{runtime}-{mode}.tar.gz"
        s3.download_file(bucket, key, str(tarball))
    import tarfile

    with tarfile.open(tarball) as tar:
        tar.extractall(work / f"model-{runtime}-{mode}", filter="data")
    loaded = ndarray_file.load(work / f"model-{runtime}-{mode}" / "model_algo-1")
    assert isinstance(loaded, list)
    centres = np.asarray(loaded[0])
    peak = max(found.values()) / 1024.0 if found else float("nan")
    return {"wall_s": wall, "upload_s": upload_s, "peak_mib": peak, "centres": centres}


# --- 5. scikit-learn ----------------------------------------------------------------------------


SKLEARN_RUNS = ("minibatch-sample", "kmeans-sample", "minibatch-stream")


def sklearn_models(channel: Path, rows: int, which: list[str]) -> dict[str, dict[str, Any]]:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    out: dict[str, dict[str, Any]] = {}
    if "minibatch-stream" in which:
        # The same rows as ours, in the same bounded memory: one partial_fit per read batch,
        # one pass (its first batch seeds k-means++).
        model = MiniBatchKMeans(n_clusters=K, random_state=0)
        start = time.perf_counter()
        for batch in read(channel):
            model.partial_fit(batch)
        seconds = time.perf_counter() - start
        name = f"sklearn MiniBatchKMeans, partial_fit over all {rows:,} rows (one pass)"
        out[name] = {"seconds": seconds, "centres": model.cluster_centers_.astype(np.float32)}
        print(name, f"{seconds:.1f} s", flush=True)
    runs: list[tuple[str, int, Callable[[], Any]]] = [
        ("sklearn MiniBatchKMeans", 200_000, lambda: MiniBatchKMeans(n_clusters=K, random_state=0)),
        (
            "sklearn KMeans (k-means++, n_init=1)",
            50_000,
            lambda: KMeans(K, n_init=1, random_state=0),
        ),
    ]
    chosen = [run for run, key in zip(runs, SKLEARN_RUNS[:2], strict=True) if key in which]
    for name, count, make in chosen:
        x = sample_rows(channel, rows, min(count, rows), seed=1)
        start = time.perf_counter()
        model = make().fit(x)
        seconds = time.perf_counter() - start
        out[f"{name} on {x.shape[0]:,} rows"] = {
            "seconds": seconds,
            "centres": model.cluster_centers_.astype(np.float32),
        }
        print(name, f"{seconds:.1f} s", flush=True)
    return out


# --- report -------------------------------------------------------------------------------------


def main() -> None:
    global K
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_300_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/kmeans-scale-bench"))
    parser.add_argument("--runtimes", default="process", help="runtime[/Pipe],... ('': none)")
    parser.add_argument("--skip-polish", action="store_true")
    parser.add_argument(
        "--sklearn", default=",".join(SKLEARN_RUNS), help=f"of {SKLEARN_RUNS} ('': none)"
    )
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--polish-files", type=int, default=FILES)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also score a model_algo-1 an earlier job wrote (its MSD over all rows)",
    )
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    K = args.k
    args.work.mkdir(parents=True, exist_ok=True)
    report = [
        f"Generated by `benchmarks/kmeans_scale_bench.py --rows {args.rows}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {THREADS} BLAS threads; load "
        f"average at the start {load()} ({os.cpu_count()} cores).",
        "",
    ]
    square = gemm_gflops(4096, 4096, 4096, 2)
    block_rows = BLOCK_ENTRIES // (K * 10)
    shaped = gemm_gflops(block_rows, DIM, K * 10, 10)  # assign's block against 5,000 centres
    print(f"GEMM float32: square {square:.0f} GFLOP/s, assignment-shaped {shaped:.0f}")
    start = time.perf_counter()
    channel, oracle = prepare(args.rows, args.work)
    size = sum(p.stat().st_size for p in channel.iterdir())
    print(f"data ready in {time.perf_counter() - start:.0f} s: {size / 2**30:.2f} GiB")
    report += [
        f"Data: {args.rows:,} x {DIM} float32 in {FILES} RecordIO files, {size / 2**30:.2f} GiB; "
        f"k={K}; oracle MSD (every row to its own blob's centre) {oracle:.3f}.",
        f"numpy float32 GEMM on this machine, in this run: {square:.0f} GFLOP/s (4096 square), "
        f"{shaped:.0f} GFLOP/s (the streaming pass's shape, {block_rows} x 400 by 400 x 5,000).",
        "",
    ]
    models: dict[str, np.ndarray] = {}
    times: dict[str, str] = {}
    for entry in filter(None, args.runtimes.split(",")):
        runtime, _, mode = entry.partition("/")
        result = api_job(runtime, mode or "File", channel, args.work)
        name = f"ours, {runtime} runtime, {mode or 'File'} mode (API)"
        models[name] = result["centres"]
        times[name] = f"{result['wall_s']:.1f} | {result['peak_mib']:.0f}"
        upload = result["upload_s"]
        print(name, result["wall_s"], result["peak_mib"], "upload", upload or "(staged before)")
    for spec in args.model:
        name, _, path = spec.partition("=")
        earlier = ndarray_file.load(Path(path))
        assert isinstance(earlier, list)
        models[name] = np.asarray(earlier[0])
        times[name] = "- | -"
    which = list(filter(None, args.sklearn.split(",")))
    fitted_models = sklearn_models(channel, args.rows, which) if which else {}
    for name, fitted in fitted_models.items():
        models[name] = fitted["centres"]
        times[name] = f"{fitted['seconds']:.1f} | -"
    msds = msd_over(channel, models) if models else {}
    print(json.dumps({"msds": msds, "times": times, "load": load()}), flush=True)
    report += [
        f"Trained models (load at the end {load()}); MSD over all {args.rows:,} rows:",
        "",
        "| model | time (s) | peak RSS (MiB) | MSD | / oracle |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {times[name]} | {msds[name]:.3f} | {msds[name] / oracle:.4f} |"
            for name in models
        ),
    ]
    if not args.skip_polish:
        lines, facts = polish_choices(channel, args.polish_files)
        report += [
            "",
            f"Polish choices (in-process, on the first {facts['rows']:,} rows "
            f"({args.polish_files} of the {FILES} files); one streaming pass of {facts['stream_s']:.1f} s, "
            f"{facts['stream_gflops']:.0f} GFLOP/s of assignment GEMM, and shrinking "
            f"{facts['shrink_s']:.1f} s, shared by all; load now {load()}):",
            "",
            *lines,
            "",
        ]
    text = "\n".join(report)
    print(text)
    if args.write_results:
        write_results(text)


def write_results(text: str) -> None:
    replace_block(f"{BEGIN}\n{text}\n{END}", BEGIN, END, "k-means at scale")


if __name__ == "__main__":
    main()
