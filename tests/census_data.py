"""The census county table as the segmentation notebook prepares it (test data helper).

``acs2015_county_data.csv`` (shipped in sdk/data): dropna (3,218 rows), drop the non-numeric CensusId/State/County
columns (34 features left), MinMax-scale each column, float32.
"""

from __future__ import annotations

import csv
from functools import cache

import numpy as np
import numpy.typing as npt

from sdk.data import census_csv

CENSUS_CSV = census_csv()
NON_NUMERIC = ("CensusId", "State", "County")


@cache
def census_matrix() -> npt.NDArray[np.float32]:
    with CENSUS_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = [c for c in rows[0] if c not in NON_NUMERIC]
    complete = [r for r in rows if all(r[c] not in ("", None) for c in rows[0])]
    data = np.array([[float(r[c]) for c in columns] for r in complete], dtype=np.float64)
    low, high = data.min(axis=0), data.max(axis=0)
    scaled = (data - low) / (high - low)
    result: npt.NDArray[np.float32] = scaled.astype(np.float32)
    result.setflags(write=False)
    return result
