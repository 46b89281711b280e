"""Queued profile operations: how planned writes travel from the API to the writer. Pure.

An operation is a JSON object with a `kind` and the `identity` key whose FIFO group orders it (profiles/identity.py).
A request's operations are split by group, keeping their order, into messages of at most MAX_MESSAGE_BYTES; each
message is `{"v": 1, "operations": [...]}`. The writer reads them back with `read`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from audience_sync.profiles.identity import group_of

FORMAT_VERSION = 1
# SQS takes 256 KiB per message and per batch call; the margin covers the batch call's own fields.
MAX_MESSAGE_BYTES = 240 * 1024
# One operation must fit a message: an attributes object may hold two nested objects of 100 KB, not three.
MAX_OPERATION_BYTES = 200 * 1024
KINDS = ("attributes", "event", "purchase", "cohort", "evaluate", "alias", "identify", "merge", "delete")


class OperationTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Queued:
    """An operation ready to queue: the identity key that orders it, and its JSON."""

    identity: str
    encoded: str


@dataclass(frozen=True)
class GroupMessage:
    group: str
    body: str


def encode(operation: dict[str, Any]) -> Queued:
    encoded = json.dumps(operation, separators=(",", ":"), ensure_ascii=False)
    if len(encoded) > MAX_OPERATION_BYTES // 4 and len(encoded.encode("utf-8")) > MAX_OPERATION_BYTES:
        raise OperationTooLarge(f"the object is larger than {MAX_OPERATION_BYTES // 1024} KB")
    return Queued(operation["identity"], encoded)


def messages(operations: Sequence[Queued], groups: int) -> list[GroupMessage]:
    """The operations split by group (each group's in request order), at most MAX_MESSAGE_BYTES a message."""
    by_group: dict[str, list[str]] = {}
    for operation in operations:
        by_group.setdefault(group_of(operation.identity, groups), []).append(operation.encoded)
    result: list[GroupMessage] = []
    for group, encoded in by_group.items():
        result.extend(GroupMessage(group, body) for body in _bodies(encoded))
    return result


def _bodies(encoded: Iterable[str]) -> Iterable[str]:
    head, tail = '{"v":1,"operations":[', "]}"
    chunk: list[str] = []
    size = len(head) + len(tail)
    for item in encoded:
        item_size = len(item.encode("utf-8")) + 1
        if chunk and size + item_size > MAX_MESSAGE_BYTES:
            yield head + ",".join(chunk) + tail
            chunk, size = [], len(head) + len(tail)
        chunk.append(item)
        size += item_size
    if chunk:
        yield head + ",".join(chunk) + tail


def read(body: str) -> list[dict[str, Any]]:
    message = json.loads(body)
    if message.get("v") != FORMAT_VERSION:
        raise ValueError(f"unknown profile message version {message.get('v')!r}")
    operations: list[dict[str, Any]] = message["operations"]
    return operations
