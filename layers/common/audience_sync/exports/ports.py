"""What exports need from storage, queues and the web, as typed ports. Adapters: adapters/aws/exports_table.py
(jobs and the one-running-export lock, DynamoDB), adapters/aws/export_objects.py (S3), adapters/aws/queues.py (the
export queue, SQS), destinations/webhook/callback.py (the callback, through the outbound webhook's guarded client)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from audience_sync.exports.jobs import ExportJob
from audience_sync.profiles.ports import Item, Key
from audience_sync.segments.ports import Member


class ExportJobs(Protocol):
    def create(self, job: ExportJob, lock_until_ms: int) -> None:
        """Store a new job and take its segment's lock until `lock_until_ms` (a job that died without finishing
        frees its segment then); ExportRunning if another job of the segment holds the lock."""
        ...

    def get(self, export_id: str) -> ExportJob | None: ...

    def save(self, job: ExportJob, lock_until_ms: int | None = None) -> None:
        """Record a running job's progress (rows, files, cursor, attempts); with `lock_until_ms`, its segment's lock
        (if the job still holds it) lasts until then: a long export keeps its segment."""
        ...

    def finish(self, job: ExportJob) -> None:
        """Record a finished job (done or failed) and free its segment's lock if the job still holds it."""
        ...


class ExportQueue(Protocol):
    def enqueue(self, export_id: str) -> None:
        """Hand a job to the export function (at least once)."""
        ...


class ObjectStream(Protocol):
    """One object written as a stream (S3: a multipart upload of parts of a few MB: never the whole object in
    memory)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Complete the object: it exists, whole, only now."""
        ...

    def abort(self) -> None:
        """Give it up: nothing of it stays."""
        ...


class ObjectStore(Protocol):
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def stream(self, bucket: str, key: str, content_type: str) -> ObjectStream: ...

    def presign(self, bucket: str, key: str, seconds: int) -> str:
        """A URL that downloads the object, and only it, for `seconds` (the object need not exist yet)."""
        ...


class Callbacks(Protocol):
    def post(self, url: str, body: str) -> int:
        """POST a JSON body; the answer's status (0: no answer, or an address the SSRF rule refuses)."""
        ...


class MemberPages(Protocol):
    """A segment's members, page by page (segments/ports.py MemberIndex is one)."""

    def members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[Member], str | None]: ...


class ProfileReads(Protocol):
    """Profiles read (profiles/ports.py ProfileStore is one)."""

    def get(self, keys: Sequence[Key]) -> dict[Key, Item]: ...

    def items_of(self, pk: str) -> list[Item]: ...


class Segments(Protocol):
    def exportable(self, segment_id: str) -> None:
        """NotFound unless the segment exists and is a client's own (segments/service.py)."""
        ...
