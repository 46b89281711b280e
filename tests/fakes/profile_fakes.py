"""An in-memory profile store and queue with DynamoDB's semantics (strongly consistent reads, conditional puts on a
version), recording every call, with crashes and concurrent writes injected per call."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from audience_sync.profiles.operations import GroupMessage
from audience_sync.profiles.ports import Item, Key, WriteConflict


class Crash(RuntimeError):
    """An injected crash: the process dies here."""


@dataclass
class FakeProfileStore:
    items: dict[Key, Item] = field(default_factory=dict)
    calls: list[tuple[str, object]] = field(default_factory=list)
    writes: int = 0  # puts and deletes that changed storage
    crash_after_writes: int | None = None  # raise Crash once this many writes have happened
    # Called before each put: may change storage (another writer) or raise.
    before_put: Callable[[Item], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # the writer may call from several threads

    def _copy(self, item: Item) -> Item:
        return Item(item.pk, item.sk, json.loads(json.dumps(item.doc)), item.version, copy.deepcopy(item.tokens))

    def _wrote(self) -> None:
        self.writes += 1
        if self.crash_after_writes is not None and self.writes >= self.crash_after_writes:
            self.crash_after_writes = None
            raise Crash(f"crash after write {self.writes}")

    def get(self, keys: Sequence[Key]) -> dict[Key, Item]:
        self.calls.append(("get", list(keys)))
        return {k: self._copy(self.items[k]) for k in keys if k in self.items}

    def items_of(self, pk: str) -> list[Item]:
        self.calls.append(("items_of", pk))
        return [self._copy(i) for k, i in sorted(self.items.items()) if k[0] == pk]

    def put(self, item: Item) -> None:
        with self.lock:
            self.calls.append(("put", item.key))
            if self.before_put is not None:
                self.before_put(item)
            stored = self.items.get(item.key)
            if (stored.version if stored else 0) != item.version:
                raise WriteConflict(f"{item.key} changed")
            item.version += 1
            self.items[item.key] = self._copy(item)
            self._wrote()

    def put_pointer(self, item: Item) -> None:
        with self.lock:
            self.calls.append(("put_pointer", item.key))
            self.items[item.key] = Item(item.pk, item.sk, dict(item.doc), 1)
            self._wrote()

    def delete(self, key: Key) -> None:
        with self.lock:
            self.calls.append(("delete", key))
            if self.items.pop(key, None) is not None:
                self._wrote()

    def snapshot(self) -> dict[Key, dict[str, object]]:
        """Every item's document (tokens and versions aside): what a user could observe."""
        return {k: json.loads(json.dumps(i.doc)) for k, i in self.items.items()}


@dataclass
class FakeProfileQueue:
    sent: list[tuple[GroupMessage, str]] = field(default_factory=list)

    def send(self, messages: Sequence[GroupMessage], request_id: str) -> None:
        self.sent += [(m, request_id) for m in messages]
