"""Data shipped inside the package, so a clone or a `pip install` needs nothing beside it.

`acs2015_county_data.csv` is the US county table of the census segmentation workflow (the demo,
the example notebook, the tests); where it comes from is in README.md in this folder.
"""

from __future__ import annotations

import contextlib
from importlib.resources import as_file, files
from pathlib import Path

CENSUS_FILE = "acs2015_county_data.csv"
CENSUS_SHA256 = "d204f0ce7c024f72b6002bd8a8171207d92711dd2fade16cdee11e14aab37763"

# Kept open for the life of the process when the package is imported from a zip (the file is
# then extracted to a temporary one); an ordinary install needs none of this.
_extracted = contextlib.ExitStack()


def census_csv() -> Path:
    """The path of the census table (3,220 counties x 37 columns, 3,218 without a gap)."""
    resource = files(__name__) / CENSUS_FILE
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(as_file(resource))


__all__ = ["CENSUS_FILE", "CENSUS_SHA256", "census_csv"]
