"""SIGTERM ends `train` even when the Terminated exception it raises gets swallowed (by a
`finally`, a generator's cleanup, or a library's bare `except`): a watchdog exits the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SWALLOWING_ALGORITHM = textwrap.dedent(
    """
    import sys, time
    from algorithms.common.cli import Algorithm, main

    def train(optml):
        print("training", flush=True)
        while True:
            try:
                time.sleep(0.05)
            except BaseException:
                pass  # swallows Terminated, as a careless library might

    sys.exit(main(Algorithm("swallow", train, train), ["train"]))
    """
)


def test_sigterm_exits_even_if_the_exception_is_swallowed(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SWALLOWING_ALGORITHM],
        cwd=REPO,
        env={**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "training":
            break
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stdout.close()
    assert code == 128 + signal.SIGTERM
