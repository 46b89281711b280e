"""The sweep: segments evaluated over every profile, for what no profile write triggers. Pure but for its ports.

Two things change a membership without a write: a segment created or given a new filter (its existing members must
enter), and time passing for a time-based filter ("less than 7 days ago" turns false at midnight). The sweep reads
the profile table in PARTS parallel scan segments, page by page, evaluates the named segments against each profile,
and for each profile whose stored membership disagrees queues an `evaluate` operation on the profile queue. It writes
no profile: the writer applies that operation in order with the profile's other writes and decides from the
profile as it is then, so a sweep that read a stale profile costs a no-op, never a wrong membership.

A sweep job is one part's position: `{"segments": [...] | "time", "part", "parts", "start"}`. Each run does at most
PAGES_PER_RUN pages and hands back the job where it stopped, queued again (a Lambda has 15 minutes; a table of
millions takes longer than one run, in parallel across parts). Crash: the job's message is delivered again and
the pages since its last hand-off are read again; the operations they queue again change nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from audience_sync.core.clock import Clock
from audience_sync.profiles.document import EVENT_PREFIX, PROFILE, PURCHASE_PREFIX
from audience_sync.profiles.operations import Queued, encode
from audience_sync.profiles.ports import Item
from audience_sync.segments.definitions import Segment
from audience_sync.segments.membership import changes, view_of
from audience_sync.segments.ports import SegmentSource

PARTS = 8
PAGE_ITEMS = 1000
PAGES_PER_RUN = 50
TIME_BASED = "time"


class ProfileScanner(Protocol):
    def scan(
        self, part: int, parts: int, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[Item], dict[str, Any] | None]: ...

    def items_of(self, pk: str) -> list[Item]: ...


class OperationQueue(Protocol):
    def queue_operations(self, operations: Sequence[Queued], request_id: str) -> None: ...


class JobQueue(Protocol):
    def send(self, jobs: Sequence[dict[str, Any]]) -> None: ...


@dataclass
class SweepReport:
    profiles: int = 0
    queued: int = 0


def jobs_for(segments: list[str] | str, parts: int = PARTS, baseline: bool = False) -> list[dict[str, Any]]:
    """The jobs of a sweep, one per part. `baseline`: the sweep of a step's own segment at launch, whose entries
    are the members it has then (sent to the audience only if the step backfills)."""
    job: dict[str, Any] = {"segments": segments, "parts": parts, "start": None}
    if baseline:
        job["baseline"] = True
    return [{**job, "part": part} for part in range(parts)]


class Sweep:
    def __init__(
        self, profiles: ProfileScanner, operations: OperationQueue, jobs: JobQueue, source: SegmentSource, clock: Clock
    ):
        self.profiles = profiles
        self.operations = operations
        self.jobs = jobs
        self.source = source
        self.clock = clock

    def start(self, segments: list[str] | str) -> bool:
        """Sweep the named segments (or every time-based one) over all profiles; False if there is nothing to
        sweep (no time-based segment: the hourly schedule then reads nothing)."""
        if segments == TIME_BASED and not self.source.index().time_based:
            return False
        self.jobs.send(jobs_for(segments))
        return True

    def run(self, job: dict[str, Any], job_id: str) -> SweepReport:
        index = self.source.index(fresh=True)  # a sweep follows a change of definitions: never a cached one
        named = job["segments"]
        segments = (
            index.time_based if named == TIME_BASED else [index.segments[s] for s in named if s in index.segments]
        )
        report = SweepReport()
        start = job.get("start")
        if not segments:
            return report
        now = dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC)
        for page in range(PAGES_PER_RUN):
            items, start = self.profiles.scan(job["part"], job["parts"], start, PAGE_ITEMS)
            queued = self._page(items, segments, now, bool(job.get("baseline")))
            report.profiles += sum(1 for i in items if _is_profile(i))
            report.queued += len(queued)
            self.operations.queue_operations(queued, f"sweep-{job_id}-{page}")
            if start is None:
                return report
        self.jobs.send([{**job, "start": start}])  # the rest of this part, in the next run
        return report

    def _page(self, items: list[Item], segments: list[Segment], now: dt.datetime, baseline: bool) -> list[Queued]:
        reads_activity = any(k[0] in "ep" for s in segments for k in s.reads)
        queued = []
        for item in items:
            if not _is_profile(item):
                continue
            activity = self.profiles.items_of(item.pk) if reads_activity else []
            view = view_of(
                item.doc,
                {i.sk[len(EVENT_PREFIX) :]: i.doc for i in activity if i.sk.startswith(EVENT_PREFIX)},
                {i.sk[len(PURCHASE_PREFIX) :]: i.doc for i in activity if i.sk.startswith(PURCHASE_PREFIX)},
            )
            differ = [segment_id for segment_id, _ in changes(segments, item.doc, view, now)]
            if differ:
                identity = item.pk[2:]  # the home key is "u#" + the identity key that names the profile
                operation = {"kind": "evaluate", "identity": identity, "create": False, "segments": differ}
                queued.append(encode({**operation, "baseline": True} if baseline else operation))
        return queued


def _is_profile(item: Item) -> bool:
    return item.sk == PROFILE and "braze_id" in item.doc


def encode_job(job: dict[str, Any]) -> str:
    return json.dumps(job, separators=(",", ":"))
