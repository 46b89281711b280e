"""Fixtures for the public HTTP contract tests (the `stack` fixture itself lives in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api.api_helpers import Api


@pytest.fixture
def api(stack: Any) -> Api:
    return Api(stack)
