"""The repository stands on its own: a clone with nothing beside it runs, tests and installs.

Each test works on `git clone <this repository> <tmp>/only/repo` (the committed HEAD: uncommitted
changes are not in it), so a file the product reads from outside the repository, or one that is
not committed, fails here. To stay quick they reuse this checkout's `.venv` for the packages
(PYTHONPATH or a `.pth` file points at the clone's code) instead of installing them again;
`scripts/run.sh` from a really fresh machine is measured in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk.launcher import EmulatorServer, start_emulator

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# What may not appear anywhere in the repository: reference material beside it is not part of
# the product, and code cites the repository's own docs (docs/sagemaker-facts.md).
# (Spelt in pieces so that this line does not match itself.)
OUTSIDE_REFERENCES = "|".join(
    [r"\.\./shared", r"shared/(data|docs|notebooks)", "spec \u00a7", "the bri" + "ef"]
)


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=120
    ).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    target = tmp_path_factory.mktemp("clone") / "only" / "repo"
    target.parent.mkdir(parents=True)
    _git("clone", "-q", "--no-hardlinks", str(REPO), str(target), cwd=target.parent)
    assert sorted(p.name for p in target.parent.iterdir()) == ["repo"]
    return target


def _env(**extra: str) -> dict[str, str]:
    """This environment without anything that points at this checkout or at AWS."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and not k.startswith(("AWS_", "SAGEMAKER_EMULATOR_"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _shared_site_packages() -> str:
    return sysconfig.get_paths()["purelib"]


def _venv_on_shared_packages(venv: Path, *first: Path) -> Path:
    """A venv without pip whose imports find `first`, then this checkout's installed packages.

    The packages' own `.pth` files (this checkout's editable install among them) are not run:
    a path listed in a `.pth` file is added to sys.path, its `.pth` files are not read.
    """
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = [*(str(p) for p in first), _shared_site_packages()]
    (Path(site) / "_shared_packages.pth").write_text("\n".join(lines) + "\n")
    return python


def test_nothing_refers_to_material_outside_the_repository(clone: Path) -> None:
    found = subprocess.run(
        ["git", "grep", "-nE", OUTSIDE_REFERENCES],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 1, f"references to material outside the repository:\n{found.stdout}"


def test_the_census_table_is_in_the_clone(clone: Path) -> None:
    table = clone / "sdk" / "data" / "acs2015_county_data.csv"
    digest = hashlib.sha256(table.read_bytes()).hexdigest()
    from sdk.data import CENSUS_SHA256

    assert digest == CENSUS_SHA256
    assert (clone / "examples" / "census_segmentation.ipynb").is_file()


# What the base dependencies leave out: the test tools, and moto's server extras that serve other
# AWS services. The demo and the server must run without them (pyproject.toml).
NOT_INSTALLED_FOR_RUNNING = (
    "sagemaker",
    "sklearn",
    "pandas",
    "scipy",
    "faiss",
    "awscli",
    "cfnlint",
    "sympy",
    "networkx",
    "graphql",
    "antlr4",
    "joserfc",
    "jsonpath_ng",
    "openapi_spec_validator",
    "aws_xray_sdk",
    "pyparsing",
    "jsonschema",
)

_BLOCKER = f"""
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {set(NOT_INSTALLED_FOR_RUNNING)!r}:
            raise ModuleNotFoundError(f"{{name}} is not a running dependency")
        return None
sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture(scope="module")
def running_pythonpath(clone: Path) -> str:
    """PYTHONPATH for the clone's code, with the packages running does not need unimportable."""
    blocker = clone.parent.parent / "running-deps"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(_BLOCKER)
    return f"{blocker}{os.pathsep}{clone}"


@pytest.fixture(scope="module")
def clone_emulator(clone: Path, running_pythonpath: str) -> Iterator[EmulatorServer]:
    server = start_emulator(
        clone.parent.parent / "data",
        runtime="process",
        env={"PYTHONPATH": running_pythonpath},
        timeout=120,
    )
    try:
        yield server
    finally:
        server.stop()


def _checked(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (
        f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


def test_the_demo_runs_from_the_clone_on_the_running_dependencies(
    clone: Path, clone_emulator: EmulatorServer, running_pythonpath: str
) -> None:
    health = clone_emulator.health
    assert health["runtime"] == "process"
    elsewhere = clone.parent.parent / "elsewhere"
    elsewhere.mkdir()
    out = _checked(
        subprocess.run(
            [sys.executable, "-m", "sdk.demo", "--endpoint-url", clone_emulator.url],
            cwd=elsewhere,
            env=_env(PYTHONPATH=running_pythonpath),
            capture_output=True,
            text=True,
            timeout=900,
        )
    )
    assert "census: 3218 counties x 34 features" in out
    sizes = re.search(r"k-means: cluster sizes \[([\d, ]+)\] \(total (\d+)\)", out)
    assert sizes is not None, out
    assert int(sizes.group(2)) == 3218
    assert out.rstrip().endswith("demo done.")


def test_the_unit_tier_passes_in_the_clone(clone: Path) -> None:
    classic = REPO / ".venv-classic" / "bin" / "python"
    extra = {"SAGEMAKER_EMULATOR_CLASSIC_PYTHON": str(classic)} if classic.exists() else {}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-x", "-p", "no:cacheprovider"],
        cwd=clone,
        env=_env(PYTHONPATH=str(clone), **extra),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", done.stdout)


def test_run_sh_reaches_the_end_of_the_demo(clone: Path) -> None:
    """`scripts/run.sh --demo-only` with the process runtime, on a prepared `.venv`.

    The clone's `.venv` finds the clone's code and this checkout's packages, and carries the
    stamp `scripts/dev-venv.sh --run` writes, so run.sh skips the install (timed elsewhere).
    """
    _venv_on_shared_packages(clone / ".venv", clone)
    stamp = hashlib.sha256((clone / "pyproject.toml").read_bytes()).hexdigest()
    (clone / ".venv" / ".pyproject-run.sha256").write_text(stamp + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run(
        ["bash", "scripts/run.sh", "--demo-only"],
        cwd=clone,
        env=_env(
            SAGEMAKER_EMULATOR_SKIP_DOCKER="1",
            PORT=str(port),
            DATA_DIR=str(clone.parent.parent / "run-data"),
            TMPDIR=str(clone.parent.parent),
        ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = _checked(done)
    assert "process runtime" in out
    assert "demo done." in out
    assert out.rstrip().endswith("demo done")  # run.sh's own last step line: it did not serve on
    with socket.socket() as s:  # and the server it started is gone
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_pip_install_of_the_clone_works_from_outside_it(clone: Path) -> None:
    """`pip install <clone>` (not editable): the command, the demo's data, the pytest plugin."""
    venv = clone.parent.parent / "installed"
    python = _venv_on_shared_packages(venv)
    _checked(
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", str(clone)],
            env=_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
            capture_output=True,
            text=True,
            timeout=900,
        )
    )
    elsewhere = clone.parent.parent / "outside"
    elsewhere.mkdir()
    env = _env()

    def run(*command: str) -> str:
        return _checked(
            subprocess.run(
                list(command), cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300
            )
        )

    assert run(str(venv / "bin" / "sagemaker-emulator"), "--version").strip()
    assert "--endpoint-url" in run(str(python), "-m", "sdk.demo", "--help")
    where = run(
        str(python),
        "-c",
        "import hashlib, importlib.metadata as md, sdk, algorithms.common.recordio as r;"
        "from sdk.data import census_csv;"
        "print(sdk.__file__); print(r.__file__);"
        "print(hashlib.sha256(census_csv().read_bytes()).hexdigest());"
        "print([e.value for e in md.entry_points(group='pytest11')])",
    ).splitlines()
    installed = str(venv)
    assert where[0].startswith(installed) and where[1].startswith(installed), where
    from sdk.data import CENSUS_SHA256

    assert where[2] == CENSUS_SHA256
    assert "sdk.pytest_plugin" in where[3]
    site = Path(where[0]).parents[1]
    assert (site / "algorithms" / "common" / "record.proto").is_file()
    assert (site / "sdk" / "data" / "README.md").is_file()

    # `serve` of the installed command (an empty PYTHONPATH is no path: only the install is seen).
    with start_emulator(
        elsewhere / "data", runtime="process", python=str(python), env={"PYTHONPATH": ""}
    ) as server:
        assert server.health["status"] == "ok"
