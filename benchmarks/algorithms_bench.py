"""Built-in PCA and k-means against scikit-learn and faiss, side by side on one machine.

Data (float32, generated once into --work and reused):
- PCA: low-rank signal (rank 10, singular values decaying 10:1) plus isotropic noise, shifted
  away from the origin; 1,000,000 x 50 and 200,000 x 400; 10 components.
- k-means: gaussian blobs (unit variance, so the oracle MSD is feature_dim) around k centres
  drawn from N(0, 2^2); 1,000,000 x 50 with k=10 and 200,000 x 400 with k=500.

Ours run through the training entrypoint's ``train`` function on a staged /opt/ml tree whose
channel is our RecordIO file, so every time below **includes reading and decoding RecordIO**.
scikit-learn and faiss are given the rows already in memory (.npy loaded before the clock).
Every method runs in a fresh process (2 BLAS/OpenMP threads); peak memory is that process's
peak RSS (VmHWM) when training returns, including the rows loaded for the in-memory methods and
the imports.

Quality: PCA, the largest relative error of the top-10 (and top-5) explained variances against a
float64 eigendecomposition of the exact covariance; k-means, the mean squared distance of every
row to its closest returned centre (computed the same way for all methods).

Usage: .venv/bin/python benchmarks/algorithms_bench.py [--quick] [--only pca|kmeans]
           [--work DIR] [--json out.json] [--write-results]
``--quick`` divides the row counts by 10. ``--write-results`` rewrites the algorithms section
of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THREADS = "2"
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = THREADS

import numpy as np  # noqa: E402  (after the thread settings, which numpy reads at import)
from results_md import replace_block  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BEGIN = "<!-- algorithms_bench:begin -->"
END = "<!-- algorithms_bench:end -->"
PCA_COMPONENTS = 10


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str  # "pca" | "kmeans"
    rows: int
    dim: int
    k: int = 0

    @property
    def label(self) -> str:
        extra = f", k={self.k}" if self.task == "kmeans" else f", {PCA_COMPONENTS} comps"
        return f"{self.rows:,} x {self.dim}{extra}"


def datasets(quick: bool) -> list[Dataset]:
    scale = 10 if quick else 1
    return [
        Dataset("pca-1m-50", "pca", 1_000_000 // scale, 50),
        Dataset("pca-200k-400", "pca", 200_000 // scale, 400),
        Dataset("kmeans-1m-50", "kmeans", 1_000_000 // scale, 50, 10),
        Dataset("kmeans-200k-400", "kmeans", 200_000 // scale, 400, 500),
    ]


# --- data ---------------------------------------------------------------------------------------


def _generate(ds: Dataset, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((ds.rows, ds.dim), dtype=np.float32)
    chunk = 100_000
    if ds.task == "pca":
        rank = 10
        basis = np.linalg.qr(rng.normal(size=(ds.dim, rank)))[0]
        scales = np.linspace(10.0, 1.0, rank)
        offset = rng.normal(scale=5.0, size=ds.dim)
        for start in range(0, ds.rows, chunk):
            n = min(chunk, ds.rows - start)
            signal = (rng.normal(size=(n, rank)) * scales) @ basis.T
            out[start : start + n] = signal + rng.normal(scale=0.3, size=(n, ds.dim)) + offset
    else:
        centres = rng.normal(scale=2.0, size=(ds.k, ds.dim))
        for start in range(0, ds.rows, chunk):
            n = min(chunk, ds.rows - start)
            labels = rng.integers(0, ds.k, size=n)
            out[start : start + n] = centres[labels] + rng.normal(size=(n, ds.dim))
    return out


def prepare(ds: Dataset, work: Path) -> Path:
    """``<work>/<name>/`` with data.npy, the RecordIO channel file and (PCA) the reference."""
    sys.path.insert(0, str(REPO))
    from algorithms.common import recordio

    folder = work / ds.name / f"{ds.rows}"
    done = folder / "ready"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12345)
    x = _generate(ds, rng)
    np.save(folder / "data.npy", x)
    channel = folder / "opt_ml" / "input" / "data" / "train"
    channel.mkdir(parents=True, exist_ok=True)
    with open(channel / "matrix_0.pbr", "wb") as handle:
        for start in range(0, ds.rows, 100_000):
            handle.write(recordio.encode_dense(x[start : start + 100_000]))
    if ds.task == "pca":
        x64 = x.astype(np.float64)
        centred = x64 - x64.mean(axis=0)
        eigenvalues = np.linalg.eigvalsh(centred.T @ centred)[::-1] / (ds.rows - 1)
        np.save(folder / "reference_variance.npy", eigenvalues)
    done.write_text("ok")
    return folder


# --- one method, in its own process -------------------------------------------------------------


def _msd(x: np.ndarray, centres: np.ndarray) -> float:
    from algorithms.kmeans.fit import assign

    total = 0.0
    for start in range(0, x.shape[0], 50_000):
        block = x[start : start + 50_000]
        labels, _ = assign(block, centres)
        diff = block.astype(np.float64) - centres[labels].astype(np.float64)
        total += float(np.einsum("ij,ij->", diff, diff))
    return total / float(x.shape[0])


def _stage(folder: Path, tree: Path, hyperparameters: dict[str, str]) -> None:
    config = tree / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps({"train": {}}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1"}))
    data = tree / "input" / "data"
    data.mkdir(parents=True, exist_ok=True)
    link = data / "train"
    if not link.exists():
        link.symlink_to(folder / "opt_ml" / "input" / "data" / "train")


def run_method(method: str, ds: Dataset, folder: Path, scratch: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from algorithms.common import ndarray_file
    from algorithms.common.optml import OptMl

    result: dict[str, Any] = {}
    if method.startswith("ours-"):
        tree = scratch / method
        if ds.task == "pca":
            from algorithms.pca.train import train as train_pca

            mode = method.split("-", 1)[1]
            hp = {
                "feature_dim": str(ds.dim),
                "num_components": str(PCA_COMPONENTS),
                "mini_batch_size": "500",
                "algorithm_mode": mode,
            }
            _stage(folder, tree, hp)
            log = open(scratch / f"{method}.log", "w")  # noqa: SIM115
            stdout, sys.stdout = sys.stdout, log
            start = time.perf_counter()
            train_pca(OptMl(tree))
            elapsed = time.perf_counter() - start
            sys.stdout = stdout
            model = ndarray_file.load(tree / "model" / "model_algo-1")
            assert isinstance(model, dict)
            variance = np.sort(model["s"].astype(np.float64) ** 2 / (ds.rows - 1))[::-1]
        else:
            from algorithms.kmeans.train import train as train_kmeans

            _stage(
                folder, tree, {"feature_dim": str(ds.dim), "k": str(ds.k), "force_dense": "True"}
            )
            log = open(scratch / f"{method}.log", "w")  # noqa: SIM115
            stdout, sys.stdout = sys.stdout, log
            start = time.perf_counter()
            train_kmeans(OptMl(tree))
            elapsed = time.perf_counter() - start
            sys.stdout = stdout
            model = ndarray_file.load(tree / "model" / "model_algo-1")
            assert isinstance(model, list)
            centres = model[0]
        log.close()
    else:
        x = np.load(folder / "data.npy")
        if ds.task == "pca":
            from sklearn.decomposition import PCA

            solver = {"sklearn-full": "full", "sklearn-randomized": "randomized"}.get(
                method, "auto"
            )
            pca = PCA(n_components=PCA_COMPONENTS, svd_solver=solver, random_state=0)
            start = time.perf_counter()
            pca.fit(x)
            elapsed = time.perf_counter() - start
            variance = np.asarray(pca.explained_variance_, dtype=np.float64)
        elif method == "sklearn-kmeans++":
            from sklearn.cluster import KMeans

            km = KMeans(n_clusters=ds.k, init="k-means++", n_init=1, random_state=0)
            start = time.perf_counter()
            km.fit(x)
            elapsed = time.perf_counter() - start
            centres = km.cluster_centers_
        elif method == "sklearn-minibatch":
            from sklearn.cluster import MiniBatchKMeans

            mb = MiniBatchKMeans(n_clusters=ds.k, random_state=0)
            start = time.perf_counter()
            mb.fit(x)
            elapsed = time.perf_counter() - start
            centres = mb.cluster_centers_
        elif method == "faiss":
            import faiss

            fk = faiss.Kmeans(ds.dim, ds.k, seed=1)
            start = time.perf_counter()
            fk.train(x)
            elapsed = time.perf_counter() - start
            centres = np.asarray(fk.centroids)
        else:
            raise SystemExit(f"unknown method {method}")
    result["seconds"] = elapsed
    result["peak_mib"] = _peak_rss_mib()  # before the quality check maps the rows in
    if ds.task == "pca":
        reference = np.load(folder / "reference_variance.npy")[:PCA_COMPONENTS]
        error = np.abs(variance[:PCA_COMPONENTS] - reference) / reference
        result["variance_error_top10"] = float(error.max())
        result["variance_error_top5"] = float(error[:5].max())
    else:
        x = np.load(folder / "data.npy", mmap_mode="r")
        result["msd"] = _msd(np.asarray(x), np.asarray(centres, dtype=np.float32))
    return result


METHODS = {
    "pca": [
        "ours-regular",
        "ours-randomized",
        "sklearn-full",
        "sklearn-randomized",
        "sklearn-default",
    ],
    "kmeans": ["ours", "sklearn-kmeans++", "sklearn-minibatch", "faiss"],
}


def measure(method: str, ds: Dataset, folder: Path, scratch: Path) -> dict[str, Any]:
    """Run one method in a fresh interpreter."""
    method_arg = "ours-kmeans" if method == "ours" else method
    cmd = [
        sys.executable,
        __file__,
        "--child",
        json.dumps(
            {
                "method": method_arg,
                "dataset": ds.__dict__,
                "folder": str(folder),
                "scratch": str(scratch),
            }
        ),
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{method} on {ds.name} failed ({proc.returncode}):\n{proc.stdout}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM belongs to the address space, so it starts afresh at exec;
    a wait4/getrusage maximum would include the parent's peak, which fork passes on)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# --- report -------------------------------------------------------------------------------------


def _fmt_pca(rows: list[tuple[Dataset, str, dict[str, Any]]]) -> list[str]:
    lines = [
        "| data | method | time (s) | peak RSS (MiB) | top-10 variance rel. error | top-5 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for ds, method, r in rows:
        lines.append(
            f"| {ds.label} | {method} | {r['seconds']:.3f} | {r['peak_mib']:.0f} | "
            f"{r['variance_error_top10']:.1e} | {r['variance_error_top5']:.1e} |"
        )
    return lines


def _fmt_kmeans(rows: list[tuple[Dataset, str, dict[str, Any]]]) -> list[str]:
    lines = [
        "| data | method | time (s) | peak RSS (MiB) | MSD | MSD / oracle |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for ds, method, r in rows:
        lines.append(
            f"| {ds.label} | {method} | {r['seconds']:.2f} | {r['peak_mib']:.0f} | "
            f"{r['msd']:.3f} | {r['msd'] / ds.dim:.4f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["pca", "kmeans"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/sagemaker-emulator-bench"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        spec = json.loads(args.child)
        ds = Dataset(**spec["dataset"])
        result = run_method(spec["method"], ds, Path(spec["folder"]), Path(spec["scratch"]))
        print(json.dumps(result))
        return

    selected = [ds for ds in datasets(args.quick) if args.only in (None, ds.task)]
    table: dict[str, list[tuple[Dataset, str, dict[str, Any]]]] = {"pca": [], "kmeans": []}
    raw: list[dict[str, Any]] = []
    for ds in selected:
        folder = prepare(ds, args.work)
        for method in METHODS[ds.task]:
            scratch = args.work / "scratch" / f"{ds.name}-{ds.rows}-{method}-{time.time_ns()}"
            scratch.mkdir(parents=True)
            result = measure(method, ds, folder, scratch)
            table[ds.task].append((ds, method, result))
            raw.append({"dataset": ds.name, "rows": ds.rows, "method": method, **result})
            print(json.dumps(raw[-1]), flush=True)

    report: list[str] = []
    if table["pca"]:
        report += ["", *_fmt_pca(table["pca"])]
    if table["kmeans"]:
        report += ["", *_fmt_kmeans(table["kmeans"])]
    print("\n".join(report))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    if args.write_results:
        write_results(report, args.quick)


def write_results(report: list[str], quick: bool) -> None:
    """Replace only the generated table block of the algorithms section of RESULTS.md."""
    block = "\n".join(
        [
            BEGIN,
            f"Generated by `benchmarks/algorithms_bench.py{' --quick' if quick else ''}` on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {THREADS} threads.",
            *report,
            END,
        ]
    )
    replace_block(block, BEGIN, END, "Algorithms (PCA, k-means)")


if __name__ == "__main__":
    main()
