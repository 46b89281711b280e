"""Independent DynamoDB calls of one operation made at once (the chunks of a BatchGetItem of more than 100 keys, the
transactions of a membership message): their time is the network's, so made one after another a message of 400
members waits four round trips where one would do.

One pool a container, apart from any the handlers run records on (a task here never submits to it again, so it
cannot wait on itself). boto3's clients are thread-safe; clients.py sizes their connection pool for this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_CALLS_AT_ONCE = 32  # a membership batch: ten messages of four to five calls each


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(MAX_CALLS_AT_ONCE, thread_name_prefix="dynamodb-fanout")


def each(call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`call` on every item, at once; the results in the items' order. The first exception raised is raised (after
    every call has finished: none is left running behind the caller)."""
    if len(items) <= 1:
        return [call(item) for item in items]
    futures = [_pool().submit(call, item) for item in items]
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        raise errors[0]
    return [future.result() for future in futures]
