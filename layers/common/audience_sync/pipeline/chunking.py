"""Puts queued users on the sync queue: many users per message, messages sent in batches."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from audience_sync.adapters.aws import clients as aws
from audience_sync.core.users import QueuedUser
from audience_sync.pipeline.messages import QueuedMessage

# SQS allows 256 KiB per message and per SendMessageBatch call; leave room for attributes.
MAX_MESSAGE_BYTES = 240_000
_SEND_ATTEMPTS = 3


class PublishError(Exception):
    pass


def chunk_users(users: Sequence[QueuedUser], max_bytes: int, overhead: int) -> Iterator[list[QueuedUser]]:
    """Consecutive runs of users whose JSON fits in `max_bytes` with `overhead` bytes of envelope."""
    chunk: list[QueuedUser] = []
    size = overhead + 1  # "[" and "]", less the comma the last user does not need
    for user in users:
        user_bytes = json_size(user) + 1
        if chunk and size + user_bytes > max_bytes:
            yield chunk
            chunk, size = [], overhead + 1
        chunk.append(user)
        size += user_bytes
    if chunk:
        yield chunk


# A string JSON writes as it is between its quotes: printable ASCII without " or \.
_PLAIN = re.compile(r"[ !#-\[\]-~]*")


def json_size(user: QueuedUser) -> int:
    """Bytes of `user` as compact JSON, at least (non-ASCII counts as its \\u escape, which is never shorter than
    UTF-8). The hot path of chunking: json.dumps per user cost a third of the ingest's CPU."""
    size = 1  # "{" ... "}" less the last comma
    for key, value in user.items():
        text = str(value)
        size += len(key) + 4 + (len(text) + 2 if _PLAIN.fullmatch(text) else len(json.dumps(text)))
    return size


def message_bodies(
    template: QueuedMessage, users: Sequence[QueuedUser], per_user: Mapping[str, int] | None = None
) -> list[str]:
    """The users in as few messages as fit; chunk i's id is the template's chunk_id + ".i" (deterministic).

    Each message carries the counts of its own users (`per_user` times their number, e.g. entered and proceeded)
    so a chunk settled before the first one can never show more synced than entered. The template's entry counts
    (the users not queued: filtered, not synced) ride on the first message; with no users, it carries just them.
    """
    per_user = per_user or {}
    overhead = len(template.model_copy(update={"users": []}).model_dump_json()) + 32 + 24 * len(per_user)
    chunks = list(chunk_users(users, MAX_MESSAGE_BYTES, overhead)) or [[]]
    bodies = []
    for i, chunk in enumerate(chunks):
        entry = Counter(template.entry if i == 0 else {})
        entry.update({name: n * len(chunk) for name, n in per_user.items()})
        update = {
            "users": chunk,
            "chunk_id": f"{template.chunk_id}.{i}",
            "entry": {k: v for k, v in entry.items() if v},
        }
        bodies.append(template.model_copy(update=update).model_dump_json())
    return bodies


class QueuePublisher:
    def __init__(self, queue_url: str):
        self.queue_url = queue_url

    def send(self, bodies: Sequence[str], correlation_id: str | None = None) -> None:
        """Send every body; raise PublishError if any is still refused after retries."""
        pending = list(enumerate(bodies))
        attributes = {"correlation_id": {"DataType": "String", "StringValue": correlation_id}} if correlation_id else {}
        for _ in range(_SEND_ATTEMPTS):
            if not pending:
                return
            failed: list[tuple[int, str]] = []
            for group in _fits_one_call(pending):
                entries = [
                    {
                        "Id": str(i),
                        "MessageBody": body,
                        "MessageAttributes": attributes,
                    }
                    for i, body in group
                ]
                result = aws.client("sqs").send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                failed_ids = {f["Id"] for f in result.get("Failed", [])}
                failed.extend((i, body) for i, body in group if str(i) in failed_ids)
            pending = failed
        if pending:
            raise PublishError(f"{len(pending)} messages were refused by SQS")


def _fits_one_call(items: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Groups of at most 10 messages and 256 KiB in total, the SendMessageBatch limits."""
    group: list[tuple[int, str]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode())
        if group and (len(group) == 10 or size + item_size > 250_000):
            yield group
            group, size = [], 0
        group.append(item)
        size += item_size
    if group:
        yield group
