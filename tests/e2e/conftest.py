"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localmode.sandbox.server import sandbox_process


@pytest.fixture
def external_linkedin() -> Iterator[str]:
    """An independent LinkedIn-compatible endpoint: a process of its own (not the sandbox local mode mounts), so
    the times it stamps on arrivals are not this test process's to delay."""
    with sandbox_process() as url:
        yield url
