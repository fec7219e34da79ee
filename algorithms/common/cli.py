"""The image entrypoint: ``python -m algorithms.<name> train|serve``.

``train`` copies the real images' contract: print ``Docker entrypoint called with argument(s):
train`` first, run, exit 0 on success; on failure write ``/opt/ml/output/failure``
(``ClientError: ...`` when the customer's hyperparameters or data are at fault,
``AlgorithmError: ...`` otherwise; the platform shows its first 1024 characters as
``FailureReason``) and exit 1, the training toolkit's ``DEFAULT_FAILURE_CODE``. ``docker stop``
sends SIGTERM: training stops at once with exit status 143 (128 + SIGTERM), serving shuts down
cleanly with 0.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from algorithms.common import logs
from algorithms.common.failures import AlgorithmError, ClientError
from algorithms.common.optml import OptMl

FAILURE_CODE = 1
TERMINATED_CODE = 128 + signal.SIGTERM


class Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler (a BaseException so that no
    ``except Exception`` in the algorithm swallows it)."""


TERMINATE_WATCHDOG_SECONDS = 5.0
"""After SIGTERM the process exits within this long even if Terminated was swallowed (raised
inside a `finally`, a generator's cleanup or a library's bare `except`); the platform would
otherwise wait for its SIGKILL, 120 s later."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    watchdog = threading.Timer(TERMINATE_WATCHDOG_SECONDS, _exit_terminated)
    watchdog.daemon = True
    watchdog.start()
    raise Terminated()


def _exit_terminated() -> None:
    logs.get_logger().error("Received SIGTERM: exiting.")
    sys.stdout.flush()
    os._exit(TERMINATED_CODE)


@dataclass(frozen=True)
class Algorithm:
    """What an algorithm package hands to ``main``."""

    name: str
    train: Callable[[OptMl], None]
    serve: Callable[[OptMl], None]


def failure_text(exc: BaseException) -> str:
    """The failure file's content for an exception raised by ``train``."""
    if isinstance(exc, ClientError | AlgorithmError):
        return f"{exc.prefix}: {exc}"
    detail = str(exc) or type(exc).__name__
    return f"AlgorithmError: {detail} (caused by {type(exc).__name__})"


def write_failure(optml: OptMl, text: str) -> None:
    try:
        optml.output_dir.mkdir(parents=True, exist_ok=True)
        optml.failure_path.write_text(text, encoding="utf-8")
    except OSError as exc:  # the log line below still tells the story
        logs.get_logger().error(f"Could not write {optml.failure_path}: {exc}")


def run_train(algorithm: Algorithm, optml: OptMl) -> int:
    log = logs.get_logger()
    try:
        algorithm.train(optml)
    except Terminated:
        log.error("Received SIGTERM: training stopped.")
        return TERMINATED_CODE
    except ClientError as exc:
        log.error(str(exc))
        write_failure(optml, failure_text(exc))
        return FAILURE_CODE
    except Exception as exc:
        log.error("".join(traceback.format_exception(exc)).rstrip())
        write_failure(optml, failure_text(exc))
        return FAILURE_CODE
    return 0


def run_serve(algorithm: Algorithm, optml: OptMl) -> int:
    try:
        algorithm.serve(optml)
    except Terminated:
        logs.get_logger().info("Received SIGTERM: shutting down the server.")
        return 0
    return 0


def main(algorithm: Algorithm, argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logs.emit(f"Docker entrypoint called with argument(s): {' '.join(args)}")
    signal.signal(signal.SIGTERM, _on_sigterm)
    optml = OptMl()
    if args == ["train"]:
        return run_train(algorithm, optml)
    if args == ["serve"]:
        return run_serve(algorithm, optml)
    sys.stderr.write(f"usage: python -m algorithms.{algorithm.name} train|serve\n")
    return 2
