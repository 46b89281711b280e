"""Import benchmarks (issue 15): rows parsed, mapped and planned on one core; a file of a million rows imported with a
crash midway, without a row lost or applied twice.

Planning: the real record reader (imports/rows.py) and row planner (imports/mapping.py) over a CSV held in memory, in
chunks of 1 MiB as S3 streams them: five mapped columns, one per strategy, an external id. CPU time of the process on
one pinned core.

Exactly once: the real ImportRunner and ProfileWriter (no segments defined) on **in-memory stand-ins** of the import
store, S3 and the profile table; a file of a million rows over 100,000 users, each row adding 1 to its user's
`points`. The profile table is made to fail (the function "crashes") after half the rows' writes; the run is then
delivered again and goes on from its last chunk. At the end every user's `points` must be exactly its rows, and the
run's counts must add up to the rows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bench.hot_path import one_core

HEADER = b"id,plan,tag,points,city,promo\n"
MAPPINGS = [
    {"column": "plan", "attribute": "plan", "strategy": "set"},
    {"column": "tag", "attribute": "tags", "strategy": "add"},
    {"column": "points", "attribute": "points", "strategy": "sum"},
    {"column": "city", "attribute": "home_city", "strategy": "set_if_empty"},
    {"column": "promo", "attribute": "promo", "strategy": "clear_if_empty"},
]
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ImportResult:
    planned_rows: int
    planning_seconds: float  # CPU seconds
    rows: int  # the exactly-once file
    users: int
    crashed_after_writes: int
    exact: bool  # every user's points equal its rows
    counted: int  # created + updated + skipped + failed_total
    seconds: float  # wall time of the exactly-once import (both deliveries)

    @property
    def planned_per_second(self) -> float:
        return self.planned_rows / self.planning_seconds


def _definition(allow_create: bool = True) -> Any:
    from audience_sync.imports.definitions import parse

    body = {
        "bucket": "bench-bucket",
        "prefix": "in/",
        "format": "csv",
        "every_minutes": 60,
        "identifier": {"column": "id", "type": "external_id"},
        "mappings": MAPPINGS,
        "allow_create": allow_create,
        "enabled": True,
    }
    return parse("bench", body)


def _csv(rows: int, users: int) -> bytes:
    lines = [HEADER]
    for n in range(rows):
        promo = "" if n % 3 else f"P{n % 7}"
        lines.append(f"user-{n % users},gold,t{n % 5},1,City{n % 11},{promo}\n".encode())
    return b"".join(lines)


def _chunks(data: bytes, offset: int = 0) -> Iterator[bytes]:
    for start in range(offset, len(data), CHUNK):
        yield data[start : start + CHUNK]


def measure_planning(rows: int) -> tuple[int, float]:
    from audience_sync.imports.mapping import plan_row
    from audience_sync.imports.rows import csv_header, csv_records

    definition = _definition()
    data = _csv(rows, 10_000)
    with one_core():
        started = time.process_time()
        header, offset = csv_header(_chunks(data))
        planned = 0
        for record in csv_records(_chunks(data, offset), offset, 2, header):
            assert record.cells is not None
            if plan_row(definition, record.cells, record.line, 25) is not None:
                planned += 1
        seconds = time.process_time() - started
    assert planned == rows
    return planned, seconds


class _Crash(RuntimeError):
    pass


class _Profiles:
    """A profile table in memory (versions checked as DynamoDB's conditions would), failing after `crash_after`."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Any] = {}
        self.writes = 0
        self.crash_after: int | None = None

    def get(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        from audience_sync.profiles.ports import Item

        found = {}
        for key in keys:
            item = self.items.get(key)
            if item is not None:
                found[key] = Item(item.pk, item.sk, _copy(item.doc), item.version, _copy(item.tokens))
        return found

    def items_of(self, pk: str) -> list[Any]:
        return [i for (p, _), i in self.items.items() if p == pk]

    def _wrote(self) -> None:
        self.writes += 1
        if self.crash_after is not None and self.writes >= self.crash_after:
            self.crash_after = None
            raise _Crash("the function died")

    def put(self, item: Any) -> None:
        from audience_sync.profiles.ports import Item, WriteConflict

        stored = self.items.get(item.key)
        if (stored.version if stored else 0) != item.version:
            raise WriteConflict(str(item.key))
        item.version += 1
        self.items[item.key] = Item(item.pk, item.sk, _copy(item.doc), item.version, _copy(item.tokens))
        self._wrote()

    def put_pointer(self, item: Any) -> None:
        from audience_sync.profiles.ports import Item

        self.items[item.key] = Item(item.pk, item.sk, dict(item.doc), 1)
        self._wrote()

    def delete(self, key: tuple[str, str]) -> None:
        self.items.pop(key, None)


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def measure_exactly_once(rows: int, users: int) -> ImportResult:
    import copy

    from audience_sync.core.clock import SystemClock
    from audience_sync.imports.exceptions import RunFailed
    from audience_sync.imports.ports import ImportState, ObjectInfo, StateConflict
    from audience_sync.imports.runner import ImportRunner
    from audience_sync.imports.schedule import ImportScheduler
    from audience_sync.profiles.document import PROFILE, home_pk
    from audience_sync.profiles.identity import external_id_key
    from audience_sync.profiles.writer import ProfileWriter

    data = _csv(rows, users)

    class Store:
        def __init__(self) -> None:
            self.state_of: dict[str, ImportState] = {}
            self.finished: list[Any] = []

        def get_definition(self, import_id: str) -> Any:
            return _definition()

        def definitions(self) -> list[Any]:
            return [_definition()]

        def state(self, import_id: str) -> ImportState:
            return copy.deepcopy(self.state_of.get(import_id, ImportState(import_id)))

        def save_state(self, state: ImportState) -> None:
            stored = self.state_of.get(state.import_id)
            if (stored.version if stored else 0) != state.version:
                raise StateConflict(state.import_id)
            state.version += 1
            self.state_of[state.import_id] = copy.deepcopy(state)

        def add_run(self, import_id: str, run: Any) -> None:
            self.finished.append(run)

    class Objects:
        def first_after(self, bucket: str, prefix: str, after: str | None) -> ObjectInfo | None:
            return ObjectInfo("in/big.csv", '"v1"', len(data)) if after is None else None

        def read(self, bucket: str, key: str, etag: str, offset: int) -> Iterator[bytes]:
            if etag != '"v1"':
                raise RunFailed("object_changed")
            return _chunks(data, offset)

    class Nothing:
        def enqueue(self, import_id: str, run_id: str) -> None:
            return None

        def notify(self, code: str, **details: Any) -> None:
            return None

    store, profiles, nothing, clock = Store(), _Profiles(), Nothing(), SystemClock()
    writer = ProfileWriter(profiles, clock, 25)
    runner = ImportRunner(store, Objects(), nothing, writer, nothing, clock, 25)  # type: ignore[arg-type]
    run_id = ImportScheduler(store, nothing, clock).start(_definition())  # type: ignore[arg-type]
    profiles.crash_after = rows // 2 + users // 2  # half the rows' writes, give or take the new profiles' pointers
    crashed_at = profiles.crash_after
    started = time.monotonic()
    with contextlib.suppress(_Crash):
        runner.run("bench", run_id, 2**62)
    assert profiles.crash_after is None, "the run ended before the crash"
    outcome = runner.run("bench", run_id, 2**62)  # the message delivered again
    seconds = time.monotonic() - started
    assert outcome == "done", outcome
    (run,) = store.finished
    per_user = rows // users
    exact = all(
        profiles.items[(home_pk(external_id_key(f"user-{n}")), PROFILE)].doc["custom"]["points"] == per_user
        for n in range(users)
    )
    counted = run.created + run.updated + run.skipped + run.failed_total
    return ImportResult(0, 1.0, rows, users, crashed_at, exact, counted, seconds)


def measure(
    planning_rows: int = 200_000, rows: int = 1_000_000, users: int = 100_000, progress: Any = None
) -> ImportResult:
    planned, planning_seconds = measure_planning(planning_rows)
    if progress:
        progress(f"import planning: {planned:,} rows in {planning_seconds:.2f} s CPU")
    once = measure_exactly_once(rows, users)
    if progress:
        progress(f"import of {rows:,} rows with a crash midway: exact={once.exact}, {once.seconds:.0f} s")
    return ImportResult(
        planned,
        planning_seconds,
        once.rows,
        once.users,
        once.crashed_after_writes,
        once.exact,
        once.counted,
        once.seconds,
    )
