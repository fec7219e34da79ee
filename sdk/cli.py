"""The client-side subcommands of `sagemaker-emulator`: `notebook-env` and `seed`.

`emulator.cli` adds them to its parser with `add_commands(subparsers)`; `python -m sdk.cli` runs
them on their own (handy in a venv that has `sdk` on its path but not the server).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdk import env as sm_env
from sdk import seed as sm_seed
from sdk import session as sm_session

DEFAULT_ENDPOINT_URL = "http://127.0.0.1:8642"


def _default_endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT_URL


def _say(message: str) -> None:
    # Notices go to stderr as shell comments: `eval "$(...)"` shows them and evaluates nothing.
    print(f"# notebook-env: {message}", file=sys.stderr)


def _unreachable(endpoint_url: str, exc: Exception) -> int:
    print(
        f"sagemaker-emulator: cannot reach the emulator at {endpoint_url} ({exc}); "
        "start it with `sagemaker-emulator serve` or pass --endpoint-url",
        file=sys.stderr,
    )
    return 1


def notebook_env(args: argparse.Namespace) -> int:
    """Print `export`/`unset` lines for `eval`; with --undo, the lines that restore the shell."""
    import botocore.exceptions

    state_dir = Path(args.state_dir) if args.state_dir else None
    if args.undo:
        restoration = sm_env.undo(state_dir)
        for notice in restoration.notices:
            _say(notice)
        print("\n".join(restoration.shell_lines()))
        return 0
    metadata = None if args.no_metadata else Path(args.metadata_path)
    try:
        prepared = sm_env.prepare(
            args.endpoint_url,
            region=args.region,
            bucket=args.bucket,
            extra_buckets=args.create_bucket,
            notebook_name=args.notebook_name,
            metadata_path=metadata,
            state_dir=state_dir,
        )
    except botocore.exceptions.EndpointConnectionError as exc:
        return _unreachable(args.endpoint_url, exc)
    for notice in prepared.notices:
        _say(notice)
    _say(
        f"region {prepared.region}, SDK default bucket s3://{prepared.bucket}, notebook "
        f"{prepared.notebook_name!r}; "
        f'undo with: eval "$(sagemaker-emulator notebook-env --undo)"'
    )
    print("\n".join(prepared.shell_lines()))
    return 0


def seed(args: argparse.Namespace) -> int:
    """Upload a file or folder to S3 on the emulator (or a seed dir: top folders = buckets)."""
    import botocore.exceptions

    try:
        written = sm_seed.seed_emulator(
            Path(args.source),
            args.destination,
            args.endpoint_url,
            args.region or sm_session.client_region(),
        )
    except sm_seed.SeedError as exc:
        print(f"sagemaker-emulator seed: {exc}", file=sys.stderr)
        return 2
    except botocore.exceptions.EndpointConnectionError as exc:
        return _unreachable(args.endpoint_url, exc)
    for uri in written:
        print(uri)
    print(f"seeded {len(written)} object(s)", file=sys.stderr)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=_default_endpoint(),
        help="the emulator's URL (default: $AWS_ENDPOINT_URL, else %(default)s)",
    )
    parser.add_argument(
        "--region",
        default=None,
        help="the region to work in (default: the client's own, as boto3 resolves it, else "
        f"{sm_session.DEFAULT_REGION})",
    )


def add_commands(subparsers: Any) -> None:
    """Add `notebook-env` and `seed` to an argparse subparsers object; each sets `func`."""
    p = subparsers.add_parser(
        "notebook-env",
        help="print export lines that point boto3 / the SageMaker SDK / notebooks at the emulator",
        description=(
            "Prepare an environment for unmodified SageMaker SDK code and notebooks: writes an SDK "
            "defaults file (default bucket, telemetry off), creates the bucket, writes the "
            "notebook-instance metadata file get_execution_role() reads, and prints the variables "
            'to set. Use: eval "$(sagemaker-emulator notebook-env --endpoint-url URL)". '
            "--undo restores what was there before."
        ),
    )
    _common(p)
    p.add_argument("--bucket", help="the SDK's default bucket (default: sagemaker-REGION-ACCOUNT)")
    p.add_argument(
        "--create-bucket",
        action="append",
        default=[],
        metavar="NAME",
        help="another bucket to create (repeatable), e.g. a notebook's output bucket",
    )
    p.add_argument("--notebook-name", default=sm_env.DEFAULT_NOTEBOOK_NAME)
    p.add_argument(
        "--metadata-path",
        default=str(sm_env.NOTEBOOK_METADATA_FILE),
        help="the notebook metadata file (the SDK reads %(default)s; change it only for tests)",
    )
    p.add_argument(
        "--no-metadata",
        action="store_true",
        help="do not write the metadata file (get_execution_role() then cannot work offline)",
    )
    p.add_argument("--state-dir", help="where our config and undo record live")
    p.add_argument("--undo", action="store_true", help="restore what notebook-env replaced")
    p.set_defaults(func=notebook_env)

    s = subparsers.add_parser(
        "seed",
        help="upload local files/folders to S3 on the emulator",
        description=(
            "seed SOURCE s3://bucket[/prefix]: upload a file or a folder (recursively) like "
            "`aws s3 cp`, creating the bucket. seed DIR (no destination): DIR's top-level folders "
            "are buckets, as for `serve --seed-dir`."
        ),
    )
    _common(s)
    s.add_argument("source", help="a file or folder")
    s.add_argument("destination", nargs="?", help="s3://bucket[/prefix]")
    s.set_defaults(func=seed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdk.cli")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
