"""Cuts an entry's queued users into as few sync-queue messages as fit (SQS takes 256 KiB a message). Pure."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from audience_sync.core.users import QueuedUser
from audience_sync.pipeline.messages import QueuedMessage

# SQS allows 256 KiB per message and per SendMessageBatch call; leave room for attributes.
MAX_MESSAGE_BYTES = 240_000
# Entries of at most this many users are first written whole as one message: most fit (a webhook's 100 users are
# about 15 KB of 240) and that body is the one sent. A larger entry would rarely fit one message, and the attempt
# would be wasted (and hold the GIL the while).
ONE_SHOT_USERS = 1_000


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
        if not isinstance(value, str):  # a campaign's rendered webhook (`w`): rare, and its exact size matters
            size += len(key) + 4 + len(json.dumps(value, separators=(",", ":")))
            continue
        text = value
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
    if len(users) <= ONE_SHOT_USERS:
        whole = _body(template, 0, list(users), per_user)
        if _utf8_length(whole) <= MAX_MESSAGE_BYTES:
            return [whole]
    overhead = len(template.model_copy(update={"users": []}).model_dump_json()) + 32 + 24 * len(per_user)
    chunks = chunk_users(users, MAX_MESSAGE_BYTES, overhead)
    return [_body(template, i, chunk, per_user) for i, chunk in enumerate(chunks)]


def _body(template: QueuedMessage, index: int, chunk: list[QueuedUser], per_user: Mapping[str, int]) -> str:
    entry = Counter(template.entry if index == 0 else {})
    entry.update({name: n * len(chunk) for name, n in per_user.items()})
    counts = {name: n for name, n in entry.items() if n}
    update = {"users": chunk, "chunk_id": f"{template.chunk_id}.{index}", "entry": counts}
    return sqs_safe(template.model_copy(update=update).model_dump_json())


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())  # isascii is a flag CPython keeps: no scan


# What SQS refuses in a message body (its allowed characters: #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD,
# #x10000 to #x10FFFF). JSON writes them raw; only a string can hold them, where an escape means the same.
_NOT_FOR_SQS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_safe(body: str) -> str:
    """A JSON body with the characters SQS refuses written as JSON escapes (`\\uffff`): the same JSON."""
    if body.isascii():  # JSON escapes the control characters; the rest are beyond ASCII. A flag, not a scan.
        return body
    return _NOT_FOR_SQS.sub(lambda m: f"\\u{ord(m[0]):04x}", body)
