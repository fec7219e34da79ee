"""Execute a notebook unchanged with nbclient, and read its outputs back.

Run it with the notebook environment's interpreter (`.venv-classic/bin/python -m sdk.notebook`):
nbclient and the kernel live there, not in the emulator's venv. The kernel inherits this
process's environment, so point it at the emulator first (`sdk.env` / `notebook-env`), or pass
`--endpoint-url` and this module does that, and undoes it afterwards.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def execute(
    notebook: Path,
    *,
    cwd: Path,
    output: Path | None = None,
    timeout: int = 900,
    kernel_name: str = "python3",
) -> dict[str, Any]:
    """Execute every cell of `notebook` in a fresh kernel started in `cwd`.

    The executed notebook is written to `output` even when a cell fails (so its error can be
    read); a failing cell raises nbclient's `CellExecutionError` after that.
    """
    # Imported by name: they exist only in the notebook environment, not in the dev venv mypy
    # checks against.
    nbformat = importlib.import_module("nbformat")
    nbclient = importlib.import_module("nbclient")
    nb = nbformat.read(str(notebook), as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    finally:
        if output is not None:
            nbformat.write(nb, str(output))
    result: dict[str, Any] = json.loads(nbformat.writes(nb))
    return result


def cell_text(cell: dict[str, Any]) -> str:
    """The text a reader sees under a code cell: streams, results, and errors."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_joined(out.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            parts.append(_joined(out.get("data", {}).get("text/plain", "")))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "".join(parts)


def cell_result(cell: dict[str, Any]) -> str:
    """The cell's value as IPython displays it (`execute_result` text), without its streams."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "execute_result":
            return _joined(out.get("data", {}).get("text/plain", ""))
    return ""


def _joined(text: str | list[str]) -> str:
    return text if isinstance(text, str) else "".join(text)


def code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdk.notebook", description=__doc__)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--output", type=Path, help="where to write the executed notebook")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="the kernel's working dir")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument(
        "--endpoint-url",
        help="prepare the environment for this emulator first (and undo it afterwards)",
    )
    parser.add_argument(
        "--create-bucket", action="append", default=[], metavar="NAME", help="with --endpoint-url"
    )
    args = parser.parse_args(argv)

    restore = None
    if args.endpoint_url:
        from sdk import env as sm_env

        sm_env.configure(args.endpoint_url, extra_buckets=args.create_bucket)
        restore = sm_env.undo
    try:
        args.cwd.mkdir(parents=True, exist_ok=True)
        execute(args.notebook, cwd=args.cwd, output=args.output, timeout=args.timeout)
    finally:
        if restore is not None:
            restore(apply=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
