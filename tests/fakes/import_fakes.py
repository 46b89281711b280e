"""In-memory stand-ins for the imports' ports (imports/ports.py): they keep what is stored and can fail on cue."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from audience_sync.imports.definitions import ImportDefinition
from audience_sync.imports.exceptions import RunFailed
from audience_sync.imports.ports import ImportState, ObjectInfo, Run, StateConflict


@dataclass
class FakeImportStore:
    definitions_by_id: dict[str, ImportDefinition] = field(default_factory=dict)
    states: dict[str, ImportState] = field(default_factory=dict)
    history: dict[str, list[Run]] = field(default_factory=dict)
    saves: int = 0

    def put_definition(self, definition: ImportDefinition) -> None:
        self.definitions_by_id[definition.import_id] = definition

    def get_definition(self, import_id: str) -> ImportDefinition | None:
        return self.definitions_by_id.get(import_id)

    def definitions(self) -> list[ImportDefinition]:
        return list(self.definitions_by_id.values())

    def delete(self, import_id: str) -> bool:
        self.states.pop(import_id, None)
        self.history.pop(import_id, None)
        return self.definitions_by_id.pop(import_id, None) is not None

    def state(self, import_id: str) -> ImportState:
        return copy.deepcopy(self.states.get(import_id, ImportState(import_id)))

    def save_state(self, state: ImportState) -> None:
        stored = self.states.get(state.import_id)
        if (stored.version if stored else 0) != state.version:
            raise StateConflict(state.import_id)
        state.version += 1
        self.states[state.import_id] = copy.deepcopy(state)
        self.saves += 1

    def add_run(self, import_id: str, run: Run) -> None:
        self.history.setdefault(import_id, []).insert(0, copy.deepcopy(run))

    def runs(self, import_id: str, limit: int) -> list[Run]:
        return copy.deepcopy(self.history.get(import_id, [])[:limit])


def etag_of(data: bytes) -> str:
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


@dataclass
class FakeObjectSource:
    buckets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    chunk_bytes: int = 7  # small chunks: records cross chunk boundaries
    reads: list[tuple[str, int]] = field(default_factory=list)
    refuse: str | None = None  # a RunFailed reason every call raises

    def drop(self, bucket: str, key: str, data: bytes) -> None:
        self.buckets.setdefault(bucket, {})[key] = data

    def first_after(self, bucket: str, prefix: str, after: str | None) -> ObjectInfo | None:
        if self.refuse or bucket not in self.buckets:
            raise RunFailed(self.refuse or "bucket_not_found")
        keys = sorted(k for k in self.buckets[bucket] if k.startswith(prefix) and (after is None or k > after))
        if not keys:
            return None
        data = self.buckets[bucket][keys[0]]
        return ObjectInfo(keys[0], etag_of(data), len(data))

    def read(self, bucket: str, key: str, etag: str, offset: int) -> Iterator[bytes]:
        if self.refuse:
            raise RunFailed(self.refuse)
        data = self.buckets.get(bucket, {}).get(key)
        if data is None or etag_of(data) != etag:
            raise RunFailed("object_changed")
        self.reads.append((key, offset))
        return iter([data[i : i + self.chunk_bytes] for i in range(offset, len(data), self.chunk_bytes)])


@dataclass
class FakeImportQueue:
    queued: list[tuple[str, str]] = field(default_factory=list)
    fail: Exception | None = None

    def enqueue(self, import_id: str, run_id: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.queued.append((import_id, run_id))
