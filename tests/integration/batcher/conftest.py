"""Fixtures of the batcher integration tests (the stack fixture comes from tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.batcher.batcher_support import Harness


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs on the real clock for a few seconds")


@pytest.fixture
def harness(stack: Any) -> Harness:
    return Harness(stack)


@pytest.fixture
def connected(harness: Harness) -> Harness:
    harness.connect()
    return harness
