"""boto3 clients and resources, created once per container with explicit timeouts and retries."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 4})
# Creating clients from boto3's default session is not thread-safe (local mode runs functions as threads);
# the clients themselves are, and Table actions are stateless wrappers over the client.
_CREATE = threading.Lock()


@cache
def _client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def _table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def client(service: str) -> Any:
    with _CREATE:
        return _client(service)


def table(name: str) -> Any:
    with _CREATE:
        return _table(name)


def reset() -> None:
    """Forget cached clients and secrets (tests and local mode start a fresh emulated account)."""
    from aws_lambda_powertools.utilities import parameters  # secrets_store caches through it

    with _CREATE:
        _client.cache_clear()
        _table.cache_clear()
        parameters.clear_caches()
