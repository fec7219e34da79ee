"""`python -m sdk.notebook` on small notebooks: environment set up and undone, failures reported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sdk.notebook import cell_result, cell_text, code_cells
from tests.classic_env import classic_python

pytestmark = pytest.mark.notebook

REPO = Path(__file__).resolve().parents[2]


def notebook(*sources: str) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for i, source in enumerate(sources)
        ],
    }


def run(tmp_path: Path, nb: dict[str, Any], *args: str) -> tuple[int, dict[str, Any], str]:
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    source.write_text(json.dumps(nb))
    command = [str(classic_python()), "-m", "sdk.notebook", str(source), "--output", str(output)]
    done = subprocess.run(
        [*command, "--cwd", str(tmp_path / "kernel"), "--timeout", "120", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, json.loads(output.read_text()), done.stderr


def test_endpoint_url_prepares_the_kernels_environment_and_undoes_it(
    tmp_path: Path, sagemaker_emulator_url: str
) -> None:
    before = Path("/opt/ml/metadata/resource-metadata.json")
    existed = before.read_text() if before.exists() else None
    nb = notebook(
        "import os, sagemaker\nsagemaker.get_execution_role()",
        "import boto3\nsorted(b['Name'] for b in boto3.client('s3').list_buckets()['Buckets'])",
        "os.getcwd()",
    )
    code, out, stderr = run(
        tmp_path, nb, "--endpoint-url", sagemaker_emulator_url, "--create-bucket", "runner-out"
    )
    assert code == 0, stderr[-3000:]
    cells = code_cells(out)
    assert "arn:aws:iam::123456789012:role/" in cell_result(cells[0])
    assert "runner-out" in cell_result(cells[1])
    assert str(tmp_path / "kernel") in cell_result(cells[2])
    assert (before.read_text() if before.exists() else None) == existed


def test_a_failing_cell_fails_the_run_and_its_error_is_in_the_output(tmp_path: Path) -> None:
    code, out, stderr = run(tmp_path, notebook("x = 1", "raise ValueError('boom')", "x"))
    assert code != 0
    assert "boom" in stderr
    cells = code_cells(out)
    assert "ValueError: boom" in cell_text(cells[1])
    assert cells[2].get("outputs") == []  # never reached
