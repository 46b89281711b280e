"""Make moto's DynamoDB writes atomic, as DynamoDB's are.

moto checks a ConditionExpression and applies the write in separate steps without a lock, so two threads
can both pass the same condition (measured: 2 of 200 simultaneous conditional creates both succeeded).
Local mode runs several batchers as threads sharing one token-bucket item, so it needs DynamoDB's real
per-item atomicity; one process-wide lock around moto's write operations gives it.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
_installed = False


def install() -> None:
    global _installed  # noqa: PLW0603 - patching a class once per process
    with _LOCK:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend

        for name in _WRITES:
            original = getattr(DynamoDBBackend, name)

            @functools.wraps(original)
            def locked(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
                with _LOCK:
                    return __original(*args, **kwargs)

            setattr(DynamoDBBackend, name, locked)
        _installed = True
