"""`sagemaker-emulator`: `serve` runs the emulator; other packages add subcommands (`notebook-env`
and `seed` come from the client side, sdk.cli) through the `sagemaker_emulator.commands` entry
points."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from emulator import __version__
from emulator.config import DEFAULT_PORT, Settings

COMMANDS_GROUP = "sagemaker_emulator.commands"


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from emulator.app import build_app
    from emulator.state.data_dir_lock import DataDirInUse, lock_data_dir

    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "data_dir": args.data_dir,
            "runtime": args.runtime,
            "region": args.region,
            "log_level": args.log_level,
            "seed_dir": args.seed_dir,
            "allowed_hosts": ",".join(args.allowed_host) if args.allowed_host else None,
            "allowed_origins": ",".join(args.allowed_origin) if args.allowed_origin else None,
            "access_keys": ",".join(args.access_key) if args.access_key else None,
            "moto_api": True if args.moto_api else None,
        }.items()
        if value is not None
    }
    settings = Settings(**overrides)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        # Held until this process exits (the kernel drops it even on kill -9).
        data_dir_lock = lock_data_dir(settings.data_dir.expanduser().resolve())
    except DataDirInUse as exc:
        print(f"sagemaker-emulator: {exc}", file=sys.stderr)
        return 1
    try:
        app = build_app(settings)
    except ValueError as exc:  # a bad --seed-dir, say: a message, not a trace
        print(f"sagemaker-emulator: {exc}", file=sys.stderr)
        return 2
    print(
        f"sagemaker-emulator {__version__} on http://{settings.host}:{settings.port} "
        f"(data dir {settings.data_dir})\n"
        f"console: http://{_url_host(settings.host)}:{settings.port}/_emulator/ui/",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        # Large S3 bodies and slow containers: no server-side cap beyond the client's own.
        timeout_keep_alive=30,
    )
    data_dir_lock.release()
    return 0


def _url_host(bound: str) -> str:
    """A name a browser can open for the bound address (a wildcard: loopback)."""
    if bound in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{bound}]" if ":" in bound else bound


def build_parser(other_commands: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagemaker-emulator",
        description="A local, offline emulator of Amazon SageMaker (training and hosting).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("serve", help="run the emulator (SageMaker, S3, STS, IAM, Logs)")
    s.add_argument("--host", help="address to bind (default 127.0.0.1: loopback only)")
    s.add_argument("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT})")
    s.add_argument(
        "--data-dir",
        type=Path,
        help="where records, S3 objects and logs persist (default ~/.local/share/sagemaker-emulator)",
    )
    s.add_argument(
        "--runtime",
        choices=["auto", "docker", "process"],
        help="how containers run: Docker, subprocesses, or auto (Docker when usable)",
    )
    s.add_argument("--region", help="the region the emulator answers as (default us-east-1)")
    s.add_argument("--log-level", help="debug, info, warning, error (default info)")
    s.add_argument(
        "--seed-dir",
        type=Path,
        help="upload this folder to S3 at start: its top-level folders are buckets",
    )
    s.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="also answer requests with this Host name (repeatable; e.g. a docker-compose "
        "service name); others are refused, against DNS rebinding",
    )
    s.add_argument(
        "--allowed-origin",
        action="append",
        metavar="ORIGIN",
        help="let web pages from this origin (http://host:port) call the emulator (repeatable); "
        "cross-origin requests from any other page are refused",
    )
    s.add_argument(
        "--access-key",
        action="append",
        metavar="ID:SECRET",
        help="require SigV4 signatures made with this access key (repeatable; also "
        "$SAGEMAKER_EMULATOR_ACCESS_KEYS, which keeps the secret out of the process list)",
    )
    s.add_argument(
        "--moto-api",
        action="store_true",
        help="serve moto's /moto-api/reset (resets everything) and /moto-api/data.json",
    )
    s.set_defaults(func=serve)
    # Other packages' subcommands (the client side's notebook-env and seed), by entry point: the
    # emulator never imports them, and an install without them still serves.
    for entry in entry_points(group=COMMANDS_GROUP) if other_commands else ():
        try:
            add_commands = entry.load()
        except ImportError:
            continue
        add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    # `serve` needs none of the other packages' subcommands, whose modules (the client side's:
    # boto3, rich) would add a few hundred milliseconds to every start.
    args = build_parser(other_commands=given[:1] != ["serve"]).parse_args(given)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
