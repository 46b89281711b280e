"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localmode.sandbox import LinkedInSandbox
from localmode.sandbox.server import serving


@pytest.fixture
def external_linkedin() -> Iterator[str]:
    """An independent LinkedIn-compatible endpoint on its own port (not the one local mode mounts)."""
    with serving(LinkedInSandbox()) as url:
        yield url
