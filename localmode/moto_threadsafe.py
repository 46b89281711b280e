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

And one cost (moto 5.2): `transact_write_items` backs up every table it touches with `copy.deepcopy` before each
transaction, so a transaction costs time and memory in proportion to the tables' size (a local run with a large
members' index slowed quadratically and grew past 20 GB). Here a transaction backs up only the items it names and
puts them back if it is cancelled; moto's own copy of a table is skipped (it would restore the same object).
"""

from __future__ import annotations

import copy
import functools
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.RLock()
# scan too: it iterates a table's items while other threads write them ("dictionary changed size during iteration"
# failed sweeps, and users of a segment defined during writes were never swept in)
_DYNAMODB = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_write_items",
    "query",
    "scan",
)
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


class _TablesNotCopied:
    """`copy` as moto's transact_write_items sees it: a deep copy of anything but a Table (the backup of a whole
    table, replaced by the item backups of _item_backups)."""

    def __init__(self, table_type: type) -> None:
        self.table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, self.table_type) else copy.deepcopy(value, memo)


def _item_backups(original: Any) -> Any:
    from moto.dynamodb.models import table as table_module

    models = sys.modules[original.__module__]

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            backups = []
            for item in transact_items:
                op_type, op = next(iter(item.items()))
                try:
                    table = self.get_table(op["TableName"])
                    key = op["Key"] if op_type != "Put" else _key_of(table, op["Item"])
                    hash_key, range_key = self.get_keys_value(table, key)
                except Exception:  # noqa: S112 - an op moto refuses: its own call below raises the right error
                    continue
                backups.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
            setattr(models, "copy", _TablesNotCopied(table_module.Table))  # noqa: B010 - the name moto calls
            try:
                original(self, transact_items)
            except Exception:
                for table, hash_key, range_key, before in reversed(backups):
                    table.delete_item(hash_key, range_key)
                    if before is not None and range_key is not None:
                        table.items[hash_key][range_key] = before
                    elif before is not None:
                        table.items[hash_key] = before
                raise
            finally:
                setattr(models, "copy", copy)  # noqa: B010

    return transact_write_items


def _key_of(table: Any, attributes: dict[str, Any]) -> dict[str, Any]:
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    return key


def install() -> None:
    global _installed  # noqa: PLW0603 - patching moto's classes once per process
    with _LOCK:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.sqs.models import SQSBackend

        DynamoDBBackend.transact_write_items = _item_backups(  # type: ignore[method-assign]
            DynamoDBBackend.transact_write_items
        )
        for name in _DYNAMODB:
            setattr(DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name)))
        for name in _SQS:
            setattr(SQSBackend, name, _locked(getattr(SQSBackend, name)))
        SQSBackend.receive_message = _short_polls(SQSBackend.receive_message)  # type: ignore[method-assign]
        _installed = True
