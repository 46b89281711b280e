"""Fixtures of the operator CLI tests: the moto stack (tests/conftest.py) with its outputs published as a
CloudFormation stack, the HTTP API to write real rows through, and the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.api.api_helpers import Api
from tests.integration.cli.cli_support import STACK_NAME, Cli


@pytest.fixture
def published(stack: Any) -> Iterator[Any]:
    from audience_sync.adapters.aws import clients as aws
    from localmode.outputs import publish_outputs

    publish_outputs(stack.stack.template, stack.stack.resolver, STACK_NAME)
    session = boto3.DEFAULT_SESSION
    yield stack
    boto3.DEFAULT_SESSION = session  # the CLI sets up boto3's default session for its region and profile
    aws.reset()


@pytest.fixture
def api(published: Any) -> Api:
    return Api(published)


@pytest.fixture
def cli(published: Any) -> Cli:
    return Cli(now=time.time())
