"""In-memory stand-ins for the exports' ports (exports/ports.py): they record what was asked and can fail on cue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from audience_sync.exports.exceptions import ExportRunning
from audience_sync.exports.jobs import ExportJob
from audience_sync.segments.ports import Member


@dataclass
class FakeExportJobs:
    jobs: dict[str, ExportJob] = field(default_factory=dict)
    locks: dict[str, tuple[str, int]] = field(default_factory=dict)  # segment -> (export id, until ms)
    saves: list[ExportJob] = field(default_factory=list)

    def create(self, job: ExportJob, lock_until_ms: int) -> None:
        held = self.locks.get(job.spec.segment_id)
        if held is not None and held[1] >= job.created_ms:
            raise ExportRunning(job.spec.segment_id)
        self.locks[job.spec.segment_id] = (job.export_id, lock_until_ms)
        self.jobs[job.export_id] = job

    def get(self, export_id: str) -> ExportJob | None:
        return self.jobs.get(export_id)

    def save(self, job: ExportJob, lock_until_ms: int | None = None) -> None:
        self.saves.append(job)
        self.jobs[job.export_id] = job
        held = self.locks.get(job.spec.segment_id)
        if lock_until_ms is not None and held is not None and held[0] == job.export_id:
            self.locks[job.spec.segment_id] = (job.export_id, lock_until_ms)

    def finish(self, job: ExportJob) -> None:
        self.jobs[job.export_id] = job
        if self.locks.get(job.spec.segment_id, ("",))[0] == job.export_id:
            del self.locks[job.spec.segment_id]


@dataclass
class FakeExportQueue:
    queued: list[str] = field(default_factory=list)
    fail: Exception | None = None

    def enqueue(self, export_id: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.queued.append(export_id)


class Broken(RuntimeError):
    """An injected failure of S3 (a crash mid-export)."""


@dataclass
class FakeStream:
    store: FakeObjectStore
    bucket: str
    key: str
    data: bytearray = field(default_factory=bytearray)
    state: str = "open"  # open, closed, aborted
    writes: list[int] = field(default_factory=list)  # the size of each write

    def write(self, data: bytes) -> None:
        self.store.tick()
        self.data += data
        self.writes.append(len(data))

    def close(self) -> None:
        self.state = "closed"
        self.store.objects[(self.bucket, self.key)] = bytes(self.data)

    def abort(self) -> None:
        self.state = "aborted"


@dataclass
class FakeObjectStore:
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    streams: list[FakeStream] = field(default_factory=list)
    puts: list[tuple[str, str]] = field(default_factory=list)
    fail_after: int | None = None  # raise Broken on this many more writes (puts and stream writes)
    fail_with: Callable[[], Exception] = lambda: Broken("S3 failed")

    def tick(self) -> None:
        if self.fail_after is not None:
            if self.fail_after == 0:
                self.fail_after = None
                raise self.fail_with()
            self.fail_after -= 1

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.tick()
        self.puts.append((bucket, key))
        self.objects[(bucket, key)] = data

    def stream(self, bucket: str, key: str, content_type: str) -> FakeStream:
        stream = FakeStream(self, bucket, key)
        self.streams.append(stream)
        return stream

    def presign(self, bucket: str, key: str, seconds: int) -> str:
        return f"https://{bucket}.s3.example/{key}?expires={seconds}"


@dataclass
class FakeCallbacks:
    script: list[int] = field(default_factory=list)  # statuses to answer, then 200
    posted: list[tuple[str, str]] = field(default_factory=list)

    def post(self, url: str, body: str) -> int:
        self.posted.append((url, body))
        return self.script.pop(0) if self.script else 200


@dataclass
class FakeMemberPages:
    """A segment's members in a fixed order; the cursor is the position as text."""

    by_segment: dict[str, list[Member]] = field(default_factory=dict)
    pages: list[tuple[str, int, str | None]] = field(default_factory=list)

    def members_of(self, segment_id: str) -> list[Member]:
        return self.by_segment.setdefault(segment_id, [])

    def members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[Member], str | None]:
        self.pages.append((segment_id, limit, cursor))
        every = self.by_segment.get(segment_id, [])
        start = int(cursor) if cursor else 0
        page = every[start : start + limit]
        end = start + len(page)
        return page, str(end) if end < len(every) else None


@dataclass
class FakeSegments:
    known: set[str] = field(default_factory=set)

    def exportable(self, segment_id: str) -> None:
        from audience_sync.core.errors import NotFound

        if segment_id not in self.known:
            raise NotFound("segment", "segment_not_found")
