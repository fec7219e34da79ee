"""One handle over the hosts of a training job, whatever runs them.

A job with several hosts ends when every host has exited 0, or as soon as one host fails: its
exit code (and name) is the job's, and the caller then stops the others. Stop and collect act on
every host at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from emulator.runtime.base import MeasuredHandle, TrainingHandle, Usage

_POLL_SECONDS = 0.05


class Cluster:
    def __init__(
        self,
        hosts: Sequence[tuple[str, TrainingHandle]],
        on_end: Callable[[], None] | None = None,
    ) -> None:
        """`hosts`: (host name, its handle), in host order. `on_end` runs once after `collect`
        (e.g. removing the job's network)."""
        self._hosts = list(hosts)
        self._codes: dict[str, int] = {}
        self._failed: str | None = None
        self._on_end = on_end
        self._ended = False
        self._lock = threading.Lock()

    @property
    def failed_host(self) -> str | None:
        return self._failed

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for name, handle in self._hosts:
                if name in self._codes:
                    continue
                code = handle.wait(timeout=0)
                if code is not None:
                    self._codes[name] = code
                    if code != 0 and self._failed is None:
                        self._failed = name
            if self._failed is not None:
                return self._codes[self._failed]
            if len(self._codes) == len(self._hosts):
                return 0
            if deadline is not None and time.monotonic() >= deadline:
                return None
            pause = _POLL_SECONDS
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            if len(self._hosts) == 1:
                # One host: block on it, no polling.
                name, handle = self._hosts[0]
                code = handle.wait(timeout=None if deadline is None else pause)
                if code is not None:
                    self._codes[name] = code
                    if code != 0:
                        self._failed = name
                    continue
            else:
                time.sleep(pause)

    def host_usage(self) -> dict[str, Usage]:
        """What each running host uses now (hosts that cannot be measured are left out)."""
        found: dict[str, Usage] = {}
        for name, handle in self._hosts:
            usage = handle.usage() if isinstance(handle, MeasuredHandle) else None
            if usage is not None:
                found[name] = usage
        return found

    def stop(self, grace_seconds: float) -> None:
        """Stop every host that still runs, all at once (each gets the same grace period)."""
        threads = [
            threading.Thread(target=handle.stop, args=(grace_seconds,), daemon=True)
            for _, handle in self._hosts
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def collect(self) -> None:
        try:
            for _, handle in self._hosts:
                handle.collect()
        finally:
            with self._lock:
                ended, self._ended = self._ended, True
            if not ended and self._on_end is not None:
                self._on_end()
