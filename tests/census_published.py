"""The real service's published PCA projections of the census table (test data helper).

``tests/data/census_pca_published.json`` says where they were published; see its ``source``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

PUBLISHED_JSON = Path(__file__).resolve().parent / "data" / "census_pca_published.json"


@dataclass(frozen=True)
class PublishedProjections:
    counties: tuple[str, ...]
    table: npt.NDArray[np.float64]
    """(5, 7): the first five counties on the seven largest components, most significant first."""
    first_row: npt.NDArray[np.float64]
    """(33,): the first county's whole projection, ascending as the endpoint answers it."""


@cache
def published_census_projections() -> PublishedProjections:
    document = json.loads(PUBLISHED_JSON.read_text(encoding="utf-8"))
    rows = document["rows"]
    return PublishedProjections(
        counties=tuple(rows),
        table=np.array(list(rows.values()), dtype=np.float64),
        first_row=np.array(document["first_projection"]["values"], dtype=np.float64),
    )
