"""How the hosts of one training job combine their partial results: MPI (mpi4py + MPICH).

One host needs none of this: ``connect`` returns ``Solo``, which imports nothing and hands every
value back unchanged, so a single-host run is byte for byte what it was before.

Several hosts are started independently (one container or process each, no ``mpiexec``), so
each is an MPI *singleton* and they must be joined. The MPI standard's way to join two
independently started processes over a socket is ``MPI_Comm_join``: ``algo-1`` listens on
``RENDEZVOUS_PORT``, every other host connects, and each such socket becomes a two-process
communicator (the socket only carries MPICH's own handshake). MPICH numbers every singleton's
process the same way, so a communicator with three or more singletons in it is refused
("groups must not contain the same processes"); the cluster is therefore a star of two-process
communicators around ``algo-1``, which sums (in rank order, so the result is deterministic) and
sends results back. See docs/several-instances.md for why MPICH 4.3 and not 5.0 or Open MPI.

Every wait polls a non-blocking request, so SIGTERM (``docker stop``) still stops a host that is
waiting for the others.
"""

from __future__ import annotations

import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from algorithms.common import logs
from algorithms.common.cluster import Cluster
from algorithms.common.failures import AlgorithmError, ClientError

if TYPE_CHECKING:
    from mpi4py import MPI

F64 = npt.NDArray[np.float64]
T = TypeVar("T")

RENDEZVOUS_PORT = 7777
"""Where ``algo-1`` waits for the other hosts (on its own address)."""
RENDEZVOUS_TIMEOUT_ENV = "SAGEMAKER_EMULATOR_RENDEZVOUS_TIMEOUT"
RENDEZVOUS_TIMEOUT_SECONDS = 600.0
"""How long hosts wait for each other to start (containers can take a while to come up)."""

# MPICH settings, unless the environment says otherwise: the OFI (libfabric) network module
# over TCP sockets. The UCX module MPICH would also pick tries shared memory between the hosts'
# processes, which separate containers do not have.
_MPICH_DEFAULTS = {"MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "tcp"}

_POLL_MIN_SECONDS = 0.0002
_POLL_MAX_SECONDS = 0.01


class Collective(ABC):
    """The operations the built-ins need; every host calls them in the same order."""

    def __init__(self, hosts: tuple[str, ...], rank: int) -> None:
        self.hosts = hosts
        self.rank = rank
        self.size = len(hosts)

    @property
    def is_leader(self) -> bool:
        return self.rank == 0

    @abstractmethod
    def gather(self, value: T) -> list[T] | None:
        """Every host's value, in rank order, on the leader; None elsewhere."""

    @abstractmethod
    def broadcast(self, value: T | None) -> T:
        """The leader's value (None included), on every host (the others pass None)."""

    def reduce_sum(self, array: F64) -> F64 | None:
        """The element-wise float64 sum over the hosts, on the leader (rank order)."""
        parts = self.gather(np.asarray(array, dtype=np.float64))
        if parts is None:
            return None
        total = parts[0].copy()
        for part in parts[1:]:
            total += part
        return total

    def allreduce_sum(self, array: F64) -> F64:
        """The element-wise float64 sum over the hosts, on every host."""
        return self.broadcast(self.reduce_sum(array))

    def agree(self, error: Exception | None) -> None:
        """Raise on every host the first (by rank) error any host met, so none waits forever.

        A host raises its own error; the others raise the first one (a ``ClientError`` stays a
        ``ClientError``) prefixed with the host that met it."""
        found = self.gather(None if error is None else (type(error).__name__, str(error)))
        first = None
        if found is not None:
            first = next(((rank, e) for rank, e in enumerate(found) if e is not None), None)
        outcome = self.broadcast(first)
        if outcome is None:
            return
        if error is not None:
            raise error
        rank, (kind, message) = outcome
        cls = ClientError if kind == ClientError.__name__ else AlgorithmError
        raise cls(f"{self.hosts[rank]}: {message}")

    def close(self) -> None:  # noqa: B027 - Solo has nothing to leave
        """Leave the cluster (every host, after its last collective)."""

    def run_local(self, step: Callable[[], T]) -> T:
        """Run one host's own part of a step; a data or algorithm error on any host is raised
        on every host (``agree``), so no host is left waiting in the next collective."""
        error: Exception | None = None
        result: T | None = None
        try:
            result = step()
        except Exception as exc:  # every host must hear of it; then it is raised
            error = exc
        self.agree(error)
        return result  # type: ignore[return-value]


class Solo(Collective):
    """One host: every collective is the identity."""

    def __init__(self, host: str) -> None:
        super().__init__((host,), 0)

    def gather(self, value: T) -> list[T] | None:
        return [value]

    def broadcast(self, value: T | None) -> T:
        return cast(T, value)

    def reduce_sum(self, array: F64) -> F64 | None:
        return array

    def allreduce_sum(self, array: F64) -> F64:
        return array

    def agree(self, error: Exception | None) -> None:
        if error is not None:
            raise error


def _wait(request: MPI.Request) -> Any:
    """Complete a request while letting Python run signal handlers between polls."""
    pause = _POLL_MIN_SECONDS
    while True:
        done, value = request.test()
        if done:
            return value
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX_SECONDS)


def _receive(comm: MPI.Intracomm, source: int) -> Any:
    pause = _POLL_MIN_SECONDS
    while True:
        message = comm.improbe(source=source)
        if message is not None:
            return message.recv()
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX_SECONDS)


class MpiStar(Collective):
    """Several hosts: two-process MPI communicators between ``algo-1`` and each other host."""

    def __init__(self, cluster: Cluster, peers: dict[int, MPI.Intracomm]) -> None:
        super().__init__(cluster.hosts, cluster.rank)
        self._peers = peers  # leader: rank -> its communicator; others: {0: the leader's}

    def gather(self, value: T) -> list[T] | None:
        if not self.is_leader:
            _wait(self._peers[0].isend(value, dest=0))
            return None
        values: list[T] = [value]
        for rank in range(1, self.size):
            values.append(_receive(self._peers[rank], source=1))
        return values

    def broadcast(self, value: T | None) -> T:
        if not self.is_leader:
            received: T = _receive(self._peers[0], source=0)
            return received
        requests = [self._peers[rank].isend(value, dest=1) for rank in range(1, self.size)]
        for request in requests:
            _wait(request)
        return cast(T, value)

    def close(self) -> None:
        for comm in self._peers.values():
            comm.Disconnect()
        self._peers = {}


def _timeout() -> float:
    raw = os.environ.get(RENDEZVOUS_TIMEOUT_ENV, "")
    try:
        return float(raw) if raw else RENDEZVOUS_TIMEOUT_SECONDS
    except ValueError:
        return RENDEZVOUS_TIMEOUT_SECONDS


def _import_mpi(cluster: Cluster) -> Any:
    for name, value in _MPICH_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # In a container, MPI traffic goes over the interface the platform names (the job's
    # network), not whichever libfabric finds first.
    interface = cluster.network_interface
    if not cluster.addresses_given and interface and os.path.exists(f"/sys/class/net/{interface}"):
        os.environ.setdefault("FI_TCP_IFACE", interface)
    try:
        from mpi4py import MPI
    except ImportError as exc:  # the image or the venv lacks the dependency
        raise AlgorithmError(f"Training on several hosts needs mpi4py and MPI: {exc}") from None
    return MPI


def _lead(cluster: Cluster, mpi: Any, deadline: float) -> dict[int, MPI.Intracomm]:
    """``algo-1``: accept every other host and join each socket into a communicator."""
    bind = cluster.address(cluster.leader) if cluster.addresses_given else ""
    peers: dict[int, MPI.Intracomm] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((bind, RENDEZVOUS_PORT))
        server.listen(cluster.size)
        while len(peers) < cluster.size - 1:
            server.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                conn, _ = server.accept()
            except TimeoutError:
                waiting = [h for r, h in enumerate(cluster.hosts) if r and r not in peers]
                raise AlgorithmError(
                    f"Hosts {', '.join(waiting)} did not join the cluster in time"
                ) from None
            with conn:
                inter = mpi.Comm.Join(conn.fileno())
            pair = inter.Merge(high=False)
            inter.Disconnect()
            rank = _receive(pair, source=1)
            if not isinstance(rank, int) or not 0 < rank < cluster.size or rank in peers:
                pair.Disconnect()
                raise AlgorithmError(f"A host joined with an unexpected rank {rank!r}")
            peers[rank] = pair
    return peers


def _follow(cluster: Cluster, mpi: Any, deadline: float) -> dict[int, MPI.Intracomm]:
    """Every other host: connect to ``algo-1`` (it may not be up yet) and join."""
    address = cluster.address(cluster.leader)
    pause = 0.05
    while True:
        try:
            conn = socket.create_connection((address, RENDEZVOUS_PORT), timeout=5.0)
            break
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise AlgorithmError(
                    f"Could not reach {cluster.leader} at {address}:{RENDEZVOUS_PORT}: {exc}"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
    with conn:
        conn.settimeout(None)
        inter = mpi.Comm.Join(conn.fileno())
    pair = inter.Merge(high=True)
    inter.Disconnect()
    _wait(pair.isend(cluster.rank, dest=0))
    return {0: pair}


def connect(cluster: Cluster) -> Collective:
    """The cluster's collective: ``Solo`` for one host, else the MPI star (after rendezvous)."""
    if cluster.size == 1:
        return Solo(cluster.current_host)
    log = logs.get_logger()
    mpi = _import_mpi(cluster)
    deadline = time.monotonic() + _timeout()
    log.info(
        f"Joining {cluster.size} hosts as {cluster.current_host} (rank {cluster.rank}); "
        f"rendezvous at {cluster.address(cluster.leader)}:{RENDEZVOUS_PORT}"
    )
    try:
        peers = (
            _lead(cluster, mpi, deadline) if cluster.is_leader else _follow(cluster, mpi, deadline)
        )
    except mpi.Exception as exc:
        raise AlgorithmError(f"MPI could not join the hosts: {exc}") from None
    log.info(f"All {cluster.size} hosts joined.")
    return MpiStar(cluster, peers)
