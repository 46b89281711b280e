"""Fixtures for the Braze-compatible API tests (the `stack` fixture lives in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.platform.platform_support import Platform


@pytest.fixture
def platform(stack: Any) -> Platform:
    return Platform(stack)
