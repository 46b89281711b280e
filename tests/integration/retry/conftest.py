"""Fixtures of the exactly-once retry tests. `stack` and `sandbox_server` come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.retry.retry_support import Notifications, RetryHarness
from tests.stack_support import provisioned_stack

# A horizon of 10 min: schedule 30, 60, 120, 240, 150 s (5 attempts), 60 ms at the tests' time scale.
SHORT_HORIZON_SECONDS = 600


@pytest.fixture
def connected(stack: Any) -> RetryHarness:
    """The default stack (13 h horizon), LinkedIn connected."""
    harness = RetryHarness(stack)
    harness.connect()
    return harness


@pytest.fixture
def short_horizon_stack(sandbox_server: Any) -> Iterator[Any]:
    """The whole template like `stack`, provisioned with RetryHorizonSeconds=600."""
    with provisioned_stack(sandbox_server, {"RetryHorizonSeconds": str(SHORT_HORIZON_SECONDS)}) as provisioned:
        yield provisioned


@pytest.fixture
def short(short_horizon_stack: Any) -> RetryHarness:
    """The short-horizon stack, LinkedIn connected."""
    harness = RetryHarness(short_horizon_stack)
    harness.connect()
    return harness


@pytest.fixture
def notifications_of_short(short_horizon_stack: Any) -> Notifications:
    return Notifications(short_horizon_stack.stack.ref("IntegrationErrorsTopic"))
