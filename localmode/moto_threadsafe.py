"""Make moto as atomic as the services it emulates, for a process where several threads share it.

moto's backends are not thread-safe. Local mode runs the API, the ingest and two batchers as threads on one
moto, and two races were observed:
- DynamoDB checks a ConditionExpression and applies the write in separate steps: two threads both passed the
  same condition (2 of 200 simultaneous conditional creates), so two batchers spent one rate-limit token.
- SQS `receive_message` marks a message received, then copies it, while iterating the queue that other threads
  append to; a failure in between hides the message for the whole visibility timeout (a batch stalled for
  12 minutes in a loaded CI run).
One process-wide lock around each backend operation gives the per-item atomicity of the real services. A long
poll is run as repeated short polls, so the lock is never held while waiting.

And one ordering bug (moto 5.2): a FIFO group stays "in flight" while any of its timed-out messages is still in
moto's pending set, and moto drops them from it one by one as its receive meets them, so the receive that meets
the last of them delivers the group's *later* messages first (seen: 5 returned messages, then the next 10 delivered
before them; a user's writes applied out of order). SQS makes a timed-out message receivable again, first in its
group. So before each receive, messages whose visibility timeout has passed leave the pending set, and the receive
reads the clock once (moto reads it message by message: a message that became visible between two reads was
"visible" and "pending" at once, and the bug came back, about one chaos run in twenty).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.RLock()
_DYNAMODB = ("get_item", "put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items", "query")
_SQS = (
    "send_message",
    "send_message_batch",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
)
_POLL_INTERVAL = 0.05
_installed = False


def _locked(original: Any) -> Any:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(*args, **kwargs)

    return wrapper


def _release_timed_out(backend: Any, queue_name: str) -> None:
    """Messages whose visibility timeout has passed are no longer in flight (SQS), so their group is free again."""
    queue = backend.get_queue(queue_name)
    queue.pending_messages.difference_update([m for m in queue.pending_messages if m.visible])


@contextmanager
def _one_instant() -> Iterator[None]:
    """moto's SQS sees one instant until the block ends (called under _LOCK, so no other SQS call sees it)."""
    from moto.sqs import models

    clock = models.unix_time_millis
    now = clock()

    def frozen(dt: Any = None) -> float:  # moto's signature: unix_time_millis(dt=None)
        return now

    models.unix_time_millis = frozen
    try:
        yield
    finally:
        models.unix_time_millis = clock


def _short_polls(original: Any) -> Any:
    @functools.wraps(original)
    def receive_message(
        self: Any, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any
    ) -> Any:
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with _LOCK, _one_instant():
                _release_timed_out(self, queue_name)
                messages = original(self, queue_name, count, 0, *args, **kwargs)
            if messages or time.monotonic() >= deadline:
                return messages
            time.sleep(_POLL_INTERVAL)

    return receive_message


def install() -> None:
    global _installed  # noqa: PLW0603 - patching moto's classes once per process
    with _LOCK:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.sqs.models import SQSBackend

        for name in _DYNAMODB:
            setattr(DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name)))
        for name in _SQS:
            setattr(SQSBackend, name, _locked(getattr(SQSBackend, name)))
        SQSBackend.receive_message = _short_polls(SQSBackend.receive_message)  # type: ignore[method-assign]
        _installed = True
