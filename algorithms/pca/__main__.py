"""``python -m algorithms.pca train|serve``: the pca image's entrypoint."""

from __future__ import annotations

import sys

from algorithms.common.cli import Algorithm, main
from algorithms.common.optml import OptMl


def _train(optml: OptMl) -> None:
    from algorithms.pca.train import train

    train(optml)


def _serve(optml: OptMl) -> None:
    # Imported here so that a failing import shows up as this command's error, not the other's.
    from algorithms.pca.predict import serve

    serve(optml)


if __name__ == "__main__":
    sys.exit(main(Algorithm(name="pca", train=_train, serve=_serve)))
