"""ProcessRuntime.cleanup_orphans: serving children of a dead emulator on the same data dir die.

A lone `kill -9` of the emulator leaves its subprocesses running (they are not its threads); the
next emulator on that data dir finds them by their scope marker and stops them, and leaves other
emulators' children alone.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import numpy as np

from algorithms.common import ndarray_file
from emulator.runtime.base import ContainerSpec
from emulator.runtime.optml import OptMlTree
from emulator.runtime.process_runtime import ProcessRuntime


def _serving(tmp: Path, name: str) -> ContainerSpec:
    tree = OptMlTree(tmp / name)
    tree.create()
    # A k-means model (two centroids in 3-D), so `serve` comes up and answers /ping.
    ndarray_file.save(tree.model_dir / "model_algo-1", [np.eye(2, 3, dtype=np.float32)])
    return ContainerSpec(
        mode="serve", image="kmeans", algorithm="kmeans", opt_ml=tree.root, name=name
    )


def _wait_for_ping(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered /ping"
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_cleanup_orphans_stops_children_of_the_same_scope_only(tmp_path: Path) -> None:
    dead = ProcessRuntime(scope="scope-a")  # stands for the emulator that was killed
    other = ProcessRuntime(scope="scope-b")  # another emulator on another data dir
    orphan = dead.start_serving(_serving(tmp_path, "orphan"))
    neighbour = other.start_serving(_serving(tmp_path, "neighbour"))
    orphan_pid = orphan._process.popen.pid
    neighbour_pid = neighbour._process.popen.pid
    try:
        for url in (orphan.url, neighbour.url):
            _wait_for_ping(url)
        successor = ProcessRuntime(scope="scope-a")
        successor.cleanup_orphans()
        deadline = time.monotonic() + 10
        while _alive(orphan_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(orphan_pid), "the orphan of scope-a still runs"
        assert _alive(neighbour_pid), "another scope's child was stopped"
    finally:
        dead.close()
        other.close()
