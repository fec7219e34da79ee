"""What environment a process-runtime child gets, and which request variables it must refuse.

A container isolates its environment: there an `Environment` map can name any variable, as on
AWS. The process runtime runs the algorithm as a subprocess of the emulator, on the host, with the
emulator's rights and with the job's /opt/ml tree (which holds request-supplied files: channels,
model artifacts) as its working directory. A variable that makes the dynamic loader, libc, the
Python interpreter or a shell load code or files of the request's choosing would run that code as
the emulator, so the process runtime refuses them (the Docker runtime passes them on).

The child's environment is built, not inherited: a small fixed base (below), then the request's
variables, then the runtime's own contract variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Families of variables read by the dynamic loader (glibc `LD_*`, macOS `DYLD_*`), by the Python
# interpreter (`PYTHON*`: PYTHONPATH, PYTHONHOME, PYTHONSTARTUP, PYTHONWARNINGS and
# PYTHONBREAKPOINT import modules) and by bash (exported functions override commands).
_REFUSED_PREFIXES = ("LD_", "DYLD_", "PYTHON", "BASH_FUNC_")
_REFUSED_NAMES = frozenset(
    {
        "PATH",  # which program a bare command name runs
        "GCONV_PATH",  # glibc's iconv loads shared objects from here
        "GLIBC_TUNABLES",  # parsed by ld.so itself (CVE-2023-4911)
        "LOCPATH",  # glibc's locale data files
        "NLSPATH",  # glibc's message catalogues
        "OPENSSL_CONF",  # an OpenSSL config can load an engine (a shared object)
        "OPENSSL_ENGINES",
        "OPENSSL_MODULES",
        "BASH_ENV",  # a script every non-interactive bash sources
        "ENV",  # the same for sh
        "SHELLOPTS",
        "BASHOPTS",
    }
)
# A locale name with a slash is a path to locale data (glibc honours it for non-setuid programs).
_LOCALE_NAMES = frozenset({"LANG", "LANGUAGE"})

# Tuning variables (OMP_*, OPENBLAS_*, MKL_*, MALLOC_ARENA_MAX, ...) pass: they size thread pools
# and arenas but load nothing.

_BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
_INHERITED = (
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)
"""Taken from the emulator's own environment (the operator's, not a request's) when set: where
the child writes temporary files, how it formats text, how many threads its numerics use.
Nothing else of the server's environment reaches the child."""


def refused_reason(name: str, value: str) -> str | None:
    """Why the process runtime refuses `name=value`, or None when it passes."""
    upper = name.upper()
    if upper in _REFUSED_NAMES or upper.startswith(_REFUSED_PREFIXES):
        return "it steers which code the dynamic loader, libc, the interpreter or a shell loads"
    if (upper in _LOCALE_NAMES or upper.startswith("LC_")) and "/" in value:
        return "a locale name with a slash makes libc load locale data from that path"
    return None


def refused_variables(environment: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, reason) of every variable of `environment` that the process runtime refuses."""
    found = []
    for name, value in environment.items():
        reason = refused_reason(str(name), str(value))
        if reason is not None:
            found.append((str(name), reason))
    return found


def child_environment(
    request: Mapping[str, str], contract: Mapping[str, str], code_root: Path
) -> dict[str, str]:
    """The whole environment of one child: base, then `request`, then `contract` (the runtime's
    own SAGEMAKER_* variables, which the request cannot override)."""
    env = {name: os.environ[name] for name in _INHERITED if os.environ.get(name)}
    env.setdefault("LANG", "C.UTF-8")
    env["PATH"] = _BASE_PATH
    env.update({str(k): str(v) for k, v in request.items()})
    env.update(contract)
    # Set after the request's map: the interpreter finds the algorithms package (and the
    # operator's PYTHONPATH, never a request's) and writes its output unbuffered, line by line.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(code_root), os.environ.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env
