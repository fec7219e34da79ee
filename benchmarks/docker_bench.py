"""Docker runtime benchmark: what a container costs beside the process runtime.

Runtime level (no emulator):
1. Container start overhead: the phases of one short container on the engine (create,
   put_archive of an /opt/ml tree, start, wait for `python3 -c pass`, get_archive, remove), and a
   whole PCA training run on the census table through DockerRuntime vs ProcessRuntime.
2. Serving start: start_serving -> first GET /ping 200, Docker vs process.
3. Direct invoke latency of one-record JSON requests to a serving container: its bridge address
   (what DockerRuntime uses on a Linux host), its published 127.0.0.1 port (docker-proxy), and
   the process runtime's child.

Through the API (two emulators side by side, one per runtime, repeats interleaved):
4. CreateTrainingJob -> Completed and CreateEndpoint -> InService as a client polling every 20 ms,
   and InvokeEndpoint p50/p99 over a keep-alive connection.

Usage: .venv/bin/python benchmarks/docker_bench.py [--repeats 5] [--requests 2000]
           [--write-results]   (replaces the Docker section of benchmarks/RESULTS.md)
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from control_plane_bench import (  # noqa: E402
    census_matrix,
    latencies,
    percentile,
    poster,
    time_endpoint,
    time_training,
    upload_record_set,
)
from results_md import replace_block  # noqa: E402

from algorithms.common.recordio import encode_dense  # noqa: E402
from emulator.runtime.base import ContainerRuntime, ContainerSpec, ServingHandle  # noqa: E402
from emulator.runtime.docker_runtime import DockerRuntime  # noqa: E402
from emulator.runtime.images import image_uri, local_image  # noqa: E402
from emulator.runtime.optml import OptMlTree  # noqa: E402
from emulator.runtime.process_runtime import ProcessRuntime  # noqa: E402
from emulator.services.training.spec import parse  # noqa: E402
from sdk.launcher import start_emulator  # noqa: E402
from sdk.session import boto_session  # noqa: E402

START, END = "<!-- docker-bench:start -->", "<!-- docker-bench:end -->"
RUNTIMES = ("process", "docker")


def pca_tree(root: Path, matrix: np.ndarray) -> OptMlTree:
    tree = OptMlTree(root)
    tree.create()
    tree.write_training_config(
        parse(
            {
                "TrainingJobName": "bench-pca",
                "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
                "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
                "HyperParameters": {
                    "feature_dim": str(matrix.shape[1]),
                    "num_components": "33",
                    "mini_batch_size": "500",
                },
                "AlgorithmSpecification": {
                    "TrainingImage": image_uri("pca", "us-east-1"),
                    "TrainingInputMode": "File",
                },
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "ContentType": "application/x-recordio-protobuf",
                        "DataSource": {
                            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/"}
                        },
                    }
                ],
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            }
        )
    )
    tree.channel_dir("train").mkdir(parents=True)
    (tree.channel_dir("train") / "matrix_0.pbr").write_bytes(encode_dense(matrix))
    return tree


def container_phases(tree: OptMlTree) -> dict[str, float]:
    """Seconds per phase of one short container, straight on the engine."""
    client = docker.from_env()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(tree.root), arcname="opt/ml")
    archive = buffer.getvalue()
    times: dict[str, float] = {}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = call()
        times[name] = time.perf_counter() - start
        return result

    container = timed(
        "create",
        lambda: client.containers.create(
            local_image("pca"), entrypoint=["python3", "-c", "pass"], init=True
        ),
    )
    timed("put_archive", lambda: container.put_archive("/", archive))
    timed("start", container.start)
    timed("wait (python3 -c pass)", container.wait)

    def copy_out() -> None:
        chunks, _ = container.get_archive("/opt/ml/model")
        for _ in chunks:
            pass

    timed("get_archive", copy_out)
    timed("remove", lambda: container.remove(force=True))
    return times


def archive_throughput(root: Path, mib: int) -> tuple[float, float]:
    """MB/s of DockerRuntime's copy of a big channel into a container and of a model out."""
    from emulator.runtime.docker_archive import copy_out, opt_ml_archive

    channel = root / "opt_ml" / "input" / "data" / "train"
    channel.mkdir(parents=True)
    (root / "opt_ml" / "model").mkdir()
    block = np.random.default_rng(0).bytes(1 << 20)
    with open(channel / "big.bin", "wb") as handle:
        for _ in range(mib):
            handle.write(block)
    client = docker.from_env()
    container = client.containers.create(
        local_image("pca"),
        entrypoint=["sh", "-c", "cp /opt/ml/input/data/train/big.bin /opt/ml/model/"],
    )
    try:
        start = time.perf_counter()
        container.put_archive("/", opt_ml_archive(root / "opt_ml"))
        copy_in = time.perf_counter() - start
        container.start()
        container.wait()
        start = time.perf_counter()
        copy_out(container, "/opt/ml/model", root / "out")
        copy_out = time.perf_counter() - start
    finally:
        container.remove(force=True)
        shutil.rmtree(root, ignore_errors=True)
    size = mib * (1 << 20) / 1e6
    return size / copy_in, size / copy_out


def train_once(runtime: ContainerRuntime, tree: OptMlTree) -> float:
    start = time.perf_counter()
    handle = runtime.start_training(
        ContainerSpec(
            mode="train",
            image=image_uri("pca", "us-east-1"),
            algorithm="pca",
            opt_ml=tree.root,
            name="bench-train",
        )
    )
    code = handle.wait(timeout=600)
    handle.collect()
    if code != 0:
        raise RuntimeError(f"training exited {code}: {tree.read_failure()}")
    return time.perf_counter() - start


def split_url(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def ping_until_ok(url: str, timeout: float = 60) -> None:
    host, port = split_url(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.005)


@contextmanager
def serving(runtime: ContainerRuntime, model: Path, workdir: Path) -> Iterator[tuple[Any, float]]:
    tree = OptMlTree(workdir)
    tree.create()
    shutil.copytree(model, tree.model_dir, dirs_exist_ok=True)
    start = time.perf_counter()
    handle: ServingHandle = runtime.start_serving(
        ContainerSpec(
            mode="serve",
            image=image_uri("pca", "us-east-1"),
            algorithm="pca",
            opt_ml=tree.root,
            name="bench-serve",
        )
    )
    ping_until_ok(handle.url)
    elapsed = time.perf_counter() - start
    try:
        yield handle, elapsed
    finally:
        handle.stop(5)


def p50_p99(host: str, port: int, body: bytes, count: int) -> tuple[float, float]:
    samples = latencies(poster(host, port, "/invocations", body)(), count)
    return percentile(samples, 50), percentile(samples, 99)


def published_port(handle: Any) -> int:
    container = docker.from_env().containers.get(handle.container_id)
    return int(container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])


def fmt_s(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s"


def fmt_ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.2f} / {pair[1]:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()

    matrix = census_matrix().astype(np.float32)
    request = json.dumps({"instances": [{"features": matrix[0].tolist()}]}).encode()
    workdir = Path(tempfile.mkdtemp(prefix="docker-bench-"))
    runtimes: dict[str, ContainerRuntime] = {
        "process": ProcessRuntime(),
        "docker": DockerRuntime(scope="docker-bench"),
    }
    rows: list[tuple[str, str, str, str]] = []
    try:
        # 1. Container start overhead.
        phase_runs = [
            container_phases(pca_tree(workdir / f"phases-{i}", matrix)) for i in range(args.repeats)
        ]
        for phase in phase_runs[0]:
            median = statistics.median(run[phase] for run in phase_runs)
            rows.append((f"container phase: {phase}", "", "", f"{median * 1000:.0f} ms"))
        total = statistics.median(sum(run.values()) for run in phase_runs)
        rows.append(("**container round trip, all phases**", "", "", f"**{total:.2f} s**"))

        copy_in, copy_out = archive_throughput(workdir / "big", 512)
        rows.append(
            (
                "/opt/ml copy in / out, 512 MiB channel (put/get_archive)",
                "",
                "",
                f"{copy_in:.0f} / {copy_out:.0f} MB/s",
            )
        )

        train_times: dict[str, list[float]] = {name: [] for name in RUNTIMES}
        model_dir = workdir / "model"
        for i in range(args.repeats):
            for name in RUNTIMES:
                tree = pca_tree(workdir / f"train-{name}-{i}", matrix)
                train_times[name].append(train_once(runtimes[name], tree))
                if not model_dir.exists():
                    shutil.copytree(tree.model_dir, model_dir)
        overhead = statistics.median(train_times["docker"]) - statistics.median(
            train_times["process"]
        )
        rows.append(
            (
                "PCA training run (census 3218 x 34), runtime level",
                fmt_s(train_times["process"]),
                fmt_s(train_times["docker"]),
                f"+{overhead:.2f} s",
            )
        )

        # 2 + 3. Serving start and direct latency.
        serve_times: dict[str, list[float]] = {name: [] for name in RUNTIMES}
        for i in range(args.repeats):
            for name in RUNTIMES:
                with serving(runtimes[name], model_dir, workdir / f"serve-{name}-{i}") as (_, t):
                    serve_times[name].append(t)
        rows.append(
            (
                "start_serving -> first /ping 200",
                fmt_s(serve_times["process"]),
                fmt_s(serve_times["docker"]),
                "",
            )
        )
        with (
            serving(runtimes["process"], model_dir, workdir / "lat-process") as (proc, _),
            serving(runtimes["docker"], model_dir, workdir / "lat-docker") as (dock, _),
        ):
            process_lat = p50_p99(*split_url(proc.url), request, args.requests)
            bridge_lat = p50_p99(*split_url(dock.url), request, args.requests)
            proxy_lat = p50_p99("127.0.0.1", published_port(dock), request, args.requests)
        rows.append(
            (
                "direct invoke p50 / p99, bridge address",
                fmt_ms(process_lat),
                fmt_ms(bridge_lat),
                f"{bridge_lat[0] - process_lat[0]:+.2f} ms p50",
            )
        )
        rows.append(
            (
                "direct invoke p50 / p99, published port (docker-proxy)",
                "",
                fmt_ms(proxy_lat),
                f"{proxy_lat[0] - process_lat[0]:+.2f} ms p50",
            )
        )

        # 4. Through the API.
        api = api_side_by_side(workdir, matrix, request, args.repeats, args.requests)
        rows.append(
            (
                "CreateTrainingJob -> Completed (API)",
                fmt_s(api["process"]["completed"]),
                fmt_s(api["docker"]["completed"]),
                "",
            )
        )
        rows.append(
            (
                "CreateEndpoint -> InService (API; target ≤ 3 s)",
                fmt_s(api["process"]["inservice"]),
                fmt_s(api["docker"]["inservice"]),
                "",
            )
        )
        invoke_p = api["process"]["invoke"]
        invoke_d = api["docker"]["invoke"]
        rows.append(
            (
                "InvokeEndpoint p50 / p99 via the emulator (target: within 1 ms)",
                fmt_ms((invoke_p[0], invoke_p[1])),
                fmt_ms((invoke_d[0], invoke_d[1])),
                f"**{invoke_d[0] - invoke_p[0]:+.2f} ms p50**",
            )
        )
    finally:
        for runtime in runtimes.values():
            runtime.close()
        shutil.rmtree(workdir, ignore_errors=True)

    table = render(rows, args)
    print(table)
    if args.write_results:
        write_results(table)


def api_side_by_side(
    workdir: Path, matrix: np.ndarray, request: bytes, repeats: int, requests: int
) -> dict[str, dict[str, Any]]:
    servers = {name: start_emulator(workdir / f"emulator-{name}", name) for name in RUNTIMES}
    results: dict[str, dict[str, Any]] = {
        name: {"completed": [], "inservice": []} for name in RUNTIMES
    }
    try:
        clients = {}
        for name, server in servers.items():
            session = boto_session(server.url)
            sm, s3 = session.client("sagemaker"), session.client("s3")
            s3.create_bucket(Bucket="bench")
            clients[name] = (sm, s3, upload_record_set(s3, "bench", matrix))
        endpoints: dict[str, str] = {}
        for _ in range(repeats):
            for name in RUNTIMES:
                sm, _s3, manifest = clients[name]
                completed, model_data = time_training(sm, "bench", manifest, matrix.shape[1])
                inservice, endpoint = time_endpoint(sm, model_data)
                results[name]["completed"].append(completed)
                results[name]["inservice"].append(inservice)
                if name in endpoints:
                    sm.delete_endpoint(EndpointName=endpoint)
                else:
                    endpoints[name] = endpoint
        for name, server in servers.items():
            host, port = split_url(server.url)
            path = f"/endpoints/{endpoints[name]}/invocations"
            samples = latencies(poster(host, port, path, request)(), requests)
            results[name]["invoke"] = (percentile(samples, 50), percentile(samples, 99))
    finally:
        for server in servers.values():
            server.stop()
    return results


def render(rows: list[tuple[str, str, str, str]], args: argparse.Namespace) -> str:
    engine = docker.from_env().version()
    lines = [
        START,
        "## Docker runtime (benchmarks/docker_bench.py)",
        "",
        f"`.venv/bin/python benchmarks/docker_bench.py --repeats {args.repeats} --requests "
        f"{args.requests}`, {datetime.date.today()}, Docker {engine.get('Version')} "
        f"(overlay2), host Python {platform.python_version()}, images from containers/build.sh, "
        f"{os.cpu_count()} CPUs; medians of {args.repeats}, process and Docker interleaved. "
        "Latency: one-record JSON requests (34 features) over one keep-alive connection.",
        "",
        "| measure | process | docker | docker - process |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        "Targets: InService within 3 s, and InvokeEndpoint through the emulator within 1 ms of "
        "the process runtime (last column; p99 tails are the shared 2-core machine). What a "
        "container adds is its start (the engine's `start` dominates) and "
        "the archive copies of /opt/ml in and out, about half a second per small training job; the "
        "copies run at a few hundred MB/s, so a multi-GB channel adds seconds (the price of an "
        "approach that works the same when the emulator itself runs in a container). "
        "DockerRuntime reaches serving containers by their bridge address on a local Linux "
        "engine: the published port goes through docker-proxy and costs more per request.",
        "",
        f"Image sizes: {image_sizes()}. A cold offline build (debootstrap of the base, wheels, "
        "both images) takes ~45 s; a rebuild with nothing changed ~1.5 s (layer cache).",
        END,
    ]
    return "\n".join(lines)


def image_sizes() -> str:
    client = docker.from_env()
    sizes = []
    for tag in (
        "sagemaker-emulator/base:bookworm",
        local_image("pca"),
        local_image("kmeans"),
        "sagemaker-emulator/emulator:latest",
    ):
        try:
            size = client.images.get(tag).attrs["Size"]
        except docker.errors.ImageNotFound:
            continue
        sizes.append(f"`{tag}` {size / 1e6:.0f} MB")
    return ", ".join(sizes)


def write_results(table: str) -> None:
    replace_block(table, START, END)


if __name__ == "__main__":
    main()
