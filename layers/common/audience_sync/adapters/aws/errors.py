"""botocore's failures, translated at the adapter boundary: the domain sees StoreUnavailable, never botocore.

An adapter handles the failures that are answers (a conditional check that failed, a resource that exists already)
itself, then lets `translated` turn every other ClientError or BotoCoreError (throttling, timeouts, access denied,
a missing table) into StoreUnavailable with the operation and AWS's error code, the original kept as its cause.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.core.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "ClientError"))


def is_conditional_failure(error: ClientError) -> bool:
    return error_code(error) == CONDITIONAL_CHECK_FAILED


def applied(write: Callable[[], object]) -> bool:
    """Run a conditional write: True when written, False when its condition did not hold; other failures raise."""
    try:
        write()
    except ClientError as error:
        if is_conditional_failure(error):
            return False
        raise
    return True


@contextmanager
def store_errors(operation: str) -> Iterator[None]:
    """Inside, any AWS failure becomes StoreUnavailable(operation, code)."""
    try:
        yield
    except ClientError as error:
        raise StoreUnavailable(operation, error_code(error)) from error
    except BotoCoreError as error:
        raise StoreUnavailable(operation, type(error).__name__) from error


def translated(operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an adapter method: any AWS failure it lets out becomes StoreUnavailable(operation, code)."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with store_errors(operation):
                return method(*args, **kwargs)

        return wrapper

    return decorate
