"""Fixtures of the adapters' tests: a fresh emulated AWS account (moto) per test, the adapters' clients reset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from audience_sync.adapters.aws import clients


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        clients.reset()
        yield
        clients.reset()
