"""Shared fixtures. Nothing here touches the internet or real AWS: moto in-process and a loopback sandbox."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.stack_support import StackFixture, provisioned_stack

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT)]

# Never let a test reach real AWS, even by accident: fake credentials before boto3 is imported anywhere.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="AudienceSync",
    POWERTOOLS_SERVICE_NAME="audience-sync",
)


@dataclass
class SandboxServer:
    app: Any  # localmode.sandbox.LinkedInSandbox
    url: str  # base URL the sandbox is mounted at (…/rest and …/oauth/v2 below it)


@pytest.fixture
def sandbox_server() -> Iterator[SandboxServer]:
    """The LinkedIn sandbox on a free 127.0.0.1 port, stopped after the test."""
    from localmode.sandbox import LinkedInSandbox, SandboxConfig
    from localmode.sandbox.server import serving

    app = LinkedInSandbox(SandboxConfig(propagation_delay_seconds=0.0))
    with serving(app) as url:
        yield SandboxServer(app, url)


@pytest.fixture
def stack(sandbox_server: SandboxServer) -> Iterator[StackFixture]:
    """template.yaml provisioned in moto, the functions' environment exported, LinkedIn = the sandbox."""
    with provisioned_stack(sandbox_server) as provisioned:
        yield provisioned
