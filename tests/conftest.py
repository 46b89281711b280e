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


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """How make test's two workers (pytest-xdist) share the tests: a module at a time, its module fixtures built once;
    the end-to-end tests as one unit, first (collection order: --no-loadscope-reorder), run one at a time by one
    worker while the other takes the rest: each starts local mode, processes of its own, and two at once on our two
    cores would fight for them and for their timing. (xdist's own `loadgroup` would do it with marks, but it renames
    tests through `Item._nodeid`, which pytest 9 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesWithTheEndToEndTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/e2e" if path.startswith("tests/e2e/") else path

    return ModulesWithTheEndToEndTestsTogether(config, log)


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
