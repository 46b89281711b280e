"""The provisioned stack the integration tests drive: template.yaml in moto (in-process), LinkedIn = a sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# The stack's retry waits: 30 s -> 3 ms, 1 h -> 0.36 s, the 13 h horizon -> 4.7 s.
STACK_TIME_SCALE = 10_000.0


@dataclass
class StackFixture:
    stack: Any  # localmode.provision.Stack
    sandbox: Any  # tests/conftest.py's SandboxServer
    api_key: str

    def client(self) -> Any:
        """A werkzeug test client on the emulated API Gateway (routes, API key, gateway responses)."""
        from werkzeug.test import Client

        return Client(self.stack.gateway(self.api_key))

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.stack.functions[function].invoke(event)


@contextmanager
def provisioned_stack(sandbox_server: Any, overrides: dict[str, str] | None = None) -> Iterator[StackFixture]:
    """template.yaml provisioned in moto, the functions' environment exported, LinkedIn = the sandbox.
    `overrides` sets more template parameters (e.g. a short RetryHorizonSeconds). Restores the environment."""
    from moto import mock_aws

    from localmode.provision import MOTO_CONFIG, provision

    saved = dict(os.environ)
    with mock_aws(config=MOTO_CONFIG):
        provisioned = provision(
            overrides={
                "LinkedInApiUrl": f"{sandbox_server.url}/rest",
                "LinkedInOAuthUrl": f"{sandbox_server.url}/oauth/v2",
                "LinkedInClientId": "sandbox-client-id",
                "LinkedInClientSecret": "sandbox-client-secret",
                "OAuthRedirectUri": "http://127.0.0.1:3000/v1/connections/linkedin/callback",
                "FlushSeconds": "1",
                **(overrides or {}),
            },
            extra_env={"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"},
            time_scale=STACK_TIME_SCALE,
        )
        try:
            yield StackFixture(provisioned, sandbox_server, api_key="test-key")
        finally:
            provisioned.stop()
            os.environ.clear()
            os.environ.update(saved)
