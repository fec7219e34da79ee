"""The classic notebook environment (`.venv-classic`: mxnet 1.9.1, numpy 1.23.5, sagemaker 2.243.2).

Its numpy cannot live beside the dev venv's, so tests run scripts in its Python as subprocesses.
`scripts/classic-venv.sh` builds it; `SAGEMAKER_EMULATOR_CLASSIC_PYTHON` overrides where it is.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def classic_python() -> Path:
    """The classic venv's python; fails the calling test (never skips) when it is missing."""
    override = os.environ.get("SAGEMAKER_EMULATOR_CLASSIC_PYTHON")
    python = Path(override) if override else REPO / ".venv-classic" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} does not exist: build it with scripts/classic-venv.sh")
    return python


def run_classic(script: str, *args: str, cwd: Path | None = None, timeout: float = 300) -> str:
    """Run `script` (Python source) in the classic venv and return its stdout.

    A non-zero exit fails the calling test with the script's stderr.
    """
    completed = subprocess.run(
        [str(classic_python()), "-c", script, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "SAGEMAKER_SUPPRESS_V2_WARNING": "1"},
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(
            f"classic venv script failed (exit {completed.returncode}):\n{completed.stderr}",
            pytrace=False,
        )
    return completed.stdout


__all__ = ["classic_python", "run_classic"]
