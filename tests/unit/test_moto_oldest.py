"""tests/unit/test_moto_internals.py under the oldest moto that pyproject.toml allows.

The dev venv has the newest moto; `scripts/moto-oldest-venv.sh` builds `.venv-moto-oldest` with
the lower bound of pyproject's `moto[s3]>=X`, and this runs the internals' tests there, so the
bound is one the emulator's use of moto's internals really works with.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-moto-oldest"


def oldest_allowed() -> str:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = [m.group(1) for d in deps if (m := re.fullmatch(r"moto(?:\[[^]]*\])?>=([\d.]+)", d))]
    assert len(bounds) == 1, f"one moto[...]>=X dependency expected in pyproject.toml: {deps}"
    return bounds[0]


def test_the_internals_pass_under_the_oldest_allowed_moto() -> None:
    floor = oldest_allowed()
    if importlib.metadata.version("moto") == floor:
        return  # this process has it: test_moto_internals.py is that run
    python = VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} does not exist: build it with scripts/moto-oldest-venv.sh")
    found = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('moto'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found == floor, f"{VENV} has moto {found}, not {floor}: run scripts/moto-oldest-venv.sh"
    # No conftest: the test file needs nothing but moto, pytest and the module under test.
    command = [str(python), "-m", "pytest", "-q", "--noconftest", "-p", "no:cacheprovider"]
    completed = subprocess.run(
        [*command, "tests/unit/test_moto_internals.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    sys.stdout.write(completed.stdout)
    assert completed.returncode == 0, (
        f"moto {floor}: tests/unit/test_moto_internals.py failed\n{completed.stdout[-6000:]}"
        f"\n{completed.stderr[-2000:]}"
    )
