"""The notebook tier runs on the same runtime as the SDK tier (tests/sdk/tiers.py)."""

from __future__ import annotations

import pytest

from tests.sdk.tiers import ready_runtime


@pytest.fixture(scope="session")
def sagemaker_emulator_runtime() -> str:
    """Overrides the plugin's choice (the server's `auto`): this tier must not guess.

    The plugin's `sagemaker_emulator` is one per session, shared with tests/sdk, so both
    directories must choose alike.
    """
    return ready_runtime()
