"""Export benchmark (issue 15): a segment of a million profiles streamed to S3 files on one core, and its memory.

The real ExportRunner (exports/runner.py) runs a `bucket` export (gzip files of 5,000 users, Braze's layout) and a
`url` export (one zip streamed in 8 MiB parts) against **in-memory stand-ins** of its ports: the members' index and
the profile table make each page and profile from its position when asked (so the benchmark itself holds no
segment), and the object store counts the bytes it is given and keeps none. What is measured is the runner's own
work: paging, reading the profiles' documents into Braze's export view, JSON lines, compression, the job's
checkpoints. DynamoDB and S3 round trips are not CPU of this process and are not counted (on AWS they overlap
nothing: see docs/exports.md). Each export runs in a child process pinned to one core; its peak resident memory
(VmHWM, the interpreter included) is what it needed for a million users.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIELDS = ("external_id", "email", "first_name", "last_name", "country", "custom_attributes")


@dataclass(frozen=True)
class ExportRun:
    output: str
    users: int
    seconds: float  # CPU seconds
    files: int
    megabytes: float  # compressed bytes written
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        return self.users / self.seconds


@dataclass(frozen=True)
class ExportResult:
    runs: list[ExportRun]


def measure(users: int = 1_000_000, progress: Any = None) -> ExportResult:
    runs = []
    for output in ("bucket", "url"):
        done = subprocess.run(
            [sys.executable, "-m", "bench.exports", str(users), output],
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
        run = ExportRun(**json.loads(done.stdout.strip().splitlines()[-1]))
        if progress:
            progress(
                f"export ({output}): {run.users:,} users in {run.seconds:.1f} s CPU = {run.per_second:,.0f}/s, "
                f"{run.files} files, {run.megabytes:.0f} MB, peak {run.peak_rss_mb:.0f} MB"
            )
        runs.append(run)
    return ExportResult(runs)


# ---- the child process ---------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM is the peak of its own address space; ru_maxrss is not, after an
    exec: Linux carries the parent's peak over into it (a bench process of 1 GB made every child "peak" at 1 GB)."""
    try:
        with Path("/proc/self/status").open() as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Members:
    """A segment of `count` members; the cursor is the position."""

    def __init__(self, count: int):
        self.count = count

    def members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
        from audience_sync.profiles.document import home_pk
        from audience_sync.profiles.identity import external_id_key
        from audience_sync.segments.ports import Member

        start = int(cursor) if cursor else 0
        end = min(start + limit, self.count)
        page = [
            Member(f"{n:024x}", f"user-{n}", "2026-12-01T00:00:00.000Z", home_pk(external_id_key(f"user-{n}")))
            for n in range(start, end)
        ]
        return page, (str(end) if end < self.count else None)


class _Profiles:
    """Profiles made from their key when read: a realistic document (standard fields and custom attributes)."""

    def get(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        from audience_sync.profiles.ports import Item

        found = {}
        for pk, sk in keys:
            n = int(pk.rsplit("-", 1)[1])
            doc = {
                "braze_id": f"{n:024x}",
                "external_id": f"user-{n}",
                "aliases": [],
                "created_at": "2026-11-01T00:00:00.000Z",
                "updated_at": "2026-12-01T00:00:00.000Z",
                "fields": {
                    "first_name": f"First{n}",
                    "last_name": f"Last{n}",
                    "email": f"user{n}@example.com",
                    "country": "US",
                    "home_city": "AnyTown",
                },
                "custom": {
                    "plan": "gold" if n % 3 else "silver",
                    "score": n % 1000,
                    "interests": ["news", "sports"][: 1 + n % 2],
                    "last_order": {"$time": "2026-11-20T10:00:00.000Z"},
                },
            }
            found[(pk, sk)] = Item(pk, sk, doc, 1)
        return found

    def items_of(self, pk: str) -> list[Any]:
        return []


class _Counted:
    def __init__(self, sink: _Objects):
        self.sink = sink

    def write(self, data: bytes) -> None:
        self.sink.bytes += len(data)

    def close(self) -> None:
        self.sink.files += 1

    def abort(self) -> None:
        return None


class _Objects:
    def __init__(self) -> None:
        self.bytes = 0
        self.files = 0

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.bytes += len(data)
        self.files += 1

    def stream(self, bucket: str, key: str, content_type: str) -> _Counted:
        return _Counted(self)

    def presign(self, bucket: str, key: str, seconds: int) -> str:
        return f"https://{bucket}/{key}"


class _Jobs:
    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}

    def create(self, job: Any, lock_until_ms: int) -> None:
        self.jobs[job.export_id] = job

    def get(self, export_id: str) -> Any:
        return self.jobs.get(export_id)

    def save(self, job: Any, lock_until_ms: int | None = None) -> None:
        self.jobs[job.export_id] = job

    def finish(self, job: Any) -> None:
        self.jobs[job.export_id] = job


class _Nothing:
    def enqueue(self, export_id: str) -> None:
        return None

    def post(self, url: str, body: str) -> int:
        return 200

    def notify(self, code: str, **details: Any) -> None:
        return None


def _child(users: int, output: str) -> dict[str, Any]:
    from audience_sync.core.clock import SystemClock
    from audience_sync.exports.jobs import ExportJob, ExportSpec
    from audience_sync.exports.runner import ExportRunner
    from bench.hot_path import one_core

    jobs, objects, nothing = _Jobs(), _Objects(), _Nothing()
    runner = ExportRunner(
        jobs, nothing, _Members(users), _Profiles(), objects, nothing, nothing, SystemClock(), 3600, 7200
    )
    compression = "gzip" if output == "bucket" else "zip"
    spec = ExportSpec("big", output, FIELDS, compression=compression)  # type: ignore[arg-type]
    jobs.create(ExportJob("bench", spec, "bucket", 1_796_000_000_000), 0)
    with one_core():
        started = time.process_time()
        outcome = runner.run("bench", deadline_ms=2**62)
        seconds = time.process_time() - started
    assert outcome == "done" and jobs.jobs["bench"].rows == users, (outcome, jobs.jobs["bench"])
    return {
        "output": output,
        "users": users,
        "seconds": seconds,
        "files": jobs.jobs["bench"].files,
        "megabytes": objects.bytes / 1e6,
        "peak_rss_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    print(json.dumps(_child(int(sys.argv[1]), sys.argv[2])))
