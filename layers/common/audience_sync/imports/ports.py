"""What imports need from storage, S3, the queue and the profile writer, as typed ports. Adapters:
adapters/aws/imports_table.py (definitions, state, runs: DynamoDB), adapters/aws/import_objects.py (S3),
adapters/aws/queues.py (the import queue, SQS); the writer is profiles/writer.py's ProfileWriter itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from audience_sync.imports.definitions import ImportDefinition
from audience_sync.profiles.writer import Message, WriteReport

MAX_FAILED_LISTED = 1000  # bad rows a run lists; `failed_total` counts them all
MAX_FAILED_BYTES = 100_000  # and at most this much of them (keys of 1 KB): the run lives in a 400 KB DynamoDB item


@dataclass
class Run:
    run_id: str
    started_ms: int
    finished_ms: int | None = None
    status: str = "running"  # running, done, failed
    files: int = 0
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    failed_total: int = 0  # bad rows (each also counted in `rows`)
    files_failed: int = 0  # files refused at their header, or cut short (listed in `failed`, no row counted)
    error: str | None = None
    failed_bytes: int = 0

    def _list(self, file: str, line: int, reason: str) -> None:
        size = len(file) + len(reason) + 40
        if len(self.failed) < MAX_FAILED_LISTED and self.failed_bytes + size <= MAX_FAILED_BYTES:
            self.failed.append({"file": file, "line": line, "reason": reason})
            self.failed_bytes += size

    def fail_row(self, file: str, line: int, reason: str) -> None:
        self.failed_total += 1
        self._list(file, line, reason)

    def fail_file(self, file: str, line: int, reason: str) -> None:
        self.files_failed += 1
        self._list(file, line, reason)


@dataclass
class FileCursor:
    """Where a run is in a file: its key and version, the byte offset and line of the next record, its header."""

    key: str
    etag: str
    offset: int = 0
    line: int = 1
    header: list[str] | None = None


@dataclass
class ImportState:
    import_id: str
    version: int = 0  # each save is conditional on it (one runner at a time)
    source: list[str] | None = None  # the bucket, prefix and format the cursor below belongs to
    done_key: str | None = None  # every key up to this one (in key order) is imported
    next_run_ms: int = 0
    heartbeat_ms: int = 0
    run: Run | None = None
    file: FileCursor | None = None


class StateConflict(Exception):
    """The state moved since it was read: another runner holds the import."""


class ImportStore(Protocol):
    def put_definition(self, definition: ImportDefinition) -> None: ...

    def get_definition(self, import_id: str) -> ImportDefinition | None: ...

    def definitions(self) -> list[ImportDefinition]:
        """Every definition (a few hundred at most)."""
        ...

    def delete(self, import_id: str) -> bool:
        """The definition, its state and its runs; False if there was none."""
        ...

    def state(self, import_id: str) -> ImportState:
        """The stored state (version 0 and empty when there is none)."""
        ...

    def save_state(self, state: ImportState) -> None:
        """Store the state if its stored version is still `state.version`, then bump it; StateConflict otherwise."""
        ...

    def add_run(self, import_id: str, run: Run) -> None:
        """Keep a finished run in the import's history."""
        ...

    def runs(self, import_id: str, limit: int) -> list[Run]:
        """The newest finished runs first."""
        ...


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str
    size: int


class ObjectSource(Protocol):
    def first_after(self, bucket: str, prefix: str, after: str | None) -> ObjectInfo | None:
        """The first object under `prefix` whose key sorts after `after` (S3 lists keys in UTF-8 byte order)."""
        ...

    def read(self, bucket: str, key: str, etag: str, offset: int) -> Iterator[bytes]:
        """The object's bytes from `offset`, in chunks; RunFailed("object_changed") if it is no longer `etag`."""
        ...


class ImportQueue(Protocol):
    def enqueue(self, import_id: str, run_id: str) -> None: ...


class ProfileApplier(Protocol):
    """The profile writer (profiles/writer.py)."""

    def write(self, messages: Sequence[Message]) -> WriteReport: ...
